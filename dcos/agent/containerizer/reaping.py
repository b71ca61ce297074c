"""Watching processes that are not the agent's children (containers reattached after a
restart, or whose launcher died): pidfds, process groups.

Called by `dcos.agent.containerizer.process.ProcessContainerizer` (and tests).
"""

from __future__ import annotations

import asyncio
import contextlib
import os

from dcos.agent.containerizer import runtime as rt


def group_alive(pgid: int) -> bool:
    """True while some non-zombie process of the group exists (``killpg(pgid, 0)`` says when
    none is left at all; otherwise /proc is scanned, since zombies still count for killpg)."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        pass
    try:
        names = os.listdir("/proc")
    except OSError:
        return False
    for name in names:
        if not name.isdigit():
            continue
        with contextlib.suppress(OSError, ValueError, IndexError):
            with open(f"/proc/{name}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
            if fields[0] != b"Z" and int(fields[2]) == pgid:
                return True
    return False


async def wait_group_gone(pgid: int, timeout: float = 5.0) -> None:
    """After a SIGKILL, wait (bounded) until the kernel has ended every group member."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    delay = 0.001
    while group_alive(pgid) and loop.time() < deadline:
        await asyncio.sleep(delay)
        delay = min(delay * 2, 0.05)


async def _readable(fd: int) -> None:
    """Return once `fd` is readable: for a pidfd, once its process has exited."""
    loop = asyncio.get_running_loop()
    gone: asyncio.Future[None] = loop.create_future()

    def readable() -> None:
        if not gone.done():
            gone.set_result(None)

    loop.add_reader(fd, readable)
    try:
        await gone
    finally:
        loop.remove_reader(fd)


async def wait_pid_exit(pid: int, started: float = 0.0) -> None:
    """Wait for process `pid` (not our child) to exit: a pidfd where available, else polling.
    With `started` (its start time), a recycled pid counts as already gone."""
    if started and not rt.same_process_alive(pid, started):
        return
    try:
        fd = os.pidfd_open(pid)
    except (AttributeError, OSError):
        fd = -1
    if fd >= 0:
        try:
            await _readable(fd)
        finally:
            os.close(fd)
        return
    while rt.start_time(pid) is not None and group_alive(pid):
        await asyncio.sleep(0.1)
