"""Simulated time: refusal filters expire on schedule under the master's batch allocation.

A real master (in-process, loopback HTTP, allocating every simulated second) on an
autojumping `SimClock`; one agent; schedulers that decline every offer with their
``refuse_seconds``. The clock jumps from timer to timer, so each test covers many simulated
seconds in a few milliseconds, with no real sleeps and no polling.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import aiohttp
import pytest

from dcos.common.clock import SimClock
from dcos.master.app import RunningMaster, start_master
from dcos.master.config import MasterConfig
from dcos.testing.master import Stream, agent_subscribe, call, subscribe


@pytest.fixture
async def master(tmp_path, autojump_clock: SimClock) -> AsyncIterator[RunningMaster]:
    # pings far apart: the test's agent (a bare stream) never answers them
    cfg = MasterConfig(port=0, work_dir=str(tmp_path), allocation_interval=1.0,
                       agent_ping_timeout=1000)  # fmt: skip
    m = await start_master(cfg, clock=autojump_clock)
    yield m
    await m.stop()


@dataclass
class Decliner:
    """A framework that declines every offer with `refuse` seconds and logs when it got one."""

    name: str
    refuse: float
    log: list[tuple[float, str]]
    stream: Stream | None = None
    fid: str = ""
    sid: str = ""
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    async def start(self, s: aiohttp.ClientSession, url: str, clock: SimClock) -> None:
        self.stream, self.fid, self.sid = await subscribe(s, url, name=self.name)
        self.tasks.append(asyncio.create_task(self._decline(s, url, clock)))

    async def _decline(self, s: aiohttp.ClientSession, url: str, clock: SimClock) -> None:
        assert self.stream is not None
        while True:
            ev = await self.stream.events.get()
            if ev["type"] != "OFFERS":
                continue
            for offer in ev["offers"]["offers"]:
                self.log.append((clock.time(), self.name))
                await call(s, url, self.fid, self.sid, {"type": "DECLINE", "decline": {
                    "offer_ids": [offer["id"]], "filters": {"refuse_seconds": self.refuse}}})  # fmt: skip

    async def revive(self, s: aiohttp.ClientSession, url: str) -> None:
        await call(s, url, self.fid, self.sid, {"type": "REVIVE"})

    async def stop(self) -> None:
        for t in self.tasks:
            t.cancel()
        if self.stream is not None:
            await self.stream.close()


async def _run(
    master: RunningMaster, clock: SimClock, refuse: dict[str, float], seconds: float,
    revive_at: float | None = None,
) -> list[tuple[float, str]]:
    """Subscribe one `Decliner` per entry of `refuse` (in order), then an agent; run
    `seconds` of simulated time from the agent's registration (reviving the first framework
    at `revive_at`); the offers as (seconds since the agent registered, framework name)."""
    log: list[tuple[float, str]] = []
    frameworks = [Decliner(name, r, log) for name, r in refuse.items()]
    async with aiohttp.ClientSession() as s:
        for fw in frameworks:
            await fw.start(s, master.url, clock)
        astream, _ = await agent_subscribe(s, master.url)
        t0 = clock.time()
        try:
            if revive_at is not None:
                await clock.sleep(revive_at)
                await frameworks[0].revive(s, master.url)
                await clock.sleep(seconds - revive_at)
            else:
                await clock.sleep(seconds)
        finally:
            for fw in frameworks:
                await fw.stop()
            await astream.close()
    return [(t - t0, name) for t, name in log]


async def test_declined_agent_returns_when_the_filter_expires(master, autojump_clock) -> None:
    got = await _run(master, autojump_clock, {"fw1": 5.0}, 12.5)
    # offered at t, declined for 5 s: filtered at t+1..t+4, offered again at t+5
    assert got == [(0.0, "fw1"), (5.0, "fw1"), (10.0, "fw1")]


async def test_other_framework_gets_the_agent_while_one_refuses(master, autojump_clock) -> None:
    got = await _run(master, autojump_clock, {"fw1": 3.0, "fw2": 1000.0}, 8.5)
    # both start at share 0: fw1 (subscribed first) first; after its decline fw2 gets it at
    # the next batch and declines for long; fw1's filter ends at 3, then every 3 s
    assert got == [(0.0, "fw1"), (1.0, "fw2"), (3.0, "fw1"), (6.0, "fw1")]


async def test_revive_ends_a_long_filter(master, autojump_clock) -> None:
    got = await _run(master, autojump_clock, {"fw1": 4294967295.0}, 6.5, revive_at=3.5)
    # refused "forever" at 0; REVIVE clears the filter and asks for an allocation at once
    assert got == [(0.0, "fw1"), (3.5, "fw1")]
