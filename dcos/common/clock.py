"""Clocks: where every component gets its time.

Cores never read the time themselves: shells pass ``now`` in. Shells take a `Clock` so that
tests can swap the real one for `SimClock` and drive timeouts (offer timeout, ping timeout,
failover timeout, refusal filters) without sleeping.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from typing import Protocol


class Clock(Protocol):
    def time(self) -> float:
        """Seconds since the epoch (wall clock; used in status timestamps and deadlines)."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait `seconds` of this clock's time."""
        ...


class RealClock:
    """The system clock and `asyncio.sleep`."""

    def time(self) -> float:
        return time.time()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))


class SimClock:
    """A simulated clock for tests: time moves only when the test calls `advance`.

    ``await clock.sleep(5)`` parks the caller until the test has advanced the clock by 5 s.
    `advance` wakes sleepers in deadline order and lets the event loop run what they
    scheduled (`settle`) before moving on, so timers fire in the order they would for real.
    """

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self._now = start
        self._seq = itertools.count()
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []

    def time(self) -> float:
        return self._now

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self._now + seconds, next(self._seq), fut))
        await fut

    async def settle(self, rounds: int = 20) -> None:
        """Let ready callbacks and the tasks they wake run to their next wait."""
        for _ in range(rounds):
            await asyncio.sleep(0)

    async def advance(self, seconds: float) -> None:
        """Move time forward by `seconds`, waking every sleeper whose deadline passes."""
        target = self._now + seconds
        await self.settle()
        while self._sleepers and self._sleepers[0][0] <= target:
            deadline, _, fut = heapq.heappop(self._sleepers)
            self._now = max(self._now, deadline)
            if not fut.done():
                fut.set_result(None)
            await self.settle()
        self._now = target
        await self.settle()

    def pending(self) -> int:
        """How many sleepers are waiting (for tests asserting that a timer is armed)."""
        return sum(1 for _, _, f in self._sleepers if not f.done())
