"""Recovery decisions (sans-IO): a checkpoint written by one core, restored into a fresh one,
then each container's fate as the containerizer reports it."""

from dcos.agent import recovery
from dcos.agent.checkpoint_store import CheckpointStore
from dcos.agent.containerizer import LaunchResult, Termination
from dcos.agent.core import AgentCore, AgentInfo, Destroy, Watch
from dcos.agent.core.reattach import UNKNOWN_CONTAINER
from dcos.protocol import internal
from dcos.protocol.ids import FrameworkID, TaskID
from dcos.protocol.resources import Resources
from dcos.testing.agent import (
    checkpointer,
    exited,
    feed,
    launched,
    reattach,
    update_call,
)

from .conftest import FRAMEWORK, make_task

FW = FrameworkID("fw-1")


def _info(attrs=None, resources="cpus:4;mem:4096") -> AgentInfo:
    return AgentInfo("h1", "127.0.0.1", 5051, Resources.parse(resources), attrs or {"rack": "r1"})


def _old_run(tmp_path, *tasks, launch=True):
    """A first agent run: registered as a1, tasks started; returns (core, launches)."""
    core = AgentCore(_info(), str(tmp_path), base_env={})
    feed(core, {"type": "REGISTERED", "agent_id": "a1", "master_id": "m1"}, 0)
    launches = feed(core, {"type": "RUN_TASKS", "framework": FRAMEWORK,
                                  "tasks": list(tasks)}, 0)  # fmt: skip
    if launch:
        for a in launches:
            launched(core, a.container_id, LaunchResult(True, pid=1), 1)
    checkpointer(core, CheckpointStore(str(tmp_path))).flush()
    return core, launches


def _restart(tmp_path, info=None):
    core = AgentCore(info or _info(), str(tmp_path), base_env={})
    cp = CheckpointStore(str(tmp_path)).load()
    assert cp is not None
    expected = recovery.restore(core, cp, 10)
    return core, expected


def _statuses(core, now):
    call = update_call(core, now)
    return [] if call is None else [u["status"] for u in call["updates"]]


def _register(core, now=11):
    feed(core, {"type": "REGISTERED", "agent_id": "a1", "master_id": "m2"}, now)


def test_running_task_is_reattached_and_reregistered_under_the_same_id(tmp_path):
    old, [launch] = _old_run(tmp_path, make_task("t1", "sleep 100"))
    old_uuids = [u["status"]["uuid"] for u in old.updates.pending()]
    core, expected = _restart(tmp_path)
    cid = launch.container_id
    assert list(expected) == [cid]
    assert expected[cid].sandbox == launch.config.sandbox
    actions = reattach(core, expected, {cid: None}, 10)
    assert actions == [Watch(cid)]
    sub = core.subscribe_call()
    assert sub["type"] == internal.SUBSCRIBE and sub["agent"]["id"] == "a1"
    assert [(t["task"]["task_id"]["value"], t["state"]) for t in sub["tasks"]] == [
        ("t1", "TASK_RUNNING")
    ]
    assert [u["status"]["uuid"] for u in sub["unacked"]] == old_uuids
    # nothing goes out before the master answered; then the unacked head, once, same uuid
    assert _statuses(core, 10) == []
    _register(core)
    [head] = _statuses(core, 11)
    assert head["uuid"] == old_uuids[0] and head["state"] == "TASK_STARTING"
    assert _statuses(core, 11) == []
    # the container's later end is reported as usual
    exited(core, cid, Termination(exit_code=0), 12)
    assert core.frameworks[FW].tasks[TaskID("t1")].state == "TASK_FINISHED"


def test_task_that_exited_while_the_agent_was_down_reports_its_exit_status(tmp_path):
    _, [a1, a2] = _old_run(tmp_path, make_task("t1", "sleep 1"), make_task("t2", "sleep 1"))
    core, expected = _restart(tmp_path)
    outcomes = {a1.container_id: Termination(exit_code=3), a2.container_id: Termination(exit_code=0)}
    assert reattach(core, expected, outcomes, 10) == []
    tasks = core.frameworks[FW].tasks
    assert tasks[TaskID("t1")].state == "TASK_FAILED"
    assert tasks[TaskID("t1")].statuses[-1]["message"] == "Command exited with status 3"
    assert tasks[TaskID("t2")].state == "TASK_FINISHED"
    # the re-registration reports them terminal; their updates wait behind the unacked ones
    states = {t["task"]["task_id"]["value"]: t["state"] for t in core.subscribe_call()["tasks"]}
    assert states == {"t1": "TASK_FAILED", "t2": "TASK_FINISHED"}
    pending = [u["status"]["state"] for u in core.updates.pending_for(FW, TaskID("t1"))]
    assert pending == ["TASK_STARTING", "TASK_RUNNING", "TASK_FAILED"]


