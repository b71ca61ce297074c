"""The shared cluster of the package tests: one real `dcos-py up --agents 3` (master, three
agents, webapp, DNS, batch dispatcher, load balancer when haproxy is installed, and the package
service with the checkout's packages-repo/build/index.json as its default repository) on free
ports in a temporary work dir, started once for the tests in this folder by the `pkg_cluster`
fixture.

Every package test uses its own app ids and uninstalls what it installed (`assert_clean` checks
that nothing is left). Helpers speak the package service's Cosmos API with its media types.
"""

from __future__ import annotations

import contextlib
import os
import random
import time
import urllib.error
import urllib.request
from collections.abc import Generator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import psutil
import pytest

from dcos.packaging import mediatypes as mt
from tests.e2e.up_process import UpProcess, up_ports

CHECKOUT = Path(__file__).resolve().parents[2]
INDEX = CHECKOUT / "packages-repo" / "build" / "index.json"
UP_TIMEOUT_S = 120.0


class CosmosError(AssertionError):
    """A package service answer other than 200: `status` and the Cosmos error body."""

    def __init__(self, status: int, body: Any, content_type: str) -> None:
        super().__init__(f"{status} {content_type}: {body}")
        self.status = status
        self.body = body
        self.content_type = content_type


def http(method: str, url: str, body: Any = None, headers: dict[str, str] | None = None,
         timeout: float = 30.0) -> tuple[int, dict[str, str], bytes]:
    """One HTTP request: (status, headers, body bytes); HTTP errors are answers, not raises."""
    data = None if body is None else (body if isinstance(body, bytes) else orjson.dumps(body))
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, dict(resp.headers.items()), resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers.items()), exc.read()


def get_json(url: str, timeout: float = 10.0) -> Any:
    status, _, raw = http("GET", url, headers={"Accept": "application/json"}, timeout=timeout)
    if status != 200:
        raise AssertionError(f"GET {url}: {status} {raw[:300]!r}")
    return orjson.loads(raw)


@dataclass
class PkgCluster:
    """What a package test gets: the URLs of the cluster's services, and helpers."""

    up: UpProcess
    work: Path
    master_url: str
    webapp_url: str
    package_url: str
    dns: tuple[str, int]
    lb_http: str
    batch_url: str
    gateway_url: str  # the gateway (web UI and every API behind one URL)
    tasks_seen: dict[str, set[str]] = field(default_factory=dict)

    # --- the Cosmos API ----------------------------------------------------------------------
    def rpc(self, path: str, body: Any, *, accept: str | None = None,
            content_type: str | None = None, timeout: float = 120.0) -> Any:
        """POST `body` to `path` (e.g. "/package/install") with its Cosmos media types; the
        response JSON. Raises `CosmosError` (status, body) on any status but 200."""
        ep = mt.ENDPOINTS[path]
        headers = {"Content-Type": content_type or ep.request or mt.APPLICATION_JSON,
                   "Accept": accept or ",".join(ep.responses)}
        status, hdrs, raw = http("POST", self.package_url + path, body, headers, timeout)
        parsed = orjson.loads(raw) if raw else None
        if status != 200:
            raise CosmosError(status, parsed, hdrs.get("Content-Type", ""))
        return parsed

    def install(self, name: str, options: dict[str, Any] | None = None,
                app_id: str | None = None, version: str | None = None) -> Any:
        body: dict[str, Any] = {"packageName": name}
        if options is not None:
            body["options"] = options
        if app_id is not None:
            body["appId"] = app_id
        if version is not None:
            body["packageVersion"] = version
        return self.rpc("/package/install", body)

    def uninstall(self, name: str, app_id: str | None = None) -> Any:
        body: dict[str, Any] = {"packageName": name}
        if app_id is not None:
            body["appId"] = app_id
        return self.rpc("/package/uninstall", body, timeout=180.0)

    # --- waiting and checking ----------------------------------------------------------------
    def apps_of(self, app_or_group_id: str) -> list[dict[str, Any]]:
        """The webapp apps of an app id or of every app under a group id ([] when none)."""
        gid = "/" + app_or_group_id.strip("/")
        apps = get_json(self.webapp_url + "/v2/apps?embed=apps.tasks")["apps"]
        return [a for a in apps if a["id"] == gid or a["id"].startswith(gid + "/")]

    def wait_healthy(self, app_or_group_id: str, timeout: float = 120.0) -> list[dict[str, Any]]:
        """Wait until every app of `app_or_group_id` runs all its instances, healthy when it
        has health checks, with no deployment left; the apps. AssertionError with the apps'
        last state when `timeout` passes."""
        deadline = time.monotonic() + timeout
        apps: list[dict[str, Any]] = []
        while time.monotonic() < deadline:
            apps = self.apps_of(app_or_group_id)
            for app in apps:
                self.tasks_seen.setdefault(app["id"], set()).update(
                    t["id"] for t in app.get("tasks", []))
            if apps and all(_app_ready(a) for a in apps):
                return apps
            time.sleep(0.2)
        raise AssertionError(f"{app_or_group_id} not healthy within {timeout:g} s: "
                             + orjson.dumps([_summary(a) for a in apps]).decode())

    def assert_clean(self, app_id: str, framework_name: str | None = None,
                     timeout: float = 60.0) -> None:
        """Wait (up to `timeout`) until no app of `app_id` exists, no task of it is in the
        master's state, no framework `framework_name` is registered (active or inactive), and
        no process of its tasks is left."""
        gid = "/" + app_id.strip("/")
        # task ids: "<app id with / as _>.<uuid>"; the apps of a group: "<group>_<app>.<uuid>"
        base = gid.strip("/").replace("/", "_")
        prefix = (base + ".", base + "_")
        seen = {t for aid, ts in self.tasks_seen.items()
                if aid == gid or aid.startswith(gid + "/") for t in ts}
        deadline = time.monotonic() + timeout
        problems: list[str] = []
        while time.monotonic() < deadline:
            problems = self._leftovers(gid, prefix, seen, framework_name)
            if not problems:
                return
            time.sleep(0.3)
        raise AssertionError(f"{app_id} not clean after {timeout:g} s: " + "; ".join(problems))

    def _leftovers(self, gid: str, prefix: tuple[str, ...], seen: set[str],
                   framework_name: str | None) -> list[str]:
        problems: list[str] = []
        if self.apps_of(gid):
            problems.append(f"apps left: {[a['id'] for a in self.apps_of(gid)]}")
        state = get_json(self.master_url + "/master/state")
        for fw in state.get("frameworks", []):
            live = [t["id"] for t in fw.get("tasks", [])
                    if t["id"] in seen or t["id"].startswith(prefix)]
            if live:
                problems.append(f"tasks left in {fw.get('name')}: {live}")
            if framework_name is not None and fw.get("name") == framework_name:
                problems.append(f"framework {framework_name} still registered ({fw.get('id')}, "
                                f"active={fw.get('active')})")
        procs = task_processes(self.work, seen, prefix)
        if procs:
            problems.append(f"processes left: {procs}")
        return problems


