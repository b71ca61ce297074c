"""InProcessCluster: an SDK framework launches tasks on a real master and real agents over
loopback HTTP, sees them finish, and survives master restarts and agent faults."""

from __future__ import annotations

import pytest

from dcos.sdk import SchedulerDriver
from dcos.testing import InProcessCluster, RecordingScheduler, TaskPlan

pytestmark = pytest.mark.timeout(30)

FAST_PINGS = {"agent_ping_timeout": 0.1, "max_agent_ping_timeouts": 2}


def _sched(tasks: list[tuple[str, str]]) -> RecordingScheduler:
    """Launches `tasks` (fresh offers every 0.1 s while some wait), then declines for long."""
    return RecordingScheduler("cpus:0.1;mem:32", tasks=tasks, launch_refuse=0.1,
                              decline_refuse=60)  # fmt: skip


async def _driver(cluster: InProcessCluster, sched: RecordingScheduler, **info) -> SchedulerDriver:
    driver = SchedulerDriver(sched, {"name": "test", **info}, cluster.url, failover_timeout=60)
    await driver.start()
    return driver


async def test_framework_launches_tasks_and_sees_them_finish():
    tasks = [(f"t{i}", "true") for i in range(6)]
    async with InProcessCluster(agents=2, agent_http=False) as cluster:
        sched = _sched(tasks)
        driver = await _driver(cluster, sched)
        try:
            for task_id, _ in tasks:
                await sched.wait_for(task_id, "TASK_FINISHED")
            for task_id, _ in tasks:
                assert sched.history(task_id) == ["TASK_STARTING", "TASK_RUNNING", "TASK_FINISHED"]
        finally:
            await driver.stop()


async def test_task_plans_decide_run_time_exit_code_and_launch_failure():
    def behaviour(config):
        return {
            "ok": TaskPlan(run_for=0.05),
            "bad": TaskPlan(run_for=0.0, exit_code=3),
            "broken": TaskPlan(launch_error="no such image"),
        }[config.task_id]

    async with InProcessCluster(agents=1, agent_http=False, behaviour=behaviour) as cluster:
        sched = _sched([("ok", "x"), ("bad", "x"), ("broken", "x")])
        driver = await _driver(cluster, sched)
        try:
            await sched.wait_for("ok", "TASK_FINISHED")
            await sched.wait_for("bad", "TASK_FAILED")
            await sched.wait_for("broken", "TASK_FAILED")
            assert "REASON_CONTAINER_LAUNCH_FAILED" in sched.reasons("broken")
        finally:
            await driver.stop()


async def test_framework_survives_master_restart_and_task_finishes_after_it():
    async with InProcessCluster(agents=2) as cluster:
        sched = _sched([("long", "serve forever")])
        driver = await _driver(cluster, sched)
        try:
            await sched.wait_for("long", "TASK_RUNNING")
            fid = driver.framework_id
            await cluster.restart_master()
            await sched.wait(lambda: sched.reregistrations >= 1)
            assert driver.framework_id == fid
            # restart_master returned once the agents re-registered: the new master learned
            # the task from its agent and answers for it
            await driver.reconcile(["long"])
            await sched.wait(lambda: "REASON_RECONCILIATION" in sched.reasons("long"))
            assert sched.history("long")[-1] == "TASK_RUNNING"
            assert cluster.finish_task("long", 0)
            await sched.wait_for("long", "TASK_FINISHED")
        finally:
            await driver.stop()


async def test_killed_agent_loses_its_task_and_restarted_agent_registers_again():
    async with InProcessCluster(agents=1, agent_http=False, master_options=FAST_PINGS) as cluster:
        sched = _sched([("doomed", "serve forever")])
        driver = await _driver(cluster, sched)
        try:
            await sched.wait_for("doomed", "TASK_RUNNING")
            await cluster.kill_agent(0)
            await sched.wait_for("doomed", "TASK_LOST")
            await cluster.start_agent(0)
            assert cluster.agent_id(0) in cluster.core.agents
        finally:
            await driver.stop()


async def test_partitioned_agent_comes_back_with_its_task():
    async with InProcessCluster(agents=1, faults=True, agent_http=False,
                                master_options=FAST_PINGS) as cluster:  # fmt: skip
        sched = _sched([("p", "serve forever")])
        driver = await _driver(cluster, sched, capabilities=[{"type": "PARTITION_AWARE"}])
        try:
            await sched.wait_for("p", "TASK_RUNNING")
            cluster.partition_agent(0)
            await sched.wait_for("p", "TASK_UNREACHABLE")
            cluster.heal_agent(0)
            await cluster.wait_for_agents()
            await sched.wait(lambda: sched.history("p")[-1] == "TASK_RUNNING")
            assert cluster.running_tasks() == ["p"]
        finally:
            await driver.stop()
