"""`ProcessContainerizer.recover` after the agent process died (a separate process launched the
containers and exited without cleaning up)."""

import os
import signal
import uuid

import pytest

from dcos.agent.containerizer import Termination
from dcos.agent.containerizer import runtime as rt
from dcos.agent.containerizer.process import NOT_FOUND, UNKNOWN_EXIT, ProcessContainerizer
from dcos.agent.isolators.select import build_isolators
from dcos.protocol.ids import ContainerID

from .isolation_helpers import (
    TEST_ROOT,
    cgroups_writable,
    config,
    leftover_cgroups,
    pid_alive,
    poll,
    run_old_agent,
)

ISOLATIONS = ["posix/rlimits"] + (
    ["cgroups/cpu,cgroups/mem,cgroups/pids"] if cgroups_writable() else []
)


@pytest.fixture(params=ISOLATIONS)
async def setup(request, tmp_path):
    key = f"t-{uuid.uuid4().hex[:8]}"
    made = []

    def new_containerizer():
        choice = build_isolators(request.param, cgroups_root=TEST_ROOT, agent_key=key)
        c = ProcessContainerizer(choice.isolators, meta_dir=str(tmp_path / "meta"))
        made.append(c)
        return c

    yield key, request.param, new_containerizer
    for c in made:
        for cid in list(c.containers()):
            await c.destroy(cid, 0)
        await c.close()
    assert leftover_cgroups(key) == []


async def test_reattaches_to_a_live_container_and_can_destroy_it(setup, tmp_path):
    key, isolation, new = setup
    pids = await run_old_agent(tmp_path, key, [("c1", "sleep 60", "cpus:0.1;mem:32")], isolation)
    c = new()
    cid = ContainerID("c1")
    assert await c.recover({cid: config(tmp_path, "sleep 60")}) == {cid: None}
    assert c.containers() == {cid}
    assert pid_alive(pids["c1"])
    await c.destroy(cid, 5)
    assert (await c.wait(cid)).signal == signal.SIGTERM
    assert not pid_alive(pids["c1"])
    assert not os.path.exists(tmp_path / "meta" / "c1")


async def test_a_reattached_container_reports_its_real_exit_status(setup, tmp_path):
    key, isolation, new = setup
    gate = tmp_path / "gate"
    cmd = f"while [ ! -e {gate} ]; do sleep 0.02; done; exit 3"
    await run_old_agent(tmp_path, key, [("c1", cmd, "cpus:0.1;mem:32")], isolation)
    c = new()
    cid = ContainerID("c1")
    assert await c.recover({cid: config(tmp_path, cmd)}) == {cid: None}
    gate.write_text("go")
    assert await c.wait(cid) == Termination(exit_code=3)


async def test_a_container_that_ended_while_the_agent_was_down_reports_its_exit_status(
    setup, tmp_path
):
    key, isolation, new = setup
    pids = await run_old_agent(tmp_path, key, [("c1", "exit 7", "cpus:0.1;mem:32")], isolation)
    await poll(lambda: not pid_alive(pids["c1"]), "the wrapper to end")
    c = new()
    cid = ContainerID("c1")
    assert await c.recover({cid: config(tmp_path, "exit 7")}) == {cid: Termination(exit_code=7)}
    assert await c.wait(cid) == Termination(exit_code=7)
    assert not os.path.exists(tmp_path / "meta" / "c1")


async def test_unexpected_containers_are_orphans_and_are_killed(setup, tmp_path):
    key, isolation, new = setup
    pids = await run_old_agent(tmp_path, key, [("o1", "sleep 60", "cpus:0.1;mem:32")], isolation)
    c = new()
    assert await c.recover({}) == {}
    await poll(lambda: not pid_alive(pids["o1"]), "the orphan to die")
    assert not os.path.exists(tmp_path / "meta" / "o1")
    assert c.containers() == set()


async def test_unknown_or_recycled_pid_gives_an_unknown_exit_status(tmp_path):
    meta = tmp_path / "meta"
    (meta / "c1").mkdir(parents=True)
    # our own pid, with a start time that is not ours: a recycled pid, not the wrapper
    rec = rt.RuntimeRecord(ContainerID("c1"), os.getpid(), 1.0, os.getpid(), str(tmp_path))
    rt.write_record(str(meta), rec)
    c = ProcessContainerizer([], meta_dir=str(meta))
    out = await c.recover(
        {ContainerID("c1"): config(tmp_path, "x"), ContainerID("c2"): config(tmp_path, "y")}
    )
    assert out == {ContainerID("c1"): Termination(message=UNKNOWN_EXIT),
                   ContainerID("c2"): Termination(message=NOT_FOUND)}  # fmt: skip


def old_wrapper_task(tmp_path, cid: str, command: str):
    """A task as an agent before the launcher started it: under the /bin/sh wrapper, with its
    runtime record (pid + start time) and exit status file in the meta dir."""
    import subprocess

    meta = tmp_path / "meta"
    (meta / cid).mkdir(parents=True)
    argv = rt.wrapper_argv(["/bin/sh", "-c", command], str(meta / cid / rt.EXIT_STATUS), [], [],
                           unset_pwd=True)  # fmt: skip
    proc = subprocess.Popen(argv, start_new_session=True, cwd=tmp_path)
    rec = rt.RuntimeRecord(ContainerID(cid), proc.pid, rt.start_time(proc.pid) or 0.0, proc.pid,
                           str(tmp_path))  # fmt: skip
    rt.write_record(str(meta), rec)
    return proc


async def test_tasks_of_an_agent_before_the_launcher_are_reattached_or_report_their_status(
    tmp_path,
):
    gate = tmp_path / "gate"
    running = old_wrapper_task(tmp_path, "old1", f"while [ ! -e {gate} ]; do sleep 0.02; done; "
                                                 "exit 3")  # fmt: skip
    ended = old_wrapper_task(tmp_path, "old2", "exit 7")
    ended.wait()
    c = ProcessContainerizer([], meta_dir=str(tmp_path / "meta"))
    try:
        out = await c.recover({ContainerID("old1"): config(tmp_path, "x"),
                               ContainerID("old2"): config(tmp_path, "y")})  # fmt: skip
        assert out == {ContainerID("old1"): None, ContainerID("old2"): Termination(exit_code=7)}
        gate.write_text("go")
        assert await c.wait(ContainerID("old1")) == Termination(exit_code=3)
        running.wait()
        assert not os.path.exists(tmp_path / "meta" / "old1")
    finally:
        await c.close()
