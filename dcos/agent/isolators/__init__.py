"""The `Isolator` contract: hooks a containerizer calls around each container's life.

Every hook is a no-op by default (`NoopIsolator`); cgroups (cpu, memory, pids), disk/du and
posix/rlimits isolators come later and are chosen by an agent flag like Mesos'
``--isolation``. `ProcessContainerizer` calls, per container: `prepare` before spawning,
`isolate` with the pid right after, `watch` (a limitation ends the container), `usage` for
statistics, `update` on a resource change and `cleanup` when it is gone (idempotent, safe for
unknown ids). `recover` is called once at agent start-up with the checkpointed containers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from dcos.protocol.ids import ContainerID
from dcos.protocol.resources import Resources


@dataclass(frozen=True)
class Limitation:
    """A limit a container hit (e.g. memory), which ends it with this reason and message."""

    reason: str
    message: str


class Isolator(Protocol):
    name: str

    async def recover(self, containers: list[Any]) -> None: ...

    async def prepare(self, container_id: ContainerID, resources: Resources) -> None: ...

    async def isolate(self, container_id: ContainerID, pid: int) -> None: ...

    async def watch(self, container_id: ContainerID) -> Limitation | None:
        """Wait for a limitation; None means this isolator watches nothing."""
        ...

    async def update(self, container_id: ContainerID, resources: Resources) -> None: ...

    async def usage(self, container_id: ContainerID) -> dict[str, float]: ...

    async def cleanup(self, container_id: ContainerID) -> None: ...


class NoopIsolator:
    """Every hook does nothing; the base for real isolators and the default (posix)."""

    name = "posix/noop"

    async def recover(self, containers: list[Any]) -> None:
        return None

    async def prepare(self, container_id: ContainerID, resources: Resources) -> None:
        return None

    async def isolate(self, container_id: ContainerID, pid: int) -> None:
        return None

    async def watch(self, container_id: ContainerID) -> Limitation | None:
        return None

    async def update(self, container_id: ContainerID, resources: Resources) -> None:
        return None

    async def usage(self, container_id: ContainerID) -> dict[str, float]:
        return {}

    async def cleanup(self, container_id: ContainerID) -> None:
        return None


class PosixIsolator(NoopIsolator):
    """Process-group isolation only: the containerizer's sessions do the work."""

    name = "posix/cpu,posix/mem"
