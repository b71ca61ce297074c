"""Masters in HA mode (``--zk``) on a real ZooKeeper (the `zk_url` fixture), in-process:
the election and its znodes, what a standby answers (307 to the leader, 503 without one),
stepping down when the election znode vanishes, and registry writes refused once deposed
(the store is fenced with the leader's znode, and a successor's write is never
overwritten)."""

from __future__ import annotations

import contextlib

import aiohttp
import orjson
import pytest
from kazoo.client import KazooClient

from dcos.master.__main__ import parse_args
from dcos.master.app import RunningMaster
from dcos.master.leadership import ZooKeeperLeadership
from dcos.state import Registrar, SetWeight, VersionConflict
from dcos.state.registry import REGISTRY_KEY, Registry
from dcos.state.zk import new_client, parse_zk_url, start_client, stop_client
from dcos.state.zookeeper import Fenced, ZooKeeperStateStore, key_to_name
from dcos.testing.master import agent_subscribe, master, subscribe
from dcos.testing.processes import free_port
from dcos.testing.waiting import async_wait_until

SESSION = 2.0


@pytest.fixture
async def zk(zk_url):
    """A started kazoo client on the test's ZooKeeper (for looking at and changing znodes)."""
    client = new_client(zk_url, session_timeout=SESSION)
    await start_client(client)
    yield client
    await stop_client(client)


@pytest.fixture
async def masters(tmp_path, zk_url):
    """A factory of in-process HA masters on `zk_url`; all stopped at the end."""
    started: list[RunningMaster] = []

    async def make(n: int, **kw) -> RunningMaster:
        m = await master(tmp_path / f"m{n}", zk=zk_url, zk_session_timeout=SESSION, **kw)
        started.append(m)
        return m

    yield make
    for m in reversed(started):
        with contextlib.suppress(Exception):
            await m.stop()


async def leading(*ms: RunningMaster) -> RunningMaster:
    """Wait until exactly one of `ms` leads; that one."""
    await async_wait_until(lambda: sum(m.shell.leading for m in ms) == 1, "one leader", 20)
    return next(m for m in ms if m.shell.leading)


def _leadership(m: RunningMaster) -> ZooKeeperLeadership:
    lead = m.shell.leadership
    assert isinstance(lead, ZooKeeperLeadership)
    return lead


def test_zk_flags():
    c = parse_args(["--zk", "zk://h1:2181,h2:2182/dcos", "--zk-session-timeout", "4secs"])
    assert (c.zk, c.zk_session_timeout, c.zk_state_path, c.ha) == (
        "zk://h1:2181,h2:2182/dcos", 4.0, None, True)  # fmt: skip
    assert parse_args(["--zk-state-path", "/reg"]).zk_state_path == "/reg"
    plain = parse_args([])
    assert (plain.zk, plain.zk_session_timeout, plain.ha) == (None, 10.0, False)
    for bad in (["--zk", "127.0.0.1:2181"], ["--zk", "zk://h:2181"], ["--zk-state-path", "x"]):
        with pytest.raises(SystemExit):
            parse_args(bad)


async def test_one_master_leads_and_publishes_master_info(masters, zk, zk_url):
    a, b = await masters(0), await masters(1)
    leader = await leading(a, b)
    path = parse_zk_url(zk_url).path
    children = sorted(await _children(zk, path))
    assert len(children) == 2 and all(c.startswith("json.info_") for c in children)
    data, _ = zk.get(f"{path}/{children[0]}")
    info = orjson.loads(data)
    assert info["address"] == {"hostname": "127.0.0.1", "ip": "127.0.0.1", "port": leader.port}
    assert info["pid"] == f"master@127.0.0.1:{leader.port}"
    assert info["ip"] == 0x0100007F and info["id"] == leader.shell.core.master_id


async def _children(zk: KazooClient, path: str) -> list[str]:
    return list(zk.get_children(path))


async def test_standby_redirects_to_the_leader(masters):
    a, b = await masters(0), await masters(1)
    leader = await leading(a, b)
    standby = b if leader is a else a
    where = f"//127.0.0.1:{leader.port}"
    async with aiohttp.ClientSession() as s:
        for method, path, body in [
            ("POST", "/api/v1/scheduler", {"type": "SUBSCRIBE"}),
            ("POST", "/api/v1", {"type": "GET_HEALTH"}),
            ("GET", "/master/state?jsonp=cb", None),
            ("GET", "/state", None),
            ("GET", "/master/frameworks", None),
            ("GET", "/master/slaves", None),
            ("GET", "/master/tasks?limit=1", None),
            ("GET", "/master/state-summary", None),
        ]:
            async with s.request(method, standby.url + path, json=body,
                                 allow_redirects=False) as r:  # fmt: skip
                assert r.status == 307, (path, r.status, await r.text())
                assert r.headers["Location"] == where + path
        async with s.get(standby.url + "/master/redirect", allow_redirects=False) as r:
            assert (r.status, r.headers["Location"]) == (307, where)
        async with s.get(standby.url + "/health") as r:
            assert r.status == 200
        async with s.get(standby.url + "/metrics/snapshot") as r:
            assert (await r.json())["master/elected"] == 0
        async with s.get(leader.url + "/metrics/snapshot") as r:
            assert (await r.json())["master/elected"] == 1
        async with s.get(leader.url + "/master/state") as r:
            state = await r.json()
    assert state["leader"] == state["pid"] == f"master@127.0.0.1:{leader.port}"
    assert state["leader_info"]["address"]["port"] == leader.port
    assert state["leader_info"]["id"] == state["id"]
    assert state["elected_time"] >= state["start_time"] > 0


