"""Delay scheduling of the cluster backend on simulated time: a task that prefers a busy
executor waits `spark.locality.wait` for it, then falls back to ANY executor; a task whose
preferred executor frees up within the wait runs there. Driven by an autojumping `SimClock`
through the backend's own timers (no executor processes, no sleeps: executors are fake
connections fed through `ClusterBackend.executor_connected`)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from dcos.common.clock import SimClock
from dcos.sdk import Offer
from dcos.testing import make_offer
from frameworks.batch.backend import ExecutorInfo, Task, TaskResult
from frameworks.batch.cluster import wire
from frameworks.batch.cluster.backend import ClusterBackend

WAIT = 3.0


class FakeExecutor:
    """The driver's side of one executor connection: records each LAUNCH frame with the
    simulated time it was sent, and answers with results when told to."""

    def __init__(self, clock: SimClock) -> None:
        self.clock = clock
        self.launches: list[tuple[float, list[int]]] = []  # (time, task keys)
        self.closed = False

    def write(self, data: bytes) -> None:
        msg = wire.unpack(data[wire.HEADER.size :])
        if msg[0] == "launch":
            self.launches.append((self.clock.time(), [item[0] for item in msg[1]]))

    def close(self) -> None:
        self.closed = True

    def keys(self) -> list[int]:
        return [k for _, keys in self.launches for k in keys]


class Events:
    """The engine's side (`BackendEvents`): task results in order."""

    def __init__(self) -> None:
        self.results: list[TaskResult] = []

    def on_task_result(self, result: TaskResult) -> None:
        self.results.append(result)

    def on_executor_added(self, info: ExecutorInfo) -> None:
        pass

    def on_executor_lost(self, executor_id: str, reason: str) -> None:
        pass


@pytest.fixture
async def clock() -> AsyncIterator[SimClock]:
    c = SimClock(start=1000.0, autojump=True)
    yield c
    c.stop_autojump()


def task(partition: int, prefer: str) -> Task:
    return Task(0, 0, 0, partition, b"payload", "app-0", preferred_executors=(prefer,))


async def backend_with_two_executors(
    clock: SimClock,
) -> tuple[ClusterBackend, dict[str, FakeExecutor], list[str]]:
    conf = {"spark.locality.wait": f"{WAIT:g}s", "spark.executor.cores": "1",
            "spark.dcos.executor.queueDepth": "0", "spark.dynamicAllocation.enabled": "false"}
    b = ClusterBackend("mesos://127.0.0.1:5050", "delay", conf, clock=clock)
    b.events = Events()
    offers = [Offer(make_offer(agent_id=f"a{i}", hostname=f"h{i}", resources="cpus:1;mem:1024"))
              for i in (1, 2)]
    d = b.executor_policy.on_offers(offers, 0, clock.time())
    eids = [x.executor_id for x in d.launch]
    fakes: dict[str, FakeExecutor] = {}
    for i, eid in enumerate(eids, 1):
        fakes[eid] = FakeExecutor(clock)
        hello: list[Any] = ["hello", eid, f"h{i}", f"http://h{i}:1", 1, 100 + i]
        assert b.executor_connected(hello, fakes[eid]) == eid
    await clock.settle()
    return b, fakes, eids


def finish(b: ClusterBackend, eid: str, key: int) -> None:
    b._on_results(eid, [[key, wire.OK, b"", "", 0.01, None]])


async def wait_until(clock: SimClock, cond: Any, limit: float = 60.0) -> None:
    """Let simulated time run (autojump) until `cond()`; fails after `limit` seconds of it."""
    deadline = clock.time() + limit
    while not cond():
        assert clock.time() < deadline, "condition not reached in simulated time"
        await clock.sleep(0.05)


async def test_locality_wait_expires_then_the_task_runs_anywhere(clock: SimClock) -> None:
    b, fakes, (e1, e2) = await backend_with_two_executors(clock)
    start = clock.time()
    b.submit([task(0, e1), task(1, e1)])  # both want e1, which has one slot
    await clock.settle()
    assert fakes[e1].keys() == [1] and fakes[e2].keys() == []  # the second waits for e1
    await wait_until(clock, lambda: fakes[e2].keys())
    (sent_at, keys), = fakes[e2].launches
    assert keys == [2]
    assert start + WAIT <= sent_at < start + WAIT + 0.1  # not before the wait, not much after
    assert b.task_scheduler.launched_local == 1 and b.task_scheduler.launched_remote == 1
    finish(b, e1, 1)
    finish(b, e2, 2)
    events = b.events
    assert isinstance(events, Events)
    assert [r.task.partition for r in events.results] == [0, 1]
    assert b.task_scheduler.pending == 0


async def test_a_slot_freed_within_the_wait_keeps_the_task_local(clock: SimClock) -> None:
    b, fakes, (e1, e2) = await backend_with_two_executors(clock)
    start = clock.time()
    b.submit([task(0, e1), task(1, e1)])
    await clock.settle()
    await clock.sleep(WAIT / 2)  # e1 finishes its first task half-way through the wait
    finish(b, e1, 1)
    await clock.settle()
    assert fakes[e1].keys() == [1, 2] and fakes[e2].keys() == []
    assert fakes[e1].launches[1][0] == pytest.approx(start + WAIT / 2)
    await clock.sleep(2 * WAIT)  # the wait passes with nothing left waiting
    assert fakes[e2].keys() == []
    assert b.task_scheduler.launched_local == 2 and b.task_scheduler.launched_remote == 0


async def test_a_lost_preferred_executor_lets_its_tasks_run_anywhere_at_once(
    clock: SimClock,
) -> None:
    b, fakes, (e1, e2) = await backend_with_two_executors(clock)
    b.submit([task(0, e1), task(1, e1)])
    await clock.settle()
    t0 = clock.time()
    b.executor_gone(e1, "killed")
    await clock.settle()
    assert sorted(fakes[e2].keys()) == [1]  # the requeued task; the other waits for a slot
    finish(b, e2, 1)
    await clock.settle()
    assert sorted(fakes[e2].keys()) == [1, 2]
    assert all(t == t0 for t, _ in fakes[e2].launches)  # no locality wait: e1 is gone
