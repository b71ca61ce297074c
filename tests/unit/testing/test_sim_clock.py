"""SimClock: advance/settle and autojump (time jumps to the next deadline when all tasks wait)."""

from __future__ import annotations

import asyncio
import time

import pytest

from dcos.common.clock import RealClock, SimClock, wait_for
from dcos.testing.waiting import WaitTimeout, async_wait_until


async def test_advance_wakes_sleepers_in_deadline_order() -> None:
    clock = SimClock(start=0.0)
    woke: list[tuple[str, float]] = []

    async def sleeper(name: str, seconds: float) -> None:
        await clock.sleep(seconds)
        woke.append((name, clock.time()))

    tasks = [asyncio.create_task(sleeper(n, s)) for n, s in (("c", 3), ("a", 1), ("b", 2))]
    await clock.advance(2.5)
    assert woke == [("a", 1.0), ("b", 2.0)] and clock.time() == 2.5
    assert clock.pending() == 1
    await clock.advance(1)
    assert woke[-1] == ("c", 3.0)
    await asyncio.gather(*tasks)


async def test_autojump_fires_timers_in_order_without_real_waiting() -> None:
    clock = SimClock(start=0.0, autojump=True)
    woke: list[tuple[str, float]] = []

    async def sleeper(name: str, seconds: float) -> None:
        await clock.sleep(seconds)
        woke.append((name, clock.time()))

    started = time.monotonic()
    await asyncio.gather(sleeper("late", 3600), sleeper("early", 5), sleeper("mid", 60))
    assert woke == [("early", 5.0), ("mid", 60.0), ("late", 3600.0)]
    assert time.monotonic() - started < 2.0
    clock.stop_autojump()


async def test_autojump_nested_and_periodic_sleeps() -> None:
    clock = SimClock(start=100.0)
    clock.autojump()
    ticks: list[float] = []

    async def periodic() -> None:
        while True:
            await clock.sleep(10)
            ticks.append(clock.time() - 100.0)

    async def inner() -> float:
        await clock.sleep(7)
        await clock.sleep(8)
        return clock.time() - 100.0

    async def outer() -> float:
        await clock.sleep(20)
        return await inner() + 0.0

    ticker = asyncio.create_task(periodic())
    assert await outer() == 35.0
    assert ticks == [10.0, 20.0, 30.0]
    ticker.cancel()
    clock.stop_autojump()


async def test_autojump_same_deadline_wakes_all() -> None:
    clock = SimClock(start=0.0, autojump=True)
    order: list[int] = []

    async def sleeper(i: int) -> None:
        await clock.sleep(5)
        order.append(i)

    await asyncio.gather(*(sleeper(i) for i in range(4)))
    assert sorted(order) == [0, 1, 2, 3] and clock.time() == 5.0
    assert clock.jumps == 1
    clock.stop_autojump()


async def test_autojump_does_not_jump_over_a_task_doing_work() -> None:
    clock = SimClock(start=0.0, autojump=True)
    done_at: list[float] = []

    async def worker() -> None:
        for _ in range(2000):  # busy, but yielding to the loop between steps
            await asyncio.sleep(0)
        done_at.append(clock.time())

    async def timer() -> float:
        await clock.sleep(1)
        return clock.time()

    work = asyncio.create_task(worker())
    assert await timer() == 1.0
    assert done_at == [0.0]  # the worker finished before time moved
    await work
    clock.stop_autojump()


async def test_autojump_waits_for_a_thread_doing_work() -> None:
    clock = SimClock(start=0.0, autojump=True)
    seen: list[float] = []

    def blocking() -> float:
        time.sleep(0.2)
        return 0.0

    async def in_thread() -> None:
        await asyncio.to_thread(blocking)
        seen.append(clock.time())

    thread_task = asyncio.create_task(in_thread())
    await asyncio.sleep(0)
    await clock.sleep(1)
    assert seen == [0.0]
    await thread_task
    clock.stop_autojump()


async def test_autojump_waits_for_loopback_io() -> None:
    """A reply already sent over a loopback socket is read before time jumps."""
    clock = SimClock(start=0.0, autojump=True)
    got: list[tuple[bytes, float]] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        data = await reader.readline()
        writer.write(data.upper())
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]

    async def client() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"ping\n")
        got.append((await reader.readline(), clock.time()))
        writer.close()

    c = asyncio.create_task(client())
    await clock.sleep(30)
    await c
    assert got == [(b"PING\n", 0.0)]
    server.close()
    await server.wait_closed()
    clock.stop_autojump()


