"""The ``/bin/sh`` wrapper and the per-container runtime record of older agents; process helpers.

Tasks are started by the launcher now (`dcos.agent.launcher`); this module keeps what is
needed for the rest:

- `wrapper_argv`: the wrapper still runs COMMAND health checks inside a task's container
  (`ProcessContainerizer.exec_command`: it joins the container's cgroups and applies its
  ulimits, then runs the check; no exit file is written then). Agents before the launcher
  started every task as

      /bin/sh -c WRAPPER dcos-py-launch <exit file> <n> <cgroup.procs files...> <argv...>

  (traps SIGTERM/INT/HUP/QUIT until the task runs, joins the cgroups, runs the isolators'
  ``ulimit`` lines, runs the task, writes its exit status to the exit file and exits with
  it; a shell reports a signal as 128+N, so `termination_from_status` reads 129..192 as
  signals: only for those tasks).
- The runtime record (``<meta>/<container id>/runtime``, msgpack) such an agent wrote per
  container: the wrapper's pid, its start time, process group, sandbox, resources and each
  isolator's record. `dcos.agent.containerizer.recover` still reads them, so an agent
  upgraded on an old work dir reattaches to those tasks by pid + start time and reads their
  exit status files.
- `start_time`, `same_process_alive`, `kill_group`, `group_usage`: process helpers.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import signal
from dataclasses import dataclass, field
from typing import Any

import msgpack
import psutil

from dcos.agent.containerizer import Termination
from dcos.agent.isolators import LaunchSpec
from dcos.common.files import atomic_write
from dcos.protocol.ids import ContainerID
from dcos.protocol.resources import Resources

RECORD = "runtime"
EXIT_STATUS = "exit_status"
WRAPPER_NAME = "dcos-py-launch"

_WRAPPER = """k=
trap k=143 TERM; trap k=130 INT; trap k=129 HUP; trap k=131 QUIT
f=$1; n=$2; shift 2
while [ "$n" -gt 0 ]; do
  echo $$ > "$1" || { echo "dcos-py: cannot join cgroup $1" >&2; exit 125; }
  n=$((n-1)); shift
done
{extra}[ -z "$k" ] || { [ -z "$f" ] || echo $k > "$f"; exit $k; }
"$@"
s=$?
[ -z "$f" ] || echo $s > "$f"
exit $s"""

# Messages of ends whose exit status cannot be known (recovery, `ProcessContainerizer`).
UNKNOWN_EXIT = "Container ended while the agent was down; its exit status is unknown"
NOT_FOUND = ("The task's container was not found when the agent recovered: it never started "
             "(the agent stopped before launching it), or its launcher's journal was lost")
LAUNCHER_LOST = ("The task launcher that started this task died before it ended; its exit "
                 "status is unknown")  # fmt: skip


def wrapper_argv(
    argv: list[str],
    exit_file: str,
    procs_files: list[str],
    shell_lines: list[str],
    unset_pwd: bool,
) -> list[str]:
    """The wrapper's argv for a task `argv` (`shell_lines` come from isolators, not users)."""
    extra = "".join(f"{line}\n" for line in shell_lines)
    if unset_pwd:  # sh exports PWD; keep the task's environment as it was given
        extra += "unset PWD\n"
    script = _WRAPPER.replace("{extra}", extra)
    return ["/bin/sh", "-c", script, WRAPPER_NAME, exit_file, str(len(procs_files)),
            *procs_files, *argv]  # fmt: skip


def termination_from_status(code: int) -> Termination:
    """A wrapper / shell status -> `Termination`: negative (asyncio) or 129..192 (a shell's
    128+N) mean killed by signal N, as a shell reports it."""
    if code < 0:
        return Termination(signal=-code)
    if 128 < code <= 128 + 64:
        return Termination(signal=code - 128)
    return Termination(exit_code=code)


def executable_error(argv: list[str], env: dict[str, str]) -> str | None:
    """Why ``argv[0]`` cannot be executed, or None (checked before spawning the wrapper)."""
    prog = argv[0] if argv else ""
    if not prog:
        return "empty command"
    if "/" in prog:
        if not os.path.isfile(prog):
            return f"No such file or directory: {prog!r}"
        if not os.access(prog, os.X_OK):
            return f"Permission denied: {prog!r}"
        return None
    if shutil.which(prog, path=env.get("PATH", os.defpath)) is None:
        return f"No such file or directory: {prog!r} (not on PATH)"
    return None


