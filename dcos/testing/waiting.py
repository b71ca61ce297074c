"""Bounded waits on real time, for tests that drive real processes or real sockets.

- `wait_until(cond, what, timeout)`: poll a predicate from synchronous test code.
- `async_wait_until(cond, what, timeout)`: the same inside a running event loop.
- `eventually(fn, expected, what, timeout)`: poll until ``fn()`` equals `expected`, then
  assert it (the message shows the last value).

All raise `WaitTimeout` (an `AssertionError` and a `TimeoutError`) naming `what` on timeout,
with an optional `diag()` text (log tails, state dumps) appended. Timeouts are real seconds.
Code on a `SimClock` rarely needs these: with autojump a plain ``await clock.sleep(s)`` lets
everything settle (see `dcos.common.clock`); `async_wait_until(..., clock=clock)` polls on
an autojumping clock's time (a real-time poll would hold its time still).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any, TypeVar

from dcos.common.clock import Clock, SimClock

T = TypeVar("T")


class WaitTimeout(AssertionError, TimeoutError):
    """A bounded wait ran out: a test failure (AssertionError) that code catching
    `TimeoutError` also sees."""


def _timed_out(what: str, timeout: float, diag: Callable[[], str] | None) -> WaitTimeout:
    extra = diag() if diag is not None else ""
    return WaitTimeout(f"timed out waiting for {what} ({timeout:g} s)" + (
        f"\n{extra}" if extra else ""))  # fmt: skip


def wait_until(
    cond: Callable[[], Any],
    what: str = "a condition",
    timeout: float = 30.0,
    *,
    interval: float = 0.05,
    diag: Callable[[], str] | None = None,
) -> None:
    """Poll `cond` every `interval` seconds until it is true. Called by synchronous tests
    (integration tests driving processes); AssertionError naming `what` after `timeout`."""
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise _timed_out(what, timeout, diag)
        time.sleep(interval)


async def async_wait_until(
    cond: Callable[[], Any],
    what: str = "a condition",
    timeout: float = 30.0,
    *,
    interval: float = 0.05,
    diag: Callable[[], str] | None = None,
    clock: Clock | None = None,
) -> None:
    """`wait_until` for async tests: polls every `interval` seconds so the loop keeps
    running; of `clock`'s time when it is an autojumping `SimClock`, else real time. Prefer
    waiting on an event where the code under test offers one."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    sim = clock if isinstance(clock, SimClock) and clock.autojumping else None
    while not cond():
        if loop.time() > deadline:
            raise _timed_out(what, timeout, diag)
        if sim is not None:
            await sim.sleep(interval)
        else:
            await asyncio.sleep(interval)


def eventually(
    fn: Callable[[], T], expected: T, what: str, timeout: float = 20.0, *, interval: float = 0.05
) -> None:
    """Poll ``fn()`` until it equals `expected`; then assert it, so a timeout reports the last
    value (``what: <value> != <expected>``). Called by synchronous tests."""
    deadline = time.monotonic() + timeout
    value = fn()
    while value != expected and time.monotonic() < deadline:
        time.sleep(interval)
        value = fn()
    assert value == expected, f"{what}: {value!r} != {expected!r}"
