"""Executors across an agent restart (sans-IO core, checkpoint files on disk): custom executors
are checkpointed and recovered, re-subscribe with what they have not had acknowledged, and
their tasks end properly when they died while the agent was down; task groups keep living
and dying together. Also: reattached tasks get their health checks back, executor sandboxes
are rotated and executor containers appear in /monitor/statistics."""

from __future__ import annotations

import asyncio
import base64
import os
import uuid

import pytest

from dcos.agent import recovery
from dcos.agent.agent import Agent
from dcos.agent.checkpoint_store import CheckpointStore
from dcos.agent.config import AgentConfig
from dcos.agent.containerizer import LaunchResult, Termination
from dcos.agent.containerizer.fake import FakeContainerizer
from dcos.agent.core import (
    AgentCore,
    AgentInfo,
    Destroy,
    Launch,
    SendToMaster,
    ToExecutor,
    Wake,
    Watch,
)
from dcos.agent.core.events import HealthChanged
from dcos.agent.core.model import REGISTERING, RUNNING
from dcos.agent.http.monitor import statistics
from dcos.agent.logs import LogRotator
from dcos.protocol import internal
from dcos.protocol.ids import ExecutorID, FrameworkID
from dcos.protocol.resources import Resources
from dcos.testing.agent import (
    checkpointer,
    executor_subscribe,
    executor_update,
    exited,
    feed,
    launched,
    reattach,
    tick,
    update_call,
)

from .conftest import FRAMEWORK, make_task

pytestmark = pytest.mark.timeout(30)

FW = FrameworkID("fw-1")
EX = ExecutorID("ex-1")
EXECUTOR = {
    "executor_id": {"value": "ex-1"},
    "name": "my executor",
    "command": {"value": "run-my-executor"},
    "resources": [{"name": "cpus", "type": "SCALAR", "scalar": {"value": 0.1}}],
}


def _info() -> AgentInfo:
    return AgentInfo("h1", "127.0.0.1", 5051, Resources.parse("cpus:4;mem:4096"))


def _core(tmp_path) -> AgentCore:
    core = AgentCore(_info(), str(tmp_path), base_env={}, executor_registration_timeout=30)
    feed(core, {"type": "REGISTERED", "agent_id": "a1", "master_id": "m1"}, 0)
    return core


def _task(tid: str) -> dict:
    task = make_task(tid, None)
    task["executor"] = EXECUTOR
    return task


def _status(tid: str, state: str) -> dict:
    return {"task_id": {"value": tid}, "state": state,
            "uuid": base64.b64encode(uuid.uuid4().bytes).decode()}  # fmt: skip


def _flush(core: AgentCore, tmp_path) -> None:
    checkpointer(core, CheckpointStore(str(tmp_path))).flush()


def _restart(tmp_path):
    core = AgentCore(_info(), str(tmp_path), base_env={}, executor_registration_timeout=30)
    cp = CheckpointStore(str(tmp_path)).load()
    assert cp is not None
    return core, recovery.restore(core, cp, 10)


def _old_run_with_executor(tmp_path, *more_tasks: str):
    """An executor that got t1 and reported it RUNNING (not yet acknowledged); `more_tasks`
    reach the agent while the executor is subscribed. Returns (core, executor container,
    the RUNNING status)."""
    core = _core(tmp_path)
    [launch] = feed(core, {"type": "RUN_TASKS", "framework": FRAMEWORK,
                                  "tasks": [_task("t1")]}, 0)  # fmt: skip
    assert isinstance(launch, Launch)
    launched(core, launch.container_id, LaunchResult(True), 1)
    error, actions = executor_subscribe(core, FW, EX, {}, 2)
    assert not error and [a.event["type"] for a in actions] == ["SUBSCRIBED", "LAUNCH"]
    running = _status("t1", "TASK_RUNNING")
    assert executor_update(core, FW, EX, running, 3) == ("", [])
    for tid in more_tasks:
        feed(core, {"type": "RUN_TASKS", "framework": FRAMEWORK, "tasks": [_task(tid)]}, 4)
    _flush(core, tmp_path)
    return core, launch.container_id, running