@dataclass
class RuntimeRecord:
    container_id: ContainerID
    pid: int
    start_time: float
    pgid: int
    sandbox: str
    resources: Resources = field(default_factory=Resources.empty)
    isolators: dict[str, dict[str, Any]] = field(default_factory=dict)
    # the wrapper's cgroup.procs files, ulimit lines and env additions (for `exec_command`)
    spec: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "container_id": self.container_id, "pid": self.pid, "start_time": self.start_time,
            "pgid": self.pgid, "sandbox": self.sandbox, "resources": self.resources.to_dict(),
            "isolators": self.isolators, "spec": self.spec,
        }  # fmt: skip

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RuntimeRecord:
        return cls(
            ContainerID(str(d["container_id"])), int(d["pid"]), float(d["start_time"]),
            int(d.get("pgid") or d["pid"]), str(d.get("sandbox") or ""),
            Resources.from_dict(d.get("resources")), dict(d.get("isolators") or {}),
            dict(d.get("spec") or {}),
        )  # fmt: skip


def write_record(meta_dir: str, record: RuntimeRecord) -> None:
    """Write the record atomically (temp file + rename); raises OSError."""
    path = os.path.join(meta_dir, record.container_id, RECORD)
    atomic_write(path, msgpack.packb(record.to_dict(), use_bin_type=True), fsync=False)


def read_records(meta_dir: str) -> dict[ContainerID, RuntimeRecord | None]:
    """Every container directory under `meta_dir` -> its record (None when unreadable)."""
    out: dict[ContainerID, RuntimeRecord | None] = {}
    try:
        names = os.listdir(meta_dir)
    except OSError:
        return out
    for name in names:
        path = os.path.join(meta_dir, name, RECORD)
        if not os.path.isdir(os.path.join(meta_dir, name)):
            continue
        try:
            with open(path, "rb") as f:
                out[ContainerID(name)] = RuntimeRecord.from_dict(msgpack.unpackb(f.read()))
        except (OSError, ValueError, KeyError, TypeError, msgpack.UnpackException):
            out[ContainerID(name)] = None
    return out


def read_exit_status(meta_dir: str, container_id: ContainerID) -> Termination | None:
    """What the wrapper recorded, or None when it recorded nothing."""
    try:
        with open(os.path.join(meta_dir, container_id, EXIT_STATUS)) as f:
            return termination_from_status(int(f.read().strip()))
    except (OSError, ValueError):
        return None


def remove_record(meta_dir: str, container_id: ContainerID) -> None:
    """Remove the container's directory: its known files unlinked, then the directory (a
    tree walk only when something else was left in it)."""
    path = os.path.join(meta_dir, container_id)
    for name in (RECORD, EXIT_STATUS, f"{RECORD}.tmp"):
        with contextlib.suppress(OSError):
            os.unlink(os.path.join(path, name))
    try:
        os.rmdir(path)
    except FileNotFoundError:
        pass
    except OSError:
        shutil.rmtree(path, ignore_errors=True)


def start_time(pid: int) -> float | None:
    """The process's start time (psutil), None when it is gone."""
    try:
        return psutil.Process(pid).create_time()
    except psutil.Error:
        return None


def same_process_alive(pid: int, started: float) -> bool:
    """True when `pid` runs (not a zombie) and is the process started at `started`."""
    try:
        p = psutil.Process(pid)
        return abs(p.create_time() - started) < 0.05 and p.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def kill_group(pgid: int, sig: int = signal.SIGKILL) -> bool:
    """Signal a process group; False when the group no longer exists."""
    try:
        os.killpg(pgid, sig)
        return True
    except (ProcessLookupError, PermissionError):
        return False


def group_usage(pid: int) -> dict[str, float]:
    """psutil statistics over a wrapper and its descendants (no cgroups)."""
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.Error:
        return {}
    user = system = rss = 0.0
    threads = 0
    alive = 0
    for p in procs:
        with contextlib.suppress(psutil.Error):
            t = p.cpu_times()
            user += t.user + t.children_user
            system += t.system + t.children_system
            rss += p.memory_info().rss
            threads += p.num_threads()
            alive += 1
    return {"cpus_user_time_secs": user, "cpus_system_time_secs": system,
            "mem_rss_bytes": rss, "processes": float(alive), "threads": float(threads)}  # fmt: skip


def quote(argv: list[str]) -> str:
    return " ".join(shlex.quote(a) for a in argv)


def spec_record(spec: LaunchSpec) -> dict[str, Any]:
    return {"procs_files": spec.procs_files, "shell": spec.shell, "env": spec.env}


def spec_from_record(data: Any) -> LaunchSpec:
    """The `LaunchSpec` kept in a container's record (empty for records of older agents)."""
    data = data if isinstance(data, dict) else {}
    procs = data.get("procs_files")
    shell = data.get("shell")
    env = data.get("env")
    return LaunchSpec(
        procs_files=[str(p) for p in procs] if isinstance(procs, list) else [],
        shell=[str(line) for line in shell] if isinstance(shell, list) else [],
        env={str(k): str(v) for k, v in env.items()} if isinstance(env, dict) else {},
    )
