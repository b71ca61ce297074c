"""The sans-IO agent core: task lifecycle, kills, acknowledgements, re-subscription body."""

import signal

from dcos.agent.containerizer import LaunchResult, Termination
from dcos.agent.core import AgentCore, AgentInfo, Destroy, Launch, Registered, SendToMaster
from dcos.agent.core.events import Disconnected, MasterRefused
from dcos.protocol import internal
from dcos.protocol.ids import FrameworkID, TaskID
from dcos.protocol.resources import Resources
from dcos.testing.agent import (
    exited,
    feed,
    launched,
    update_call,
)

from .conftest import FRAMEWORK, make_task

FW = FrameworkID("fw-1")


def _core(tmp_path, retry=10.0) -> AgentCore:
    info = AgentInfo("h1", "127.0.0.1", 5051, Resources.parse("cpus:4;mem:4096"), {"rack": "r1"})
    core = AgentCore(info, str(tmp_path), status_update_retry=retry, base_env={})
    feed(core, {"type": "REGISTERED", "agent_id": "a1", "master_id": "m1"}, 0)
    return core


def _sent(core, now):
    call = update_call(core, now)
    return [] if call is None else [u["status"] for u in call["updates"]]


def _ack(core, status, now):
    feed(core,
        {"type": "ACKNOWLEDGE", "framework_id": "fw-1",
         "task_id": status["task_id"]["value"], "uuid": status["uuid"]},
        now,
    )  # fmt: skip


def _run(core, *tasks, now=0):
    return feed(core,
        {"type": "RUN_TASKS", "framework": FRAMEWORK, "tasks": list(tasks)}, now
    )


def test_registered_and_ping(tmp_path):
    info = AgentInfo("h1", "127.0.0.1", 5051, Resources.parse("cpus:1"))
    core = AgentCore(info, str(tmp_path))
    assert core.subscribe_call()["agent"]["id"] is None
    actions = feed(core,
        {"type": "REGISTERED", "agent_id": "a9", "master_id": "m", "ping_interval": 15}, 0
    )
    assert actions == [Registered("a9", "m", 15.0)]
    assert feed(core, {"type": "PING"}, 1) == [
        SendToMaster({"type": internal.PONG, "agent_id": "a9"})
    ]


def test_task_goes_starting_running_finished_one_update_at_a_time(tmp_path):
    core = _core(tmp_path)
    [launch] = _run(core, make_task())
    assert isinstance(launch, Launch)
    assert launched(core, launch.container_id, LaunchResult(True, pid=1), 1) == []
    exited(core, launch.container_id, Termination(exit_code=0), 2)

    [starting] = _sent(core, 2)
    assert starting["state"] == "TASK_STARTING"
    assert starting["agent_id"] == {"value": "a1"}
    assert starting["source"] == "SOURCE_EXECUTOR"
    assert _sent(core, 3) == []  # RUNNING waits for STARTING's acknowledgement
    _ack(core, starting, 3)
    [running] = _sent(core, 3)
    assert running["state"] == "TASK_RUNNING"
    _ack(core, running, 4)
    [finished] = _sent(core, 4)
    assert finished["state"] == "TASK_FINISHED"
    assert finished["message"] == "Command exited with status 0"
    assert FW in core.frameworks  # terminal but unacknowledged: still the agent's
    _ack(core, finished, 5)
    assert FW not in core.frameworks
    [done] = core.completed_frameworks
    assert [t.task_id for t in done.completed] == ["t1"]


def test_launch_failure_and_missing_command_fail_with_launch_reason(tmp_path):
    core = _core(tmp_path)
    [launch] = _run(core, make_task("t1"))
    launched(core, launch.container_id, LaunchResult(False, "exec format error"), 1)
    assert _run(core, make_task("t2", command=None)) == []
    by_task = {s["task_id"]["value"]: s for s in _sent(core, 1)}
    assert by_task["t1"]["state"] == "TASK_STARTING"
    _ack(core, by_task["t1"], 1)
    [failed] = _sent(core, 1)
    for s in (failed, by_task["t2"]):
        assert s["state"] == "TASK_FAILED"
        assert s["reason"] == "REASON_CONTAINER_LAUNCH_FAILED"
    assert failed["message"] == "exec format error"
    assert by_task["t2"]["message"] == "task has no command"


def test_launch_config_carries_the_task_resources_and_bad_ones_are_refused(tmp_path):
    core = _core(tmp_path)
    [launch] = _run(core, make_task("t1"))
    assert launch.config.resources == Resources.parse("cpus:0.1;mem:32")
    bad = make_task("t2")
    bad["resources"] = [{"name": "cpus", "type": "SCALAR", "scalar": {"value": "many"}}]
    assert _run(core, bad) == []
    by_task = {s["task_id"]["value"]: s for s in _sent(core, 1)}
    assert by_task["t2"]["state"] == "TASK_FAILED"
    assert by_task["t2"]["reason"] == "REASON_CONTAINER_LAUNCH_FAILED"
    assert by_task["t2"]["message"].startswith("bad resources: ")