def test_a_live_executor_is_recovered_and_waits_for_its_resubscription(tmp_path):
    old, cid, running = _old_run_with_executor(tmp_path)
    core, expected = _restart(tmp_path)
    assert list(expected) == [cid]  # the executor's container, not one per task
    ex = core.executors[(FW, EX)]
    old_ex = old.executors[(FW, EX)]
    assert (ex.container_id, ex.sandbox, ex.info) == (cid, old_ex.sandbox, old_ex.info)
    assert ex.tasks == {"t1"} and ex.unacked == {running["uuid"]: "t1"}
    assert core.frameworks[FW].tasks["t1"].executor_id == EX
    actions = reattach(core, expected, {cid: None}, 10)
    assert Watch(cid) in actions and Wake(40) in actions
    assert ex.state == REGISTERING
    # the executor comes back with t1 and its unacknowledged update: nothing is sent twice
    error, actions = executor_subscribe(core, FW, EX, {
        "unacknowledged_tasks": [_task("t1")],
        "unacknowledged_updates": [{"framework_id": {"value": "fw-1"},
                                    "executor_id": {"value": "ex-1"}, "status": running}],
    }, 11)  # fmt: skip
    assert not error and ex.state == RUNNING
    assert [a.event["type"] for a in actions] == ["SUBSCRIBED"]
    assert actions[0].event["subscribed"]["container_id"] == {"value": cid}
    # once registered, the update is resent to the master; its ack reaches the executor
    feed(core, {"type": "REGISTERED", "agent_id": "a1", "master_id": "m2"}, 12)
    [update] = update_call(core, 12)["updates"]  # type: ignore[index]
    assert update["status"]["uuid"] == running["uuid"]
    acked = feed(core, {"type": "ACKNOWLEDGE", "framework_id": "fw-1", "task_id": "t1",
                               "uuid": running["uuid"]}, 13)  # fmt: skip
    assert [a.event["type"] for a in acked if isinstance(a, ToExecutor)] == ["ACKNOWLEDGED"]


def test_tasks_queued_before_the_restart_are_delivered_once(tmp_path):
    core = _core(tmp_path)
    [launch] = feed(core, {"type": "RUN_TASKS", "framework": FRAMEWORK,
                                  "tasks": [_task("t1"), _task("t2")]}, 0)  # fmt: skip
    launched(core, launch.container_id, LaunchResult(True), 1)
    _flush(core, tmp_path)  # t1 and t2 queued: the executor has not subscribed yet
    new, expected = _restart(tmp_path)
    reattach(new, expected, {launch.container_id: None}, 10)
    # it did get t1 from the old agent in a SUBSCRIBE the checkpoint missed
    error, actions = executor_subscribe(new, FW, EX, {"unacknowledged_tasks": [_task("t1")]}, 11)
    assert not error
    sent = [a.event["launch"]["task"]["task_id"]["value"] for a in actions
            if a.event["type"] == "LAUNCH"]  # fmt: skip
    assert sent == ["t2"]


def test_an_executor_that_died_while_the_agent_was_down_fails_its_tasks(tmp_path):
    _, cid, _ = _old_run_with_executor(tmp_path)
    core, expected = _restart(tmp_path)
    actions = reattach(core, expected, {cid: Termination(signal=9)}, 10)
    assert any(isinstance(a, SendToMaster) and a.body["type"] == internal.EXITED_EXECUTOR
               for a in actions)  # fmt: skip
    assert (FW, EX) not in core.executors
    last = core.frameworks[FW].tasks["t1"].statuses[-1]
    assert last in [u["status"] for u in core.updates.pending()]  # on its way to the master
    assert last["state"] == "TASK_FAILED"
    assert last["reason"] == "REASON_EXECUTOR_TERMINATED"
    assert last["message"] == "Executor terminated by signal SIGKILL"


def test_an_executor_that_never_resubscribes_is_killed_after_the_timeout(tmp_path):
    _, cid, _ = _old_run_with_executor(tmp_path)
    core, expected = _restart(tmp_path)
    reattach(core, expected, {cid: None}, 10)
    assert tick(core, 39) == []
    assert tick(core, 40) == [Destroy(cid, 0.0)]


def test_a_retired_executor_leaves_no_checkpoint_behind(tmp_path):
    core, cid, _ = _old_run_with_executor(tmp_path)
    path = CheckpointStore(str(tmp_path)).executor_path(FW, EX)
    assert os.path.exists(path)
    exited(core, cid, Termination(exit_code=0), 5)
    _flush(core, tmp_path)
    assert not os.path.exists(path)


