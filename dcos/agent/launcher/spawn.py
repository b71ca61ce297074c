"""How the launcher starts one task: cgroups joined first, then ``posix_spawn``.

Called by the launcher's loop (`dcos.agent.launcher.server`) for each LAUNCH. The launcher is
single-threaded, so it can use process-wide state around a spawn:

- cgroups v1: it writes ``0`` (the writing thread itself) into each of the task's ``tasks``
  files, so the child created by ``posix_spawn`` is born in the task's cgroups (nothing runs
  outside them, without a wrapper or a ``preexec_fn``, which would force the slow fork path);
  writing ``0`` for oneself needs no threadgroup lock, so a move costs microseconds. After a
  batch of spawns `go_home` moves it back into its own cgroups.
- cwd: ``posix_spawn`` has no chdir action here, so it ``chdir``s into the sandbox.
- cgroups v2 ``cgroup.procs`` files (no per-thread moves there) and the isolators' ``ulimit``
  lines go through a small ``/bin/sh`` prelude that ``exec``s the task, so the task's exit
  status is still its own.

Failures come back as a message that says why (``No such file or directory``, ``File name too
long`` ...), never as an empty string.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
from typing import Any

from dcos.agent.isolators.cgroupfs import Hierarchy, detect_hierarchies

PRELUDE_NAME = "dcos-py-launch"
_PRELUDE = """n=$1; shift
while [ "$n" -gt 0 ]; do
  echo $$ > "$1" || { echo "dcos-py: cannot join cgroup $1" >&2; exit 125; }
  n=$((n-1)); shift
done
{extra}exec "$@\""""
_OUT_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC
_DEFAULT_SIGNALS = (signal.SIGPIPE, signal.SIGXFSZ)  # Python ignores these; tasks must not


_WORD = re.compile(r"(?:[A-Za-z0-9_./:=,@%+-]|\$[A-Za-z_][A-Za-z0-9_]*|\$\{[A-Za-z_][A-Za-z0-9_]*\})+")
_NOT_PROGRAMS = frozenset(
    "alias bg break cd command continue echo eval exec exit export false fc fg getopts hash "
    "jobs kill local printf pwd read readonly return set shift test times trap true type "
    "ulimit umask unalias unset wait [ : . if then else elif fi case esac for while until do "
    "done in function select".split()
)


def direct_shell(argv: list[str]) -> list[str]:
    """``/bin/sh -c VALUE`` where VALUE is one plain command (words of safe characters and
    ``$VAR``s; its first word a program, not a builtin, keyword or assignment) becomes
    ``/bin/sh -c 'exec VALUE'``: the same program with the same arguments, but the shell is
    replaced by it instead of waiting for it (dash does not do this itself), so the task's
    exit status is the program's own: a SIGKILL is reported as the signal, not as a shell's
    ambiguous 137. Anything else is left as it is."""
    if len(argv) != 3 or argv[0] != "/bin/sh" or argv[1] != "-c":
        return argv
    value = argv[2]
    if "\n" in value:
        return argv
    words = value.split()
    if not words or words[0] in _NOT_PROGRAMS or "=" in words[0] or words[0].startswith("$"):
        return argv
    if not all(_WORD.fullmatch(w) for w in words):
        return argv
    return ["/bin/sh", "-c", f"exec {value.strip()}"]


def prelude_argv(argv: list[str], procs_files: list[str], shell_lines: list[str]) -> list[str]:
    """``/bin/sh`` that joins `procs_files`, runs `shell_lines` (from isolators), then execs
    `argv` (so the exit status is the task's own)."""
    extra = "".join(f"{line}\n" for line in shell_lines)
    script = _PRELUDE.replace("{extra}", extra)
    return ["/bin/sh", "-c", script, PRELUDE_NAME, str(len(procs_files)), *procs_files, *argv]


def _ticks_per_second() -> float:
    try:
        return float(os.sysconf("SC_CLK_TCK"))
    except (ValueError, OSError):
        return 100.0


def _boot_time() -> float:
    try:
        with open("/proc/stat", "rb") as f:
            for line in f:
                if line.startswith(b"btime"):
                    return float(line.split()[1])
    except OSError:
        pass
    return 0.0


