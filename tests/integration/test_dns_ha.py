"""DNS under HA: `python -m dcos.dns --master zk://...` against a real ZooKeeper and three
real masters elected in it (`ProcessCluster(masters=3, zk=...)`), with two webapp instances
(fake Marathons serving the same apps, as a leader and a follower that proxies to it would),
queried with dnspython and `dig`.

All masters listen on 127.0.0.1, so `master.dcos` has one A record; the masters are told
apart by the SRV records Mesos-DNS also serves (`_master._tcp.dcos`: one per master, its
port; `_leader._tcp.dcos`: the leader's port)."""

from __future__ import annotations

import shutil
import subprocess
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import dns.message
import dns.query
import dns.rdatatype
import orjson
import pytest

from dcos.testing import ProcessCluster, eventually, get_json
from tests.integration.test_dns import dns_process
from tests.unit.lb.marathon_fakes import FakeMarathon, marathon_task

pytestmark = pytest.mark.integration


def query(port: int, name: str, rdtype: str = "A") -> dns.message.Message:
    return dns.query.udp(dns.message.make_query(name, rdtype), "127.0.0.1", port=port, timeout=2)


def a_records(port: int, name: str) -> list[str]:
    return sorted(rr.address for rrset in query(port, name).answer for rr in rrset)


def srv_ports(port: int, name: str) -> list[int]:
    return sorted(rr.port for rrset in query(port, name, "SRV").answer for rr in rrset
                  if rr.rdtype == dns.rdatatype.SRV)


@pytest.fixture
def cluster(tmp_path: Path, zk_url: str) -> Iterator[ProcessCluster]:
    c = ProcessCluster(tmp_path / "cluster", agents=1, masters=3, zk=zk_url,
                       zk_session_timeout=2.0, master_flags=["--allocation-interval", "0.2"])
    try:
        yield c.start()
    finally:
        c.stop()


@pytest.fixture
def webapps() -> Iterator[list[FakeMarathon]]:
    fakes = [FakeMarathon().start(), FakeMarathon().start()]
    try:
        yield fakes
    finally:
        for fake in fakes:
            if fake._loop is not None and not fake._loop.is_closed():  # a test may stop one
                fake.stop()


@pytest.fixture
def dns_port(tmp_path: Path, cluster: ProcessCluster,
             webapps: list[FakeMarathon]) -> Iterator[int]:
    with dns_process(tmp_path, cluster.master, ",".join(w.url for w in webapps)) as (port, http_port):
        with urllib.request.urlopen(f"http://127.0.0.1:{http_port}/v1/config", timeout=2) as r:
            config = orjson.loads(r.read())
        assert config["Zk"] == cluster.master
        yield port


def set_apps(webapps: list[FakeMarathon], apps: list[dict]) -> None:
    """Both instances serve the same apps (a follower proxies to the leader)."""
    for w in webapps:
        if w._loop is not None and not w._loop.is_closed():
            w.set_apps(apps)


def agent_id(cluster: ProcessCluster) -> str:
    return get_json(cluster.url + "/master/slaves")["slaves"][0]["id"]  # type: ignore[index]


def app(app_id: str, aid: str, port: int) -> dict:
    return {"id": app_id, "portDefinitions": [{"port": 10000}],
            "tasks": [marathon_task(app_id, 1, "127.0.0.1", [port], agent=aid)]}


def test_master_dcos_lists_every_master_and_leader_dcos_follows_a_sigkill_of_the_leader(
        cluster: ProcessCluster, webapps: list[FakeMarathon], dns_port: int) -> None:
    aid = agent_id(cluster)
    set_apps(webapps, [app("/web", aid, 31000)])
    eventually(lambda: a_records(dns_port, "web.webapp.dcos"), ["127.0.0.1"], "app A record")
    ports = sorted(cluster.master_ports)
    eventually(lambda: srv_ports(dns_port, "_master._tcp.dcos"), ports, "every master's SRV")
    assert a_records(dns_port, "master.dcos") == ["127.0.0.1"]
    assert [a_records(dns_port, f"master{n}.dcos") for n in range(3)] == [["127.0.0.1"]] * 3
    old = cluster.wait_leader()
    old_port = cluster.master_ports[old]
    eventually(lambda: srv_ports(dns_port, "_leader._tcp.dcos"), [old_port], "leader's SRV")
    assert srv_ports(dns_port, "_leader._tcp.mesos") == [old_port]  # Mesos-DNS's name

    cluster.kill_master(old)  # SIGKILL: its znode goes when its ZooKeeper session expires
    new = cluster.wait_leader(exclude={old})
    new_port = cluster.master_ports[new]
    answers: list[tuple[list[str], list[str]]] = []

    def leader_port() -> list[int]:
        # every answer during the failover: the records never go empty
        answers.append((a_records(dns_port, "leader.dcos"),
                        a_records(dns_port, "web.webapp.dcos")))
        return srv_ports(dns_port, "_leader._tcp.dcos")

    eventually(leader_port, [new_port], "leader.dcos follows the new leader")
    assert all(leader == ["127.0.0.1"] and app == ["127.0.0.1"] for leader, app in answers)
    survivors = sorted(p for i, p in enumerate(cluster.master_ports) if i != old)
    eventually(lambda: srv_ports(dns_port, "_master._tcp.dcos"), survivors,
               "the dead master leaves master.dcos")

    # changes keep coming through under the new leader
    cluster.wait_for(lambda: len(cluster.active_agents()) == 1, "the agent re-registered")
    set_apps(webapps, [app("/web", aid, 31000), app("/api", aid, 31001)])
    eventually(lambda: a_records(dns_port, "api.webapp.dcos"), ["127.0.0.1"], "A after failover")
    assert srv_ports(dns_port, "_api._tcp.webapp.dcos") == [31001]

    dig = shutil.which("dig")
    assert dig, "dig is missing: run scripts/install-system-deps.sh (Debian dnsutils)"
    out = subprocess.run([dig, "@127.0.0.1", "-p", str(dns_port), "+short", "+time=2",
                          "+tries=1", "_leader._tcp.dcos", "SRV"],
                         capture_output=True, text=True, timeout=10)
    assert out.stdout.split("\n")[:-1] == [f"0 1 {new_port} leader.dcos."]


def test_dns_reads_from_the_next_webapp_instance_when_one_dies(
        cluster: ProcessCluster, webapps: list[FakeMarathon], dns_port: int) -> None:
    first, second = webapps
    aid = agent_id(cluster)
    set_apps(webapps, [app("/web", aid, 31000)])
    eventually(lambda: a_records(dns_port, "web.webapp.dcos"), ["127.0.0.1"], "app A record")
    eventually(first.attached, 1, "the stream is on the first instance")
    first.stop()  # the instance in use dies; the records stay, then come from the second
    eventually(second.attached, 1, "the stream moved to the second instance")
    assert a_records(dns_port, "web.webapp.dcos") == ["127.0.0.1"]
    second.set_apps([app("/db", aid, 31002)])
    eventually(lambda: a_records(dns_port, "db.webapp.dcos"), ["127.0.0.1"],
               "a change on the second instance")
    assert query(dns_port, "web.webapp.dcos").rcode() != 0  # gone with the change