def task_processes(work: Path, task_ids: set[str], prefix: tuple[str, ...]) -> list[str]:
    """Command lines of live processes of this cluster's tasks (their MESOS_SANDBOX is under
    `work`: other local clusters may run an app of the same id) whose MESOS_TASK_ID is one of
    `task_ids` or starts with `prefix`."""
    out = []
    for p in psutil.process_iter(["pid"]):
        with contextlib.suppress(psutil.Error):
            env = p.environ()
            tid = env.get("MESOS_TASK_ID")
            if tid and (tid in task_ids or tid.startswith(prefix)) \
                    and env.get("MESOS_SANDBOX", "").startswith(str(work)) \
                    and p.status() != psutil.STATUS_ZOMBIE:
                out.append(f"{p.pid} {' '.join(p.cmdline())[:120]}")
    return out


def _app_ready(app: dict[str, Any]) -> bool:
    want = app.get("instances", 0)
    if app.get("deployments"):
        return False
    if app.get("tasksRunning", 0) < want:
        return False
    return not app.get("healthChecks") or app.get("tasksHealthy", 0) >= want


def _summary(app: dict[str, Any]) -> dict[str, Any]:
    keys = ("id", "instances", "tasksRunning", "tasksHealthy", "tasksStaged", "deployments",
            "lastTaskFailure")
    return {k: app.get(k) for k in keys}


def start_cluster(work: Path) -> PkgCluster:
    """Run `dcos-py up --agents 3` in `work` on quiet ports and wait until it is ready."""
    ports = up_ports(3)
    args = ports.args()
    # task ports of their own, apart from any other local cluster's (31000...): above the
    # ephemeral range (32768-60999), clear of the load balancer's service ports (10000+) and
    # the services' quiet ports (20000+); any base (not a multiple of 1000) so that two test
    # sessions' lowest ports, which the webapp hands out first, differ
    os.environ["DCOS_UP_TASK_PORTS_BASE"] = str(random.randrange(61000, 62500))
    try:
        up = UpProcess(args, work)
    finally:
        os.environ.pop("DCOS_UP_TASK_PORTS_BASE", None)
    try:
        up.wait_for("cluster ready", timeout=UP_TIMEOUT_S)
    except BaseException:
        up.cleanup()
        raise
    url = ports.url
    return PkgCluster(up=up, work=work, master_url=url(ports.master),
                      webapp_url=url(ports.webapp), package_url=url(ports.package),
                      dns=("127.0.0.1", ports.dns), lb_http=url(ports.lb_http),
                      batch_url=url(ports.batch), gateway_url=url(ports.gateway))  # fmt: skip


def stop_cluster(cluster: PkgCluster) -> None:
    """SIGTERM `up`, wait for it, and kill whatever of it is left."""
    cluster.up.stop()


@pytest.fixture(scope="package")
def pkg_cluster(tmp_path_factory: pytest.TempPathFactory) -> Generator[PkgCluster, None, None]:
    """The package tests' cluster (see the module docstring), stopped once tests/packages is
    done, so its idle processes do not load the rest of the suite. Fails when the catalog's
    index was not built (`make repo` / `dcos-py package build packages-repo/`): `make test`
    builds it first, so a missing index is a broken setup, never a reason to skip."""
    if not INDEX.exists():
        pytest.fail(f"{INDEX} missing: build it with `dcos-py package build packages-repo/`")
    cluster = start_cluster(tmp_path_factory.mktemp("pkg-cluster"))
    try:
        yield cluster
    finally:
        stop_cluster(cluster)
