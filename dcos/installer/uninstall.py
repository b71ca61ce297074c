"""`dcos-py uninstall`: stop everything dcos-py runs on the hosts and remove what the installer
put there, leaving each host as it was before the install.

`uninstall(cfg, hosts, progress)` is called by `dcos.installer.main.run_uninstall` (all hosts,
or ``--hosts``) and by `dcos.installer.nodes.remove_agent` (the drained agent). On every host
in parallel (`runner.for_each_host`) it runs ``installer/host/uninstall.sh``: SIGUSR1 to the
agent (it kills its tasks and exits), the services stopped (supervisord shutdown, or the
systemd units disabled and removed), anything still running from ``install_dir`` or
``work_dir`` killed (task processes running as ``nobody`` included), the agent's empty cgroups
removed, and the contents of ``install_dir``, ``work_dir`` and ``/etc/dcos-py`` deleted (the
directories too, unless they are mount points). The result's detail says what was removed; a
host that cannot be reached fails, the others go on. Running it again on a clean host does
nothing and succeeds.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dcos.installer.config import ClusterConfig, HostSpec
from dcos.installer.deploy import run_script
from dcos.installer.progress import Progress
from dcos.installer.runner import HostLog, HostResult, for_each_host
from dcos.installer.ssh import HostSession, connect

STEP = "uninstall"
TIMEOUT_S = 300.0


def summary(output: str) -> str:
    """The result detail from uninstall.sh's output: what was removed, in short."""
    removed = [ln.removeprefix("removed: ").strip() for ln in output.splitlines()
               if ln.startswith("removed: ")]  # fmt: skip
    killed = sum(1 for ln in output.splitlines() if ln.startswith("kill: pid ")
                 and "SIGKILL" not in ln)  # fmt: skip
    cgroups = sum(1 for r in removed if r.startswith("cgroup "))
    paths = [r for r in removed if not r.startswith("cgroup ")]
    parts = []
    if any(ln.startswith("agent: SIGUSR1") for ln in output.splitlines()):
        parts.append("agent's tasks killed")
    if killed:
        parts.append(f"{killed} leftover process(es) killed")
    if cgroups:
        parts.append(f"{cgroups} cgroup(s) removed")
    parts.append("removed " + "; ".join(paths) if paths else "nothing left to remove")
    return ", ".join(parts)


def uninstall_args(cfg: ClusterConfig) -> list[str]:
    return ["--install-dir", str(cfg.install_dir), "--work-dir", str(cfg.work_dir)]


async def uninstall_host(session: HostSession, cfg: ClusterConfig, host: HostSpec,
                         log: HostLog) -> str:
    """uninstall.sh on one host; its summary (see `summary`)."""
    log("stopping services and removing dcos-py", 0.2)
    done = await run_script(session, "uninstall.sh", uninstall_args(cfg), log, timeout=TIMEOUT_S)
    return summary(done.stdout)


async def uninstall(cfg: ClusterConfig, hosts: list[HostSpec], progress: Progress, *,
                    connect: Callable[..., Any] = connect) -> list[HostResult]:
    """Uninstalls dcos-py from `hosts` in parallel; one result per host, in their order."""

    async def work(session: HostSession, host: HostSpec, log: HostLog) -> str:
        return await uninstall_host(session, cfg, host, log)

    return await for_each_host(cfg, hosts, STEP, work, progress=progress, connect=connect)
