"""The master records under HA (Mesos-DNS's scheme): `leader.dcos` the leader, `master.dcos`
every master, `master<N>.dcos` and `_master._tcp` SRV telling masters that share an IP apart by
port; the last good values kept through a failover (`ClusterInfo.with_masters`, sans-IO); and
the DNS service switching on what a (fake) master detector reports, with a fake webapp that
goes away."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator

import pytest
from dnslib import QTYPE, DNSRecord

from dcos.common.addresses import MasterAddress
from dcos.dns.records import ClusterInfo, build_table
from dcos.dns.server import answer
from dcos.dns.service import DnsConfig, DnsService
from dcos.state.leader import MasterInfo
from tests.unit.lb.marathon_fakes import FakeMarathon, marathon_task

M1, M2, M3 = ("127.0.0.1", 5051), ("127.0.0.1", 5052), ("127.0.0.1", 5053)


def test_leader_and_every_master_are_published_as_mesos_dns_does() -> None:
    cluster = ClusterInfo().with_masters(M2, [M1, M2, M3])
    t = build_table([], cluster)
    assert t.lookup_a("leader.dcos") == ("127.0.0.1",)
    assert t.lookup_a("master.dcos") == ("127.0.0.1",)  # one IP, three masters
    assert [s.port for s in t.lookup_srv("_leader._tcp.dcos")] == [5052]
    assert [s.port for s in t.lookup_srv("_leader._udp.dcos")] == [5052]
    srv = t.lookup_srv("_master._tcp.dcos")
    assert sorted((s.target, s.port) for s in srv) == [
        ("master0.dcos", 5051), ("master1.dcos", 5052), ("master2.dcos", 5053)]
    assert all(t.lookup_a(s.target) == ("127.0.0.1",) for s in srv)
    # the .mesos aliases old clients use
    assert t.lookup_a("master.mesos") == ("127.0.0.1",)
    assert [s.port for s in t.lookup_srv("_leader._tcp.mesos")] == [5052]


def test_master_dcos_lists_every_masters_ip() -> None:
    cluster = ClusterInfo().with_masters(("10.0.0.2", 5050), [
        ("10.0.0.1", 5050), ("10.0.0.2", 5050), ("10.0.0.3", 5050)])
    t = build_table([], cluster)
    assert t.lookup_a("master.dcos") == ("10.0.0.1", "10.0.0.2", "10.0.0.3")
    assert t.lookup_a("leader.dcos") == ("10.0.0.2",)
    assert t.lookup_a("master2.dcos") == ("10.0.0.3",)


def test_the_last_good_masters_stay_while_there_is_no_leader_or_no_contender() -> None:
    before = ClusterInfo().with_masters(M1, [M1, M2, M3])
    election = before.with_masters(None, [M2, M3])  # the leader died, no new one yet
    assert (election.master_ip, election.master_port) == M1
    assert election.masters == (M2, M3, M1)  # the last leader stays listed with it
    unreachable = before.with_masters(None, [])  # ZooKeeper unreachable
    assert unreachable == before
    after = before.with_masters(M2, [M2, M3])
    assert (after.master_ip, after.master_port) == M2 and after.masters == (M2, M3)


def test_several_webapp_instances_are_published_with_their_ports() -> None:
    t = build_table([], ClusterInfo(webapps=(("127.0.0.1", 8080), ("127.0.0.2", 8081))))
    assert t.lookup_a("webapp.dcos") == ("127.0.0.1", "127.0.0.2")
    assert sorted(s.port for s in t.lookup_srv("_webapp._tcp.dcos")) == [8080, 8081]


def info(port: int) -> MasterInfo:
    return MasterInfo(id=f"m{port}", ip="127.0.0.1", port=port, hostname="127.0.0.1",
                      version="test")


class FakeDetector:
    """What `ZooKeeperDetector` tells the DNS service: the leader and the contenders."""

    def __init__(self, leader: int | None, contenders: list[int]) -> None:
        self.leader, self.contenders = leader, contenders
        self.changes = asyncio.Condition()
        self.started = self.closed = False

    async def start(self) -> None:
        self.started = True

    def current(self) -> MasterAddress | None:
        return None if self.leader is None else MasterAddress("http", "127.0.0.1", self.leader)

    def masters(self) -> list[MasterInfo]:
        return [info(p) for p in self.contenders]

    async def changed(self, previous: MasterAddress | None) -> MasterAddress | None:
        async with self.changes:
            await self.changes.wait_for(lambda: self.current() != previous)
        return self.current()

    async def wait_leader(self, timeout: float) -> MasterAddress:
        raise NotImplementedError

    async def close(self) -> None:
        self.closed = True

    async def set(self, leader: int | None, contenders: list[int]) -> None:
        async with self.changes:
            self.leader, self.contenders = leader, contenders
            self.changes.notify_all()


def _dead_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


def srv_ports(service: DnsService, name: str) -> list[int]:
    reply = answer(service.table, DNSRecord.question(name, "SRV").pack())
    assert reply is not None
    return sorted(rr.rdata.port for rr in DNSRecord.parse(reply).rr if rr.rtype == QTYPE.SRV)


@pytest.fixture
def marathon() -> Iterator[FakeMarathon]:
    fake = FakeMarathon().start()
    fake.set_apps([{"id": "/web", "tasks": [marathon_task("/web", 1, "127.0.0.9", [31000])]}])
    yield fake
    if fake._loop is not None and not fake._loop.is_closed():  # a test may have stopped it
        fake.stop()


async def wait_until(check, what: str) -> None:
    for _ in range(500):
        if check():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"never: {what}")


async def test_the_service_follows_the_detector_and_keeps_records_through_a_failover(
        marathon: FakeMarathon) -> None:
    detector = FakeDetector(5051, [5051, 5052, 5053])
    # the first webapp instance is down: the service reads from the second
    config = DnsConfig(webapp=f"{_dead_url()},{marathon.url}", master="zk://127.0.0.1:1/dcos",
                       port=0, http_port=0, debounce_s=0.01, full_every_s=3600)
    service = DnsService(config, detector=detector)
    await service.start()
    try:
        assert detector.started
        await wait_until(lambda: service.table.lookup_a("web.webapp.dcos"), "apps read")
        assert srv_ports(service, "_leader._tcp.dcos") == [5051]
        assert srv_ports(service, "_master._tcp.dcos") == [5051, 5052, 5053]
        await detector.set(None, [5052, 5053])  # the leader died; an election is under way
        await wait_until(lambda: service.cluster.masters == (M2, M3, M1), "contenders applied")
        assert srv_ports(service, "_leader._tcp.dcos") == [5051]  # the last leader stays
        assert srv_ports(service, "_master._tcp.dcos") == [5051, 5052, 5053]
        await detector.set(5052, [5052, 5053])
        await wait_until(lambda: srv_ports(service, "_leader._tcp.dcos") == [5052], "new leader")
        assert srv_ports(service, "_master._tcp.dcos") == [5052, 5053]
        marathon.stop()  # no webapp instance answers now: the app records stay
        service.follower.poke()
        await wait_until(lambda: service.follower.policy.retry_at is not None, "failed resync")
        assert service.table.lookup_a("web.webapp.dcos") == ("127.0.0.9",)
        assert service.table.lookup_a("leader.dcos") == ("127.0.0.1",)
    finally:
        await service.stop()
    assert detector.closed
