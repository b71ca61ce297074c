"""Zero-downtime rolling deployments through the load balancer, all real: a master and agents,
the webapp framework (`python -m frameworks.webapp`), the load balancer (`python -m
frameworks.webapp.lb`) with HAProxy, and a 2-instance app (`python -m http.server $PORT0`, an
HTTP health check, `HAPROXY_GROUP=external` and a `HAPROXY_0_VHOST`, minimumHealthCapacity and
maximumOverCapacity 1.0: the case of issue 9). Four clients hammer it through the virtual-host
port (two open a connection per request, two keep theirs alive; bounded, loopback only) while
it is upgraded to a new version and then restarted twice (`POST /v2/apps/{id}/restart`); not
one request may fail. Old tasks are drained from HAProxy
before their kill (the webapp shows them as TASK_KILLING first) and servers change through
HAProxy's runtime API, without reloads."""

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

MAX_REQUESTS = 150_000
CLIENTS = 4
VHOST = "zdd.example.com"


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


def fetch(port: int, conn: http.client.HTTPConnection | None = None) -> str:
    """GET /version.txt through the virtual host: on a new connection, or on `conn` (kept
    alive across calls, as load generators do)."""
    own = conn is None
    c = conn or http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        c.request("GET", "/version.txt", headers={"Host": VHOST})
        resp = c.getresponse()
        body = resp.read().decode().strip()
        if resp.status != 200:
            raise RuntimeError(f"status {resp.status}: {body[:80]}")
        return body
    except (OSError, RuntimeError, http.client.HTTPException):
        c.close()  # a kept-alive connection is opened again for the next request
        raise
    finally:
        if own:
            c.close()


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[tuple[ProcessCluster, Api, int, int, Path]]:
    require_haproxy()
    c = ProcessCluster(tmp_path / "c", agents=3, master_flags=["--allocation-interval", "0.1"])
    procs: list[subprocess.Popen[bytes]] = []
    try:
        c.start()
        webapp_port, stats, vhost_port = free_port(), free_port(), free_port()
        c._spawn("webapp", ["-m", "frameworks.webapp", "--master", c.master, "--ip", "127.0.0.1",
                            "--port", str(webapp_port), "--work-dir", str(c.work_dir / "webapp"),
                            "--log-file", str(c.work_dir / "webapp.log")])
        api = Api(f"http://127.0.0.1:{webapp_port}")
        wait_for(lambda: api.call("GET", "/ping")[0] == 200, "webapp /ping",
                 diag=lambda: c.log_tail("webapp"))
        lb_dir = tmp_path / "lb"
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "frameworks.webapp.lb", "--webapp", api.url, "--group",
             "external", "--work-dir", str(lb_dir), "--haproxy", HAPROXY, "--http-port", str(vhost_port),
             "--stats-port", str(stats), "--log-file", str(tmp_path / "lb.log"),
             "--log-level", "DEBUG"],
            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True))
        wait_for(lambda: (lb_dir / "status.json").exists(), "load balancer up",
                 diag=lambda: (tmp_path / "lb.log").read_text() if (tmp_path / "lb.log").exists()
                 else "")
        yield c, api, free_port(), vhost_port, tmp_path
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
        "id": app_id, "instances": 2, "cpus": 0.1, "mem": 64,
        "cmd": f"echo {version} > version.txt && exec {server}",
        "portDefinitions": [{"port": service_port, "protocol": "tcp", "name": "http"}],
        "labels": {"HAPROXY_GROUP": "external", "HAPROXY_0_VHOST": VHOST},
        "healthChecks": [{"protocol": "MESOS_HTTP", "path": "/version.txt", "portIndex": 0,
                          "gracePeriodSeconds": 10, "intervalSeconds": 1, "timeoutSeconds": 2,
                          "delaySeconds": 1, "maxConsecutiveFailures": 3}],
        "upgradeStrategy": {"minimumHealthCapacity": 1.0, "maximumOverCapacity": 1.0},
    }


def settled(api: Api, app_id: str, version_cmd: str, task_ids: set[str] | None = None) -> bool:
    """No deployment, 2 running healthy tasks of the version, none of `task_ids` (the tasks
    before a restart) left."""
    a = api.app(app_id)
    tasks = a.get("tasks") or []
    return (a.get("deployments") == [] and len(tasks) == 2
            and all(t.get("state") == "TASK_RUNNING" for t in tasks)
            and all((t.get("healthCheckResults") or [{}])[0].get("alive") for t in tasks)
            and not ({t.get("id") for t in tasks} & (task_ids or set()))
            and version_cmd in str(a.get("cmd")))


class Load:
    """`CLIENTS` threads sending GETs through the virtual host until stopped (or
    `MAX_REQUESTS` in all); each failure is kept with its time."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.failures: list[str] = []
        self.seen: Counter[str] = Counter()
        self.stop_event = threading.Event()
        self.lock = threading.Lock()
        # half the clients open a connection per request, half keep theirs alive
        self.threads = [threading.Thread(target=self.run, args=(n % 2 == 1,)) for n in range(CLIENTS)]
        for t in self.threads:
            t.start()

    @property
    def sent(self) -> int:
        return sum(self.seen.values()) + len(self.failures)

    def run(self, keep_alive: bool) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10) if keep_alive else None
        while not self.stop_event.is_set() and self.sent < MAX_REQUESTS:
            try:
                body = fetch(self.port, conn)
                with self.lock:
                    self.seen[body] += 1
            except (OSError, RuntimeError, http.client.HTTPException) as exc:
                with self.lock:
                    self.failures.append(f"{time.strftime('%H:%M:%S')}."
                                         f"{int(time.time() * 1000) % 1000:03d} {exc!r}")
            time.sleep(0.001)
        if conn is not None:
            conn.close()

    def stop(self) -> None:
        self.stop_event.set()
        for t in self.threads:
            t.join()


def test_rolling_upgrade_and_restarts_through_haproxy_fail_no_request(stack) -> None:
    c, api, svc, vhost, tmp = stack
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
    wait_for(lambda: settled(api, app_id, "echo v1"), "2 instances of v1", diag=diag)

    def serves(version: str) -> bool:
        try:
            return {fetch(vhost) for _ in range(6)} == {version}
        except (OSError, RuntimeError):
            return False

    wait_for(lambda: serves("v1"), "the load balancer to serve v1", diag=diag)
    load = Load(vhost)
    try:
        code, body = api.call("PUT", f"/v2/apps{app_id}", app_def(app_id, svc, "v2"))
        assert code == 200, body
        wait_for(lambda: settled(api, app_id, "echo v2"), "the upgrade to v2", timeout=120,
                 diag=diag)
        wait_for(lambda: load.seen["v2"] > 0 and serves("v2"), "the load balancer to serve only v2",
                 diag=diag)
        for n in (1, 2):
            before = {t["id"] for t in api.app(app_id).get("tasks") or []}
            code, body = api.call("POST", f"/v2/apps{app_id}/restart")
            assert code == 200, body
            wait_for(lambda before=before: settled(api, app_id, "echo v2", before),
                     f"restart {n}", timeout=120, diag=diag)
    finally:
        load.stop()
    print(f"zero-downtime: {load.sent} requests through HAProxy by {CLIENTS} clients, "
          f"{len(load.failures)} failed ({dict(load.seen)})")
    assert load.seen["v1"] > 0 and load.seen["v2"] > 0, load.seen
    assert set(load.seen) <= {"v1", "v2"}, load.seen
    assert load.failures == [], (f"{len(load.failures)} of {load.sent} "
                                 f"requests failed: {load.failures[:10]}\n{diag()}")
