"""`RegistryQueue`: batches with a registry change go out only once written, in order; an
operator waiting on its write is told when it is in; a refused write (the master steps down)
or a dropped queue (the term ended) sends nothing that waited and fails the waiters."""

from __future__ import annotations

import asyncio

import pytest

from dcos.master.core import AllocateSoon, Persist, ToFramework
from dcos.master.registry_queue import NotLeading, RegistryQueue
from dcos.protocol.ids import FrameworkID
from dcos.state import Operation, SetWeight


class Harness:
    """A queue whose writes wait for `release` and whose sends are recorded."""

    def __init__(self, refuse: bool = False) -> None:
        self.sent: list[str] = []
        self.written: list[list[Operation]] = []
        self.release = asyncio.Event()
        self.refuse = refuse
        self.failures: list[Exception] = []
        self.allocations = 0
        self.queue = RegistryQueue(self.send, self.write, self.failed, self.allocate)

    def send(self, actions: list) -> None:
        self.sent.extend(a.event["type"] for a in actions if isinstance(a, ToFramework))

    async def write(self, ops: list[Operation]) -> None:
        await self.release.wait()
        if self.refuse:
            raise RuntimeError("refused")
        self.written.append(ops)

    def failed(self, exc: Exception) -> bool:
        self.failures.append(exc)
        self.queue.drop()  # what the shell's step-down does
        return True

    def allocate(self) -> None:
        self.allocations += 1


def to(event: str) -> ToFramework:
    return ToFramework(FrameworkID("f"), {"type": event})


async def test_batches_wait_for_their_write_and_keep_their_order():
    h = Harness()
    h.queue.dispatch([to("a")])
    h.queue.dispatch([Persist(SetWeight("r", 2.0)), to("b"), AllocateSoon()])
    h.queue.dispatch([to("c")])  # behind the write: waits too
    assert (h.sent, h.allocations) == (["a"], 1)
    waiter = asyncio.ensure_future(h.queue.persisted())
    await asyncio.sleep(0)
    assert not waiter.done()
    h.release.set()
    await waiter
    assert h.sent == ["a", "b", "c"] and h.written == [[SetWeight("r", 2.0)]]


async def test_a_refused_write_sends_nothing_that_waited_and_fails_the_waiter():
    h = Harness(refuse=True)
    h.queue.dispatch([Persist(SetWeight("r", 2.0)), to("b")])
    h.queue.dispatch([to("c")])
    waiter = asyncio.ensure_future(h.queue.persisted())
    h.release.set()
    with pytest.raises(NotLeading):
        await waiter
    assert h.sent == [] and len(h.failures) == 1
    h.queue.dispatch([to("d")])  # a dropped queue carries nothing out any more
    assert h.sent == []
    with pytest.raises(NotLeading):
        await h.queue.persisted()


async def test_drop_cancels_the_write_in_flight():
    h = Harness()
    h.queue.dispatch([Persist(SetWeight("r", 2.0)), to("b")])
    waiter = asyncio.ensure_future(h.queue.persisted())
    await asyncio.sleep(0)
    h.queue.drop()
    h.release.set()
    with pytest.raises(NotLeading):
        await waiter
    await asyncio.sleep(0)
    assert h.sent == [] and h.written == []
