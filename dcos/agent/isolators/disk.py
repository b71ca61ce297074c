"""`DiskDuIsolator` (``disk/du``): watch each sandbox's size; a task over its `disk` is killed.

Built by `select.build_isolators`. Like Mesos' disk/du isolator it measures, it cannot stop a
write: every `interval` seconds it walks the sandbox (an ``os.scandir`` walk in a worker
thread, so the event loop never blocks) and `watch` returns a `Limitation`
(REASON_CONTAINER_LIMITATION_DISK) once the usage exceeds the container's ``disk``.
"""

from __future__ import annotations

import asyncio
import logging
import os
from typing import Any

from dcos.agent.containerizer import ContainerConfig
from dcos.agent.isolators import LaunchSpec, Limitation, NoopIsolator, RecoveredContainer
from dcos.protocol.ids import ContainerID
from dcos.protocol.resources import Resources
from dcos.protocol.states import Reason

_MB = 1024 * 1024
log = logging.getLogger(__name__)


def disk_usage_bytes(path: str) -> int:
    """Bytes allocated under `path` (like ``du -s``: blocks, each hard link once; no symlinks)."""
    total = 0
    seen: set[tuple[int, int]] = set()
    stack = [path]
    while stack:
        top = stack.pop()
        try:
            it = os.scandir(top)
        except OSError:
            continue
        with it:
            for entry in it:
                try:
                    st = entry.stat(follow_symlinks=False)
                except OSError:
                    continue
                if st.st_nlink > 1:
                    key = (st.st_dev, st.st_ino)
                    if key in seen:
                        continue
                    seen.add(key)
                total += st.st_blocks * 512
                if entry.is_dir(follow_symlinks=False):
                    stack.append(entry.path)
    return total


class DiskDuIsolator(NoopIsolator):
    name = "disk/du"

    def __init__(self, interval: float = 15.0) -> None:
        self.interval = interval
        self._sandboxes: dict[ContainerID, tuple[str, float]] = {}  # -> (sandbox, disk MB)
        self._usage: dict[ContainerID, int] = {}

    async def prepare(
        self, container_id: ContainerID, config: ContainerConfig
    ) -> LaunchSpec | None:
        self._sandboxes[container_id] = (config.sandbox, config.resources.scalar("disk"))
        return None

    async def recover(self, containers: list[Any]) -> None:
        for rc in containers:
            if isinstance(rc, RecoveredContainer) and rc.alive and rc.sandbox:
                self._sandboxes[rc.container_id] = (rc.sandbox, rc.resources.scalar("disk"))

    async def measure(self, container_id: ContainerID) -> Limitation | None:
        """One measurement; the limitation when the sandbox is over its disk."""
        entry = self._sandboxes.get(container_id)
        if entry is None:
            return None
        sandbox, limit_mb = entry
        used = await asyncio.to_thread(disk_usage_bytes, sandbox)
        self._usage[container_id] = used
        if limit_mb > 0 and used > limit_mb * _MB:
            return Limitation(
                Reason.REASON_CONTAINER_LIMITATION_DISK,
                f"Disk usage ({used // _MB}MB) exceeds quota ({limit_mb:g}MB)",
            )
        return None

    async def watch(self, container_id: ContainerID) -> Limitation | None:
        if self._sandboxes.get(container_id, ("", 0.0))[1] <= 0:
            return None
        while container_id in self._sandboxes:
            try:
                limitation = await self.measure(container_id)
            except Exception:  # a bug in one measurement must not end the watch
                log.exception("disk usage of %s could not be measured", container_id)
                limitation = None
            if limitation is not None:
                return limitation
            await asyncio.sleep(self.interval)
        return None

    async def update(self, container_id: ContainerID, resources: Resources) -> None:
        entry = self._sandboxes.get(container_id)
        if entry is not None:
            self._sandboxes[container_id] = (entry[0], resources.scalar("disk"))

    async def usage(self, container_id: ContainerID) -> dict[str, float]:
        out: dict[str, float] = {}
        entry = self._sandboxes.get(container_id)
        if entry is not None and entry[1] > 0:
            out["disk_limit_bytes"] = entry[1] * _MB
        if container_id in self._usage:
            out["disk_used_bytes"] = float(self._usage[container_id])
        return out

    async def cleanup(self, container_id: ContainerID) -> None:
        self._sandboxes.pop(container_id, None)
        self._usage.pop(container_id, None)
