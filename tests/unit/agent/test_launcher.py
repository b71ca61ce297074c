"""The task launcher (`dcos.agent.launcher`) through `ProcessContainerizer`: exact exit codes and
signals, the journal replayed to a new agent process, the fallback when the launcher died,
failures that say why, cgroup placement before the task runs, and no launcher left behind."""

from __future__ import annotations

import asyncio
import os
import signal
import sys

import orjson
import psutil
import pytest

from dcos.agent.containerizer import ContainerConfig, Termination
from dcos.agent.containerizer.process import LAUNCHER_LOST, ProcessContainerizer
from dcos.agent.launcher.client import stop_launcher
from dcos.protocol.ids import ContainerID
from dcos.protocol.resources import Resources

from .isolation_helpers import make_containerizer, needs_cgroups, pid_alive, poll


def cfg(tmp_path, argv: list[str], name: str = "sb") -> ContainerConfig:
    return ContainerConfig(argv=argv, env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
                           sandbox=str(tmp_path / name),
                           resources=Resources.parse("cpus:0.1;mem:32"))  # fmt: skip


def sh(tmp_path, command: str, name: str = "sb") -> ContainerConfig:
    return cfg(tmp_path, ["/bin/sh", "-c", command], name)


def launchers(meta: str) -> list[psutil.Process]:
    out = []
    for p in psutil.process_iter(["cmdline"]):
        cmd = p.info.get("cmdline") or []
        if "dcos.agent.launcher" in cmd and meta in cmd:
            out.append(p)
    return out


@pytest.fixture
async def made(tmp_path):
    """Containerizers made by a test (meta dir under tmp_path); all closed, and no launcher
    left running, at the end."""
    got: list[ProcessContainerizer] = []

    def new() -> ProcessContainerizer:
        c = ProcessContainerizer([], meta_dir=str(tmp_path / "meta"))
        got.append(c)
        return c

    yield new
    for c in got:
        for cid in list(c.containers()):
            await c.destroy(cid, 0)
        await c.close()
    stop_launcher(str(tmp_path / "meta"))
    await poll(lambda: not launchers(str(tmp_path / "meta")), "the launcher to exit")


async def test_exit_code_200_is_not_signal_9_and_signal_9_is_not_137(made, tmp_path):
    c = made()
    await c.recover({})
    runs = {
        "code200": sh(tmp_path, "exit 200", "a"),
        "code137": sh(tmp_path, "exit 137", "b"),
        "kill9": sh(tmp_path, "kill -9 $$", "c"),
        "true": cfg(tmp_path, ["/bin/true"], "d"),  # no shell: argv as given
    }
    for cid, config in runs.items():
        assert (await c.launch(ContainerID(cid), config)).ok
    got = {cid: await c.wait(ContainerID(cid)) for cid in runs}
    assert got == {
        "code200": Termination(exit_code=200),
        "code137": Termination(exit_code=137),
        "kill9": Termination(signal=signal.SIGKILL),
        "true": Termination(exit_code=0),
    }


async def test_task_is_the_launchers_child_in_its_own_session_without_a_shell(made, tmp_path):
    c = made()
    await c.recover({})
    result = await c.launch(ContainerID("s1"), cfg(tmp_path, ["/bin/sleep", "30"]))
    assert result.ok and result.pid
    proc = psutil.Process(result.pid)
    # (the kernel lets a vfork parent go on before the new program's argv is visible)
    await poll(lambda: proc.cmdline(), "the task's argv in /proc")
    assert proc.cmdline() == ["/bin/sleep", "30"]  # no wrapper, no shell
    assert os.getsid(result.pid) == result.pid
    assert proc.ppid() == c._client.pid  # the launcher is its parent
    assert os.getsid(c._client.pid) != os.getsid(0)  # the launcher has a session of its own
    await c.destroy(ContainerID("s1"), 5)
    assert (await c.wait(ContainerID("s1"))).signal == signal.SIGTERM


