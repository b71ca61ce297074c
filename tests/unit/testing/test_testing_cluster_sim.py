"""InProcessCluster on an autojumping SimClock: the master, the agents, their simulated tasks
and the SDK driver share one simulated clock, so minutes of cluster time (task run times,
default ping timeouts) pass in milliseconds, with no real sleeps."""

from __future__ import annotations

import time

import pytest

from dcos.sdk import SchedulerDriver
from dcos.testing import InProcessCluster, RecordingScheduler, always

pytestmark = pytest.mark.timeout(30)


def _sched(tasks: list[tuple[str, str]]) -> RecordingScheduler:
    """Launches `tasks` (fresh offers every 0.1 s while some wait), then declines for long."""
    return RecordingScheduler("cpus:0.1;mem:32", tasks=tasks, launch_refuse=0.1,
                              decline_refuse=60)  # fmt: skip


async def _driver(cluster: InProcessCluster, sched: RecordingScheduler, **info) -> SchedulerDriver:
    driver = cluster.scheduler_driver(sched, {"name": "test", **info}, failover_timeout=60)
    assert driver.clock is cluster.clock
    await driver.start()
    return driver


async def test_tasks_run_their_simulated_time(autojump_clock):
    started = time.monotonic()
    async with InProcessCluster(agents=2, agent_http=False, clock=autojump_clock,
                                behaviour=always(run_for=120.0)) as cluster:  # fmt: skip
        sched = _sched([(f"t{i}", "x") for i in range(4)])
        driver = await _driver(cluster, sched)
        try:
            await sched.wait(lambda: all("TASK_RUNNING" in sched.history(f"t{i}") for i in range(4)))
            running = autojump_clock.time()
            for i in range(4):
                await sched.wait_for(f"t{i}", "TASK_FINISHED")
            # each ran two simulated minutes (launches land within one allocation batch)
            assert 120.0 <= autojump_clock.time() - running <= 121.0
        finally:
            await driver.stop()
    assert time.monotonic() - started < 20.0


async def test_partitioned_agent_goes_unreachable_after_default_ping_timeouts(autojump_clock):
    async with InProcessCluster(agents=1, faults=True, agent_http=False, clock=autojump_clock) as cluster:
        sched = _sched([("p", "serve forever")])
        driver = await _driver(cluster, sched, capabilities=[{"type": "PARTITION_AWARE"}])
        try:
            await sched.wait_for("p", "TASK_RUNNING")
            cluster.partition_agent(0)
            cut = autojump_clock.time()
            await sched.wait_for("p", "TASK_UNREACHABLE")
            # 5 missed pings of 15 s (the master's defaults)
            assert 60.0 <= autojump_clock.time() - cut <= 76.0
            cluster.heal_agent(0)
            await cluster.wait_for_agents()
            await sched.wait(lambda: sched.history("p")[-1] == "TASK_RUNNING")
            assert cluster.running_tasks() == ["p"]
        finally:
            await driver.stop()
