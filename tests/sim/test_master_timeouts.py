"""The master shell's timers on a simulated clock over real loopback HTTP: agent ping
timeout -> unreachable, framework failover timeout, heartbeats."""

from __future__ import annotations

import asyncio

import aiohttp

from dcos.common.clock import SimClock
from dcos.master.app import start_master
from dcos.master.config import MasterConfig
from dcos.protocol import internal
from dcos.protocol.ids import wrap
from dcos.testing.master import (
    agent_call,
    agent_subscribe,
    command_task,
    launch,
    subscribe,
)


async def _until(pred, clock: SimClock) -> None:
    for _ in range(200):
        if pred():
            return
        await asyncio.sleep(0.01)
        await clock.settle()
    raise AssertionError("condition never became true")


async def test_ping_timeout_makes_agent_unreachable_and_tasks_unreachable(tmp_path):
    clock = SimClock()
    cfg = MasterConfig(
        port=0,
        work_dir=str(tmp_path),
        agent_ping_timeout=5,
        max_agent_ping_timeouts=3,
        heartbeat_interval=1000,
    )
    m = await start_master(cfg, clock=clock)
    try:
        async with aiohttp.ClientSession() as s:
            astream, aid = await agent_subscribe(s, m.url)
            fstream, fid, sid = await subscribe(s, m.url, caps=["PARTITION_AWARE"])
            offer = (await fstream.next("OFFERS"))["offers"]["offers"][0]
            task = command_task("t1", aid)
            await launch(s, m.url, fid, sid, offer["id"], [task])
            await astream.next(internal.RUN_TASKS)
            await clock.advance(5)
            assert (await astream.next())["type"] == internal.PING
            await agent_call(s, m.url, {"type": internal.PONG, "agent_id": aid})
            for _ in range(16):
                await clock.advance(1)
            upd = await fstream.next("UPDATE")
            assert upd["update"]["status"]["state"] == "TASK_UNREACHABLE"
            assert (await fstream.next("FAILURE"))["failure"]["agent_id"] == wrap(aid)
            await asyncio.wait_for(astream.ended.wait(), 10)
            assert aid in m.shell.core.unreachable_agents
            assert m.shell.registrar.registry.agents[aid]["unreachable_time"] is not None
            await fstream.close()
    finally:
        await m.stop()


async def test_failover_timeout_removes_disconnected_framework(tmp_path):
    clock = SimClock()
    m = await start_master(MasterConfig(port=0, work_dir=str(tmp_path)), clock=clock)
    try:
        async with aiohttp.ClientSession() as s:
            fstream, fid, sid = await subscribe(s, m.url)  # failover_timeout 100
            await fstream.close()
            core = m.shell.core
            await _until(lambda: not core.frameworks[fid].connected, clock)
            await clock.advance(50)
            assert fid in core.frameworks
            await clock.advance(51)
            await _until(lambda: fid in core.completed_frameworks, clock)
            assert fid in m.shell.registrar.registry.completed_frameworks
    finally:
        await m.stop()


async def test_heartbeats_on_the_stream(tmp_path):
    clock = SimClock()
    m = await start_master(
        MasterConfig(port=0, work_dir=str(tmp_path), heartbeat_interval=15), clock=clock
    )
    try:
        async with aiohttp.ClientSession() as s:
            fstream, fid, sid = await subscribe(s, m.url)
            await clock.advance(16)
            assert (await fstream.next())["type"] == "HEARTBEAT"
            await fstream.close()
    finally:
        await m.stop()