@pytest.mark.parametrize(("argv", "why"), [
    (["/nonexistent/program"], "No such file or directory"),
    (["no-such-program-anywhere"], "not on PATH"),
])  # fmt: skip
async def test_a_task_that_cannot_start_says_why(made, tmp_path, argv, why):
    c = made()
    await c.recover({})
    result = await c.launch(ContainerID("x"), cfg(tmp_path, argv))
    assert not result.ok
    assert why in result.error, result.error
    assert c.containers() == set()


async def test_a_sandbox_name_too_long_says_so(made, tmp_path):
    c = made()
    await c.recover({})
    result = await c.launch(ContainerID("x"), sh(tmp_path, "true", "s" * 300))
    assert not result.ok
    assert "File name too long" in result.error, result.error


OLD_AGENT = """
import asyncio, os, sys, orjson
from dcos.agent.containerizer import ContainerConfig
from dcos.agent.containerizer.process import ProcessContainerizer

async def main():
    spec = orjson.loads(sys.argv[1])
    c = ProcessContainerizer([], meta_dir=spec["meta"])
    await c.recover({})
    pids = {}
    for cid, cmd in spec["launches"]:
        cfg = ContainerConfig(["/bin/sh", "-c", cmd], {"PATH": os.environ["PATH"]},
                              os.path.join(spec["sandboxes"], cid))
        pids[cid] = (await c.launch(cid, cfg)).pid
    print(orjson.dumps({"pids": pids, "launcher": c._client.pid}).decode(), flush=True)
    os._exit(0)  # the agent dies: no cleanup, no acknowledgement

asyncio.run(main())
"""


async def old_agent(tmp_path, launches: dict[str, str]) -> dict:
    """Launch through a separate agent process that then dies (kill -9 like)."""
    spec = {"meta": str(tmp_path / "meta"), "sandboxes": str(tmp_path / "sb"),
            "launches": list(launches.items())}  # fmt: skip
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", OLD_AGENT, orjson.dumps(spec).decode(),
        stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, _ = await proc.communicate()
    assert proc.returncode == 0
    return orjson.loads(out)


def expect(tmp_path, *cids: str) -> dict[ContainerID, ContainerConfig]:
    return {ContainerID(cid): sh(tmp_path, "x", cid) for cid in cids}


async def test_ends_while_the_agent_is_down_are_replayed_and_forgotten_once_acked(made, tmp_path):
    gate = tmp_path / "gate"
    got = await old_agent(tmp_path, {
        "done200": "exit 200",
        "killed": "kill -9 $$",
        "later": f"while [ ! -e {gate} ]; do sleep 0.02; done; exit 3",
    })  # fmt: skip
    await poll(lambda: not pid_alive(got["pids"]["done200"]), "the first task to end")
    c = made()
    out = await c.recover(expect(tmp_path, "done200", "killed", "later"))
    assert out == {"done200": Termination(exit_code=200),
                   "killed": Termination(signal=signal.SIGKILL), "later": None}  # fmt: skip
    assert c._client.pid == got["launcher"]  # the same launcher, reconnected
    gate.write_text("go")
    assert await c.wait(ContainerID("later")) == Termination(exit_code=3)
    c.acknowledge([ContainerID("done200"), ContainerID("killed")])
    await c.close(stop_launcher=False)
    # a third agent process: everything was acknowledged, nothing is left to recover
    c2 = made()
    assert await c2.recover({}) == {}
    assert c2.listing == []


async def test_launcher_death_falls_back_to_pid_checks_with_a_clear_reason(made, tmp_path):
    gate = tmp_path / "gate"
    got = await old_agent(tmp_path, {
        "running": "sleep 60",
        "ends": f"while [ ! -e {gate} ]; do sleep 0.02; done; exit 3",
        "ended": "exit 4",
    })  # fmt: skip
    await poll(lambda: not pid_alive(got["pids"]["ended"]), "the third task to end")
    await asyncio.sleep(0.1)  # its end journaled
    os.kill(got["launcher"], signal.SIGKILL)
    await poll(lambda: not pid_alive(got["launcher"]), "the launcher to die")
    gate.write_text("go")
    await poll(lambda: not pid_alive(got["pids"]["ends"]), "the second task to end")
    assert pid_alive(got["pids"]["running"])  # tasks outlive their launcher
    c = made()
    out = await c.recover(expect(tmp_path, "running", "ends", "ended"))
    assert out["ended"] == Termination(exit_code=4)  # journaled before the launcher died
    assert out["ends"] == Termination(message=LAUNCHER_LOST)
    assert "launcher" in LAUNCHER_LOST and "unknown" in LAUNCHER_LOST
    assert out["running"] is None  # still running: reattached by pid + start time
    assert c._client.pid != got["launcher"]  # a new launcher
    await c.destroy(ContainerID("running"), 5)
    assert (await c.wait(ContainerID("running"))).signal == signal.SIGTERM
    assert not pid_alive(got["pids"]["running"])


