"""Zero-downtime upgrade through the load balancer, all real: a master and agents, the webapp
framework (`python -m frameworks.webapp`), the load balancer (`python -m frameworks.webapp.lb`)
with HAProxy, and a 3-instance app (`python -m http.server $PORT0`, health and readiness checks,
minimumHealthCapacity 1). A steady stream of HTTP requests (bounded, loopback only) goes through
HAProxy while the app is upgraded to a new version; not one request may fail."""

from __future__ import annotations

import http.client
import json
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from dcos.testing import ProcessCluster, free_port
from tests.integration.test_lb import HAPROXY, require_haproxy

pytestmark = pytest.mark.integration

MAX_REQUESTS = 50_000


class Api:
    """The webapp's /v2 API over urllib (what any Marathon client would send)."""

    def __init__(self, url: str) -> None:
        self.url = url

    def call(self, method: str, path: str, body: object = None) -> tuple[int, object]:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=5) as r:
                raw = r.read()
                if r.headers.get_content_type() != "application/json":
                    return r.status, raw.decode()
                return r.status, json.loads(raw) if raw else None
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"null")
        except OSError:
            return 0, None

    def app(self, app_id: str) -> dict:
        code, body = self.call("GET", f"/v2/apps{app_id}?embed=app.tasks")
        return body.get("app", {}) if code == 200 and isinstance(body, dict) else {}


def wait_for(cond, what: str, timeout: float = 60.0, diag=lambda: "") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}\n{diag()}")


def fetch(port: int) -> str:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", "/version.txt")
        resp = conn.getresponse()
        body = resp.read().decode().strip()
        if resp.status != 200:
            raise RuntimeError(f"status {resp.status}: {body[:80]}")
        return body
    finally:
        conn.close()


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[tuple[ProcessCluster, Api, int, Path]]:
    require_haproxy()
    c = ProcessCluster(tmp_path / "c", agents=3, master_flags=["--allocation-interval", "0.1"])
    procs: list[subprocess.Popen[bytes]] = []
    try:
        c.start()
        webapp_port, stats = free_port(), free_port()
        c._spawn("webapp", ["-m", "frameworks.webapp", "--master", c.master, "--ip", "127.0.0.1",
                            "--port", str(webapp_port), "--work-dir", str(c.work_dir / "webapp"),
                            "--log-file", str(c.work_dir / "webapp.log")])
        api = Api(f"http://127.0.0.1:{webapp_port}")
        wait_for(lambda: api.call("GET", "/ping")[0] == 200, "webapp /ping",
                 diag=lambda: c.log_tail("webapp"))
        lb_dir = tmp_path / "lb"
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "frameworks.webapp.lb", "--webapp", api.url, "--group",
             "external", "--work-dir", str(lb_dir), "--haproxy", HAPROXY, "--http-port", "0",
             "--stats-port", str(stats), "--log-file", str(tmp_path / "lb.log"),
             "--log-level", "DEBUG"],
            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True))
        wait_for(lambda: (lb_dir / "status.json").exists(), "load balancer up",
                 diag=lambda: (tmp_path / "lb.log").read_text() if (tmp_path / "lb.log").exists()
                 else "")
        yield c, api, free_port(), tmp_path
    finally:
        for p in procs:
            p.terminate()
            try:
                p.wait(15)
            except subprocess.TimeoutExpired:
                p.kill()
        c.stop()


def app_def(app_id: str, service_port: int, version: str) -> dict:
    server = f"{sys.executable} -m http.server $PORT0 --bind 127.0.0.1"
    return {
        "id": app_id, "instances": 3, "cpus": 0.1, "mem": 64,
        "cmd": f"echo {version} > version.txt && exec {server}",
        "portDefinitions": [{"port": service_port, "protocol": "tcp", "name": "http"}],
        "labels": {"HAPROXY_GROUP": "external", "HAPROXY_0_MODE": "http"},
        "healthChecks": [{"protocol": "MESOS_HTTP", "path": "/version.txt", "portIndex": 0,
                          "gracePeriodSeconds": 10, "intervalSeconds": 1, "timeoutSeconds": 2, "delaySeconds": 1,
                          "maxConsecutiveFailures": 3}],
        "readinessChecks": [{"name": "ready", "protocol": "HTTP", "path": "/version.txt",
                             "portName": "http", "intervalSeconds": 1, "timeoutSeconds": 2,
                             "httpStatusCodesForReady": [200]}],
        "upgradeStrategy": {"minimumHealthCapacity": 1, "maximumOverCapacity": 1},
    }


def settled(api: Api, app_id: str, version_cmd: str) -> bool:
    a = api.app(app_id)
    tasks = a.get("tasks") or []
    return (a.get("deployments") == [] and len(tasks) == 3
            and all(t.get("state") == "TASK_RUNNING" for t in tasks)
            and version_cmd in str(a.get("cmd")))


def test_rolling_upgrade_through_haproxy_fails_no_request(stack) -> None:
    c, api, svc, tmp = stack
    app_id = "/zdd/web"
    lb_log = tmp / "lb.log"

    def diag() -> str:
        status = (tmp / "lb" / "status.json")
        return "\n".join([
            "app: " + json.dumps(api.app(app_id))[:3000],
            "lb status: " + (status.read_text() if status.exists() else "-"),
            "lb log: " + (lb_log.read_text()[-6000:] if lb_log.exists() else "-"),
            "haproxy log: " + ((tmp / "lb" / "haproxy.log").read_text()[-3000:]
                               if (tmp / "lb" / "haproxy.log").exists() else "-"),
            "webapp log: " + c.log_tail("webapp", 40)])

    code, body = api.call("POST", "/v2/apps", app_def(app_id, svc, "v1"))
    assert code == 201, body
    wait_for(lambda: settled(api, app_id, "echo v1"), "3 instances of v1", diag=diag)

    def serves(version: str) -> bool:
        try:
            return {fetch(svc) for _ in range(6)} == {version}
        except (OSError, RuntimeError):
            return False

    wait_for(lambda: serves("v1"), "the load balancer to serve v1", diag=diag)

    failures: list[str] = []
    seen: Counter[str] = Counter()
    stop = threading.Event()

    def load() -> None:
        while not stop.is_set() and sum(seen.values()) + len(failures) < MAX_REQUESTS:
            try:
                seen[fetch(svc)] += 1
            except (OSError, RuntimeError) as exc:
                failures.append(f"{time.strftime('%H:%M:%S')}.{int(time.time() * 1000) % 1000:03d} "
                                f"{exc!r}")
            time.sleep(0.005)

    worker = threading.Thread(target=load)
    worker.start()
    try:
        code, body = api.call("PUT", f"/v2/apps{app_id}", app_def(app_id, svc, "v2"))
        assert code == 200, body
        wait_for(lambda: settled(api, app_id, "echo v2"), "the upgrade to v2", timeout=120,
                 diag=diag)
        wait_for(lambda: seen["v2"] > 0 and set(seen) <= {"v1", "v2"} and serves("v2"),
                 "the load balancer to serve only v2", diag=diag)
    finally:
        stop.set()
        worker.join()
    assert seen["v1"] > 0 and seen["v2"] > 0, seen
    assert failures == [], (f"{len(failures)} of {sum(seen.values()) + len(failures)} "
                            f"requests failed: {failures[:10]}\n{diag()}")
