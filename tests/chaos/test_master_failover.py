"""Chaos: SIGKILL the leading master (of 3, elected in a real ZooKeeper) while an SDK framework
launches 500 tasks. A new leader is elected, agents and the framework follow it through
ZooKeeper, the framework re-subscribes with the same framework id, reconciles what it launched
and relaunches (under a new task id) only what the new master says does not run. In the end
each of the 500 logical tasks ran exactly once: one task id per logical task started (marks
its command leaves, agents' /state, sandbox run dirs), every other attempt never started, and
nothing runs after the test kills them. Prints the failover time (SIGKILL -> the new leader's
first offer to the framework).
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections import Counter

import pytest

from dcos.sdk import SchedulerDriver
from tests.chaos.checks import agent_task_ids, marks, processes_under, sandbox_runs
from tests.chaos.harness import ZK_SESSION_TIMEOUT, HACluster
from tests.chaos.ledger import NOT_RUNNING, LedgerScheduler

pytestmark = [pytest.mark.integration, pytest.mark.timeout(150)]

TASKS = 500


@pytest.fixture
def cluster(tmp_path, zk_url):
    c = HACluster(tmp_path, zk=zk_url, masters=3, agents=2, zk_session_timeout=ZK_SESSION_TIMEOUT,
                  agent_resources="cpus:16;mem:16384;disk:4096")  # fmt: skip
    try:
        yield c.start()
    finally:
        c.stop()


async def test_leader_sigkill_during_500_launches_runs_each_task_exactly_once(
    cluster, tmp_path, report
):
    marks_dir = tmp_path / "marks"
    marks_dir.mkdir()
    sched = LedgerScheduler(TASKS, marks_dir, per_offer=20)
    driver = SchedulerDriver(sched, {"name": "chaos-ledger",
                                     "capabilities": [{"type": "PARTITION_AWARE"}]},
                             cluster.master, failover_timeout=600)  # fmt: skip
    await driver.start()
    try:
        await sched.wait(lambda: sched.subscriptions >= 1, 30, "subscription")
        fid = str(driver.framework_id)
        # Kill the leader in the middle of the burst, with ACCEPTs it never handles: freeze it
        # (SIGSTOP), launch on offers the framework held back (those calls hang), SIGKILL it.
        await sched.wait(lambda: sched.running() >= 100, 60, "the first tasks running")
        sched.hold = True
        await sched.wait(lambda: bool(sched.held), 30, "an offer held back")
        assert len(sched.attempts) < TASKS, "every task launched before the kill: not mid-burst"
        old = cluster.leader_index()
        assert old is not None
        cluster.kill_master(old, signal.SIGSTOP)
        frozen = time.monotonic()
        doomed = asyncio.create_task(sched.launch_held(driver))
        await asyncio.sleep(0.5)
        sched.failover_started = time.monotonic()
        await asyncio.to_thread(cluster.kill_master, old)
        lost = await doomed
        assert lost, "no launch was in flight at the kill"
        report(
            f"killed leading master {old} (frozen 0.5 s before) with {len(sched.attempts)} "
            f"launched ({len(lost)} in ACCEPTs it never handled), {sched.running()} running"
        )
        new = await asyncio.to_thread(cluster.wait_new_leader, old)
        elected = time.monotonic() - frozen
        await sched.wait(lambda: sched.first_offer_after_failover is not None, 60,
                         "an offer from the new leader")  # fmt: skip
        first_offer = sched.first_offer_after_failover
        assert first_offer is not None and sched.resubscribed_at is not None
        report(
            f"master failover time: the new leader (master {new}) was elected {elected:.2f} s and "
            f"sent the framework its first offer {first_offer - frozen:.2f} s after the old one "
            f"stopped (SIGSTOP; SIGKILL 0.5 s later); the framework re-subscribed "
            f"{sched.resubscribed_at - frozen:.2f} s after it stopped"
        )
        await sched.wait(sched.all_running, 90, f"all {TASKS} logical tasks running")
        assert set(sched.framework_ids) == {fid}, "the framework re-subscribed under another id"

        # RUNNING means spawned: wait until each command got as far as its mark.
        await sched.wait(lambda: all((marks_dir / a.task_id).exists() for a in sched.current.values()),
                         30, "every running task's command started")  # fmt: skip
        await sched.kill_all(driver)
        current = list(sched.current.values())
        await sched.wait(lambda: all(a.state == "TASK_KILLED" for a in current), 60,
                         "every task killed")  # fmt: skip
        await asyncio.sleep(0.5)  # late duplicates (a second terminal update) would show here
        check_exactly_once(sched, cluster, marks_dir)
        for tid in lost:  # never started, known not to run, relaunched under a new id
            a = sched.attempts[tid]
            assert a.state in NOT_RUNNING and sched.current[a.logical] is not a, a.states
        report(
            f"{len(sched.attempts)} attempts for {TASKS} logical tasks; relaunched "
            f"{Counter(s for _, s in sched.relaunched)}; launch calls that failed in the "
            f"failover: {len(sched.launch_errors)}"
        )
    finally:
        await sched.close()
        await driver.stop()


def check_exactly_once(sched: LedgerScheduler, cluster: HACluster, marks_dir) -> None:
    """Every logical task started exactly once, under its current attempt's id, and nothing
    of it runs now."""
    started = marks(marks_dir)
    on_agents = agent_task_ids(cluster.agent_urls())
    runs = sandbox_runs(cluster.agent_work_dirs())
    twice = {t: n for t, n in started.items() if n != 1}
    assert not twice, f"task ids whose command started more than once: {twice}"
    assert not {t: n for t, n in on_agents.items() if n != 1}, "a task id on two agents"
    assert not {t: n for t, n in runs.items() if n != 1}, "a task id with two sandbox runs"
    for logical in range(sched.count):
        cur = sched.current[logical]
        attempts = [a for a in sched.attempts.values() if a.logical == logical]
        ran = [a.task_id for a in attempts if a.task_id in started]
        assert ran == [cur.task_id], f"L{logical}: started {ran}, current {cur.task_id}"
        assert "TASK_RUNNING" in cur.states
        assert len(cur.terminal_updates()) == 1, f"{cur.task_id}: {cur.states}"
        for a in attempts:
            if a is not cur:
                assert a.state in NOT_RUNNING and "TASK_RUNNING" not in a.states, (
                    f"{a.task_id} was replaced but reported {a.states}"
                )
                assert a.task_id not in on_agents and a.task_id not in runs
    assert set(on_agents) == {a.task_id for a in sched.current.values()}
    assert processes_under(cluster.work_dir) == [], "task processes still running"
