"""Integration: an SDK framework on a real master and real agents (processes on loopback)."""

from __future__ import annotations

import asyncio
import signal

import pytest

from dcos.sdk import SchedulerDriver
from dcos.testing import RecordingScheduler

pytestmark = pytest.mark.integration


async def start_framework(cluster, sched, **info) -> SchedulerDriver:
    info.setdefault("name", "itest")
    driver = SchedulerDriver(sched, info, cluster.master, failover_timeout=3600)
    sched.driver = driver
    await driver.start()
    await sched.wait(lambda: sched.registrations == 1, what="registration")
    return driver


async def test_hundred_tasks_all_finish(cluster):
    # 100 x 0.1 cpus is more than the 2 x 4 cpus of the cluster: freed resources get re-offered.
    sched = RecordingScheduler(needs="cpus:0.1;mem:8")
    ids = sched.submit("true", count=100)
    driver = await start_framework(cluster, sched)
    try:
        await sched.wait_states(ids, "TASK_FINISHED", timeout=60)
        for tid in ids:
            states = [s.state for s in sched.statuses[tid]]
            assert states[-1] == "TASK_FINISHED"
            assert "TASK_RUNNING" in states
            assert all(s.agent_id for s in sched.statuses[tid])
        # Both agents were used.
        agents = {sched.statuses[t][-1].agent_id for t in ids}
        assert len(agents) == 2
    finally:
        await driver.stop()


async def test_kill_running_task(cluster):
    sched = RecordingScheduler()
    [tid] = sched.submit("sleep 60")
    driver = await start_framework(cluster, sched)
    try:
        await sched.wait_states([tid], "TASK_RUNNING")
        await driver.kill(tid)  # no agent id: the master finds it
        await sched.wait_states([tid], "TASK_KILLED")
        assert not any(t["id"] == tid and t["state"] == "TASK_RUNNING" for t in cluster.tasks())
    finally:
        await driver.stop()


async def test_failed_task_reports_exit_status(cluster):
    sched = RecordingScheduler()
    [tid] = sched.submit("exit 3")
    driver = await start_framework(cluster, sched)
    try:
        await sched.wait_states([tid], "TASK_FAILED")
        assert "3" in (sched.statuses[tid][-1].message or "")
    finally:
        await driver.stop()


async def test_reconcile_explicit_and_implicit(cluster):
    sched = RecordingScheduler()
    [tid] = sched.submit("sleep 60")
    driver = await start_framework(cluster, sched)
    try:
        await sched.wait_states([tid], "TASK_RUNNING")
        before = len(sched.statuses[tid])
        await driver.reconcile([tid])
        await sched.wait(lambda: len(sched.statuses[tid]) > before, what="explicit answer")
        answer = sched.statuses[tid][-1]
        assert answer.state == "TASK_RUNNING"
        assert answer.reason == "REASON_RECONCILIATION"
        assert answer.uuid is None

        before = len(sched.statuses[tid])
        await driver.reconcile([])
        await sched.wait(lambda: len(sched.statuses[tid]) > before, what="implicit answer")
        assert sched.statuses[tid][-1].reason == "REASON_RECONCILIATION"

        await driver.reconcile(["no-such-task"])
        await sched.wait(lambda: "no-such-task" in sched.statuses, what="unknown task answer")
        assert sched.state("no-such-task") in ("TASK_LOST", "TASK_UNKNOWN")
    finally:
        await driver.stop()


async def test_master_restart_loses_no_running_task(cluster):
    sched = RecordingScheduler()
    ids = sched.submit("sleep 120", count=4)
    driver = await start_framework(cluster, sched)
    try:
        await sched.wait_states(ids, "TASK_RUNNING")
        await asyncio.to_thread(cluster.restart_master)
        # Agents re-register with their tasks; the framework re-subscribes with its id.
        await sched.wait(lambda: sched.reregistrations >= 1, timeout=30, what="re-subscription")
        await asyncio.to_thread(
            cluster.wait_for,
            lambda: sum(t["state"] == "TASK_RUNNING" for t in cluster.tasks()) == 4,
            "tasks known to the restarted master",
        )
        marks = {t: len(sched.statuses[t]) for t in ids}
        await driver.reconcile(ids)
        await sched.wait(
            lambda: all(len(sched.statuses[t]) > marks[t] for t in ids), what="reconciliation"
        )
        assert all(sched.state(t) == "TASK_RUNNING" for t in ids)
        # The restarted master can still kill them.
        await driver.kill(ids[0])
        await sched.wait_states(ids[:1], "TASK_KILLED")
    finally:
        await driver.stop()


async def test_partitioned_agent_tasks_unreachable_then_reconciled(cluster):
    sched = RecordingScheduler()
    ids = sched.submit("sleep 120", count=2)
    driver = await start_framework(
        cluster, sched, capabilities=[{"type": "PARTITION_AWARE"}]
    )
    try:
        await sched.wait_states(ids, "TASK_RUNNING")
        agent_of = {t: sched.statuses[t][-1].agent_id for t in ids}
        agents = {a["id"]: a for a in cluster.active_agents()}
        victim_port = agents[agent_of[ids[0]]]["port"]
        name = f"agent-{cluster.agent_ports.index(victim_port)}"
        lost = [t for t in ids if agents[agent_of[t]]["port"] == victim_port]
        cluster.signal(name, signal.SIGSTOP)  # agent stops answering pings
        try:
            await sched.wait_states(lost, "TASK_UNREACHABLE", timeout=30)
        finally:
            cluster.signal(name, signal.SIGCONT)
        # Back again: it re-registers and its tasks are reported running.
        await sched.wait_states(lost, "TASK_RUNNING", timeout=30)
    finally:
        await driver.stop()


async def test_unreachable_agent_tasks_are_lost_for_non_partition_aware(cluster):
    sched = RecordingScheduler()
    [tid] = sched.submit("sleep 120")
    driver = await start_framework(cluster, sched)
    try:
        await sched.wait_states([tid], "TASK_RUNNING")
        aid = sched.statuses[tid][-1].agent_id
        port = {a["id"]: a["port"] for a in cluster.active_agents()}[aid]
        name = f"agent-{cluster.agent_ports.index(port)}"
        cluster.signal(name, signal.SIGSTOP)
        try:
            await sched.wait_states([tid], "TASK_LOST", timeout=30)
        finally:
            cluster.signal(name, signal.SIGCONT)
    finally:
        await driver.stop()