def test_a_task_group_still_dies_together_after_a_restart(tmp_path):
    core = _core(tmp_path)
    executor = {"type": "DEFAULT", "executor_id": {"value": "pod"}}
    launches = feed(core, {"type": "RUN_TASK_GROUP", "framework": FRAMEWORK,
                                  "executor": executor,
                                  "tasks": [make_task("a", "sleep 9"), make_task("b", "sleep 9")]},
                                 0)  # fmt: skip
    for a in launches:
        launched(core, a.container_id, LaunchResult(True), 1)
    _flush(core, tmp_path)
    new, expected = _restart(tmp_path)
    cids = {a.container_id for a in launches}
    assert set(expected) == cids
    reattach(new, expected, dict.fromkeys(cids), 10)
    assert new.executors[(FW, ExecutorID("pod"))].kind == "default"
    a, b = launches
    kills = exited(new, a.container_id, Termination(exit_code=1), 11)
    assert kills == [Destroy(b.container_id, 3.0)]


# -- the agent shell ------------------------------------------------------------------------


class Survivors(FakeContainerizer):
    """Fake containers that outlive their agent (every expected container is reattached)."""

    async def recover(self, expected=None):
        for cid, cfg in (expected or {}).items():
            self.configs[cid] = cfg
            self._ends[cid] = asyncio.get_running_loop().create_future()
        return dict.fromkeys(expected or {})


def _config(master, tmp_path) -> AgentConfig:
    return AgentConfig(master=f"http://{master.address}", port=0, work_dir=str(tmp_path),
                       resources="cpus:4;mem:4096", detect=False)  # fmt: skip


async def test_a_reattached_task_gets_its_health_check_back(master, tmp_path):
    old = _core(tmp_path)
    task = make_task("t1", "sleep 100", env={"CHECK_ME": "yes"})
    task["health_check"] = {"type": "COMMAND", "command": {"value": "true"},
                            "delay_seconds": 300, "grace_period_seconds": 60}  # fmt: skip
    [launch] = feed(old, {"type": "RUN_TASKS", "framework": FRAMEWORK, "tasks": [task]}, 0)
    launched(old, launch.container_id, LaunchResult(True), 5)
    feed(old, HealthChanged(launch.container_id, True), 7)
    _flush(old, tmp_path)
    agent = Agent(_config(master, tmp_path), Survivors())
    await agent.start()
    try:
        checker = agent.health.checkers.get(launch.container_id)
        assert checker is not None, "no health check after the restart"
        assert checker.started_at == 5  # its grace period counts from the task's start
        assert checker.healthy is True  # already reported: not sent again
        assert checker.spec.delay == 300
    finally:
        await agent.stop()


async def test_a_custom_executor_sandbox_is_rotated_and_listed_in_statistics(master, tmp_path):
    agent = Agent(_config(master, tmp_path), FakeContainerizer())
    core = agent.core
    feed(core, {"type": "REGISTERED", "agent_id": "a1", "master_id": "m1"}, 0)
    [launch] = feed(core, {"type": "RUN_TASKS", "framework": FRAMEWORK,
                                  "tasks": [_task("t1")]}, 0)  # fmt: skip
    await agent.containerizer.launch(launch.container_id, launch.config)
    launched(core, launch.container_id, LaunchResult(True), 1)
    ex = core.executors[(FW, EX)]
    # the executor writes logs before it ever gets a task: rotated all the same
    os.makedirs(ex.sandbox, exist_ok=True)
    with open(os.path.join(ex.sandbox, "stdout"), "wb") as f:
        f.write(b"x" * 100)
    rotator = LogRotator(max_size=10, max_files=2)
    assert rotator.rotate_sandboxes(agent.log_sandboxes()) == 1
    assert os.path.getsize(os.path.join(ex.sandbox, "stdout.1")) == 100
    # one entry for the executor's container, limits = executor + its tasks
    [entry] = await statistics(agent)
    assert entry["executor_id"] == "ex-1" and entry["executor_name"] == "my executor"
    assert entry["container_id"] == launch.container_id
    assert entry["statistics"]["cpus_limit"] == pytest.approx(0.2)
