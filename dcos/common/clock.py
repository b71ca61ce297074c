"""Clocks: where every component gets its time.

Cores never read the time themselves: shells pass ``now`` in. Shells take a `Clock` so that
tests can swap the real one for `SimClock` and drive timeouts (offer timeout, ping timeout,
failover timeout, refusal filters) without sleeping.

`SimClock` moves only when told: by `SimClock.advance` (the test steps time by hand) or, in
autojump mode (``SimClock(autojump=True)`` or ``clock.autojump()``, as trio's ``MockClock``),
by itself whenever every task on the event loop is waiting: time then jumps to the earliest
sleeper's deadline. `wait_for` is `asyncio.wait_for` on a clock's time.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import heapq
import itertools
import logging
import time
import weakref
from collections.abc import Awaitable
from typing import Protocol, TypeVar

T = TypeVar("T")

log = logging.getLogger(__name__)

# every autojump watcher task and the real timers watchers wait on: watchers do not count
# as work for each other
_WATCHERS: weakref.WeakSet[asyncio.Task[None]] = weakref.WeakSet()
_WATCHER_TIMERS: set[asyncio.TimerHandle] = set()


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


async def wait_for(clock: Clock, aw: Awaitable[T], timeout: float | None) -> T:
    """`asyncio.wait_for` measured on `clock`: raises `TimeoutError` (and cancels `aw`) when
    `timeout` seconds of the clock's time pass first. Called by code and tests that need a
    timeout a `SimClock` can trigger (``asyncio.wait_for`` always uses real time)."""
    if timeout is None:
        return await aw
    if isinstance(clock, RealClock):
        return await asyncio.wait_for(aw, timeout)
    work = asyncio.ensure_future(aw)
    timer = asyncio.ensure_future(clock.sleep(timeout))
    try:
        await asyncio.wait({work, timer}, return_when=asyncio.FIRST_COMPLETED)
    except asyncio.CancelledError:
        work.cancel()
        raise
    finally:
        timer.cancel()
    if work.done():
        return work.result()
    work.cancel()
    try:
        await work
    except asyncio.CancelledError:
        pass
    else:  # it finished while being cancelled: keep its result, as asyncio.wait_for does
        return work.result()
    raise TimeoutError


class SimClock:
    """A simulated clock for tests: time moves only when the test calls `advance`, or by
    itself in autojump mode.

    ``await clock.sleep(5)`` parks the caller until the clock has moved on by 5 s.
    `advance` wakes sleepers in deadline order and lets the event loop run what they
    scheduled (`settle`) before moving on, so timers fire in the order they would for real.

    Autojump (``SimClock(autojump=True)``, or ``clock.autojump(threshold)``): a watcher task
    jumps time to the earliest sleeper's deadline whenever the loop is idle, that is when for
    a few consecutive iterations nothing else was ready to run (each iteration polls sockets
    without blocking, so in-process loopback traffic counts as work), no worker thread of
    the loop's default executor was busy, and no real-time timer (``asyncio.sleep``,
    ``call_later``) is due within `real_horizon` real seconds (the watcher waits for such a
    timer first: short real debounces and retries run before time moves). It is meant for
    in-process simulations: a task blocked on a socket whose peer is another process, or on
    a real timer further away than `real_horizon`, counts as waiting, so time may jump while
    it waits (pass `threshold`, real seconds the loop must stay idle before each jump, to
    give such waits a chance); a loop polling with real sleeps shorter than `real_horizon`
    holds time still (poll with `sleep` of this clock instead). The watcher starts on the
    first `sleep` inside a running loop; `stop_autojump` (or the loop closing) ends it.
    Idleness is read from asyncio's own event loop (its ready queue and timer heap); on a
    loop that hides them (uvloop) only the idle rounds count, so use asyncio's loop in tests.
    """

    def __init__(
        self,
        start: float = 1_700_000_000.0,
        *,
        autojump: bool = False,
        threshold: float = 0.0,
        real_horizon: float = 0.05,
    ) -> None:
        self._now = start
        self._seq = itertools.count()
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._autojump = autojump
        self._threshold = threshold
        self.real_horizon = real_horizon
        self._watcher: asyncio.Task[None] | None = None
        self._new_sleeper: asyncio.Event | None = None
        self.jumps = 0  # how many times autojump moved the clock (for tests)

    def time(self) -> float:
        return self._now

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self._now + seconds, next(self._seq), fut))
        if self._autojump:
            self._ensure_watcher()
            if self._new_sleeper is not None:
                self._new_sleeper.set()
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
        self._now = max(self._now, target)
        await self.settle()

    def pending(self) -> int:
        """How many sleepers are waiting (for tests asserting that a timer is armed)."""
        return sum(1 for _, _, f in self._sleepers if not f.done())

    def next_deadline(self) -> float | None:
        """The earliest deadline of a live sleeper, or None."""
        while self._sleepers and self._sleepers[0][2].done():
            heapq.heappop(self._sleepers)  # cancelled sleepers
        return self._sleepers[0][0] if self._sleepers else None

    # -- autojump -----------------------------------------------------------------------

    @property
    def autojumping(self) -> bool:
        """Whether autojump is on (then `sleep` of this clock returns without `advance`)."""
        return self._autojump

    def autojump(self, threshold: float = 0.0) -> None:
        """Turn autojump on (see the class docstring). Called by tests, from inside the
        running loop or before it starts (then the watcher starts on the first `sleep`)."""
        self._autojump = True
        self._threshold = threshold
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return
        self._ensure_watcher()

    def stop_autojump(self) -> None:
        """Turn autojump off and end the watcher task; `advance` keeps working."""
        self._autojump = False
        if self._watcher is not None:
            self._watcher.cancel()
            self._watcher = None

    def _ensure_watcher(self) -> None:
        loop = asyncio.get_running_loop()
        w = self._watcher
        if w is not None and not w.done() and w.get_loop() is loop:
            return
        self._new_sleeper = asyncio.Event()
        self._watcher = loop.create_task(self._watch(), name="SimClock.autojump")
        _WATCHERS.add(self._watcher)

    async def _watch(self) -> None:
        """The autojump watcher: wait until the loop is idle, then jump to the next deadline."""
        assert self._new_sleeper is not None
        new_sleeper = self._new_sleeper
        loop = asyncio.get_running_loop()
        try:
            await self._watch_loop(loop, new_sleeper)
        except Exception:
            log.exception("SimClock autojump watcher failed (restarted by the next sleep)")
            raise

    async def _watch_loop(self, loop: asyncio.AbstractEventLoop, new_sleeper: asyncio.Event) -> None:
        while self._autojump:
            if self.next_deadline() is None:
                new_sleeper.clear()
                await new_sleeper.wait()
                continue
            if not await _loop_idle(rounds=5):
                continue
            soon = _real_timer_due(loop, self.real_horizon)
            if soon is not None:
                await _watcher_sleep(loop, soon)
                continue
            if self._threshold > 0:
                await _watcher_sleep(loop, self._threshold)
                if not await _loop_idle(rounds=5):
                    continue
                if _real_timer_due(loop, self.real_horizon) is not None:
                    continue
            self._jump()

    def _jump(self) -> None:
        """Move to the earliest live deadline and wake every sleeper due then."""
        deadline = self.next_deadline()
        if deadline is None:
            return
        self._now = max(self._now, deadline)
        self.jumps += 1
        while self._sleepers and self._sleepers[0][0] <= self._now:
            _, _, fut = heapq.heappop(self._sleepers)
            if not fut.done():
                fut.set_result(None)


async def _loop_idle(rounds: int) -> bool:
    """True when, for `rounds` consecutive loop iterations, nothing but the caller was ready
    to run and no default-executor thread was busy. Each round is one ``sleep(0)``: the loop
    then polls its sockets with a zero timeout, so bytes already sent over loopback wake
    their reader within the next round."""
    loop = asyncio.get_running_loop()
    for _ in range(rounds):
        await asyncio.sleep(0)
        if _has_ready(loop) or _executor_busy(loop):
            return False
    return True


def _has_ready(loop: asyncio.AbstractEventLoop) -> bool:
    """Whether callbacks other than autojump watchers' wake-ups are queued to run.

    CPython's event loops keep them in ``_ready``; on loops without it (uvloop) this
    reports not ready, so autojump there relies on the idle rounds alone."""
    ready = getattr(loop, "_ready", None)
    if not ready:
        return False
    watchers = {id(w) for w in _WATCHERS}
    return any(id(getattr(h._callback, "__self__", None)) not in watchers for h in ready)


def _real_timer_due(loop: asyncio.AbstractEventLoop, horizon: float) -> float | None:
    """Real seconds until the earliest real-time timer of the loop (not a watcher's) when it
    is due within `horizon`, else None. Read from CPython's ``_scheduled`` heap; loops
    without one (uvloop) report None."""
    scheduled = getattr(loop, "_scheduled", None)
    if not scheduled:
        return None
    whens = [h.when() for h in scheduled if not h.cancelled() and h not in _WATCHER_TIMERS]
    if not whens:
        return None
    delay = max(0.0, min(whens) - loop.time())
    return delay if delay <= horizon else None


async def _watcher_sleep(loop: asyncio.AbstractEventLoop, delay: float) -> None:
    """A real-time sleep that other watchers do not count as a pending timer."""
    fut: asyncio.Future[None] = loop.create_future()
    handle = loop.call_later(delay, _resolve, fut)
    _WATCHER_TIMERS.add(handle)
    try:
        await fut
    finally:
        handle.cancel()
        _WATCHER_TIMERS.discard(handle)


def _resolve(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)


def _executor_busy(loop: asyncio.AbstractEventLoop) -> bool:
    """Whether the loop's default thread pool has queued or running work (``to_thread``,
    ``run_in_executor(None, ...)``), read best-effort from CPython's ThreadPoolExecutor."""
    executor = getattr(loop, "_default_executor", None)
    if not isinstance(executor, concurrent.futures.ThreadPoolExecutor):
        return False
    queue = getattr(executor, "_work_queue", None)
    if queue is not None and not queue.empty():
        return True
    idle = getattr(executor, "_idle_semaphore", None)
    threads = getattr(executor, "_threads", ())
    value = getattr(idle, "_value", None)
    return value is not None and value < len(threads)
