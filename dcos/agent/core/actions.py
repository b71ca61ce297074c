"""What the agent core asks its shell to do: the one way out of `AgentCore.handle`.

Every entry into the core (`dcos.agent.core.events`) returns a list of these; the shell
(`dcos.agent.shell.AgentShell`) carries each out through one dispatch table. Nothing else
leaves the core: the shell never polls it for work afterwards.
"""

from __future__ import annotations

from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from typing import Any

from dcos.agent.containerizer import ContainerConfig
from dcos.agent.core.model import ExecutorKey
from dcos.protocol.ids import AgentID, ContainerID, ExecutorID, FrameworkID, MasterID, TaskID


@dataclass(frozen=True)
class Launch:
    """Fetch the URIs and start a container (a task's or a custom executor's)."""

    container_id: ContainerID
    config: ContainerConfig


@dataclass(frozen=True)
class Destroy:
    """Kill a container: SIGTERM, then SIGKILL after `grace` seconds."""

    container_id: ContainerID
    grace: float


@dataclass(frozen=True)
class SendToMaster:
    """Post one call (PONG, MESSAGE, EXITED_EXECUTOR) to the master, fire and forget."""

    body: dict[str, Any]


@dataclass(frozen=True)
class SendUpdates:
    """Post this UPDATE call (the status updates due now) to the master once everything the
    core marked for the checkpoint is on disk; answers `SendDueUpdates` only."""

    body: dict[str, Any]


@dataclass(frozen=True)
class UpdatesDue:
    """Status updates are due at `at`: feed `SendDueUpdates` then (or later)."""

    at: float


@dataclass(frozen=True)
class Watch:
    """Wait for a container recovered from a previous agent run (`dcos.agent.recovery`)."""

    container_id: ContainerID


@dataclass(frozen=True)
class Registered:
    """The master (re-)registered this agent; ping silence bounds the stream's reads."""

    agent_id: AgentID
    master_id: MasterID
    ping_interval: float | None


@dataclass(frozen=True)
class ToExecutor:
    """Send `event` (a Mesos v1 executor Event JSON) down the executor's stream."""

    key: ExecutorKey
    event: dict[str, Any]


@dataclass(frozen=True)
class CloseExecutor:
    """End the executor's stream (it exited or was replaced)."""

    key: ExecutorKey


@dataclass(frozen=True)
class Wake:
    """Feed a `Tick` at (or after) time `at` (executor timeouts and grace periods)."""

    at: float


@dataclass(frozen=True)
class Refuse:
    """An executor call is refused (HTTP `status` with `reason`: 400 for a call that names
    no executor of this agent, 401 without a token, 403 with a wrong one); nothing changed."""

    reason: str
    status: int = 400


@dataclass(frozen=True)
class CheckpointChanges:
    """These records changed during the event: write their files (`dcos.agent.checkpoint`)
    before any status update that follows them goes out."""

    agent: bool
    frameworks: AbstractSet[FrameworkID]
    tasks: AbstractSet[tuple[FrameworkID, TaskID]]
    executors: AbstractSet[tuple[FrameworkID, ExecutorID]]


Action = (
    Launch | Destroy | SendToMaster | SendUpdates | UpdatesDue | Watch | Registered
    | ToExecutor | CloseExecutor | Wake | Refuse | CheckpointChanges
)  # fmt: skip
