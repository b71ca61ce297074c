"""An agent that restarted (recovered from its checkpoint) re-registers with the same id:
new resources / attributes are taken, its tasks are kept, and tasks it reports terminal free
their resources."""

from typing import Any

from dcos.protocol.resources import Resources
from dcos.testing.master import AGENT_RES, T0, CoreHarness


def _running(h: CoreHarness) -> tuple[str, str, dict[str, Any]]:
    aid = h.agent()
    fid = h.subscribe()
    (offer,) = h.allocate()
    h.launch(fid, offer, ["t1"])
    h.update(aid, fid, "t1", "TASK_RUNNING")
    h.events(fid)
    task = h.core.frameworks[fid].tasks["t1"]
    return aid, fid, task.info


def _resubscribe(h: CoreHarness, aid: str, fid: str, task: dict[str, Any], state: str,
                 res: str = AGENT_RES, attrs: dict[str, Any] | None = None) -> None:
    info = {
        "id": aid, "hostname": "h5051", "ip": "127.0.0.1", "port": 5051,
        "resources": Resources.parse(res).to_dict(), "attributes": attrs or {"rack": "r1"},
        "version": "0.1.0", "capabilities": [],
    }  # fmt: skip
    record = {"framework_id": fid, "task": task, "state": state, "status": None}
    out = h.agent_subscribe(info, [record], [h.core.frameworks[fid].info], T0 + 5, ("again", aid))
    assert out.agent_id == aid, out.error


def _offered_cpus(h: CoreHarness) -> float:
    (offer,) = h.allocate(T0 + 6)
    return next(r["scalar"]["value"] for r in offer["resources"] if r["name"] == "cpus")


def test_changed_attributes_and_resources_are_taken_and_tasks_kept():
    h = CoreHarness()
    aid, fid, task = _running(h)
    _resubscribe(h, aid, fid, task, "TASK_RUNNING",
                 res="cpus:8;mem:2048;disk:1000;ports:[31000-31010]", attrs={"rack": "r2"})
    agent = h.core.agents[aid]
    assert agent.attributes == {"rack": "r2"}
    assert agent.total == Resources.parse("cpus:8;mem:2048;disk:1000;ports:[31000-31010]")
    assert (fid, "t1") in agent.tasks
    assert h.core.frameworks[fid].tasks["t1"].state == "TASK_RUNNING"
    assert not [s for s in h.statuses(fid) if s["state"] in ("TASK_LOST", "TASK_DROPPED")]
    assert _offered_cpus(h) == 7.0  # 8 new cpus, 1 still used by t1


def test_task_reported_terminal_on_reregistration_frees_its_resources():
    h = CoreHarness()
    aid, fid, task = _running(h)
    _resubscribe(h, aid, fid, task, "TASK_FAILED")
    assert (fid, "t1") not in h.core.agents[aid].tasks
    assert "t1" not in h.core.frameworks[fid].tasks
    assert _offered_cpus(h) == 4.0
    # the agent's own TASK_FAILED update (resent after re-registering) still reaches the framework
    h.update(aid, fid, "t1", "TASK_FAILED")
    assert [s["state"] for s in h.statuses(fid)] == ["TASK_FAILED"]
    assert h.core.frameworks[fid].completed_tasks["t1"].agent_id == aid


def test_task_the_agent_no_longer_reports_is_lost_with_agent_restarted():
    h = CoreHarness()
    aid, fid, _task = _running(h)
    info = {
        "id": aid, "hostname": "h5051", "ip": "127.0.0.1", "port": 5051,
        "resources": Resources.parse(AGENT_RES).to_dict(), "attributes": {"rack": "r1"},
        "version": "0.1.0", "capabilities": [],
    }  # fmt: skip
    out = h.agent_subscribe(info, [], [h.core.frameworks[fid].info], T0 + 5, ("again", aid))
    assert out.agent_id == aid, out.error
    (st,) = h.statuses(fid)
    assert st["state"] == "TASK_LOST" and st["reason"] == "REASON_SLAVE_RESTARTED"  # Mesos wire name
    assert st["source"] == "SOURCE_MASTER" and st["agent_id"] == {"value": aid}
    assert st["message"] == "Task unknown to the agent after it re-registered"
    assert "t1" not in h.core.frameworks[fid].tasks
    assert h.core.frameworks[fid].completed_tasks["t1"].state == "TASK_LOST"
    assert (fid, "t1") not in h.core.agents[aid].tasks
