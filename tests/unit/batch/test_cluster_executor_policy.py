"""Executor policy core: offer decisions (accept one executor per agent, decline surplus
with a long filter), SUPPRESS when nothing is wanted, REVIVE when work arrives, idle release
down to the minimum, memory sizes."""

from __future__ import annotations

import pytest

from dcos.sdk import Offer, Revive, Suppress, SuppressionTracker
from dcos.testing import make_offer
from frameworks.batch.cluster.executor_policy import (
    LAUNCHING,
    RELEASING,
    RUNNING,
    ExecutorPolicy,
    ExecutorSpec,
    parse_memory,
)


def offer(agent: str, cpus: float = 4, mem: float = 4096) -> Offer:
    return Offer(make_offer(agent_id=agent, resources=f"cpus:{cpus};mem:{mem}"))


def test_one_executor_per_agent_and_surplus_declined_with_a_long_filter():
    a = ExecutorPolicy(ExecutorSpec(cores=1, mem_mb=512, max_executors=2, dynamic=False), "app")
    d = a.on_offers([offer("a1"), offer("a1"), offer("a2"), offer("a3")], outstanding=0, now=0)
    assert [o.agent_id for o, _, _ in d.launch] == ["a1", "a2"]
    assert [o.agent_id for o in d.decline] == ["a1", "a3"]
    assert d.refuse_seconds == 120.0
    assert not a.wants_offers(0)  # wants nothing more: offers get suppressed
    assert {e.state for e in a.executors.values()} == {LAUNCHING}


def test_offers_too_small_are_declined_with_a_reason():
    a = ExecutorPolicy(ExecutorSpec(cores=2, mem_mb=1024, max_executors=1, dynamic=False), "app")
    small = offer("a1", cpus=1)
    assert a.fits(small) == "insufficient cpus: need 2"
    assert a.fits(offer("a1", mem=100)) == "insufficient mem: need 1024"
    d = a.on_offers([small], outstanding=0, now=0)
    assert d.launch == [] and d.decline == [small] and a.wants_offers(0)
    assert d.unfit == {small.id: "insufficient cpus: need 2"}


def test_suppress_then_revive_when_work_arrives_after_idle_release():
    a = ExecutorPolicy(ExecutorSpec(cores=1, max_executors=2, idle_timeout=10), "app")
    offers = SuppressionTracker()  # what the Mesos side keeps in step with wants_offers
    d = a.on_offers([offer("a1"), offer("a2")], outstanding=0, now=0)  # initial executors
    assert len(d.launch) == 2 and offers.update(a.wants_offers(0)) == [Suppress()]
    for _, eid, _ in d.launch:
        assert a.registered(eid).state == RUNNING
    assert offers.update(a.wants_offers(2)) == []  # has its two executors
    released = a.release_idle([eid for _, eid, _ in d.launch])
    assert len(released) == 2
    assert all(a.executors[e].state == RELEASING for e in released)
    for e in released:
        a.lost(e)
    assert a.failures == 0  # released on purpose
    assert offers.update(a.wants_offers(0)) == []  # nothing to do: stays suppressed
    assert offers.update(a.wants_offers(5)) == [Revive()]  # work: revive, once
    assert offers.update(a.wants_offers(5)) == []
    d = a.on_offers([offer("a1"), offer("a2"), offer("a3")], outstanding=5, now=20)
    assert len(d.launch) == 2 and len(d.decline) == 1
    assert offers.update(a.wants_offers(5)) == [Suppress()]


def test_dynamic_target_follows_outstanding_tasks():
    a = ExecutorPolicy(ExecutorSpec(cores=2, max_executors=4, min_executors=1), "app")
    a.floor = 0  # past the initial request
    assert a.target(0) == 1
    assert a.target(3) == 2
    assert a.target(100) == 4


def test_idle_release_keeps_min_executors():
    a = ExecutorPolicy(ExecutorSpec(cores=1, max_executors=3, min_executors=1), "app")
    d = a.on_offers([offer("a1"), offer("a2"), offer("a3")], outstanding=0, now=0)
    ids = [eid for _, eid, _ in d.launch]
    for eid in ids:
        a.registered(eid)
    assert len(a.release_idle(ids)) == 2
    assert len([e for e in a.executors.values() if e.state == RUNNING]) == 1


def test_lost_executor_counts_as_failure_and_is_replaced():
    a = ExecutorPolicy(ExecutorSpec(cores=1, max_executors=2, dynamic=False), "app")
    d = a.on_offers([offer("a1"), offer("a2")], outstanding=0, now=0)
    eid = d.launch[0][1]
    a.registered(eid)
    assert a.lost(eid).agent_id == "a1"
    assert a.failures == 1
    assert a.wants_offers(0)  # a replacement: offers are revived
    d = a.on_offers([offer("a1")], outstanding=0, now=1)
    assert len(d.launch) == 1


def test_agent_with_repeated_executor_failures_is_avoided():
    a = ExecutorPolicy(ExecutorSpec(cores=1, max_executors=1, dynamic=False), "app")
    for _ in range(2):
        d = a.on_offers([offer("bad")], outstanding=0, now=0)
        a.lost(d.launch[0][1])
    d = a.on_offers([offer("bad"), offer("good")], outstanding=0, now=0)
    assert [o.agent_id for o, _, _ in d.launch] == ["good"]


@pytest.mark.parametrize("text,mb", [("512m", 512), ("1g", 1024), ("2048", 2048),
                                     ("1.5g", 1536), ("512mb", 512), (256, 256)])
def test_parse_memory(text, mb):
    assert parse_memory(text) == mb