async def test_launcher_lost_while_the_agent_runs(made, tmp_path):
    c = made()
    await c.recover({})
    gate = tmp_path / "gate"
    cid = ContainerID("t")
    assert (await c.launch(cid, sh(tmp_path, f"while [ ! -e {gate} ]; do sleep 0.02; done"))).ok
    os.kill(c._client.pid, signal.SIGKILL)
    await poll(lambda: c._client is None or c._client.lost, "the connection to drop")
    gate.write_text("go")
    assert await c.wait(cid) == Termination(message=LAUNCHER_LOST)
    # the next launch starts a new launcher
    assert (await c.launch(ContainerID("u"), sh(tmp_path, "exit 9", "u"))).ok
    assert await c.wait(ContainerID("u")) == Termination(exit_code=9)


async def test_close_stops_the_launcher_and_an_idle_launcher_exits(tmp_path, monkeypatch):
    meta = str(tmp_path / "meta")
    c = ProcessContainerizer([], meta_dir=meta)
    await c.recover({})
    assert len(launchers(meta)) == 1
    await c.close()
    await poll(lambda: not launchers(meta), "the launcher to exit when told")
    monkeypatch.setenv("DCOS_LAUNCHER_IDLE_EXIT", "0.3")
    c = ProcessContainerizer([], meta_dir=meta)
    await c.recover({})
    await c.close(stop_launcher=False)  # the agent goes away; no task runs
    await poll(lambda: not launchers(meta), "the idle launcher to exit")
    assert not os.path.exists(os.path.join(meta, "launcher.sock"))


async def test_without_a_meta_dir_the_launcher_goes_with_its_agent(tmp_path):
    c = ProcessContainerizer([])
    cid = ContainerID("e")
    assert (await c.launch(cid, cfg(tmp_path, ["/bin/sleep", "30"]))).ok
    meta, pid = c._client.meta_dir, c._client.pid
    task = next(iter(psutil.Process(pid).children()))
    c._client.transport.abort()  # the agent process is gone
    await poll(lambda: not pid_alive(pid) and not pid_alive(task.pid), "launcher and task to go")
    assert not os.path.exists(meta)


@needs_cgroups
async def test_the_task_is_in_its_cgroups_from_its_first_instruction(tmp_path):
    c, key = make_containerizer(tmp_path, "cgroups/cpu,cgroups/mem,cgroups/pids")
    try:
        await c.recover({})
        cid = ContainerID("cg")
        out = tmp_path / "cgroup.txt"
        # cat is exec'd directly: what it reads is where the task's program started
        result = await c.launch(cid, cfg(tmp_path, ["/bin/cat", "/proc/self/cgroup"]))
        assert result.ok
        assert await c.wait(cid) == Termination(exit_code=0)
        out = (tmp_path / "sb" / "stdout").read_text()
        lines = {ln.split(":")[1]: ln.split(":")[2] for ln in out.splitlines()}
        for ctrl in ("cpu", "memory", "pids", "freezer"):
            entry = next(v for k, v in lines.items() if ctrl in k.split(","))
            assert entry.endswith(f"/{key}/cg"), (ctrl, entry)
        # the launcher went home: it is in none of the container's cgroups
        mine = open(f"/proc/{c._client.pid}/cgroup").read()
        assert key not in mine
    finally:
        await c.close()
