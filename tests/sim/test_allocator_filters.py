"""Simulated time: refusal filters expire on schedule under a batch allocation loop.

A tiny shell like the master's: every `interval` simulated seconds it calls
`allocate(clock.time())`; the scheduler declines each offer with `refuse_seconds`.
"""

from __future__ import annotations

import asyncio

from dcos.allocator import Allocation, HierarchicalAllocator
from dcos.common.clock import SimClock
from dcos.protocol.ids import AgentID, FrameworkID, Role
from dcos.protocol.resources import Resources

FW1, FW2 = FrameworkID("fw1"), FrameworkID("fw2")
AGENT = AgentID("agent1")
ROLE = Role("*")


async def batch_loop(
    clock: SimClock,
    al: HierarchicalAllocator,
    interval: float,
    refuse: dict[FrameworkID, float],
    log: list[tuple[float, Allocation]],
) -> None:
    """Allocate every `interval`; each framework declines with its `refuse_seconds`."""
    while True:
        now = clock.time()
        for offer in al.allocate(now):
            log.append((now, offer))
            until = now + refuse[offer.framework_id]
            al.recover(offer.framework_id, offer.agent_id, offer.role, offer.resources, until)
        await clock.sleep(interval)


async def test_declined_agent_returns_when_the_filter_expires() -> None:
    clock = SimClock(start=1000.0)
    al = HierarchicalAllocator(seed=0)
    al.add_framework(FW1, [ROLE])
    al.add_agent(AGENT, Resources.parse("cpus:4;mem:1024"))
    log: list[tuple[float, Allocation]] = []
    task = asyncio.create_task(batch_loop(clock, al, 1.0, {FW1: 5.0}, log))
    try:
        await clock.advance(12.0)
    finally:
        task.cancel()
    # offered at t, declined for 5 s: filtered at t+1..t+4, offered again at t+5
    assert [t - 1000.0 for t, _ in log] == [0.0, 5.0, 10.0]


async def test_other_framework_gets_the_agent_while_one_refuses() -> None:
    clock = SimClock(start=0.0)
    al = HierarchicalAllocator(seed=0)
    al.add_framework(FW1, [ROLE])
    al.add_framework(FW2, [ROLE])
    al.add_agent(AGENT, Resources.parse("cpus:4;mem:1024"))
    log: list[tuple[float, Allocation]] = []
    task = asyncio.create_task(batch_loop(clock, al, 1.0, {FW1: 3.0, FW2: 1000.0}, log))
    try:
        await clock.advance(8.0)
    finally:
        task.cancel()
    got = [(t, o.framework_id) for t, o in log]
    # both start at share 0: fw1 (by name) first; after its decline fw2 gets it, declines
    # for long; fw1's filter ends at 3, then every 3 s
    assert got == [(0.0, FW1), (1.0, FW2), (3.0, FW1), (6.0, FW1)]


async def test_revive_ends_a_long_filter_at_the_next_batch() -> None:
    clock = SimClock(start=0.0)
    al = HierarchicalAllocator(seed=0)
    al.add_framework(FW1, [ROLE])
    al.add_agent(AGENT, Resources.parse("cpus:4;mem:1024"))
    log: list[tuple[float, Allocation]] = []
    task = asyncio.create_task(batch_loop(clock, al, 1.0, {FW1: 4294967295.0}, log))
    try:
        await clock.advance(3.0)
        al.revive(FW1)
        await clock.advance(3.0)
    finally:
        task.cancel()
    assert [t for t, _ in log] == [0.0, 4.0]
