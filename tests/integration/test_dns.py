"""The DNS server as a real process (`python -m dcos.dns`) against a real master and a fake
Marathon that serves apps and pushes `/v2/events`, queried with real DNS clients (dnspython over
UDP and TCP, and `dig` from Debian dnsutils, installed by `make test`)."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import orjson
import pytest

from dcos.testing import ProcessCluster, eventually, free_port, get_json
from tests.unit.lb.marathon_fakes import FakeMarathon, marathon_task

pytestmark = pytest.mark.integration


def query(port: int, name: str, rdtype: str = "A", tcp: bool = False) -> dns.message.Message:
    q = dns.message.make_query(name, rdtype)
    send = dns.query.tcp if tcp else dns.query.udp
    return send(q, "127.0.0.1", port=port, timeout=2)


def a_records(port: int, name: str) -> list[str]:
    return sorted(rr.address for rrset in query(port, name).answer for rr in rrset)


@pytest.fixture
def master(tmp_path: Path) -> Iterator[ProcessCluster]:
    c = ProcessCluster(tmp_path / "cluster", agents=1,
                       master_flags=["--allocation-interval", "0.2"])
    try:
        yield c.start()
    finally:
        c.stop()


@pytest.fixture
def marathon() -> Iterator[FakeMarathon]:
    fake = FakeMarathon().start()
    try:
        yield fake
    finally:
        fake.stop()


@contextlib.contextmanager
def dns_process(tmp_path: Path, master: str, webapp: str) -> Iterator[tuple[int, int]]:
    """``python -m dcos.dns`` on free ports (``--master``/``--webapp`` as given), healthy
    before it yields ``(dns port, http port)``; terminated afterwards. Also used by
    test_dns_ha.py."""
    port, http_port = free_port(), free_port()
    log = tmp_path / "dns.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "dcos.dns", "--master", master, "--webapp", webapp,
         "--port", str(port), "--http-port", str(http_port), "--refresh-seconds", "3600",
         "--log-file", str(log)],
        stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            assert proc.poll() is None, log.read_text() if log.exists() else "dns exited"
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{http_port}/health", timeout=1):
                    break
            except OSError:
                time.sleep(0.05)
        else:
            raise AssertionError("dns never became healthy: " + log.read_text())
        yield port, http_port
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.fixture
def dns_server(tmp_path: Path, master: ProcessCluster, marathon: FakeMarathon):
    with dns_process(tmp_path, master.master, marathon.url) as ports:
        yield ports


def agent_id(master: ProcessCluster) -> str:
    return get_json(master.url + "/master/slaves")["slaves"][0]["id"]  # type: ignore[index]


def test_dns_answers_app_srv_and_leader_and_follows_events(
        master: ProcessCluster, marathon: FakeMarathon, dns_server: tuple[int, int]) -> None:
    port, http_port = dns_server
    aid = agent_id(master)
    web = {"id": "/shop/web", "portDefinitions": [{"port": 10000, "protocol": "tcp"}],
           "tasks": [marathon_task("/shop/web", 1, "127.0.0.1", [31000], agent=aid)]}
    marathon.set_apps([web])
    eventually(lambda: a_records(port, "web-shop.webapp.dcos"), ["127.0.0.1"], "A after an event")

    assert a_records(port, "leader.dcos") == ["127.0.0.1"]
    assert a_records(port, "MASTER.dcos.") == ["127.0.0.1"]
    assert a_records(port, "webapp.dcos") == ["127.0.0.1"]
    srv = query(port, "_web-shop._tcp.webapp.dcos", "SRV", tcp=True)
    assert [(rr.port, rr.target.to_text()) for rrset in srv.answer for rr in rrset] == [
        (31000, "127-0-0-1.agent.dcos.")]
    assert query(port, "nope.webapp.dcos").rcode() == dns.rcode.NXDOMAIN

    # scale to two tasks and then remove the app: the stream event is what triggers the
    # re-read (the periodic resync is set to an hour)
    web["tasks"].append(marathon_task("/shop/web", 2, "127.0.0.1", [31001], agent=aid))
    marathon.set_apps([web])

    def srv_ports() -> list[int]:
        reply = query(port, "_web-shop._tcp.webapp.dcos", "SRV")
        return sorted(rr.port for rs in reply.answer for rr in rs)

    eventually(srv_ports, [31000, 31001], "SRV after a scale event")
    marathon.set_apps([], event="app_terminated_event")
    eventually(lambda: query(port, "web-shop.webapp.dcos").rcode(), dns.rcode.NXDOMAIN,
               "NXDOMAIN after the app is removed")

    with urllib.request.urlopen(f"http://127.0.0.1:{http_port}/v1/hosts/master.mesos") as r:
        assert orjson.loads(r.read()) == [{"host": "master.mesos.", "ip": "127.0.0.1"}]
    with urllib.request.urlopen(f"http://127.0.0.1:{http_port}/v1/version") as r:
        assert orjson.loads(r.read())["Service"] == "Mesos-DNS"


def test_dns_resyncs_after_the_event_stream_reconnects(
        master: ProcessCluster, marathon: FakeMarathon, dns_server: tuple[int, int]) -> None:
    port, _ = dns_server
    eventually(marathon.attached, 1, "event stream attached")
    marathon.drop_streams()
    # changed while no stream is attached: only the resync on reconnect can pick this up
    marathon.apps = [{"id": "/db", "tasks": [marathon_task("/db", 1, "127.0.0.1", [31500])]}]
    eventually(lambda: a_records(port, "db.webapp.dcos"), ["127.0.0.1"], "A after reconnect")


def test_dig_resolves_names(master: ProcessCluster, marathon: FakeMarathon,
                            dns_server: tuple[int, int]) -> None:
    dig = shutil.which("dig")
    assert dig, "dig is missing: run scripts/install-system-deps.sh (Debian dnsutils)"
    port, _ = dns_server
    marathon.set_apps([{"id": "/api", "tasks": [marathon_task("/api", 1, "127.0.0.1", [31200])]}])
    eventually(lambda: a_records(port, "api.webapp.dcos"), ["127.0.0.1"], "A after an event")

    def dig_short(*args: str) -> list[str]:
        out = subprocess.run([dig, "@127.0.0.1", "-p", str(port), "+short", "+time=2",
                              "+tries=1", *args], capture_output=True, text=True, timeout=10)
        return out.stdout.split("\n")[:-1]

    assert dig_short("API.webapp.dcos") == ["127.0.0.1"]
    assert dig_short("_api._tcp.webapp.dcos", "SRV") == ["0 1 31200 127-0-0-1.agent.dcos."]
    assert dig_short("+tcp", "leader.dcos") == ["127.0.0.1"]
    status = subprocess.run([dig, "@127.0.0.1", "-p", str(port), "+time=2", "+tries=1",
                             "missing.webapp.dcos"], capture_output=True, text=True, timeout=10)
    assert "status: NXDOMAIN" in status.stdout
