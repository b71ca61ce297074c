"""`dcos.installer.uninstall` and ``installer/host/uninstall.sh``: the summary of what was
removed, and the script run for real on temporary install/work/etc dirs -- a process running
from the work dir (as a task would) is killed, a supervisord is shut down, the dirs go, a
second run finds nothing to do; system directories are refused."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from dcos.installer import uninstall

SCRIPTS = Path(__file__).resolve().parents[3] / "installer" / "host"
BIN = Path(sys.executable).parent


def test_summary_says_what_was_removed() -> None:
    out = "\n".join([
        "agent: SIGUSR1 to pid 12 (kill its tasks and exit)",
        "agent: exited",
        "supervisord: stopped",
        "kill: pid 40 (cwd /var/lib/dcos-py/agent/slaves/x)",
        "kill: pid 40 SIGKILL",
        "removed: cgroup /sys/fs/cgroup/memory/dcos-py/agent-5051/c1",
        "removed: /opt/dcos-py (120M)",
        "removed: contents of /etc/dcos-py (20K; /etc/dcos-py stays: a mount point)",
    ])
    text = uninstall.summary(out)
    assert text.startswith("agent's tasks killed, 1 leftover process(es) killed, "
                           "1 cgroup(s) removed, removed /opt/dcos-py (120M); contents")
    assert uninstall.summary("agent: not running here\nuninstall: done\n") == \
        "nothing left to remove"


@pytest.fixture
def short_tmp() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="dcpy-un-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _run(tmp: Path, install_dir: Path, work_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DCOS_PY_ETC": str(tmp / "etc")}
    return subprocess.run(["bash", str(SCRIPTS / "uninstall.sh"), "--install-dir",
                           str(install_dir), "--work-dir", str(work_dir)],
                          capture_output=True, text=True, env=env, timeout=120)


@pytest.mark.parametrize("bad", ["/opt", "/var/lib", "/", "relative"])
def test_refuses_system_dirs(short_tmp: Path, bad: str) -> None:
    done = _run(short_tmp, Path(bad), short_tmp / "var")
    assert done.returncode == 2
    assert "refusing" in done.stderr or "absolute" in done.stderr


def test_uninstall_sh_stops_kills_and_removes(short_tmp: Path) -> None:
    tmp = short_tmp
    opt, var, etc = tmp / "opt", tmp / "var", tmp / "etc"
    venv_bin = opt / "venv" / "bin"
    venv_bin.mkdir(parents=True)
    for tool in ("supervisord", "supervisorctl"):
        (venv_bin / tool).symlink_to(BIN / tool)
    run, logs = var / "run", var / "logs"
    run.mkdir(parents=True)
    logs.mkdir()
    sandbox = var / "agent" / "slaves" / "s1" / "runs" / "c1"
    sandbox.mkdir(parents=True)
    (etc / "security").mkdir(parents=True)
    (etc / "installed.json").write_text("{}")
    # a stand-in agent: SIGUSR1 ends it (after "killing its tasks"), SIGTERM alone does not;
    # each start is counted: supervisord must not start it again while it is uninstalled
    starts = tmp / "starts"
    agent = tmp / "agent.py"
    agent.write_text(
        "import signal, sys, time\n"
        f"open({str(starts)!r}, 'a').write('start\\n')\n"
        "signal.signal(signal.SIGTERM, lambda *a: None)\n"
        "signal.signal(signal.SIGUSR1, lambda *a: sys.exit(0))\n"
        "while True:\n    time.sleep(1)\n")
    conf = etc / "supervisord.conf"
    conf.write_text(
        f"[unix_http_server]\nfile={run}/supervisor.sock\n"
        f"[supervisord]\nlogfile={logs}/supervisord.log\npidfile={run}/supervisord.pid\n"
        f"childlogdir={logs}\nminfds=1024\n"
        "[rpcinterface:supervisor]\nsupervisor.rpcinterface_factory = "
        "supervisor.rpcinterface:make_main_rpcinterface\n"
        f"[supervisorctl]\nserverurl=unix://{run}/supervisor.sock\n"
        "[program:master]\ncommand=sleep 1000\nstartsecs=0\nstopasgroup=true\n"
        f"[program:agent]\ncommand={sys.executable} {agent}\nstartsecs=0\nautorestart=true\n"
        "stopwaitsecs=30\n")
    subprocess.run([str(venv_bin / "supervisord"), "-c", str(conf)], check=True)
    # a "task" left behind by an agent: runs from its sandbox under the work dir
    task = subprocess.Popen(["sleep", "1000"], cwd=sandbox, start_new_session=True)
    try:
        deadline = time.monotonic() + 15
        while not (run / "supervisord.pid").exists():
            assert time.monotonic() < deadline
            time.sleep(0.1)
        sup = int((run / "supervisord.pid").read_text())
        while not starts.exists():
            assert time.monotonic() < deadline
            time.sleep(0.1)
        done = _run(tmp, opt, var)
        assert done.returncode == 0, done.stderr + done.stdout
        assert "agent: SIGUSR1 to pid" in done.stdout and "agent: exited" in done.stdout
        assert "supervisord: stopped" in done.stdout
        assert starts.read_text() == "start\n"  # not restarted after its SIGUSR1 exit
        assert f"kill: pid {task.pid} (cwd {sandbox})" in done.stdout
        assert task.wait(timeout=10) is not None
        assert not Path(f"/proc/{sup}").exists()
        for d in (opt, var, etc):
            assert not d.exists(), d
            assert f"removed: {d}" in done.stdout
        summary = uninstall.summary(done.stdout)
        assert summary.startswith("agent's tasks killed, 1 leftover process(es) killed")
        again = _run(tmp, opt, var)
        assert again.returncode == 0, again.stderr
        assert uninstall.summary(again.stdout) == "nothing left to remove"
    finally:
        if task.poll() is None:
            task.kill()
            task.wait()
        pidfile = run / "supervisord.pid"
        if pidfile.exists():
            subprocess.run(["kill", pidfile.read_text().strip()], check=False)


def _cgroup_mount() -> Path | None:
    """A writable cgroup hierarchy (v1 pids, else the v2 root), or None."""
    mounts = Path("/proc/self/mounts").read_text().splitlines()
    for line in mounts:
        f = line.split()
        if len(f) > 3 and f[2] == "cgroup" and "pids" in f[3].split(","):
            return Path(f[1])
    for line in mounts:
        f = line.split()
        if len(f) > 2 and f[2] == "cgroup2":
            return Path(f[1])
    return None


def test_uninstall_sh_removes_the_agents_container_cgroups_only(short_tmp: Path) -> None:
    mount = _cgroup_mount()
    if mount is None or os.geteuid() != 0:
        pytest.skip("needs root and a cgroup hierarchy")
    base = mount / "dcos-py" / f"agent-unit-{os.getpid()}"
    ours, theirs = base / "c-ours-1", base / "c-theirs-1"
    try:
        for cg in (ours, theirs):
            cg.mkdir(parents=True)
    except OSError as exc:
        pytest.skip(f"cgroups not writable here: {exc}")
    try:
        runs = short_tmp / "var" / "agent" / "slaves" / "s1" / "frameworks" / "f1" / \
            "executors" / "e1" / "runs"
        (runs / "c-ours-1").mkdir(parents=True)
        (short_tmp / "opt").mkdir()
        done = _run(short_tmp, short_tmp / "opt", short_tmp / "var")
        assert done.returncode == 0, done.stderr
        assert f"removed: cgroup {ours}" in done.stdout
        assert not ours.exists()
        assert theirs.is_dir()  # another agent's container (or host's) stays
    finally:
        for cg in (ours, theirs, base):
            with contextlib.suppress(OSError):
                cg.rmdir()
        with contextlib.suppress(OSError):
            (mount / "dcos-py").rmdir()
