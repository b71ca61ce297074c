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
    assert try_get(bad) is None and try_get(unresolvable) is None

    marathon.set_apps([broken, ghost, lb_app("/good", good, [b])])
    eventually(lambda: try_get(good), (200, "B"), "good app still updated")
    assert "skipped" in lb.log()


def test_reloads_refuse_no_connection(lb: Lb, marathon: FakeMarathon,
                                      backends: list[Backend]) -> None:
    a, b, c = backends
    svc = free_port()
    marathon.set_apps([lb_app("/steady", svc, [a, b, c], HAPROXY_0_MODE="http")])
    eventually(lambda: try_get(svc) is not None, True, "service bound")
    failures: list[str] = []
    done = threading.Event()
    sent = 0

    def hammer() -> None:
        nonlocal sent
        while not done.is_set() and sent < 20000:
            sent += 1
            try:
                status, _ = get(svc)
                if status != 200:
                    failures.append(f"status {status}")
            except OSError as exc:
                failures.append(repr(exc))

    threads = [threading.Thread(target=hammer) for _ in range(2)]
    for t in threads:
        t.start()
    try:
        start = lb.status().get("reloads", 0)
        for i in range(6):  # each change of the backend set is a reload
            chosen = [a, b, c] if i % 2 else [a, b]
            marathon.set_apps([lb_app("/steady", svc, chosen, HAPROXY_0_MODE="http")])
            eventually(lambda i=i: lb.status().get("reloads", 0) >= start + i + 1, True,
                       f"reload {i + 1}", timeout=20)
    finally:
        done.set()
        for t in threads:
            t.join()
    assert sent > 50
    assert failures == [], f"{len(failures)} of {sent} requests failed: {failures[:5]}"
