"""Master core: the `Observed` actions behind the operator API's SUBSCRIBE events (made only
while `observe(True)`; numbered so a subscriber skips what its snapshot shows)."""

from __future__ import annotations

from dcos.master.core import Observed
from dcos.master.core.observed import (
    AgentAdded,
    AgentRemoved,
    FrameworkAdded,
    FrameworkRemoved,
    FrameworkUpdated,
    TaskAdded,
    TaskUpdated,
)
from dcos.protocol.ids import wrap
from dcos.protocol.resources import Resources
from dcos.testing.master import T0, CoreHarness


def observed(h: CoreHarness) -> list[Observed]:
    out = [a for a in h.actions if isinstance(a, Observed)]
    h.actions = [a for a in h.actions if not isinstance(a, Observed)]
    return out


def kinds(h: CoreHarness) -> list[type]:
    return [type(a.event) for a in observed(h)]


def test_nothing_observed_while_nobody_watches():
    h = CoreHarness()
    aid = h.agent()
    fid = h.subscribe()
    (offer,) = h.allocate()
    h.launch(fid, offer, ["t1"])
    h.update(aid, fid, "t1", "TASK_RUNNING")
    assert observed(h) == [] and h.core.observed_seq == 0


def test_lifecycle_events_in_order_with_increasing_numbers():
    h = CoreHarness()
    assert h.core.observe(True) == 0
    aid = h.agent()
    fid = h.subscribe()
    (offer,) = h.allocate()
    h.launch(fid, offer, ["t1"])
    h.update(aid, fid, "t1", "TASK_RUNNING", now=T0 + 1)
    h.update(aid, fid, "t1", "TASK_RUNNING", now=T0 + 2)  # same state: no event
    acts = observed(h)
    assert [type(a.event) for a in acts] == [AgentAdded, FrameworkAdded, TaskAdded, TaskUpdated]
    assert [a.seq for a in acts] == [1, 2, 3, 4]
    added, upd = acts[2].event, acts[3].event
    assert isinstance(added, TaskAdded) and added.task.task_id == "t1"
    assert isinstance(upd, TaskUpdated) and upd.state == "TASK_RUNNING"
    assert upd.status["task_id"] == wrap("t1") and upd.task.framework_id == fid
    # teardown: the task's TASK_KILLED, then the framework's removal
    h.call(fid, {"type": "TEARDOWN"})
    acts = observed(h)
    assert [type(a.event) for a in acts] == [TaskUpdated, FrameworkRemoved]
    killed, removed = acts[0].event, acts[1].event
    assert isinstance(killed, TaskUpdated) and killed.state == "TASK_KILLED"
    assert isinstance(removed, FrameworkRemoved) and removed.info["id"] == wrap(fid)
    assert h.core.observe(False) == 6


def test_framework_failover_and_disconnect_are_updates():
    h = CoreHarness()
    fid = h.subscribe()
    h.core.observe(True)
    h.run(h.core.framework_disconnected(fid, h.streams[fid], T0 + 1))
    h.subscribe(framework_id=fid, now=T0 + 2)
    assert kinds(h) == [FrameworkUpdated, FrameworkUpdated]


def test_lost_agent_updates_its_tasks_then_is_removed():
    h = CoreHarness(agent_ping_timeout=1, max_agent_ping_timeouts=2)
    aid = h.agent()
    fid = h.subscribe()
    (offer,) = h.allocate()
    h.launch(fid, offer, ["t1"])
    h.core.observe(True)
    h.tick(T0 + 5)
    acts = observed(h)
    assert [type(a.event) for a in acts] == [TaskUpdated, AgentRemoved]
    lost, removed = acts[0].event, acts[1].event
    assert isinstance(lost, TaskUpdated) and lost.state == "TASK_LOST"
    assert isinstance(removed, AgentRemoved) and removed.agent_id == aid


def test_reregistering_agent_adds_unknown_framework_and_task():
    h = CoreHarness()
    aid = h.agent()
    h.core.observe(True)
    observed(h)
    fw_info = {"id": wrap("fw-x"), "user": "u", "name": "x", "roles": ["*"]}
    info = {
        "name": "tx", "task_id": wrap("tx"), "agent_id": wrap(aid),
        "resources": Resources.parse("cpus:1;mem:32").to_mesos(),
    }  # fmt: skip
    task = {"framework_id": "fw-x", "state": "TASK_RUNNING", "task": info}
    h.agent(agent_id=aid, tasks=[task], frameworks=[fw_info], now=T0 + 1)
    acts = observed(h)
    assert [type(a.event) for a in acts] == [FrameworkAdded, AgentAdded, TaskAdded]
    added = acts[2].event
    assert isinstance(added, TaskAdded) and added.task.state == "TASK_RUNNING"