async def test_wait_for_times_out_on_the_sim_clock() -> None:
    clock = SimClock(start=0.0, autojump=True)
    never: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    with pytest.raises(TimeoutError):
        await wait_for(clock, never, 30)
    assert clock.time() == 30.0 and never.cancelled()

    async def quick() -> str:
        await clock.sleep(1)
        return "ok"

    assert await wait_for(clock, quick(), 10) == "ok"
    assert clock.time() == 31.0
    clock.stop_autojump()


async def test_wait_for_on_the_real_clock() -> None:
    with pytest.raises(TimeoutError):
        await wait_for(RealClock(), asyncio.sleep(10), 0.01)
    assert await wait_for(RealClock(), asyncio.sleep(0, "x"), None) == "x"


async def test_advance_still_works_after_stop_autojump() -> None:
    clock = SimClock(start=0.0, autojump=True)
    await clock.sleep(2)
    assert clock.time() == 2.0
    clock.stop_autojump()
    sleeper = asyncio.create_task(clock.sleep(5))
    await asyncio.sleep(0.05)
    assert not sleeper.done() and clock.time() == 2.0
    await clock.advance(5)
    assert sleeper.done() and clock.time() == 7.0


async def test_autojump_with_unhashable_callbacks_on_the_loop() -> None:
    """Ready callbacks bound to unhashable objects (a set's discard as a done-callback) are
    work like any other and do not break the watcher."""
    clock = SimClock(start=0.0, autojump=True)
    loop = asyncio.get_running_loop()
    pending: set[int] = set()

    async def churn() -> None:
        for _ in range(50):
            loop.call_soon(pending.discard, 1)
            await asyncio.sleep(0)

    worker = asyncio.create_task(churn())
    await clock.sleep(3)
    assert clock.time() == 3.0 and worker.done()
    clock.stop_autojump()


async def test_two_autojump_clocks_on_one_loop() -> None:
    a, b = SimClock(start=0.0, autojump=True), SimClock(start=0.0, autojump=True)
    await asyncio.gather(a.sleep(10), b.sleep(20))
    assert (a.time(), b.time()) == (10.0, 20.0)
    a.stop_autojump()
    b.stop_autojump()


async def test_a_short_real_timer_runs_before_time_jumps() -> None:
    """A real-time debounce (shorter than real_horizon) is waited for, not jumped over."""
    clock = SimClock(start=0.0, autojump=True)
    seen: list[float] = []

    async def debounce() -> None:
        await asyncio.sleep(0.01)  # real time
        seen.append(clock.time())

    t = asyncio.create_task(debounce())
    await clock.sleep(1)
    assert seen == [0.0] and clock.time() == 1.0
    await t
    clock.stop_autojump()


async def test_a_long_real_timer_does_not_hold_time() -> None:
    clock = SimClock(start=0.0, autojump=True)
    far = asyncio.create_task(asyncio.sleep(30))  # real time, beyond real_horizon
    started = time.monotonic()
    await clock.sleep(3600)
    assert clock.time() == 3600.0 and not far.done()
    assert time.monotonic() - started < 2.0
    far.cancel()
    clock.stop_autojump()


async def test_threshold_gives_real_waits_a_chance() -> None:
    clock = SimClock(start=0.0, real_horizon=0.0)
    clock.autojump(threshold=0.1)
    assert clock.autojumping
    seen: list[float] = []

    async def real_wait() -> None:
        await asyncio.sleep(0.02)  # real time, beyond the horizon but within the threshold
        seen.append(clock.time())

    t = asyncio.create_task(real_wait())
    await clock.sleep(1)
    assert seen == [0.0] and clock.time() == 1.0
    await t
    clock.stop_autojump()
    assert not clock.autojumping


async def test_wait_for_cancelled_from_outside_cancels_the_work() -> None:
    clock = SimClock(start=0.0)
    inner: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    outer = asyncio.create_task(wait_for(clock, inner, 10))
    await clock.settle()
    outer.cancel()
    with pytest.raises(asyncio.CancelledError):
        await outer
    assert inner.cancelled() and clock.pending() == 0


async def test_async_wait_until_polls_on_an_autojumping_clock(autojump_clock) -> None:
    start = autojump_clock.time()
    await async_wait_until(lambda: autojump_clock.time() - start >= 60, "a simulated minute",
                           timeout=5, interval=1, clock=autojump_clock)  # fmt: skip
    assert autojump_clock.time() - start == 60
    with pytest.raises(TimeoutError) as err:
        await async_wait_until(lambda: False, "never", timeout=0.05, interval=0.01)
    assert isinstance(err.value, WaitTimeout) and isinstance(err.value, AssertionError)
    assert "timed out waiting for never" in str(err.value)
