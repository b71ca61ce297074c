"""Find the processes a test session left running (called by `tests/conftest.py` at session
end, and by `tests/unit/test_leak_check.py`).

A process belongs to the session when it descends from the pytest process, or when its
environment carries the session's marker (``<marker>=<run id>``, inherited from pytest by
everything it starts, even after a process was orphaned and reparented to init). Zombies
(exited, not yet reaped) do not count: they run nothing.
"""

from __future__ import annotations

import contextlib
import os
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

RUN_MARKER = "DCOS_PY_TEST_RUN"  # = the session's id, in every process the suite starts
TEST_MARKER = "DCOS_PY_TEST"  # = the node id of the test that was running when it started
LEAK_GRACE_S = 10.0  # a process that was just told to stop may still be exiting


@dataclass(frozen=True)
class Leak:
    """A process still running: its pid, command line and the test that started it."""

    pid: int
    cmdline: str
    test: str
    proc: psutil.Process


def _environ(pid: int) -> dict[bytes, bytes]:
    try:
        raw = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:  # gone, or not ours to read
        return {}
    out: dict[bytes, bytes] = {}
    for entry in raw.split(b"\0"):
        key, sep, value = entry.partition(b"=")
        if sep:
            out[key] = value
    return out


def _alive(p: psutil.Process) -> bool:
    try:
        return p.is_running() and p.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def session_processes(marker: str, run_id: str, test_marker: str) -> list[Leak]:
    """Every live process, other than this one, that descends from it or carries
    ``marker=run_id``."""
    me = os.getpid()
    found: dict[int, psutil.Process] = {}
    with contextlib.suppress(psutil.Error):
        found.update((p.pid, p) for p in psutil.Process(me).children(recursive=True))
    want = run_id.encode()
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit() or int(entry.name) in found or int(entry.name) == me:
            continue
        if _environ(int(entry.name)).get(marker.encode()) == want:
            with contextlib.suppress(psutil.Error):
                found[int(entry.name)] = psutil.Process(int(entry.name))
    leaks = []
    for pid, p in sorted(found.items()):
        if not _alive(p):
            continue
        try:
            cmdline = " ".join(p.cmdline()) or p.name()
        except psutil.Error:
            continue
        test = _environ(pid).get(test_marker.encode(), b"").decode(errors="replace")
        leaks.append(Leak(pid, cmdline, test, p))
    return leaks


def find_leaks(marker: str, run_id: str, test_marker: str, grace_s: float = LEAK_GRACE_S,
               poll_s: float = 0.2) -> list[Leak]:
    """The session's processes still running after up to `grace_s` seconds."""
    deadline = time.monotonic() + grace_s
    while True:
        leaks = session_processes(marker, run_id, test_marker)
        if not leaks or time.monotonic() >= deadline:
            return leaks
        time.sleep(poll_s)


def kill_leaks(leaks: list[Leak]) -> None:
    """SIGKILL each leaked process (psutil checks the pid was not reused) and reap ours."""
    for leak in leaks:
        with contextlib.suppress(psutil.Error):
            leak.proc.kill()
    psutil.wait_procs([leak.proc for leak in leaks], timeout=5)
