"""Issue 9: large reads are served from shared snapshots (`dcos.master.http.snapshots`):
many concurrent readers cost one build, builds are rate-limited, and a reader still reads
its own writes."""

from __future__ import annotations

import asyncio
import gzip

import orjson
import pytest

from dcos.master.http.operator_api import READS
from dcos.master.http.snapshots import ReadCache
from dcos.testing.master import agent_subscribe, subscribe


async def test_concurrent_readers_share_one_build() -> None:
    gen = [0]
    builds = []

    def build() -> dict[str, int]:
        builds.append(gen[0])
        return {"g": gen[0]}

    cache = ReadCache(lambda: gen[0])
    snaps = await asyncio.gather(*(cache.get("v", build) for _ in range(50)))
    assert len(builds) == 1 and all(s is snaps[0] for s in snaps)
    again = await cache.get("v", build)
    assert again is snaps[0] and len(builds) == 1, "unchanged state: no rebuild"


async def test_a_reader_never_gets_a_snapshot_older_than_its_request() -> None:
    gen = [0]
    cache = ReadCache(lambda: gen[0])

    def build() -> dict[str, int]:
        return {"g": gen[0]}

    first = await cache.get("v", build)
    gen[0] = 1
    second = await cache.get("v", build)
    assert orjson.loads(first.body) == {"g": 0} and orjson.loads(second.body) == {"g": 1}


async def test_builds_are_rate_limited_under_constant_change() -> None:
    gen = [0]
    builds = []
    cache = ReadCache(lambda: gen[0])

    def build() -> dict[str, int]:
        builds.append(gen[0])
        return {"g": gen[0]}

    async def reader() -> None:
        for _ in range(20):
            gen[0] += 1
            await cache.get("v", build)

    loop = asyncio.get_running_loop()
    t0 = loop.time()
    await asyncio.gather(*(reader() for _ in range(20)))
    elapsed = loop.time() - t0
    # 400 reads of a view that changed before each: builds at most once per gap (50 ms)
    assert len(builds) <= elapsed / 0.05 + 2
    assert len(builds) < 60


async def test_state_read_your_writes_and_gzip(env) -> None:
    m, s = env
    async with s.get(f"{m.url}/master/state") as r:
        assert (await r.json())["slaves"] == []
    astream, aid = await agent_subscribe(s, m.url)
    async with s.get(f"{m.url}/master/state") as r:
        assert [a["id"] for a in (await r.json())["slaves"]] == [aid]
    fstream, fid, sid = await subscribe(s, m.url)
    async with s.get(f"{m.url}/master/frameworks") as r:
        assert [f["id"] for f in (await r.json())["frameworks"]] == [fid]
    async with s.post(f"{m.url}/api/v1", json={"type": "GET_STATE"}) as r:
        st = await r.json()
        assert st["type"] == "GET_STATE"
        assert st["get_state"]["get_agents"]["agents"][0]["agent_info"]["id"]["value"] == aid
    # a large answer goes out gzipped to clients that accept it, plain to others
    snap = m.shell.app[READS]
    big = {"slaves": ["x" * 100] * 1000}
    cached = await snap.get("test-big", lambda: big)
    assert cached.gzip is not None and orjson.loads(gzip.decompress(cached.gzip)) == big
    async with s.get(f"{m.url}/master/state", headers={"Accept-Encoding": "identity"}) as r:
        assert "Content-Encoding" not in r.headers
        assert (await r.json())["slaves"][0]["id"] == aid
    await fstream.close()
    await astream.close()


async def test_many_concurrent_state_readers_cost_few_builds(env) -> None:
    m, s = env
    astream, aid = await agent_subscribe(s, m.url)
    cache = m.shell.app[READS]
    before = cache.builds

    async def read() -> int:
        async with s.get(f"{m.url}/master/state") as r:
            await r.read()
            return r.status

    statuses = await asyncio.gather(*(read() for _ in range(100)))
    assert set(statuses) == {200}
    assert cache.builds - before <= 3
    await astream.close()


def test_kept_fragments_follow_every_change() -> None:
    """The encoded agents, tasks, offers and sums kept between builds always equal a fresh
    rendering, through offers, launches, status changes and declines."""
    from dcos.master.config import MasterConfig
    from dcos.master.http import state_json as sj
    from dcos.master.shell import MasterView
    from dcos.protocol.codec import dumps_json
    from dcos.testing.master import T0, CoreHarness

    h = CoreHarness()
    aids = [h.agent(port=5051 + i) for i in range(3)]
    fid = h.subscribe()
    view = MasterView(h.core, MasterConfig(), T0, None)

    def check() -> None:
        state = orjson.loads(dumps_json(sj.state_json(view)))
        for a in state["slaves"]:
            fresh = sj.agent_json(view, h.core.agents[a["id"]])
            assert a == orjson.loads(dumps_json(fresh))
        (fw,) = state["frameworks"]
        fresh_fw = orjson.loads(dumps_json(sj.framework_json(view, h.core.frameworks[fid])))
        assert fw == fresh_fw
        used = sum(t["resources"]["cpus"] for t in fw["tasks"])
        assert fw["used_resources"]["cpus"] == pytest.approx(used)

    check()
    offers = h.allocate()
    check()
    h.launch(fid, offers[0], ["t1", "t2"])
    check()
    on = offers[0]["agent_id"]["value"]
    assert on in aids
    h.update(on, fid, "t1", "TASK_RUNNING")
    assert h.core.frameworks[fid].tasks["t1"].state == "TASK_RUNNING"
    check()
    h.update(on, fid, "t2", "TASK_FINISHED")
    check()
    h.call(fid, {"type": "DECLINE", "decline": {"offer_ids": [o["id"] for o in offers[1:]]}})
    check()
    h.update(on, fid, "t1", "TASK_KILLED")
    assert not h.core.frameworks[fid].tasks
    check()


async def test_a_failed_build_fails_its_readers_and_the_next_one_works() -> None:
    gen = [0]
    cache = ReadCache(lambda: gen[0])

    def broken() -> dict[str, int]:
        raise ValueError("bug")

    results = await asyncio.gather(*(cache.get("v", broken) for _ in range(3)),
                                   return_exceptions=True)  # fmt: skip
    assert all(isinstance(r, ValueError) for r in results)
    gen[0] = 1
    snap = await cache.get("v", lambda: {"ok": True})
    assert orjson.loads(snap.body) == {"ok": True}