def test_unknown_container_fails_its_task(tmp_path):
    _, [launch] = _old_run(tmp_path, make_task("t1", "sleep 100"))
    core, expected = _restart(tmp_path)
    reattach(core, expected, {}, 10)
    rec = core.frameworks[FW].tasks[TaskID("t1")]
    assert rec.state == "TASK_FAILED"
    assert rec.statuses[-1]["reason"] == "REASON_EXECUTOR_TERMINATED"
    assert rec.statuses[-1]["message"] == UNKNOWN_CONTAINER


def test_containerizer_without_recovery_loses_the_tasks(tmp_path):
    _old_run(tmp_path, make_task("t1", "sleep 100"))
    core, expected = _restart(tmp_path)
    reattach(core, expected, None, 10)
    assert core.frameworks[FW].tasks[TaskID("t1")].state == "TASK_FAILED"


def test_task_caught_mid_launch_becomes_running_if_its_container_runs(tmp_path):
    _, [launch] = _old_run(tmp_path, make_task("t1", "sleep 100"), launch=False)
    core, expected = _restart(tmp_path)
    actions = reattach(core, expected, {launch.container_id: None}, 10)
    assert actions == [Watch(launch.container_id)]
    rec = core.frameworks[FW].tasks[TaskID("t1")]
    assert rec.state == "TASK_RUNNING" and rec.launched


def test_kill_requested_before_the_restart_is_carried_out(tmp_path):
    old, [launch] = _old_run(tmp_path, make_task("t1", "sleep 100", grace=0.5))
    feed(old, {"type": "KILL_TASK", "framework_id": "fw-1", "task_id": "t1"}, 2)
    checkpointer(old, CheckpointStore(str(tmp_path))).flush()
    core, expected = _restart(tmp_path)
    cid = launch.container_id
    assert reattach(core, expected, {cid: None}, 10) == [Destroy(cid, 0.5), Watch(cid)]
    exited(core, cid, Termination(signal=15), 11)
    assert core.frameworks[FW].tasks[TaskID("t1")].state == "TASK_KILLED"


def test_changed_attributes_and_resources_keep_the_tasks_and_the_id(tmp_path):
    _, [launch] = _old_run(tmp_path, make_task("t1", "sleep 100"))
    new = _info({"rack": "r2", "zone": "b"}, "cpus:8;mem:8192")
    core, expected = _restart(tmp_path, new)
    assert list(expected) == [launch.container_id]
    reattach(core, expected, {launch.container_id: None}, 10)
    agent = core.subscribe_call()["agent"]
    assert agent["id"] == "a1"
    assert agent["attributes"] == {"rack": "r2", "zone": "b"}
    assert agent["resources"] == Resources.parse("cpus:8;mem:8192").to_dict()
    assert len(core.subscribe_call()["tasks"]) == 1


def test_info_changes_lists_what_differs():
    old = _info().to_wire()
    new = _info({"rack": "r2"}).to_wire()
    [change] = recovery.info_changes(old, new)
    assert change.startswith("attributes")


def test_acknowledged_updates_are_not_resent(tmp_path):
    old, _ = _old_run(tmp_path, make_task("t1", "sleep 100"))
    head = old.updates.pending()[0]["status"]
    feed(old, {"type": "ACKNOWLEDGE", "framework_id": "fw-1", "task_id": "t1",
                      "uuid": head["uuid"]}, 2)  # fmt: skip
    checkpointer(old, CheckpointStore(str(tmp_path))).flush()
    core, expected = _restart(tmp_path)
    reattach(core, expected, dict.fromkeys(expected), 10)
    _register(core)
    assert [s["state"] for s in _statuses(core, 11)] == ["TASK_RUNNING"]
