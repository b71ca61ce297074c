"""Task groups under the default executor and custom-executor timers, in the sans-IO core."""

from dcos.agent.containerizer import LaunchResult, Termination
from dcos.agent.core import AgentCore, AgentInfo, Destroy, Launch, Wake
from dcos.protocol.resources import Resources
from dcos.testing.agent import (
    exited,
    feed,
    launched,
    tick,
    update_call,
)

from .conftest import FRAMEWORK, make_task


def _core(tmp_path, timeout=60.0) -> AgentCore:
    info = AgentInfo("h1", "127.0.0.1", 5051, Resources.parse("cpus:4;mem:4096"))
    core = AgentCore(info, str(tmp_path), base_env={}, executor_registration_timeout=timeout)
    feed(core, {"type": "REGISTERED", "agent_id": "a1", "master_id": "m1"}, 0)
    return core


def _states(core, now=100.0):
    out = {}
    while (call := update_call(core, now)) is not None:
        for u in call["updates"]:
            s = u["status"]
            out.setdefault(s["task_id"]["value"], []).append((s["state"], s.get("reason")))
            feed(core, {"type": "ACKNOWLEDGE", "framework_id": "fw-1",
                               "task_id": s["task_id"]["value"], "uuid": s["uuid"]}, now)  # fmt: skip
        now += 1
    return out


def _group(core, *tasks):
    executor = {"type": "DEFAULT", "executor_id": {"value": "pod"}}
    return feed(core, {"type": "RUN_TASK_GROUP", "framework": FRAMEWORK,
                              "executor": executor, "tasks": list(tasks)}, 0)  # fmt: skip


def test_group_tasks_start_together_in_sandboxes_under_the_executor(tmp_path):
    core = _core(tmp_path)
    launches = _group(core, make_task("a", "sleep 9"), make_task("b", "sleep 9"))
    assert [type(a) for a in launches] == [Launch, Launch]
    sandboxes = [a.config.sandbox for a in launches]
    assert all("/executors/pod/runs/" in s for s in sandboxes)
    assert [s.rsplit("/", 2)[1:] for s in sandboxes] == [["tasks", "a"], ["tasks", "b"]]
    assert launches[0].config.env["MESOS_EXECUTOR_ID"] == "pod"
    for a in launches:
        launched(core, a.container_id, LaunchResult(True), 1)
    states = _states(core)
    assert states["a"] == states["b"] == [("TASK_STARTING", None), ("TASK_RUNNING", None)]


def test_killing_one_task_kills_the_group(tmp_path):
    core = _core(tmp_path)
    launches = _group(core, make_task("a", "sleep 9"), make_task("b", "sleep 9"))
    for a in launches:
        launched(core, a.container_id, LaunchResult(True), 1)
    kills = feed(core, {"type": "KILL_TASK", "framework_id": "fw-1", "task_id": "a"}, 2)
    assert {k.container_id for k in kills if isinstance(k, Destroy)} == {
        a.container_id for a in launches}  # fmt: skip
    for a in launches:
        exited(core, a.container_id, Termination(signal=15), 3)
    assert [s[-1][0] for s in _states(core).values()] == ["TASK_KILLED", "TASK_KILLED"]


def test_a_failed_task_kills_the_rest_but_a_finished_one_does_not(tmp_path):
    core = _core(tmp_path)
    a, b, c = _group(core, make_task("a", "x"), make_task("b", "x"), make_task("c", "x"))
    for x in (a, b, c):
        launched(core, x.container_id, LaunchResult(True), 1)
    assert exited(core, a.container_id, Termination(exit_code=0), 2) == []
    kills = exited(core, b.container_id, Termination(exit_code=2), 3)
    assert [k.container_id for k in kills] == [c.container_id]
    exited(core, c.container_id, Termination(signal=15), 4)
    states = {t: s[-1][0] for t, s in _states(core).items()}
    assert states == {"a": "TASK_FINISHED", "b": "TASK_FAILED", "c": "TASK_KILLED"}


def test_executor_that_never_subscribes_is_killed_and_its_tasks_fail(tmp_path):
    core = _core(tmp_path, timeout=30.0)
    task = make_task("t1", None)
    task["executor"] = {"executor_id": {"value": "ex"}, "command": {"value": "run"}}
    [launch] = feed(core, {"type": "RUN_TASKS", "framework": FRAMEWORK, "tasks": [task]}, 0)
    assert launched(core, launch.container_id, LaunchResult(True), 1) == [Wake(31.0)]
    assert tick(core, 30.0) == []
    assert tick(core, 31.0) == [Destroy(launch.container_id, 0.0)]
    assert _states(core)["t1"] == [("TASK_FAILED", "REASON_EXECUTOR_REGISTRATION_TIMEOUT")]
    exited(core, launch.container_id, Termination(signal=9), 32)
    assert core.executors == {} and "fw-1" not in core.frameworks
