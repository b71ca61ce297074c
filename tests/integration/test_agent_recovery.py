"""Integration: an agent process SIGKILLed and started again (same work dir and port) keeps
its tasks: real master, real agent, an SDK framework, real task processes."""

from __future__ import annotations

import pytest

from dcos.sdk import SchedulerDriver
from dcos.testing import (
    ProcessCluster,
    RecordingScheduler,
    async_wait_until,
    get_json,
    pid_alive,
)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]


@pytest.fixture
def cluster(tmp_path):
    # pings slow enough that a restarting agent is not declared unreachable meanwhile
    c = ProcessCluster(tmp_path, agents=1, agent_flags={0: ["--attributes", "rack:r1"]},
                       master_flags=["--allocation-interval", "0.2", "--agent-ping-timeout",
                                     "2", "--max-agent-ping-timeouts", "10"])  # fmt: skip
    try:
        yield c.start()
    finally:
        c.stop()


def agent_entry(cluster: ProcessCluster) -> dict:
    [agent] = get_json(cluster.url + "/master/slaves")["slaves"]  # type: ignore[index]
    return agent


async def start_task(cluster, tmp_path, tail: str = ""):
    """A task that writes its pid, then waits for a `go` file (then runs `tail`)."""
    pid_file, go = tmp_path / "pid", tmp_path / "go"
    sched = RecordingScheduler()
    [tid] = sched.submit(f"echo $$ > {pid_file}.tmp && mv {pid_file}.tmp {pid_file}; "
                         f"while [ ! -f {go} ]; do sleep 0.05; done{tail}")  # fmt: skip
    driver = SchedulerDriver(sched, {"name": "recovery", "checkpoint": True}, cluster.master,
                             failover_timeout=3600)  # fmt: skip
    sched.driver = driver
    await driver.start()
    await sched.wait_states([tid], "TASK_RUNNING")
    await async_wait_until(pid_file.exists, "the task's pid file")
    return sched, driver, tid, int(pid_file.read_text()), go


def restarted(cluster: ProcessCluster, agent_id: str, **expect) -> bool:
    a = agent_entry(cluster)
    return a["id"] == agent_id and a["active"] and all(a.get(k) == v for k, v in expect.items())


async def test_sigkilled_agent_comes_back_and_its_task_keeps_running(cluster, tmp_path):
    sched, driver, tid, pid, go = await start_task(cluster, tmp_path)
    try:
        agent_id = agent_entry(cluster)["id"]
        cluster.restart_agent(0)
        assert pid_alive(pid)
        await async_wait_until(lambda: restarted(cluster, agent_id), "the agent to re-register")
        assert pid_alive(pid)  # the very same process, reattached
        assert [t["state"] for t in cluster.tasks() if t["id"] == tid] == ["TASK_RUNNING"]
        go.touch()
        await sched.wait_states([tid], "TASK_FINISHED")
        assert sched.statuses[tid][-1].agent_id == agent_id
        await async_wait_until(lambda: not pid_alive(pid), "the task process to end")
    finally:
        await driver.stop()


async def test_task_that_exits_while_the_agent_is_down_reports_its_status(cluster, tmp_path):
    sched, driver, tid, pid, go = await start_task(cluster, tmp_path, tail="; exit 3")
    try:
        cluster.kill("agent-0")
        go.touch()
        await async_wait_until(lambda: not pid_alive(pid), "the task to exit while the agent is down")
        cluster.start_agent(0)
        await sched.wait_states([tid], "TASK_FAILED")
        last = sched.statuses[tid][-1]
        assert last.message == "Command exited with status 3"
        assert [s.state for s in sched.statuses[tid]][-2:] == ["TASK_RUNNING", "TASK_FAILED"]
    finally:
        await driver.stop()


async def test_restart_with_new_attributes_keeps_the_task(cluster, tmp_path):
    sched, driver, tid, pid, go = await start_task(cluster, tmp_path)
    try:
        agent_id = agent_entry(cluster)["id"]
        cluster.restart_agent(0, ["--attributes", "rack:r2;zone:b"])
        await async_wait_until(
            lambda: restarted(cluster, agent_id, attributes={"rack": "r2", "zone": "b"}),
            "the agent to re-register with its new attributes",
        )
        assert pid_alive(pid)
        assert [t["state"] for t in cluster.tasks() if t["id"] == tid] == ["TASK_RUNNING"]
        assert all(s.state != "TASK_LOST" for s in sched.statuses[tid])
        go.touch()
        await sched.wait_states([tid], "TASK_FINISHED")
    finally:
        await driver.stop()


