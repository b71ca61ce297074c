"""Executor allocation on small agents: without ``spark.executor.cores`` an executor takes the
cpus its offer has (fractions included, bounded by ``spark.cores.max``, or 1 per executor when
that is unset too) and runs ``max(1, floor(cpus))`` tasks; with it set, smaller offers are
declined. While no executor runs, the driver says why (best offer, what it lacks), and warns
every 10 s."""

from __future__ import annotations

import pytest

from dcos.sdk import Offer
from dcos.testing import make_offer
from frameworks.batch.cluster.conf import ClusterConf
from frameworks.batch.cluster.executor_policy import (
    WARN_INTERVAL,
    ExecutorPolicy,
    ExecutorSpec,
    task_slots,
)
from frameworks.batch.cluster.jobs import JobTracker
from frameworks.batch.cluster.mesos import executor_command
from frameworks.batch.cluster.webui import render


def offer(agent: str, cpus: float, mem: float = 3000, host: str = "127.0.0.1") -> Offer:
    return Offer(make_offer(agent_id=agent, hostname=host, resources=f"cpus:{cpus};mem:{mem}"))


def flexible(**kw) -> ExecutorSpec:
    return ExecutorSpec(fixed_cores=False, explicit_mem=False, dynamic=False, **kw)


@pytest.mark.parametrize("cpus,slots", [(0.1, 1), (0.5, 1), (0.999, 1), (1.0, 1), (1.5, 1),
                                        (2.7, 2), (4.0, 4)])
def test_task_slots_are_floor_of_cpus_at_least_one(cpus, slots):
    assert task_slots(cpus) == slots


def test_unset_executor_cores_takes_the_fractional_cpus_of_small_offers():
    a = ExecutorPolicy(flexible(max_executors=3), "app")
    d = a.on_offers([offer("a1", 0.6), offer("a2", 0.6), offer("a3", 0.6)], 0, now=0)
    assert len(d.launch) == 3 and not d.decline and not a.wants_offers(0)
    recs = [a.executors[eid] for _, eid, _ in d.launch]
    assert [r.cpus for r in recs] == [0.6, 0.6, 0.6]
    assert [r.slots for r in recs] == [1, 1, 1]


def test_unset_executor_cores_without_cores_max_takes_at_most_one_cpu_each():
    a = ExecutorPolicy(flexible(max_executors=2), "app")
    d = a.on_offers([offer("a1", 0.5), offer("a2", 4), offer("a3", 2)], 0, now=0)
    # The largest offers first; each executor capped at 1 cpu.
    assert [o.agent_id for o, _, _ in d.launch] == ["a2", "a3"]
    assert [a.executors[eid].cpus for _, eid, _ in d.launch] == [1.0, 1.0]
    assert [o.agent_id for o in d.decline] == ["a1"]


def test_cores_max_bounds_the_total_and_executors_take_whole_offers():
    a = ExecutorPolicy(flexible(max_executors=30, max_cores=3.0), "app")
    d = a.on_offers([offer("a1", 2.5), offer("a2", 2), offer("a3", 2)], 0, now=0)
    cpus = [a.executors[eid].cpus for _, eid, _ in d.launch]
    assert cpus == [2.5, 0.5] and a.acquired_cpus() == pytest.approx(3.0)
    assert [a.executors[eid].slots for _, eid, _ in d.launch] == [2, 1]
    assert [o.agent_id for o in d.decline] == ["a3"]
    assert a.wanted(0) == 0 and not a.wants_offers(0)  # cores.max reached
    assert a.fits(offer("a4", 2)) == "spark.cores.max=3 reached"
    assert a.spec.requested_slots() == 3


def test_offers_below_the_minimum_are_declined():
    a = ExecutorPolicy(flexible(max_executors=1, min_cores=0.25), "app")
    tiny = offer("a1", 0.2)
    assert a.fits(tiny) == "insufficient cpus: need at least 0.25"
    d = a.on_offers([tiny], 0, now=0)
    assert d.launch == [] and d.decline == [tiny] and a.wants_offers(0)


def test_explicit_executor_cores_keeps_the_strict_rule_and_says_why_it_waits():
    a = ExecutorPolicy(ExecutorSpec(cores=1, mem_mb=512, max_executors=2), "app")
    d = a.on_offers([offer("a1", 0.6), offer("a2", 0.5)], 0, now=0)
    assert d.launch == [] and len(d.decline) == 2
    reason = a.waiting_reason(0, now=12)
    assert reason.startswith(
        "no offer fits 1 executor of 1 cpus / 512 MB; best offer 0.6 cpus, 3000 MB on "
        "127.0.0.1 (insufficient cpus: need 1)"
    )
    assert "spark.executor.cores=1 is set" in reason