async def test_no_leader_means_503_with_a_message(tmp_path):
    """A master whose ZooKeeper does not answer stays standby: 503 for the leader's
    endpoints and /master/redirect, 200 for /health, master/elected 0."""
    dead = f"zk://127.0.0.1:{free_port()}/dcos"
    m = await master(tmp_path, zk=dead, zk_session_timeout=SESSION)
    try:
        async with aiohttp.ClientSession() as s:
            for path in ("/master/state", "/master/redirect"):
                async with s.get(m.url + path, allow_redirects=False) as r:
                    assert r.status == 503
                    assert "No leading master" in await r.text()
            async with s.post(m.url + "/api/v1/scheduler", json={"type": "SUBSCRIBE"}) as r:
                assert r.status == 503 and "No leading master" in await r.text()
            async with s.get(m.url + "/health") as r:
                assert r.status == 200
            async with s.get(m.url + "/metrics/snapshot") as r:
                assert (await r.json())["master/elected"] == 0
    finally:
        await m.stop()


async def test_leader_whose_znode_vanishes_steps_down_at_once(masters, zk):
    """Our election znode gone (what a session expiry does) = deposed: the leader closes
    its framework and agent streams (after offering, it offers nothing more), drops its
    core, and campaigns again with a new znode; the other master leads."""
    a, b = await masters(0), await masters(1)
    leader = await leading(a, b)
    other = b if leader is a else a
    old = _leadership(leader)._election
    assert old is not None and old.znode is not None
    async with aiohttp.ClientSession() as s:
        agent, _aid = await agent_subscribe(s, leader.url)
        stream, _fid, _sid = await subscribe(s, leader.url)
        await stream.next("OFFERS")
        zk.delete(old.znode)
        await async_wait_until(stream.ended.is_set, "framework stream closed", 10)
        await async_wait_until(agent.ended.is_set, "agent stream closed", 10)
        assert not leader.shell.leading and not leader.shell.fw_streams
        assert await leading(a, b) is other
        # the deposed master campaigns again with a new znode, behind the new leader
        await async_wait_until(
            lambda: (e := _leadership(leader)._election) is not old and e.znode, "new znode", 10
        )
        async with s.get(leader.url + "/master/redirect", allow_redirects=False) as r:
            assert r.headers["Location"] == f"//127.0.0.1:{other.port}"
        await stream.close()
        await agent.close()


async def test_deposed_leader_write_is_refused_and_it_steps_down(masters, zk, zk_url):
    """A successor wrote the registry: the old leader's next write is refused (its CAS
    fails), it steps down at once, and the other master leads with the successor's
    registry; the refused weight is nowhere."""
    a, b = await masters(0), await masters(1)
    leader = await leading(a, b)
    other = b if leader is a else a
    state_root = parse_zk_url(zk_url).path + "-state"
    successor = Registrar(ZooKeeperStateStore(zk, state_root))
    await successor.recover()
    await successor.apply([SetWeight("successor", 3.0)])
    async with aiohttp.ClientSession() as s:
        body = {"type": "UPDATE_WEIGHTS",
                "update_weights": {"weight_infos": [{"role": "old", "weight": 2.0}]}}  # fmt: skip
        async with s.post(leader.url + "/api/v1", json=body, allow_redirects=False) as r:
            assert r.status in (307, 503), await r.text()
        assert not leader.shell.leading
        assert await leading(a, b) is other
        assert other.shell.core.weights == {"successor": 3.0}


async def test_fenced_store_refuses_a_deposed_writer(zk, zk_url):
    """The store fenced with an election znode refuses writes once that znode is gone, and
    what the successor wrote stays."""
    path = parse_zk_url(zk_url).path
    root = path + "-state"
    mine = zk.create(f"{path}/json.info_", b"{}", ephemeral=True, sequence=True, makepath=True)
    deposed = ZooKeeperStateStore(zk, root)
    deposed.fence(mine)
    registrar = Registrar(deposed)
    await registrar.recover()
    await registrar.apply([SetWeight("before", 1.0)])
    zk.delete(mine)
    with pytest.raises(Fenced):
        await registrar.apply([SetWeight("late", 9.0)])
    successor = Registrar(ZooKeeperStateStore(zk, root))
    await successor.recover()
    await successor.apply([SetWeight("successor", 2.0)])
    with pytest.raises(VersionConflict):
        await registrar.apply([SetWeight("later", 9.0)])
    data, _ = zk.get(f"{root}/{key_to_name(REGISTRY_KEY)}")
    assert Registry.from_bytes(data).weights == {"before": 1.0, "successor": 2.0}
