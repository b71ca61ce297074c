"""`python -m dcos.agent` as a real process: SIGTERM stops the agent and leaves its task
running; the next agent process on the same work dir re-subscribes with the same id and the
task; SIGUSR1 stops it and kills the task."""

import asyncio
import os
import signal
import sys

import pytest

from dcos.protocol import internal
from dcos.testing import pid_alive
from dcos.testing.agent import FakeMaster

from .conftest import FRAMEWORK, make_task

pytestmark = pytest.mark.timeout(60)


async def _agent(master: FakeMaster, tmp_path) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "dcos.agent", "--master", f"http://{master.address}",
        "--port", "0", "--work-dir", str(tmp_path / "work"), "--resources", "cpus:1;mem:256",
        "--log-file", str(tmp_path / "agent.log"), "--status-update-retry", "1",
    )  # fmt: skip


async def test_sigterm_leaves_the_task_to_the_next_agent_and_sigusr1_kills_it(tmp_path):
    master = FakeMaster()
    await master.start()
    procs = []
    try:
        procs.append(await _agent(master, tmp_path))
        first = await master.subscribes.get()
        assert first["agent"]["id"] is None
        fifo = tmp_path / "ready"
        os.mkfifo(fifo)
        master.send({"type": internal.RUN_TASKS, "framework": FRAMEWORK,
                     "tasks": [make_task("t1", f"echo $$ > {fifo}; exec sleep 60")]})  # fmt: skip
        pid = int(await asyncio.to_thread(fifo.read_text))
        while (await master.updates.get())["status"]["state"] != "TASK_RUNNING":
            pass
        procs[0].send_signal(signal.SIGTERM)
        assert await procs[0].wait() == 0
        assert pid_alive(pid)

        procs.append(await _agent(master, tmp_path))
        again = await master.subscribes.get()
        assert again["agent"]["id"] == "agent-1"
        [record] = again["tasks"]
        assert record["task"]["task_id"]["value"] == "t1"
        assert record["state"] == "TASK_RUNNING"
        assert pid_alive(pid)
        log = tmp_path / "agent.log"
        while log.read_text().count("registered with master as agent-1") < 2:
            await asyncio.sleep(0.02)  # the log is the only sign the agent gives here

        procs[1].send_signal(signal.SIGUSR1)
        assert await procs[1].wait() == 0
        assert not pid_alive(pid)
        # the kill is recorded: a third agent process reports the task killed
        procs.append(await _agent(master, tmp_path))
        third = await master.subscribes.get()
        assert [(t["task"]["task_id"]["value"], t["state"]) for t in third["tasks"]] == [
            ("t1", "TASK_KILLED")
        ]
    finally:
        for p in procs:
            if p.returncode is None:
                p.kill()
                await p.wait()
        await master.stop()
