"""Everything that talks to the master follows the leader through ZooKeeper: a real ZooKeeper
(`zk_url`), three real master processes, a real agent and an SDK framework, all given
``zk://`` as their master, a second agent given a standby's address (it follows the 307),
and the CLI with ``--master zk://...``. SIGKILL the leader: both agents re-register with the
new leader, their tasks still running; the framework re-subscribes with the same framework
id on its own and gets offers; the CLI finds the new leader."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest

from dcos.sdk import SchedulerDriver, TaskNeeds
from dcos.testing import RecordingScheduler
from dcos.testing.processes import QUICK_MASTER_FLAGS, ProcessCluster, get_json

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

SESSION_S = 2.0


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    """``dcos-py ARGS`` as an operator runs it (the console module, its own process)."""
    return subprocess.run([sys.executable, "-m", "dcos.cli", *args], capture_output=True,
                          text=True, timeout=60, env={"PATH": "/usr/bin:/bin"})  # fmt: skip


def _agents(zk_url: str) -> list[dict]:
    result = _cli("node", "list", "--json", "--master", zk_url)
    assert result.returncode == 0, result.stderr
    return orjson.loads(result.stdout)


def _running(cluster: ProcessCluster, i: int) -> dict[str, str]:
    """Task id -> agent id of the tasks master `i` knows as running."""
    tasks = get_json(cluster.master_url(i) + "/master/tasks")["tasks"]
    return {t["id"]: t["slave_id"] for t in tasks if t["state"] == "TASK_RUNNING"}


async def test_agents_framework_and_cli_follow_a_killed_leader(tmp_path: Path, zk_url: str):
    cluster = ProcessCluster(
        tmp_path, agents=1, masters=3, zk=zk_url, zk_session_timeout=SESSION_S,
        master_flags=[*QUICK_MASTER_FLAGS, "--agent-reregister-timeout", "30"],
        agent_resources="cpus:1.5;mem:512;disk:512",
    )  # fmt: skip
    sched = RecordingScheduler("cpus:1;mem:8")  # one such task per agent
    driver = SchedulerDriver(sched, {"name": "follower"}, zk_url, failover_timeout=3600)
    try:
        await asyncio.to_thread(cluster.start)
        old = await asyncio.to_thread(cluster.wait_leader)
        standby = next(i for i in range(3) if i != old)
        cluster.agent_flags[1] = ["--master", f"127.0.0.1:{cluster.master_ports[standby]}"]
        await asyncio.to_thread(cluster.start_agent, 1)  # a static address: redirected
        await asyncio.to_thread(
            cluster.wait_for, lambda: len(cluster.active_agents()) == 2, "both agents", 30)
        tasks = sched.submit("sleep 600", count=2)
        await driver.start()
        await sched.wait(lambda: sched.registrations == 1, what="registration")
        fid = driver.framework_id
        assert driver.master is not None and driver.master.port == cluster.master_ports[old]
        await sched.wait_states(tasks, "TASK_RUNNING")
        agents = {a["id"] for a in await asyncio.to_thread(_agents, zk_url)}
        before = _running(cluster, old)
        assert set(before) == set(tasks) and set(before.values()) == agents

        killed_at = time.monotonic()
        await asyncio.to_thread(cluster.kill_master, old)
        new = await asyncio.to_thread(cluster.wait_leader, SESSION_S + 20, {old})

        # the framework: disconnected, then re-subscribed to the new leader, same id
        await sched.wait(lambda: sched.reregistrations == 1, 30, "re-registration")
        print(f"framework re-registered {time.monotonic() - killed_at:.2f} s after the kill "
              f"(ZooKeeper session timeout {SESSION_S} s)")  # fmt: skip
        assert driver.framework_id == fid and sched.registrations == 1
        assert driver.master is not None and driver.master.port == cluster.master_ports[new]

        # the agents: re-registered with the new leader under their ids, tasks still running
        await asyncio.to_thread(
            cluster.wait_for, lambda: _running(cluster, new) == before,
            "the agents re-registered with their running tasks", 30,
        )  # fmt: skip
        assert {a["id"] for a in await asyncio.to_thread(_agents, zk_url)} == agents
        assert all(sched.history(t) == ["TASK_STARTING", "TASK_RUNNING"] for t in tasks)
        state = get_json(f"http://127.0.0.1:{cluster.agent_ports[0]}/state")
        assert state["flags"]["master"] == zk_url and state["master_hostname"] == "127.0.0.1"

        # offers come from the new leader: a new task runs
        sched.needs = TaskNeeds.parse("cpus:0.1;mem:8")
        [third] = sched.submit("sleep 600")
        await sched.wait_states([third], "TASK_RUNNING")
        result = await asyncio.to_thread(_cli, "task", "list", "--json", "--master", zk_url)
        assert result.returncode == 0, result.stderr
        assert {t["id"] for t in orjson.loads(result.stdout)} == {*tasks, third}
        assert set(_running(cluster, new)) == {*tasks, third}
        await driver.stop()  # TEARDOWN: the tasks end
    finally:
        await driver.stop()
        await asyncio.to_thread(cluster.stop)


def test_cli_without_a_leader_is_exit_3(zk_url: str):
    result = _cli("node", "list", "--master", zk_url)
    assert result.returncode == 3
    assert result.stderr.startswith(f"dcos-py: cannot find the leading master through {zk_url}")
    assert result.stderr.count("\n") == 1
