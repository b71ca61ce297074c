"""Integration: isolation in a real agent process (cgroups as root, else posix rlimits).

A memory hog is killed and reported TASK_FAILED with REASON_CONTAINER_LIMITATION_MEMORY and
a message naming the limit; /state names the isolation in force; /monitor/statistics shows a
running task's usage and limits; an agent told to use only posix/rlimits says exactly that.
"""

from __future__ import annotations

import pytest

from dcos.sdk import SchedulerDriver
from dcos.testing import ProcessCluster, RecordingScheduler, get_json
from tests.unit.agent.isolation_helpers import cgroups_writable

pytestmark = pytest.mark.integration

MASTER_FLAGS = ["--allocation-interval", "0.2", "--agent-ping-timeout", "0.5",
                "--max-agent-ping-timeouts", "3"]  # fmt: skip


def one_agent(tmp_path, flags: list[str]) -> ProcessCluster:
    c = ProcessCluster(tmp_path, agents=1, master_flags=MASTER_FLAGS)
    c.agent_flags[0] = flags
    return c


async def start(cluster, sched) -> SchedulerDriver:
    driver = SchedulerDriver(sched, {"name": "isolation-itest"}, cluster.master,
                             failover_timeout=3600)  # fmt: skip
    sched.driver = driver
    await driver.start()
    return driver


def agent_url(cluster) -> str:
    return f"http://127.0.0.1:{cluster.agent_ports[0]}"


@pytest.mark.skipif(not cgroups_writable(), reason="needs root and writable cgroups")
async def test_memory_hog_fails_with_the_memory_reason_and_statistics_show_limits(tmp_path):
    cluster = one_agent(tmp_path, ["--cgroups-root", "dcos-py-test", "--cgroups-enable-cfs"])
    cluster.start()
    sched = RecordingScheduler(needs="cpus:0.2;mem:64")
    driver = await start(cluster, sched)
    try:
        state = get_json(agent_url(cluster) + "/state")
        assert state["isolation"] == "cgroups/cpu,cgroups/mem,cgroups/pids,disk/du"  # type: ignore[index]
        [hog] = sched.submit('python3 -c "x = bytearray(200*1024*1024); import time; time.sleep(5)"')
        [sleeper] = sched.submit("sleep 60")
        await sched.wait_states([sleeper], "TASK_RUNNING")
        await sched.wait_states([hog], "TASK_FAILED")
        last = sched.statuses[hog][-1]
        assert last.get("reason") == "REASON_CONTAINER_LIMITATION_MEMORY"
        assert "Memory limit exceeded: requested 64MB" in last.get("message", "")
        stats = get_json(agent_url(cluster) + "/monitor/statistics")
        [entry] = [e for e in stats if e["executor_id"] == sleeper]  # type: ignore[union-attr]
        s = entry["statistics"]
        assert s["cpus_limit"] == pytest.approx(0.2)
        assert s["mem_limit_bytes"] == 64 * 1024 * 1024
        assert s["processes"] >= 1 and "cpus_user_time_secs" in s and "mem_rss_bytes" in s
        assert entry["framework_id"] == driver.framework_id
    finally:
        await driver.stop()
        cluster.stop()


async def test_an_agent_limited_to_posix_rlimits_says_so(tmp_path):
    cluster = one_agent(tmp_path, ["--isolation", "posix/rlimits"])
    cluster.start()
    try:
        state = get_json(agent_url(cluster) + "/state")
        assert state["isolation"] == "posix/rlimits"  # type: ignore[index]
    finally:
        cluster.stop()