class Spawner:
    """Spawns tasks for the launcher; `go_home` after each batch."""

    def __init__(self, home_dir: str) -> None:
        """`home_dir`: the launcher's working directory between spawns (its meta dir)."""
        self.home_dir = home_dir
        self.devnull = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
        self._hz = _ticks_per_second()
        self._btime = _boot_time()
        self._mounts: list[tuple[str, str]] = []  # (mount point + "/", home tasks file)
        for h in detect_hierarchies():
            if h.version == 1:
                self._mounts.append((h.mount.rstrip("/") + "/", self._home_tasks(h)))
        self._away: set[str] = set()  # home tasks files of hierarchies we left
        self._chdir = False

    @staticmethod
    def _home_tasks(h: Hierarchy) -> str:
        return os.path.join(h.mount, h.own_path.strip("/"), "tasks")

    def _home_of(self, tasks_file: str) -> str | None:
        for prefix, home in self._mounts:
            if tasks_file.startswith(prefix):
                return home
        return None

    def start_time(self, pid: int) -> float:
        """The process's start time as psutil's ``create_time`` gives it (boot time + start
        ticks), to tell this process from a later one with a recycled pid; 0.0 if unknown."""
        try:
            fd = os.open(f"/proc/{pid}/stat", os.O_RDONLY | os.O_CLOEXEC)
            try:
                data = os.read(fd, 4096)
            finally:
                os.close(fd)
            return self._btime + int(data.rsplit(b")", 1)[1].split()[19]) / self._hz
        except (OSError, IndexError, ValueError):
            return 0.0

    def spawn(self, argv: list[str], env: dict[str, str], cwd: str, stdout: str, stderr: str,
              tasks_files: list[str], prelude: list[Any] | None) -> int:  # fmt: skip
        """Start the task in its own session; its pid. Raises `SpawnError` saying why not."""
        if not argv or not argv[0]:
            raise SpawnError("empty command")
        argv = direct_shell(argv)
        program = argv[0]
        if "/" not in program:
            found = shutil.which(program, path=env.get("PATH", os.defpath))
            if found is None:
                raise SpawnError(f"No such file or directory: {program!r} (not on PATH)")
            program = found
        if prelude:
            lines = list(prelude[1])
            if "PWD" not in env:  # sh exports PWD; keep the task's environment as it was given
                lines.append("unset PWD")
            argv = prelude_argv([program, *argv[1:]], list(prelude[0]), lines)
            program = "/bin/sh"
        try:
            _mkdir(cwd)
            os.chdir(cwd)
            self._chdir = True
        except OSError as exc:
            raise SpawnError(f"cannot create or enter the sandbox: {_why(exc)}") from None
        out = err = -1
        try:
            out = os.open(stdout, _OUT_FLAGS, 0o644)
            err = os.open(stderr, _OUT_FLAGS, 0o644)
            for path in tasks_files:
                self._join(path)
            return os.posix_spawn(
                program, argv, env, setsid=True, setsigdef=_DEFAULT_SIGNALS,
                file_actions=[(os.POSIX_SPAWN_DUP2, self.devnull, 0),
                              (os.POSIX_SPAWN_DUP2, out, 1), (os.POSIX_SPAWN_DUP2, err, 2)],
            )  # fmt: skip
        except SpawnError:
            raise
        except OSError as exc:
            raise SpawnError(f"cannot execute {argv[0]!r}: {_why(exc)}") from None
        except (ValueError, TypeError) as exc:  # NUL bytes, bad types
            raise SpawnError(f"cannot execute {argv[0]!r}: {exc}") from None
        finally:
            for fd in (out, err):
                if fd >= 0:
                    os.close(fd)

    def setup(self, setup: list[Any]) -> None:
        """Create the task's cgroups and write their limits (``[[dir, [[file, value], ...]],
        ...]``, in order). Raises `SpawnError` saying which failed."""
        for path, writes in setup:
            try:
                _mkdir(path)
                for name, value in writes:
                    fd = os.open(name, os.O_WRONLY | os.O_CLOEXEC)
                    try:
                        os.write(fd, str(value).encode())
                    finally:
                        os.close(fd)
            except OSError as exc:
                raise SpawnError(f"cannot set up cgroup {path}: {_why(exc)}") from None

    def _join(self, tasks_file: str) -> None:
        home = self._home_of(tasks_file)
        if home is not None:
            self._away.add(home)
        try:
            fd = os.open(tasks_file, os.O_WRONLY | os.O_CLOEXEC)
            try:
                os.write(fd, b"0")
            finally:
                os.close(fd)
        except OSError as exc:
            raise SpawnError(f"cannot join cgroup {os.path.dirname(tasks_file)}: "
                             f"{_why(exc)}") from None  # fmt: skip

    def go_home(self) -> None:
        """Back into the launcher's own cgroups and directory (after a batch of spawns)."""
        for home in self._away:
            with contextlib.suppress(OSError):
                fd = os.open(home, os.O_WRONLY | os.O_CLOEXEC)
                try:
                    os.write(fd, b"0")
                finally:
                    os.close(fd)
        self._away.clear()
        if self._chdir:
            self._chdir = False
            with contextlib.suppress(OSError):
                os.chdir(self.home_dir)


def _mkdir(path: str) -> None:
    """``os.makedirs(path, exist_ok=True)`` in one syscall when the parent exists."""
    try:
        os.mkdir(path)
    except FileExistsError:
        pass
    except FileNotFoundError:
        os.makedirs(path, exist_ok=True)


class SpawnError(Exception):
    """Why a task could not be started (its text is the TASK_FAILED message's cause)."""


def _why(exc: OSError) -> str:
    """An OSError as a message that is never empty."""
    text = exc.strerror or str(exc) or type(exc).__name__
    if exc.filename:
        return f"{text}: {exc.filename!r}"
    return text

