"""Custom executors and task groups with real master, agent and executor processes: an SDK
executor (tests/integration/shell_executor.py) runs tasks and exchanges framework messages
with an SDK scheduler; a LAUNCH_GROUP's tasks start together and die together."""

from __future__ import annotations

import asyncio
import base64
import sys
from pathlib import Path

import pytest

from dcos.sdk import OfferPacker, SchedulerDriver, TaskNeeds, task_info
from dcos.sdk.calls import launch_group_operation
from dcos.testing import RecordingScheduler

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]

EXECUTOR_SCRIPT = Path(__file__).with_name("shell_executor.py")


def executor_info(executor_id: str) -> dict:
    return {
        "executor_id": {"value": executor_id},
        "name": "shell executor",
        "command": {"value": f"{sys.executable} {EXECUTOR_SCRIPT}"},
        "resources": [{"name": "cpus", "type": "SCALAR", "scalar": {"value": 0.05}},
                      {"name": "mem", "type": "SCALAR", "scalar": {"value": 32}}],
    }  # fmt: skip


class ExecutorScheduler(RecordingScheduler):
    """Launches queued (task id, shell command) pairs on one custom executor, or queued task
    groups under the default executor; records framework messages and executor losses."""

    def __init__(self) -> None:
        super().__init__()
        self.groups: list[list[tuple[str, str]]] = []
        self.messages: list[tuple[str, str, bytes]] = []
        self.lost: list[tuple[str, int | None]] = []

    async def resource_offers(self, driver, offers):
        for offer in offers:
            packer = OfferPacker(offer)
            ops = []
            tasks = []
            while self.queue:
                fit = packer.take(TaskNeeds.parse("cpus:0.05;mem:16"))
                if not fit.ok:
                    break
                tid, cmd = self.queue.pop(0)
                tasks.append(task_info(name=tid, task_id=tid, agent_id=offer.agent_id, resources=fit.resources,
                                       executor=executor_info("shell"), data=cmd.encode()))  # fmt: skip
            if tasks:
                ops.append({"type": "LAUNCH", "launch": {"task_infos": tasks}})
            while self.groups:
                group = self.groups.pop(0)
                infos = [task_info(name=tid, task_id=tid, agent_id=offer.agent_id, command=cmd, resources=TaskNeeds.parse(
                    "cpus:0.01;mem:8").resources) for tid, cmd in group]  # fmt: skip
                default = {"type": "DEFAULT", "executor_id": {"value": f"group-{group[0][0]}"},
                           "resources": TaskNeeds.parse("cpus:0.01;mem:8").resources.to_mesos()}  # fmt: skip
                ops.append(launch_group_operation(default, infos))
            if ops:
                await driver.accept([offer], ops, refuse_seconds=0.5)
            else:
                await driver.decline([offer], refuse_seconds=0.5)

    async def framework_message(self, driver, executor_id, agent_id, data):
        self.messages.append((executor_id, agent_id, data))
        self._poke()

    async def executor_lost(self, driver, executor_id, agent_id, status):
        self.lost.append((executor_id, status))
        self._poke()


@pytest.fixture
async def framework(cluster):
    sched = ExecutorScheduler()
    driver = SchedulerDriver(sched, {"name": "executors-test"}, cluster.master)
    sched.driver = driver
    await driver.start()
    await sched.wait(lambda: sched.registrations == 1, what="registration")
    yield sched, driver
    await driver.stop()


async def test_sdk_executor_runs_tasks_and_exchanges_messages(cluster, framework):
    sched, driver = framework
    sched.queue += [("ok-1", "exit 0"), ("bad-1", "exit 3"), ("long-1", "sleep 60")]
    await sched.wait_states(["ok-1"], "TASK_FINISHED")
    await sched.wait_states(["bad-1"], "TASK_FAILED")
    await sched.wait_states(["long-1"], "TASK_RUNNING")
    for tid in ("ok-1", "bad-1", "long-1"):
        for s in sched.statuses[tid]:
            assert s.get("agent_id", {}).get("value"), s
            assert s["executor_id"] == {"value": "shell"}
            assert len(base64.b64decode(s["uuid"])) == 16
            assert s["source"] == "SOURCE_EXECUTOR"
    assert sched.statuses["bad-1"][-1]["message"] == "exit status 3"
    # executor -> scheduler: one "launched" message per task, with executor and agent ids
    await sched.wait(lambda: len(sched.messages) >= 3, what="launch messages")
    assert {m[2] for m in sched.messages} >= {b"launched ok-1", b"launched long-1"}
    executor_id, agent_id, _ = sched.messages[0]
    assert executor_id == "shell" and agent_id
    # scheduler -> executor -> scheduler
    await driver.message(agent_id, "shell", b"ping 42")
    await sched.wait(lambda: any(m[2] == b"pong 42" for m in sched.messages), what="pong")
    # the agent's /state lists the executor with its running task
    from dcos.testing import get_json

    states = [get_json(f"http://127.0.0.1:{port}/state") for port in cluster.agent_ports]
    [state] = [s for s in states if s["id"] == agent_id]
    [fw] = [f for f in state["frameworks"] if f["name"] == "executors-test"]
    [ex] = [e for e in fw["executors"] if e["id"] == "shell"]
    assert [t["id"] for t in ex["tasks"]] == ["long-1"]
    # KILL goes to the executor, which reports TASK_KILLED
    await driver.kill("long-1")
    await sched.wait_states(["long-1"], "TASK_KILLED")
    # SHUTDOWN: the executor stops; the scheduler hears it is gone
    await driver.shutdown("shell", agent_id)
    await sched.wait(lambda: sched.lost, what="executor_lost")
    assert sched.lost[0][0] == "shell"


async def test_task_group_starts_together_and_is_killed_together(cluster, framework):
    sched, driver = framework
    sched.groups.append([("pod-a", "sleep 60"), ("pod-b", "sleep 60")])
    await sched.wait_states(["pod-a", "pod-b"], "TASK_RUNNING")
    for tid in ("pod-a", "pod-b"):
        assert sched.statuses[tid][-1]["executor_id"] == {"value": "group-pod-a"}
    await driver.kill("pod-a")
    await sched.wait_states(["pod-a", "pod-b"], "TASK_KILLED")


async def test_task_group_dies_when_one_task_fails(cluster, framework):
    sched, driver = framework
    sched.groups.append([("g-long", "sleep 60"), ("g-bad", "sleep 0.5; exit 2")])
    await sched.wait_states(["g-bad"], "TASK_FAILED")
    await sched.wait_states(["g-long"], "TASK_KILLED")
    tasks = {t["id"]: t for t in cluster.tasks()}
    assert tasks["g-long"]["state"] == "TASK_KILLED"
    await asyncio.sleep(0)
