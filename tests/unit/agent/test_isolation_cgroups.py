"""Real processes in real cgroups (root): limits are applied and enforced, nothing is left."""

import os
import signal

import pytest

from dcos.agent.command_executor import termination_outcome
from dcos.protocol.ids import ContainerID
from dcos.protocol.states import Reason, TaskState

from .isolation_helpers import (
    config,
    leftover_cgroups,
    make_containerizer,
    needs_cgroups,
    pid_alive,
    poll,
)

pytestmark = needs_cgroups


@pytest.fixture
async def cz(tmp_path):
    made = []

    def make(**kw):
        c, key = make_containerizer(tmp_path, **kw)
        made.append((c, key))
        return c

    yield make
    for c, key in made:
        for cid in list(c.containers()):
            await c.destroy(cid, 0)
        await c.close()
        assert leftover_cgroups(key) == []


def _cg(c, cid):
    return c.isolators[0].cgroup_paths(ContainerID(cid))


async def test_memory_hog_is_killed_with_the_memory_reason(cz, tmp_path):
    c = cz()
    hog = 'python3 -c "x = bytearray(200*1024*1024); import time; time.sleep(5)"'
    assert (await c.launch(ContainerID("hog"), config(tmp_path, hog))).ok
    term = await c.wait(ContainerID("hog"))
    state, reason, message = termination_outcome(term, kill_requested=False)
    assert (state, reason) == (TaskState.TASK_FAILED, Reason.REASON_CONTAINER_LIMITATION_MEMORY)
    assert message.startswith("Memory limit exceeded: requested 64MB")


async def test_cpu_shares_and_cfs_quota_are_applied(cz, tmp_path):
    c = cz(enable_cfs=True)
    cid = ContainerID("cpu")
    assert (await c.launch(cid, config(tmp_path, "sleep 30", "cpus:1.5;mem:64"))).ok
    paths = _cg(c, cid)
    with open(os.path.join(paths["cpu"], "cpu.shares")) as f:
        assert int(f.read()) == 1536
    with open(os.path.join(paths["cpu"], "cpu.cfs_quota_us")) as f:
        assert int(f.read()) == 150000
    with open(os.path.join(paths["memory"], "memory.limit_in_bytes")) as f:
        assert int(f.read()) == 64 * 1024 * 1024
    await c.destroy(cid, 0)


async def test_fork_bomb_is_stopped_by_the_pids_limit_and_destroy_leaves_nothing(cz, tmp_path):
    c = cz(max_pids=16)
    cid = ContainerID("bomb")
    bomb = (
        'python3 -c "import os, time\n'
        "for i in range(500):\n"
        "    try:\n"
        "        if os.fork() == 0:\n"
        "            time.sleep(60); os._exit(0)\n"
        "    except OSError:\n"
        "        print('fork failed', i, flush=True); break\n"
        'time.sleep(60)"'
    )
    assert (await c.launch(cid, config(tmp_path, bomb))).ok
    out = tmp_path / "sb" / "stdout"
    await poll(lambda: out.exists() and "fork failed" in out.read_text(), "the fork to fail")
    paths = _cg(c, cid)
    with open(os.path.join(paths["pids"], "pids.max")) as f:
        assert f.read().strip() == "16"
    with open(os.path.join(paths["pids"], "cgroup.procs")) as f:
        pids = [int(p) for p in f.read().split()]
    assert len(pids) == 16
    await c.destroy(cid, 0)
    assert not any(pid_alive(p) for p in pids)


async def test_double_forked_process_in_its_own_session_dies_with_the_container(cz, tmp_path):
    c = cz()
    cid = ContainerID("escape")
    pidfile = tmp_path / "escaped.pid"
    cmd = f"setsid sh -c 'echo $$ > {pidfile}; exec sleep 60' & sleep 60"
    launched = await c.launch(cid, config(tmp_path, cmd))
    assert launched.ok
    await poll(lambda: pidfile.exists() and pidfile.read_text().strip(), "the escaped pid")
    escaped = int(pidfile.read_text())
    assert os.getsid(escaped) != launched.pid  # out of the container's session and group
    await c.destroy(cid, 1)
    assert not pid_alive(escaped)


async def test_disk_over_its_limit_is_killed_with_the_disk_reason(cz, tmp_path):
    c = cz(disk_interval=0.05)
    cid = ContainerID("disk")
    cmd = "head -c 3000000 /dev/zero > big; sleep 30"
    assert (await c.launch(cid, config(tmp_path, cmd, "cpus:0.1;mem:64;disk:1"))).ok
    term = await c.wait(cid)
    assert term.reason == Reason.REASON_CONTAINER_LIMITATION_DISK
    assert "exceeds quota (1MB)" in (term.message or "")


async def test_statistics_come_from_the_cgroups(cz, tmp_path):
    c = cz()
    cid = ContainerID("stats")
    assert (await c.launch(cid, config(tmp_path, "sleep 30"))).ok
    procs = os.path.join(_cg(c, cid)["pids"], "cgroup.procs")
    await poll(lambda: len(open(procs).read().split()) >= 1, "the task in the cgroup")
    stats = await c.usage(cid)
    assert stats["mem_limit_bytes"] == 64 * 1024 * 1024
    assert stats["processes"] == len(open(procs).read().split())
    assert "cpus_user_time_secs" in stats and "mem_rss_bytes" in stats
    await c.destroy(cid, 5)
    assert (await c.wait(cid)).signal == signal.SIGTERM