def test_default_memory_larger_than_every_offer_is_named():
    a = ExecutorPolicy(flexible(max_executors=2, mem_mb=512), "app")
    d = a.on_offers([offer("a1", 0.6, mem=256, host="h1")], 0, now=0)
    assert d.launch == []
    reason = a.waiting_reason(0, now=1)
    assert "best offer 0.6 cpus, 256 MB on h1 (insufficient mem: need 512)" in reason
    assert "spark.executor.memory is not set and its default 512m" in reason


def test_waiting_reasons_before_offers_while_launching_and_after_a_failure():
    a = ExecutorPolicy(flexible(max_executors=1), "app")
    assert a.waiting_reason(0, now=0).startswith("no offer from the master yet")
    d = a.on_offers([offer("a1", 0.6, host="h1")], 0, now=1)
    eid = d.launch[0][1]
    assert a.waiting_reason(0, now=4).startswith(
        f"executor {eid} launched on h1 3s ago has not connected yet"
    )
    a.lost(eid, "TASK_FAILED: exec format error")
    assert a.wants_offers(0)
    reason = a.waiting_reason(0, now=5)
    assert f"last executor failure: {eid} on h1: TASK_FAILED: exec format error" in reason
    d = a.on_offers([offer("a1", 0.6, host="h1")], 0, now=6)
    a.registered(d.launch[0][1])
    assert a.waiting_reason(0, now=7) is None and a.last_failure == ""


def test_warning_every_interval_while_waiting_and_none_once_an_executor_runs():
    a = ExecutorPolicy(flexible(max_executors=1, mem_mb=4096), "app")
    a.on_offers([offer("a1", 0.6)], 0, now=0)
    seen = {t: a.warning(0, now=float(t)) for t in range(0, 31)}
    warned = [t for t, w in seen.items() if w]
    assert warned == [WARN_INTERVAL, 2 * WARN_INTERVAL, 3 * WARN_INTERVAL]
    assert "insufficient mem: need 4096" in seen[10] and "(waiting 10s)" in seen[10]
    a.spec = flexible(max_executors=1)  # resources freed: the next offer fits
    d = a.on_offers([offer("a1", 0.6)], 0, now=31)
    a.registered(d.launch[0][1])
    assert a.warning(0, now=45) is None and a.waiting_since is None


def test_no_waiting_after_idle_release_without_work():
    a = ExecutorPolicy(ExecutorSpec(cores=1, max_executors=1, idle_timeout=1), "app")
    d = a.on_offers([offer("a1", 2)], 0, now=0)
    eid = d.launch[0][1]
    a.registered(eid)
    assert a.release_idle([eid]) == [eid]
    a.lost(eid)
    assert a.waiting_reason(0, now=100) is None
    assert a.waiting_reason(3, now=100) is not None  # work arrived, no executor


def test_conf_executor_cores_unset_is_flexible_and_set_is_fixed():
    d = ClusterConf.parse(None, environ={}).spec
    assert not d.fixed_cores and d.cores == 1 and d.max_cores is None and not d.explicit_mem
    assert d.requested_slots() == 2
    f = ClusterConf.parse({"spark.executor.cores": "1", "spark.executor.memory": "256m"},
                          environ={}).spec
    assert f.fixed_cores and f.explicit_mem and f.mem_mb == 256
    m = ClusterConf.parse({"spark.cores.max": "2"}, environ={}).spec
    assert not m.fixed_cores and m.max_cores == 2.0 and m.max_executors >= 20
    assert m.requested_slots() == 2
    both = ClusterConf.parse({"spark.cores.max": "2", "spark.executor.instances": "3"},
                             environ={}).spec
    assert both.max_executors == 3


def test_executor_command_slots_and_page_follow_the_offer():
    conf = ClusterConf.parse({}, environ={})
    a = ExecutorPolicy(conf.spec, "small")
    d = a.on_offers([offer("a1", 0.5)], 0, now=0)
    eid = d.launch[0].executor_id
    assert d.launch[0].fit.ok
    assert {r["name"]: r["scalar"]["value"] for r in d.launch[0].fit.resources} == {
        "cpus": 0.5, "mem": 512}
    argv = executor_command(conf, eid, "127.0.0.1", "127.0.0.1:7", a.executors[eid].slots)
    assert argv[argv.index("--cores") + 1] == "1"
    snap = JobTracker("small").snapshot(0.0) | {
        "app_id": "a", "framework_id": None, "pending_tasks": 0,
        "waiting": "no offer fits 1 executor of 0.1-1 cpus / 512 MB",
        "executors": [{"executor_id": eid, "host": "h", "cores": 1, "cpus": 0.5,
                       "address": "http://h:1", "running_tasks": 0}],
    }
    page = render(snap)
    assert "Waiting for executors: no offer fits 1 executor of 0.1-1 cpus / 512 MB" in page
    assert "<td>0.5</td>" in page
