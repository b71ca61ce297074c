"""The master shell's timers on an autojumping simulated clock: agent ping timeout ->
unreachable, framework failover timeout, heartbeats.

The master runs in-process (one event loop, loopback HTTP); the clock jumps to the next
timer whenever every task waits, so ``await clock.sleep(s)`` means "let everything settle,
then `s` simulated seconds pass" and a wait for the next event on a stream lets time run
until the master sends it. No real sleeps, no polling.
"""

from __future__ import annotations

import asyncio

import aiohttp

from dcos.common.clock import SimClock
from dcos.master.app import RunningMaster, start_master
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


async def _master(tmp_path, clock: SimClock, **settings: float) -> RunningMaster:
    return await start_master(MasterConfig(port=0, work_dir=str(tmp_path), **settings), clock=clock)


async def test_ping_timeout_makes_agent_unreachable_and_tasks_unreachable(tmp_path, autojump_clock):
    m = await _master(tmp_path, autojump_clock, agent_ping_timeout=5, max_agent_ping_timeouts=3,
                      heartbeat_interval=1000)  # fmt: skip
    try:
        async with aiohttp.ClientSession() as s:
            astream, aid = await agent_subscribe(s, m.url)
            registered = autojump_clock.time()
            fstream, fid, sid = await subscribe(s, m.url, caps=["PARTITION_AWARE"])
            offer = (await fstream.next("OFFERS"))["offers"]["offers"][0]
            task = command_task("t1", aid)
            await launch(s, m.url, fid, sid, offer["id"], [task])
            await astream.next(internal.RUN_TASKS)
            # the first ping one ping timeout after registration (the timer ticks every 1 s)
            assert (await astream.next())["type"] == internal.PING
            assert 5 <= autojump_clock.time() - registered <= 6
            await agent_call(s, m.url, {"type": internal.PONG, "agent_id": aid})
            ponged = autojump_clock.time()
            # silent since: 3 missed pings of 5 s later the agent is unreachable
            upd = await fstream.next("UPDATE")
            assert upd["update"]["status"]["state"] == "TASK_UNREACHABLE"
            assert 15 <= autojump_clock.time() - ponged <= 16
            assert (await fstream.next("FAILURE"))["failure"]["agent_id"] == wrap(aid)
            await asyncio.wait_for(astream.ended.wait(), 10)
            assert aid in m.shell.core.unreachable_agents
            assert m.shell.registrar.registry.agents[aid]["unreachable_time"] is not None
            await fstream.close()
    finally:
        await m.stop()


async def test_failover_timeout_removes_disconnected_framework(tmp_path, autojump_clock):
    m = await _master(tmp_path, autojump_clock)
    try:
        async with aiohttp.ClientSession() as s:
            fstream, fid, sid = await subscribe(s, m.url)  # failover_timeout 100
            await fstream.close()
            closed = autojump_clock.time()
            core = m.shell.core
            await autojump_clock.sleep(0.5)  # the master sees the stream end before time moves
            assert not core.frameworks[fid].connected
            await autojump_clock.sleep(99)  # closed + 99.5: within the failover timeout
            assert fid in core.frameworks and fid not in core.completed_frameworks
            await autojump_clock.sleep(2)  # closed + 101.5: past it (timers tick every 1 s)
            assert fid in core.completed_frameworks and fid not in core.frameworks
            assert fid in m.shell.registrar.registry.completed_frameworks
            assert autojump_clock.time() - closed == 101.5
    finally:
        await m.stop()


async def test_heartbeats_on_the_stream(tmp_path, autojump_clock):
    m = await _master(tmp_path, autojump_clock, heartbeat_interval=15)
    try:
        async with aiohttp.ClientSession() as s:
            fstream, fid, sid = await subscribe(s, m.url)
            subscribed = autojump_clock.time()
            assert (await fstream.next())["type"] == "HEARTBEAT"
            assert 15 <= autojump_clock.time() - subscribed <= 16
            assert (await fstream.next())["type"] == "HEARTBEAT"
            assert 30 <= autojump_clock.time() - subscribed <= 32
            await fstream.close()
    finally:
        await m.stop()
