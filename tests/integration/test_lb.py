"""The load balancer as a real process (`python -m frameworks.webapp.lb`) running a real HAProxy
(Debian `haproxy`, installed by `make test`; these tests fail, never skip, without it), driven
by a fake Marathon's apps and `/v2/events`, routing to real HTTP backends on loopback."""

from __future__ import annotations

import http.client
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import orjson
import pytest

from dcos.testing import eventually, free_port
from tests.unit.lb.marathon_fakes import FakeMarathon, marathon_task

pytestmark = pytest.mark.integration

HAPROXY = shutil.which("haproxy") or "/usr/sbin/haproxy"


def require_haproxy() -> None:
    assert Path(HAPROXY).exists(), (
        "haproxy is missing: run scripts/install-system-deps.sh (apt-get install haproxy)")


class Backend:
    """A real HTTP server on loopback answering its name."""

    def __init__(self, name: str) -> None:
        body = name.encode()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def get(port: int, path: str = "/", host: str | None = None) -> tuple[int, str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", path, headers={"Host": host} if host else {})
        resp = conn.getresponse()
        return resp.status, resp.read().decode()
    finally:
        conn.close()


def try_get(port: int, **kw) -> tuple[int, str] | None:
    try:
        return get(port, **kw)
    except OSError:
        return None


class Lb:
    def __init__(self, work: Path, marathon: FakeMarathon) -> None:
        self.work, self.http_port, self.stats_port = work, free_port(), free_port()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "frameworks.webapp.lb", "--webapp", marathon.url,
             "--group", "external", "--work-dir", str(work), "--haproxy", HAPROXY,
             "--http-port", str(self.http_port), "--stats-port", str(self.stats_port),
             "--refresh-seconds", "3600", "--log-file", str(work / "lb.log")],
            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 20
        while try_get(self.stats_port, path="/_haproxy_health_check") is None:
            assert self.proc.poll() is None and time.monotonic() < deadline, self.log()
            time.sleep(0.05)

    def log(self) -> str:
        parts = [p.read_text(errors="replace")[-3000:] for p in
                 (self.work / "lb.log", self.work / "haproxy.log") if p.exists()]
        return "\n".join(parts)

    def status(self) -> dict:
        try:
            return orjson.loads((self.work / "status.json").read_bytes())
        except (OSError, orjson.JSONDecodeError):
            return {}

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def marathon() -> Iterator[FakeMarathon]:
    fake = FakeMarathon().start()
    yield fake
    fake.stop()


@pytest.fixture
def lb(tmp_path: Path, marathon: FakeMarathon) -> Iterator[Lb]:
    require_haproxy()
    balancer = Lb(tmp_path / "lb", marathon)
    yield balancer
    balancer.stop()
    assert balancer.proc.returncode == 0, balancer.log()


@pytest.fixture
def backends() -> Iterator[list[Backend]]:
    started = [Backend(name) for name in ("A", "B", "C")]
    yield started
    for b in started:
        b.close()


def lb_app(app_id: str, service_port: int, backends: list[Backend], **labels: str) -> dict:
    return {"id": app_id, "labels": {"HAPROXY_GROUP": "external", **labels},
            "portDefinitions": [{"port": service_port, "protocol": "tcp"}],
            "tasks": [marathon_task(app_id, i, "127.0.0.1", [b.port])
                      for i, b in enumerate(backends)]}


def test_haproxy_routes_service_ports_and_virtual_hosts_to_the_tasks(
        lb: Lb, marathon: FakeMarathon, backends: list[Backend]) -> None:
    a, b, _ = backends
    svc = free_port()
    marathon.set_apps([lb_app("/shop/web", svc, [a, b], HAPROXY_0_VHOST="shop.example.com")])
    eventually(lambda: try_get(svc) is not None, True, "service port bound")
    assert {get(svc)[1] for _ in range(6)} == {"A", "B"}  # round robin over both tasks
    assert get(lb.http_port, host="shop.example.com:9080") in [(200, "A"), (200, "B")]
    assert get(lb.http_port, host="other.example.com")[0] == 503

    marathon.set_apps([lb_app("/shop/web", svc, [b], HAPROXY_0_VHOST="shop.example.com")])
    eventually(lambda: {get(svc)[1] for _ in range(4)}, {"B"}, "only the remaining task")
    with urllib_open(lb.stats_port, "/haproxy?stats;csv") as stats:
        assert "shop_web_" in stats


def urllib_open(port: int, path: str):
    import contextlib
    import urllib.request

    @contextlib.contextmanager
    def opened():
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as r:
            yield r.read().decode()

    return opened()


def test_an_app_with_bad_labels_is_skipped_and_others_keep_updating(
        lb: Lb, marathon: FakeMarathon, backends: list[Backend]) -> None:
    a, b, c = backends
    good, bad, unresolvable = free_port(), free_port(), free_port()
    broken = lb_app("/broken", bad, [c], HAPROXY_0_MODE="udp")
    # passes the label checks but HAProxy itself rejects it (its server cannot be resolved)
    ghost = lb_app("/ghost", unresolvable, [c])
    ghost["tasks"][0]["host"] = "no-such-host.invalid"
    marathon.set_apps([broken, ghost, lb_app("/good", good, [a])])
    eventually(lambda: try_get(good), (200, "A"), "good app served")
    eventually(lambda: sorted(lb.status().get("skipped", {})), ["/broken", "/ghost"], "status")
    skipped = lb.status()["skipped"]
    assert "HAPROXY_0_MODE='udp'" in skipped["/broken"]
    assert "haproxy rejected" in skipped["/ghost"]
    # neither is bound by HAProxy (checked in its config: a port asked for by free_port() may
    # be taken by another process meanwhile, so connecting to it proves nothing)
    config = (lb.work / "haproxy.cfg").read_text()
    assert f":{bad}\n" not in config and f":{unresolvable}\n" not in config, config

    marathon.set_apps([broken, ghost, lb_app("/good", good, [b])])
    eventually(lambda: try_get(good), (200, "B"), "good app still updated")
    assert "skipped" in lb.log()


