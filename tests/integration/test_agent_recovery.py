"""Integration: an agent process SIGKILLed and started again (same work dir and port) keeps
its tasks: real master, real agent, an SDK framework, real task processes."""

from __future__ import annotations

import asyncio
import time

import pytest

from dcos.sdk import SchedulerDriver
from tests.integration.cluster import ProcessCluster, get_json
from tests.integration.framework import RecordingScheduler

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


def pid_alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


async def wait_until(cond, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


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
    await wait_until(pid_file.exists, "the task's pid file")
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
        await wait_until(lambda: restarted(cluster, agent_id), "the agent to re-register")
        assert pid_alive(pid)  # the very same process, reattached
        assert [t["state"] for t in cluster.tasks() if t["id"] == tid] == ["TASK_RUNNING"]
        go.touch()
        await sched.wait_states([tid], "TASK_FINISHED")
        assert sched.statuses[tid][-1].agent_id == agent_id
        await wait_until(lambda: not pid_alive(pid), "the task process to end")
    finally:
        await driver.stop()


async def test_task_that_exits_while_the_agent_is_down_reports_its_status(cluster, tmp_path):
    sched, driver, tid, pid, go = await start_task(cluster, tmp_path, tail="; exit 3")
    try:
        cluster.kill("agent-0")
        go.touch()
        await wait_until(lambda: not pid_alive(pid), "the task to exit while the agent is down")
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
        await wait_until(
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