def test_kill_uses_grace_and_reports_killed(tmp_path):
    core = _core(tmp_path)
    [launch] = _run(core, make_task(grace=7))
    launched(core, launch.container_id, LaunchResult(True), 1)
    actions = feed(core, {"type": "KILL_TASK", "framework_id": "fw-1", "task_id": "t1"}, 2)
    assert actions == [Destroy(launch.container_id, 7.0)]
    exited(core, launch.container_id, Termination(signal=signal.SIGTERM), 3)
    states = []
    for now in range(3, 8):
        for s in _sent(core, now):
            states.append(s["state"])
            _ack(core, s, now)
    assert states == ["TASK_STARTING", "TASK_RUNNING", "TASK_KILLED"]


def test_kill_during_launch_destroys_once_launched(tmp_path):
    core = _core(tmp_path)
    [launch] = _run(core, make_task())
    assert (
        feed(core, {"type": "KILL_TASK", "framework_id": "fw-1", "task_id": "t1"}, 1) == []
    )
    assert launched(core, launch.container_id, LaunchResult(True), 2) == [
        Destroy(launch.container_id, 3.0)
    ]
    exited(core, launch.container_id, Termination(signal=signal.SIGTERM), 3)
    last = core.frameworks[FW].tasks[TaskID("t1")].statuses[-1]
    assert last["state"] == "TASK_KILLED"
    assert last["reason"] == "REASON_TASK_KILLED_DURING_LAUNCH"


def test_kill_of_unknown_task_reports_it_lost(tmp_path):
    core = _core(tmp_path)
    feed(core, {"type": "KILL_TASK", "framework_id": "fw-9", "task_id": "ghost"}, 1)
    [lost] = _sent(core, 1)
    assert (lost["state"], lost["source"]) == ("TASK_LOST", "SOURCE_AGENT")


def test_shutdown_framework_kills_its_tasks_and_drops_its_updates(tmp_path):
    core = _core(tmp_path)
    launches = _run(core, make_task("t1"), make_task("t2"))
    for a in launches:
        launched(core, a.container_id, LaunchResult(True), 1)
    actions = feed(core, {"type": "SHUTDOWN_FRAMEWORK", "framework_id": "fw-1"}, 2)
    assert {a.container_id for a in actions} == {a.container_id for a in launches}
    for a in launches:
        exited(core, a.container_id, Termination(signal=signal.SIGTERM), 3)
    assert _sent(core, 3) == [] and len(core.updates) == 0
    assert FW not in core.frameworks
    assert core.completed_frameworks[-1].id == FW


def test_resubscribe_carries_running_tasks_and_unacked_updates(tmp_path):
    core = _core(tmp_path)
    [launch] = _run(core, make_task())
    launched(core, launch.container_id, LaunchResult(True), 1)
    feed(core, Disconnected(), 2)
    assert update_call(core, 2) is None  # nothing is sent while unregistered
    body = core.subscribe_call()
    assert body["agent"]["id"] == "a1"
    assert body["agent"]["attributes"] == {"rack": "r1"}
    assert Resources.from_dict(body["agent"]["resources"]) == Resources.parse("cpus:4;mem:4096")
    [rec] = body["tasks"]
    assert rec["framework_id"] == "fw-1" and rec["state"] == "TASK_RUNNING"
    assert rec["task"]["task_id"] == {"value": "t1"}
    assert [u["status"]["state"] for u in body["unacked"]] == ["TASK_STARTING", "TASK_RUNNING"]
    assert body["frameworks"] == [FRAMEWORK]
    feed(core, {"type": "REGISTERED", "agent_id": "a1", "master_id": "m2"}, 3)
    assert [s["state"] for s in _sent(core, 3)] == ["TASK_STARTING"]  # resent at once


def test_refused_agent_kills_everything_and_forgets_its_id(tmp_path):
    core = _core(tmp_path)
    [launch] = _run(core, make_task())
    launched(core, launch.container_id, LaunchResult(True), 1)
    assert feed(core, MasterRefused(), 2) == [Destroy(launch.container_id, 3.0)]
    assert core.agent_id is None and len(core.updates) == 0


def test_used_resources_count_live_tasks(tmp_path):
    core = _core(tmp_path)
    [a] = _run(core, make_task("t1"))
    assert core.used_resources() == Resources.parse("cpus:0.1;mem:32")
    launched(core, a.container_id, LaunchResult(True), 1)
    exited(core, a.container_id, Termination(exit_code=1), 2)
    assert core.used_resources().is_empty()
