"""Integration: kill -9 of the agent in the middle of a burst of 1,000 short tasks loses no exit
status. Real master, real agent (and its task launcher), an SDK framework, real processes.

Each task marks that it ran (a file named after it), then exits with its own code (0, 1, 3,
200) or kills itself with SIGKILL. After the agent is SIGKILLed mid-burst and started again
on the same work dir, every task that ran reports its real terminal state and exit code or
signal; a task that never ran (the agent died before launching it) fails with a message saying
it never started, never with a success or a made-up status.
"""

from __future__ import annotations

import os

import pytest

from dcos.agent.containerizer.process import NOT_FOUND
from dcos.sdk import SchedulerDriver
from dcos.testing import ProcessCluster, RecordingScheduler, pid_alive

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

TASKS = 1000
CODES = (0, 1, 3, 200)


def expected(i: int) -> tuple[str, str | None]:
    """(terminal state, message) task `i` must report once it ran."""
    if i % 50 == 7:
        return "TASK_FAILED", "Command terminated by signal SIGKILL"
    code = CODES[i % len(CODES)]
    if code == 0:
        return "TASK_FINISHED", None
    return "TASK_FAILED", f"Command exited with status {code}"


def command(i: int, marks: str, tid: str) -> str:
    tail = "kill -9 $$" if i % 50 == 7 else f"exit {CODES[i % len(CODES)]}"
    return f": > {marks}/{tid}; {tail}"


@pytest.fixture
def cluster(tmp_path):
    c = ProcessCluster(tmp_path, agents=1, agent_resources="cpus:64;mem:65536;disk:4096",
                       master_flags=["--allocation-interval", "0.05", "--agent-ping-timeout",
                                     "2", "--max-agent-ping-timeouts", "10"])  # fmt: skip
    try:
        yield c.start()
    finally:
        c.stop()


def terminal(sched: RecordingScheduler, tid: str) -> bool:
    return any(s.terminal for s in sched.statuses.get(tid, ()))


async def test_kill_9_of_the_agent_mid_burst_loses_no_exit_status(cluster, tmp_path):
    marks = tmp_path / "marks"
    marks.mkdir()
    sched = RecordingScheduler(launch_refuse=0.0, decline_refuse=0.0)
    ids = [f"b-{i:04d}" for i in range(TASKS)]
    sched.queue = [(tid, command(i, str(marks), tid)) for i, tid in enumerate(ids)]
    driver = SchedulerDriver(sched, {"name": "burst", "checkpoint": True}, cluster.master,
                             failover_timeout=3600)  # fmt: skip
    await driver.start()
    try:
        await sched.wait(lambda: sum(terminal(sched, t) for t in ids) >= 150, 60,
                         "150 tasks to end")  # fmt: skip
        agent_pid = cluster.procs["agent-0"].pid
        cluster.kill("agent-0")  # SIGKILL, mid-burst
        assert not pid_alive(agent_pid)
        ended_before = sum(terminal(sched, t) for t in ids)
        cluster.start_agent(0)
        await sched.wait(lambda: all(terminal(sched, t) for t in ids), 180,
                         "every task to report a terminal state")  # fmt: skip
    finally:
        await driver.stop()
    assert ended_before < TASKS  # the kill did land mid-burst
    ran = set(os.listdir(marks))
    assert len(ran) >= ended_before
    wrong = {}
    for i, tid in enumerate(ids):
        last = [s for s in sched.statuses[tid] if s.terminal][-1]
        if tid in ran:
            state, message = expected(i)
            if last.state != state or (message is not None and last.message != message):
                wrong[tid] = (last.state, last.message, state, message)
        elif last.state != "TASK_FAILED" or "never started" not in (last.message or ""):
            wrong[tid] = (last.state, last.message, "TASK_FAILED", NOT_FOUND)
    assert not wrong, f"{len(wrong)} task(s) lost their status, e.g. {list(wrong.items())[:5]}"
