"""`python -m dcos.agent` as a real process: registers, runs a task, SIGTERM with
`--kill-tasks-on-stop` leaves nothing (without it tasks survive: test_recovery_process.py)."""

import asyncio
import os
import signal
import sys

import pytest

from dcos.agent.containerizer.process import group_alive
from dcos.protocol import internal
from dcos.testing.agent import FakeMaster

from .conftest import FRAMEWORK, make_task

pytestmark = pytest.mark.timeout(60)


async def test_agent_process_runs_a_task_and_sigterm_kills_its_group(tmp_path):
    master = FakeMaster()
    await master.start()
    log_file = tmp_path / "agent.log"
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "dcos.agent", "--master", f"http://{master.address}",
        "--port", "0", "--work-dir", str(tmp_path / "work"), "--resources", "cpus:1;mem:256",
        "--log-file", str(log_file), "--status-update-retry", "1", "--kill-tasks-on-stop",
    )  # fmt: skip
    try:
        sub = await master.subscribes.get()
        assert sub["agent"]["resources"]["s"]["cpus"] == 1
        fifo = tmp_path / "ready"
        os.mkfifo(fifo)
        master.send(
            {"type": internal.RUN_TASKS, "framework": FRAMEWORK,
             "tasks": [make_task("t1", f"trap '' TERM; sleep 60 & cut -d' ' -f5 /proc/$$/stat > {fifo}; wait", grace=0.2)]}
        )  # fmt: skip
        pgid = int(await asyncio.to_thread(fifo.read_text))
        assert group_alive(pgid)
        proc.send_signal(signal.SIGTERM)
        assert await proc.wait() == 0
        assert not group_alive(pgid)
        text = log_file.read_text()
        assert "agent listening on http://127.0.0.1:" in text
        assert "registered with master as agent-1" in text
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        await master.stop()
