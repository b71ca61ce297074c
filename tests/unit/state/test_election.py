"""`ZooKeeperElection` / `ZooKeeperLeaderElector` on a real ZooKeeper: three contenders, the
lowest leads, losing a session hands leadership on, and a leader stops at once on SUSPENDED."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import orjson
import pytest
from kazoo.client import KazooClient
from kazoo.protocol.states import KazooState

from dcos.state.election import ZooKeeperElection, ZooKeeperLeaderElector, sort_contenders
from dcos.state.leader import MasterInfo
from dcos.state.zk import new_client, parse_zk_url, start_client, stop_client, zk_await
from dcos.testing.zookeeper import ZooKeeperServer

WAIT = 20.0  # generous bound for one ZooKeeper round trip chain (failure, not expectation)


async def connected(url: str, session_timeout: float = 4.0) -> KazooClient:
    client = new_client(url, session_timeout=session_timeout)
    await start_client(client)
    return client


@pytest.fixture
async def clients(zk_url: str) -> AsyncIterator[list[KazooClient]]:
    cs = [await connected(zk_url) for _ in range(3)]
    yield cs
    for c in cs:
        await stop_client(c)


async def until(cond, what: str) -> None:  # type: ignore[no-untyped-def]
    """Poll `cond` (bounded by WAIT; a failure names `what`)."""
    async def poll() -> None:
        while not cond():
            await asyncio.sleep(0.02)

    try:
        await asyncio.wait_for(poll(), WAIT)
    except TimeoutError:
        raise AssertionError(f"timed out waiting for {what}") from None


def info(i: int) -> MasterInfo:
    return MasterInfo(id=f"m{i}", ip="127.0.0.1", port=5050 + i, hostname=f"h{i}", version="1")


def test_contenders_sort_by_sequence_number() -> None:
    names = ["json.info_0000000010", "other", "json.info_0000000002", "json.info_x"]
    assert sort_contenders(names) == ["json.info_0000000002", "json.info_0000000010"]


def test_master_info_json_round_trip_and_mesos_forms() -> None:
    m = info(1)
    assert MasterInfo.from_json(orjson.loads(orjson.dumps(m.to_json()))) == m
    bare = {"id": "x", "ip": 16777343, "port": 5050, "version": "1"}  # uint32 127.0.0.1
    assert (MasterInfo.from_json(bare).ip, MasterInfo.from_json(bare).port) == ("127.0.0.1", 5050)
    pid = {"id": "y", "pid": "master@10.0.0.7:5051"}
    assert (MasterInfo.from_json(pid).ip, MasterInfo.from_json(pid).port) == ("10.0.0.7", 5051)
    with pytest.raises(ValueError):
        MasterInfo.from_json({"id": "z"})


async def test_three_contenders_lowest_leads_and_next_takes_over(clients, zk_url) -> None:
    path = parse_zk_url(zk_url).path
    electors = [ZooKeeperLeaderElector(c, path, info(i)) for i, c in enumerate(clients)]
    first = await asyncio.wait_for(electors[0].campaign(), WAIT)
    others = []
    for e in electors[1:]:  # one after the other: the znodes' order is the electors' order
        others.append(asyncio.ensure_future(e.campaign()))
        await until(lambda e=e: e.election.znode is not None, "a contender's znode")
    names = sort_contenders(await zk_await(clients[0].get_children_async(path)))
    assert len(names) == 3 and electors[0].election.znode == f"{path}/{names[0]}"
    assert not any(t.done() for t in others)
    # the leader's session ends (its process died): the next one leads, the third waits
    await stop_client(clients[0])
    second = await asyncio.wait_for(others[0], WAIT)
    assert not second.lost.is_set() and not others[1].done()
    assert first.lost.is_set()
    # every contender sees the same leader, published as Mesos MasterInfo JSON
    async def leader_is(e: ZooKeeperLeaderElector, want: str) -> None:
        async for m in e.watch():
            if m is not None and m.id == want:
                return

    await asyncio.wait_for(leader_is(electors[2], "m1"), WAIT)
    assert [m.id for m in electors[2].masters()] == ["m1", "m2"]
    await electors[0].withdraw()  # its session is closed: nothing left to delete
    await electors[1].withdraw()
    third = await asyncio.wait_for(others[1], WAIT)
    assert second.lost.is_set() and not third.lost.is_set()
    await electors[2].withdraw()


async def test_leader_loses_at_once_when_its_znode_is_deleted(clients, zk_url) -> None:
    path = parse_zk_url(zk_url).path
    e = ZooKeeperElection(clients[0], path, b"a")
    lead = await asyncio.wait_for(e.campaign(), WAIT)
    assert e.znode is not None
    await zk_await(clients[1].delete_async(e.znode))
    await asyncio.wait_for(lead.lost.wait(), WAIT)
    await e.withdraw()


async def test_after_session_lost_campaign_again_with_a_new_znode(clients, zk_url) -> None:
    path = parse_zk_url(zk_url).path
    a = ZooKeeperElection(clients[0], path, b"a")
    b = ZooKeeperElection(clients[1], path, b"b")
    lead_a = await asyncio.wait_for(a.campaign(), WAIT)
    old = a.znode
    waiting_b = asyncio.ensure_future(b.campaign())
    states: list[str] = []
    clients[0].add_listener(states.append)
    # expire a's session from outside (a second client on the same session closes it)
    twin = KazooClient(hosts=clients[0].hosts[0][0] + f":{clients[0].hosts[0][1]}",
                       client_id=clients[0].client_id)
    await asyncio.to_thread(twin.start, 10)
    await asyncio.to_thread(twin.stop)
    twin.close()
    await asyncio.wait_for(lead_a.lost.wait(), WAIT)
    lead_b = await asyncio.wait_for(waiting_b, WAIT)
    # a's client gets a new session; a campaigns again with a new znode and waits behind b
    again = asyncio.ensure_future(a.campaign())
    await until(lambda: a.znode not in (None, old), "a's new znode")
    assert KazooState.LOST in states
    assert not again.done()
    await b.withdraw()
    lead_a2 = await asyncio.wait_for(again, WAIT)
    assert lead_b.lost.is_set() and not lead_a2.lost.is_set() and a.znode != old
    await a.withdraw()


async def test_leader_sees_suspended_when_its_server_stops(tmp_path) -> None:
    server = ZooKeeperServer(tmp_path / "zk").start()
    client = await connected(server.url("/x"), session_timeout=4.0)
    try:
        e = ZooKeeperElection(client, "/x", b"me")
        lead = await asyncio.wait_for(e.campaign(), WAIT)
        await asyncio.to_thread(server.stop)
        await asyncio.wait_for(lead.lost.wait(), WAIT)
        assert client.state in (KazooState.SUSPENDED, KazooState.LOST)
        # the server comes back within the session timeout: the same znode leads again
        await asyncio.to_thread(server.start)
        lead2 = await asyncio.wait_for(e.campaign(), WAIT)
        assert not lead2.lost.is_set()
        await e.withdraw()
    finally:
        await stop_client(client)
        server.stop()
