"""`ProcessContainerizer`: each container is a real process in its own session.

Called by the agent shell (`dcos.agent.agent`). The main process is spawned with
`asyncio.create_subprocess_exec(..., start_new_session=True)` and no ``preexec_fn`` (the fast
posix_spawn/vfork path); its process group is the container: a kill sends SIGTERM to the
group, then SIGKILL to the whole group after the grace period, and whatever is left of the
group when the main process ends is SIGKILLed too, so no task leaves orphans behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from dcos.agent.containerizer import ContainerConfig, LaunchResult, Termination
from dcos.agent.isolators import Isolator, Limitation, PosixIsolator
from dcos.protocol.ids import ContainerID
from dcos.protocol.resources import Resources

log = logging.getLogger(__name__)

MAX_ENDED = 1000


@dataclass
class _Container:
    proc: asyncio.subprocess.Process
    pgid: int
    done: asyncio.Future[Termination] | None = None
    limitation: Limitation | None = None
    watchers: list[asyncio.Task[Any]] = field(default_factory=list)


def _killpg(pgid: int, sig: int) -> bool:
    """Signal a process group; False when the group no longer exists."""
    try:
        os.killpg(pgid, sig)
        return True
    except (ProcessLookupError, PermissionError):
        return False


def group_alive(pgid: int) -> bool:
    """True while some non-zombie process of the group exists (scans /proc)."""
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


async def _wait_group_gone(pgid: int, timeout: float = 5.0) -> None:
    """After a SIGKILL, wait (bounded) until the kernel has ended every group member."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    delay = 0.001
    while group_alive(pgid) and loop.time() < deadline:
        await asyncio.sleep(delay)
        delay = min(delay * 2, 0.05)


def termination_from_returncode(code: int) -> Termination:
    """asyncio's returncode (negative = killed by that signal) -> `Termination`."""
    if code < 0:
        return Termination(signal=-code)
    return Termination(exit_code=code)


class ProcessContainerizer:
    """Containers as process sessions; isolators are called around each one."""

    def __init__(self, isolators: list[Isolator] | None = None) -> None:
        self.isolators: list[Isolator] = isolators if isolators is not None else [PosixIsolator()]
        self._containers: dict[ContainerID, _Container] = {}
        # how recently ended containers ended, for a `wait` that comes after the end
        self._ended: OrderedDict[ContainerID, Termination] = OrderedDict()

    async def recover(self, checkpoint: Any) -> None:
        for iso in self.isolators:
            await iso.recover([])

    async def launch(self, container_id: ContainerID, config: ContainerConfig) -> LaunchResult:
        """Create the sandbox, open stdout/stderr there and spawn ``config.argv``."""
        if container_id in self._containers:
            return LaunchResult(False, f"container {container_id} already exists")
        try:
            for iso in self.isolators:
                await iso.prepare(container_id, config.resources)
            os.makedirs(config.sandbox, exist_ok=True)
            with (
                open(os.path.join(config.sandbox, "stdout"), "ab") as out,
                open(os.path.join(config.sandbox, "stderr"), "ab") as err,
            ):
                proc = await asyncio.create_subprocess_exec(
                    *config.argv,
                    stdin=asyncio.subprocess.DEVNULL,
                    stdout=out,
                    stderr=err,
                    cwd=config.sandbox,
                    env=config.env,
                    start_new_session=True,
                )
        except (OSError, ValueError) as exc:
            await self._cleanup_isolators(container_id)
            return LaunchResult(False, f"Failed to launch {config.argv[:1]}: {exc}")
        c = _Container(proc=proc, pgid=proc.pid)
        self._containers[container_id] = c
        for iso in self.isolators:
            await iso.isolate(container_id, proc.pid)
        c.watchers = [
            asyncio.ensure_future(self._watch(container_id, iso)) for iso in self.isolators
        ]
        c.done = asyncio.ensure_future(self._reap(container_id, c))
        return LaunchResult(True, pid=proc.pid)

    async def _watch(self, container_id: ContainerID, iso: Isolator) -> None:
        limitation = await iso.watch(container_id)
        c = self._containers.get(container_id)
        if limitation is None or c is None:
            return
        log.info("container %s hit a limitation: %s", container_id, limitation.message)
        c.limitation = limitation
        _killpg(c.pgid, signal.SIGKILL)

    async def _reap(self, container_id: ContainerID, c: _Container) -> Termination:
        code = await c.proc.wait()
        if _killpg(c.pgid, signal.SIGKILL):  # whatever the task left behind in its group
            await _wait_group_gone(c.pgid)
        for w in c.watchers:
            w.cancel()
        await self._cleanup_isolators(container_id)
        self._containers.pop(container_id, None)
        term = termination_from_returncode(code)
        if c.limitation is not None:
            term = Termination(
                term.exit_code, term.signal, c.limitation.reason, c.limitation.message
            )
        self._ended[container_id] = term
        while len(self._ended) > MAX_ENDED:
            self._ended.popitem(last=False)
        return term

    async def _cleanup_isolators(self, container_id: ContainerID) -> None:
        for iso in self.isolators:
            try:
                await iso.cleanup(container_id)
            except Exception:  # an isolator bug must not leak the container
                log.exception("isolator %s cleanup failed for %s", iso.name, container_id)

    async def wait(self, container_id: ContainerID) -> Termination:
        c = self._containers.get(container_id)
        if c is None or c.done is None:
            return self._ended.get(container_id) or Termination(message="unknown container")
        return await asyncio.shield(c.done)

    async def destroy(self, container_id: ContainerID, grace: float) -> None:
        """SIGTERM the group; SIGKILL the group when `grace` runs out. Returns once it is gone."""
        c = self._containers.get(container_id)
        if c is None or c.done is None:
            return
        if grace > 0:
            _killpg(c.pgid, signal.SIGTERM)
            try:
                await asyncio.wait_for(asyncio.shield(c.done), grace)
                return
            except TimeoutError:
                log.info("container %s outlived its %.1fs grace; SIGKILL", container_id, grace)
        _killpg(c.pgid, signal.SIGKILL)
        await asyncio.shield(c.done)

    async def update(self, container_id: ContainerID, resources: Resources) -> None:
        for iso in self.isolators:
            await iso.update(container_id, resources)

    async def usage(self, container_id: ContainerID) -> dict[str, float]:
        c = self._containers.get(container_id)
        if c is None:
            return {}
        stats: dict[str, float] = {}
        try:
            import psutil

            p = psutil.Process(c.proc.pid)
            t = p.cpu_times()
            stats = {
                "cpus_user_time_secs": t.user + t.children_user,
                "cpus_system_time_secs": t.system + t.children_system,
                "mem_rss_bytes": float(p.memory_info().rss),
            }
        except Exception:  # the process may be gone already
            pass
        for iso in self.isolators:
            stats.update(await iso.usage(container_id))
        return stats

    def containers(self) -> set[ContainerID]:
        return set(self._containers)
