"""The task launcher: one long-lived process per agent that starts, reaps and journals tasks.

``python -m dcos.agent.launcher --dir <meta dir>`` (started by the agent's
`LauncherClient.connect` when none answers on the socket) runs in its own session as the
parent and child subreaper of every task the agent starts:

- it spawns each task with ``os.posix_spawn`` (vfork + exec, no shell unless the task asks for
  one; `dcos.agent.launcher.spawn`), in a new session, after joining the task's cgroups itself
  (cgroups v1: its own thread writes ``0`` into each ``tasks`` file, so the child is born in
  them and the task's first instruction is accounted; it goes back home after the batch),
- it reaps them (SIGCHLD + ``waitpid(-1)``: as subreaper it must reap reparented orphans
  anyway, and one loop reaps a whole batch) and records the exact exit code or signal,
- it journals every launch and exit (`dcos.agent.launcher.journal`: append, one
  ``fdatasync`` per batch before the exits are reported), so an agent that was SIGKILLed or
  upgraded learns, when it reconnects, the statuses of the tasks that ended while it was down,
  and acknowledges them (the journal is then compacted).

The agent talks to it over the Unix socket ``<meta dir>/launcher.sock`` with msgpack messages
(`dcos.agent.launcher.wire`). The launcher exits when told to (an agent stopping with its
tasks killed), or when it has had no task and no agent for `IDLE_EXIT` seconds (safe: the
journal keeps the ends not yet acknowledged, and the next launcher replays it).

Files in the meta dir: ``launcher.sock``, ``launcher.journal``, ``launcher.lock`` (held while a
launcher runs: at most one per directory), ``launcher.log``.
"""

from __future__ import annotations

import os

SOCKET = "launcher.sock"
JOURNAL = "launcher.journal"
LOCK = "launcher.lock"
LOG = "launcher.log"
# seconds without tasks and without an agent before the launcher exits (tests shorten it)
IDLE_EXIT = float(os.environ.get("DCOS_LAUNCHER_IDLE_EXIT") or 5.0)
MAX_SUN_PATH = 100  # sockaddr_un holds 108 bytes; longer paths go through /proc/self/fd


def socket_path(meta_dir: str) -> str:
    return os.path.join(meta_dir, SOCKET)


def short_path(path: str) -> tuple[str, int | None]:
    """A path to `path` short enough for a Unix socket address, and a directory fd to close
    afterwards (None when `path` itself is short enough). Called around bind / connect."""
    if len(path.encode()) <= MAX_SUN_PATH:
        return path, None
    fd = os.open(os.path.dirname(path), os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    return f"/proc/self/fd/{fd}/{os.path.basename(path)}", fd


def running_pid(meta_dir: str) -> int | None:
    """The pid of the launcher serving `meta_dir`, None when none runs (it holds the lock
    file, which names it). For tools, tests and benchmarks."""
    import fcntl

    path = os.path.join(meta_dir, LOCK)
    try:
        fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:  # held: a launcher runs
            text = os.pread(fd, 32, 0).decode(errors="replace").strip()
            return int(text) if text.isdigit() else None
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)