# -- custom executors across an agent restart ---------------------------------------------


async def start_executor_task(cluster, tmp_path):
    """A task on the SDK shell executor (tests/integration/shell_executor.py) that writes the
    executor's pid, then waits for a `go` file. Returns (sched, driver, executor pid, go)."""
    from tests.integration.test_executors import ExecutorScheduler

    ppid, go = tmp_path / "ppid", tmp_path / "go"
    sched = ExecutorScheduler()
    sched.queue.append(("ex-task", f"echo $PPID > {ppid}.tmp && mv {ppid}.tmp {ppid}; "
                                   f"while [ ! -f {go} ]; do sleep 0.05; done"))  # fmt: skip
    driver = SchedulerDriver(sched, {"name": "executor-recovery", "checkpoint": True},
                             cluster.master, failover_timeout=3600)  # fmt: skip
    sched.driver = driver
    await driver.start()
    await sched.wait_states(["ex-task"], "TASK_RUNNING")
    await async_wait_until(ppid.exists, "the executor's pid file")
    return sched, driver, int(ppid.read_text()), go


def shell_executor(cluster: ProcessCluster) -> dict | None:
    """The agent's /state entry of the "shell" executor (None while unknown)."""
    state = get_json(f"http://127.0.0.1:{cluster.agent_ports[0]}/state")
    for fw in state["frameworks"]:  # type: ignore[index]
        for ex in fw["executors"]:
            if ex["id"] == "shell":
                return ex
    return None


async def test_custom_executor_survives_an_agent_restart_and_finishes_its_task(cluster, tmp_path):
    sched, driver, executor_pid, go = await start_executor_task(cluster, tmp_path)
    try:
        agent_id = agent_entry(cluster)["id"]
        before = shell_executor(cluster)
        assert before is not None and before["state"] == "RUNNING"
        cluster.restart_agent(0)
        assert pid_alive(executor_pid)
        await async_wait_until(lambda: restarted(cluster, agent_id), "the agent to re-register")

        def resubscribed() -> bool:
            try:
                ex = shell_executor(cluster)
            except OSError:
                return False
            return ex is not None and ex["state"] == "RUNNING"

        await async_wait_until(resubscribed, "the executor to re-subscribe")
        assert pid_alive(executor_pid)  # the same executor process
        after = shell_executor(cluster)
        assert after is not None
        # recovered from the checkpoint, not taken on as an unknown executor
        assert (after["container"], after["directory"]) == (before["container"],
                                                            before["directory"])  # fmt: skip
        assert after["resources"] == before["resources"]
        assert [t["id"] for t in after["tasks"]] == ["ex-task"]
        go.touch()
        await sched.wait_states(["ex-task"], "TASK_FINISHED")
        assert sched.statuses["ex-task"][-1]["executor_id"] == {"value": "shell"}
        assert not any(s["state"] in ("TASK_LOST", "TASK_FAILED")
                       for s in sched.statuses["ex-task"])  # fmt: skip
    finally:
        await driver.stop()


async def test_executor_that_dies_while_the_agent_is_down_fails_its_task(cluster, tmp_path):
    import os
    import signal

    sched, driver, executor_pid, go = await start_executor_task(cluster, tmp_path)
    try:
        cluster.kill("agent-0")
        os.kill(executor_pid, signal.SIGKILL)
        await async_wait_until(lambda: not pid_alive(executor_pid), "the executor to die")
        cluster.start_agent(0)
        await sched.wait_states(["ex-task"], "TASK_FAILED")
        last = sched.statuses["ex-task"][-1]
        assert last["reason"] == "REASON_EXECUTOR_TERMINATED"
        assert "Executor terminated by signal SIGKILL" in last["message"], last
        await sched.wait(lambda: sched.lost, what="executor_lost")
    finally:
        go.touch()
        await driver.stop()
