"""The agent shell's wiring of logs, health checks and the fetcher, with real processes and a
fake master: a chatty `yes` task gets its stdout rotated by the agent's log loop; a failing
COMMAND health check kills its task; a failed fetch fails the task before it starts."""

from __future__ import annotations

import asyncio
import contextlib
import os

import pytest

from dcos.agent.agent import Agent
from dcos.agent.config import AgentConfig
from dcos.protocol import internal

from .conftest import FRAMEWORK, make_task

pytestmark = pytest.mark.timeout(30)


@contextlib.asynccontextmanager
async def running_agent(master, tmp_path):
    a = Agent(AgentConfig(
        master=f"http://{master.address}", port=0, work_dir=str(tmp_path / "agent"),
        resources="cpus:2;mem:1024;disk:1024;ports:[31000-31100]", detect=False,
        log_max_size=32 * 1024, log_max_files=2, log_check_interval=0.02,
    ))  # fmt: skip
    await a.start()
    try:
        await a.registered.wait()
        yield a
    finally:
        await a.stop()


async def _until_state(master, task_id, state):
    while True:
        u = await master.updates.get()
        s = u["status"]
        if s["task_id"]["value"] == task_id and s["state"] == state:
            return s


def _run(master, *tasks):
    master.send({"type": internal.RUN_TASKS, "framework": FRAMEWORK, "tasks": list(tasks)})


async def test_chatty_task_stdout_is_rotated(master, tmp_path):
    async with running_agent(master, tmp_path) as agent:
        _run(master, make_task("chatty", "yes"))
        await _until_state(master, "chatty", "TASK_RUNNING")
        [rec] = agent.core.live_tasks()
        rotated = os.path.join(rec.sandbox, "stdout.1")
        while not os.path.exists(rotated):
            await asyncio.sleep(0.02)
        master.send({"type": internal.KILL_TASK, "framework_id": "fw-1", "task_id": "chatty"})
        await _until_state(master, "chatty", "TASK_KILLED")
        assert not os.path.exists(os.path.join(rec.sandbox, "stdout.2"))  # max_files=2


async def test_failing_command_check_kills_task(master, tmp_path):
    async with running_agent(master, tmp_path) as agent:
        task = make_task("sick", "sleep 30") | {"health_check": {
            "type": "COMMAND", "command": {"value": "exit 1"}, "delay_seconds": 0,
            "interval_seconds": 0.05, "grace_period_seconds": 0, "consecutive_failures": 2,
        }}  # fmt: skip
        _run(master, task)
        unhealthy = await _until_state(master, "sick", "TASK_RUNNING")
        while unhealthy.get("healthy") is not False:
            unhealthy = await _until_state(master, "sick", "TASK_RUNNING")
        killed = await _until_state(master, "sick", "TASK_KILLED")
        assert killed["healthy"] is False
        assert killed["message"] == (
            "Health check failed: command 'exit 1' exited with status 1 (2 consecutive failures)"
        )
        assert agent.health.checkers == {}  # stopped with the task


async def test_failed_fetch_fails_task_with_cause(master, tmp_path):
    async with running_agent(master, tmp_path):
        task = make_task("nofetch", "true")
        task["command"]["uris"] = [{"value": f"file://{tmp_path}/missing.tgz"}]
        _run(master, task)
        failed = await _until_state(master, "nofetch", "TASK_FAILED")
        assert failed["reason"] == "REASON_CONTAINER_LAUNCH_FAILED"
        assert failed["message"] == (
            f"Failed to fetch 'file://{tmp_path}/missing.tgz': {tmp_path}/missing.tgz: no such file"
        )