def served(lb: Lb, app_id: str) -> list[str] | None:
    """The servers status.json lists for `app_id` (None before it is served)."""
    for svc in lb.status().get("services", []):
        if svc.get("app") == app_id:
            return sorted(svc.get("servers", []))
    return None


def addresses(chosen: list[Backend]) -> list[str]:
    return sorted(f"127.0.0.1:{b.port}" for b in chosen)


class Hammer:
    """Threads sending GETs to a port until stopped; every failure is kept."""

    def __init__(self, port: int, threads: int = 2, limit: int = 20000) -> None:
        self.port, self.limit, self.sent = port, limit, 0
        self.failures: list[str] = []
        self.seen: dict[str, int] = {}
        self.done = threading.Event()
        self.threads = [threading.Thread(target=self.run) for _ in range(threads)]
        for t in self.threads:
            t.start()

    def run(self) -> None:
        while not self.done.is_set() and self.sent < self.limit:
            self.sent += 1
            try:
                status, body = get(self.port)
                self.seen[body] = self.seen.get(body, 0) + 1
                if status != 200:
                    self.failures.append(f"status {status}")
            except OSError as exc:
                self.failures.append(repr(exc))

    def stop(self) -> None:
        self.done.set()
        for t in self.threads:
            t.join()


def test_reloads_refuse_no_connection(lb: Lb, marathon: FakeMarathon,
                                      backends: list[Backend]) -> None:
    """Each step changes the backend's balance algorithm (a structural change: a reload) and
    its servers. Each step waits until the load balancer shows that step's servers, so two
    steps are never coalesced into one resync (which, alternating between two sets, would
    leave the config unchanged and no reload to wait for: the cause of a "reload 5" timeout
    seen under load, when `start` was read before the first reload's status was written)."""
    a, b, c = backends
    svc = free_port()
    marathon.set_apps([lb_app("/steady", svc, [a, b, c], HAPROXY_0_MODE="http")])
    eventually(lambda: served(lb, "/steady") == addresses([a, b, c]) and try_get(svc) is not None,
               True, "service served by 3 servers")
    hammer = Hammer(svc)
    try:
        start = lb.status()["reloads"]
        for i in range(6):
            chosen = [a, b, c] if i % 2 else [a, b]
            balance = "roundrobin" if i % 2 else "leastconn"  # the first step changes it too
            marathon.set_apps([lb_app("/steady", svc, chosen, HAPROXY_0_MODE="http",
                                      HAPROXY_0_BALANCE=balance)])
            eventually(lambda i=i, chosen=chosen: (lb.status().get("reloads", 0) >= start + i + 1,
                                                   served(lb, "/steady")),
                       (True, addresses(chosen)), f"reload {i + 1}", timeout=20)
    finally:
        hammer.stop()
    assert hammer.sent > 50
    assert hammer.failures == [], f"{len(hammer.failures)} of {hammer.sent} requests failed: {hammer.failures[:5]}"


def test_server_changes_and_draining_need_no_reload(lb: Lb, marathon: FakeMarathon,
                                                    backends: list[Backend]) -> None:
    """Tasks coming, draining (TASK_KILLING) and going change HAProxy's servers through its
    runtime API: no reload, no failed request, and a draining server gets no new request."""
    a, b, c = backends
    svc = free_port()

    def apps(*tasks: dict) -> list[dict]:
        app = lb_app("/rolling", svc, [], HAPROXY_0_MODE="http")
        app["tasks"] = list(tasks)
        return [app]

    def task(n: int, backend: Backend, state: str = "TASK_RUNNING") -> dict:
        return marathon_task("/rolling", n, "127.0.0.1", [backend.port], state=state)

    marathon.set_apps(apps(task(1, a), task(2, b)))
    eventually(lambda: served(lb, "/rolling") == addresses([a, b]) and try_get(svc) is not None,
               True, "served by a and b")
    reloads = lb.status()["reloads"]
    hammer = Hammer(svc)
    try:
        marathon.set_apps(apps(task(1, a), task(2, b), task(3, c)))
        eventually(lambda: served(lb, "/rolling"), addresses([a, b, c]), "c added")
        marathon.set_apps(apps(task(1, a, "TASK_KILLING"), task(2, b, "TASK_KILLING"), task(3, c)))
        eventually(lambda: served(lb, "/rolling"), addresses([c]), "a and b draining")
        hammer.seen.clear()
        time.sleep(0.5)
        assert set(hammer.seen) == {"C"}, hammer.seen
        marathon.set_apps(apps(task(3, c)))
        eventually(lambda: lb.status()["services"][0].get("draining"), [], "a and b gone")
        marathon.set_apps(apps(task(3, c), task(4, a)))
        eventually(lambda: served(lb, "/rolling"), addresses([a, c]), "a back")
    finally:
        hammer.stop()
    assert lb.status()["reloads"] == reloads, lb.log()
    assert hammer.failures == [], f"{len(hammer.failures)} of {hammer.sent} requests failed: {hammer.failures[:5]}"
    assert "runtime API" in lb.log()
