"""The `Containerizer` contract: how the agent starts, watches and stops a task's processes.

The agent shell calls `launch` when its core asks to run a task, then awaits `wait` for the
end, and calls `destroy` for a kill. Implementations: `ProcessContainerizer` (real processes,
one session per container, spawned and reaped by the agent's task launcher) and
`FakeContainerizer` (no processes; unit tests and the in-process simulated agents of the
control-plane benchmark). Isolation (cgroups, disk,
rlimits, GPUs) plugs in through `dcos.agent.isolators.Isolator`; after an agent restart the
shell calls `recover` with the containers its checkpoint expects.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from dcos.protocol.ids import ContainerID
from dcos.protocol.resources import Resources


@dataclass(frozen=True)
class ContainerConfig:
    """Everything needed to start one container (built by `dcos.agent.command_executor`)."""

    argv: list[str]
    env: dict[str, str]
    sandbox: str
    resources: Resources = field(default_factory=Resources.empty)
    command: dict[str, Any] = field(default_factory=dict)  # the TaskInfo's CommandInfo
    task_id: str = ""
    framework_id: str = ""
    # security on: the user the process runs as (`dcos.agent.task_user`), [uid, gid, *groups]
    # (None: the agent's own user); set by the agent shell just before the launch
    user: str = ""
    run_as: list[int] | None = None


@dataclass(frozen=True)
class LaunchResult:
    """`ok` False carries `error`, the cause shown in the TASK_FAILED message."""

    ok: bool
    error: str = ""
    pid: int | None = None


@dataclass(frozen=True)
class Termination:
    """How a container ended: an exit code, or the signal that killed its main process.

    `reason` / `message` are set when an isolator limitation (OOM, disk) ended it.
    """

    exit_code: int | None = None
    signal: int | None = None
    reason: str | None = None
    message: str | None = None


class Containerizer(Protocol):
    async def recover(
        self, expected: Mapping[ContainerID, ContainerConfig]
    ) -> dict[ContainerID, Termination | None]:
        """Reattach to the `expected` containers of a previous agent run (called once at
        start, before any launch). Per expected container: None = still running, reattached
        (`wait` / `destroy` / `usage` then work as for a fresh launch); a `Termination` = it
        ended while the agent was down (its real exit status when it was recorded, else one
        whose message says the status is unknown). Containers left by the previous run that
        are not expected are orphans: killed and cleaned up."""
        ...

    async def launch(self, container_id: ContainerID, config: ContainerConfig) -> LaunchResult:
        """Start the container; never raises for an expected failure (bad command ...)."""
        ...

    async def wait(self, container_id: ContainerID) -> Termination:
        """Wait for the container's main process to end and clean up after it."""
        ...

    async def destroy(self, container_id: ContainerID, grace: float) -> None:
        """SIGTERM the container, SIGKILL everything left after `grace` seconds; idempotent."""
        ...

    async def update(self, container_id: ContainerID, resources: Resources) -> None:
        """Change a container's resource limits."""
        ...

    async def usage(self, container_id: ContainerID) -> dict[str, float]:
        """Resource statistics (Mesos ResourceStatistics field names)."""
        ...

    def containers(self) -> set[ContainerID]:
        """Ids of the containers currently alive."""
        ...
