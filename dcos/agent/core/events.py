"""What goes into the agent core: the one way in, `AgentCore.handle(event, now)`.

Three sources, each parsed from its wire form by the shell before the core sees it:

- the master's stream (`dcos.agent.master_events.parse_master_event` reads the msgpack maps
  of `dcos.protocol.internal`);
- the executors' ``/api/v1/executor`` calls (`dcos.agent.http.executor_api` parses them);
- the shell itself: container outcomes, health verdicts, timers, connection changes, stop.

TaskInfo, FrameworkInfo and ExecutorInfo stay JSON objects (the core keeps them as the master
sent them, and shows them again in ``/state`` and SUBSCRIBE); ids are typed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from dcos.agent.containerizer import ContainerConfig, LaunchResult, Termination
from dcos.agent.core.model import ExecutorKey
from dcos.protocol.ids import AgentID, ContainerID, ExecutorID, FrameworkID, MasterID, TaskID
from dcos.protocol.states import TaskState

# -- from the master -----------------------------------------------------------------------


@dataclass(frozen=True)
class MasterRegistered:
    agent_id: AgentID
    master_id: MasterID
    ping_interval: float | None = None


@dataclass(frozen=True)
class Ping:
    pass


@dataclass(frozen=True)
class RunTasks:
    framework: dict[str, Any]  # FrameworkInfo JSON with its id
    framework_id: FrameworkID
    tasks: list[dict[str, Any]]  # TaskInfo JSON


@dataclass(frozen=True)
class RunTaskGroup:
    framework: dict[str, Any]
    framework_id: FrameworkID
    executor: dict[str, Any]  # ExecutorInfo JSON ({} when the master sent none)
    tasks: list[dict[str, Any]]


@dataclass(frozen=True)
class KillTask:
    framework_id: FrameworkID
    task_id: TaskID
    kill_policy: dict[str, Any] | None = None


@dataclass(frozen=True)
class ShutdownFramework:
    framework_id: FrameworkID


@dataclass(frozen=True)
class Acknowledge:
    framework_id: FrameworkID
    task_id: TaskID
    uuid: str  # base64 text, as the agent's updates carry it


@dataclass(frozen=True)
class UpdateFramework:
    framework: dict[str, Any]
    framework_id: FrameworkID


@dataclass(frozen=True)
class FrameworkMessage:
    framework_id: FrameworkID
    executor_id: ExecutorID
    data: str | None  # base64 text; None when the master sent something else


@dataclass(frozen=True)
class ShutdownExecutor:
    framework_id: FrameworkID
    executor_id: ExecutorID


# -- from the executors (``/api/v1/executor``) ---------------------------------------------


@dataclass(frozen=True)
class ExecutorStatus:
    """A TaskStatus from a custom executor, checked: task id, a state it may report, and a
    uuid of 16 bytes (base64); `status` is the JSON as the executor sent it."""

    task_id: TaskID
    state: TaskState
    uuid: str
    status: dict[str, Any]


@dataclass(frozen=True)
class ExecutorSubscribe:
    framework_id: FrameworkID
    executor_id: ExecutorID
    unacknowledged_tasks: list[dict[str, Any]] = field(default_factory=list)
    unacknowledged_updates: list[ExecutorStatus] = field(default_factory=list)
    # the executor's authentication token (``Authorization: Bearer``, or read from the
    # caller's environment for executors that cannot send it); None: none was presented
    token: str | None = None


@dataclass(frozen=True)
class ExecutorUpdate:
    framework_id: FrameworkID
    executor_id: ExecutorID
    status: ExecutorStatus
    token: str | None = None  # as in ExecutorSubscribe


@dataclass(frozen=True)
class ExecutorMessage:
    framework_id: FrameworkID
    executor_id: ExecutorID
    data: str  # base64 text
    token: str | None = None  # as in ExecutorSubscribe


@dataclass(frozen=True)
class ExecutorDisconnected:
    key: ExecutorKey


# -- from the shell ------------------------------------------------------------------------


@dataclass(frozen=True)
class ContainerLaunched:
    container_id: ContainerID
    result: LaunchResult


@dataclass(frozen=True)
class ContainerExited:
    container_id: ContainerID
    termination: Termination


@dataclass(frozen=True)
class HealthChanged:
    container_id: ContainerID
    healthy: bool


@dataclass(frozen=True)
class HealthFailed:
    container_id: ContainerID
    message: str


@dataclass(frozen=True)
class Disconnected:
    """The master's stream ended; updates wait until the agent is registered again."""


@dataclass(frozen=True)
class MasterRefused:
    """The master refused the agent (it was removed): kill everything, register afresh."""


@dataclass(frozen=True)
class Tick:
    """A `Wake` came due: executor registration timeouts and shutdown grace periods."""


@dataclass(frozen=True)
class SendDueUpdates:
    """The update loop is free to send: answer with the UPDATE call of what is due."""


@dataclass(frozen=True)
class KillAll:
    """The agent is stopping: destroy every container, grace periods capped."""

    grace_cap: float


@dataclass(frozen=True)
class Reattach:
    """After a restart: what the containerizer found of the containers the checkpoint named
    (None: running and reattached; a Termination: ended meanwhile; `outcomes` None: the
    containerizer cannot recover)."""

    expected: Mapping[ContainerID, ContainerConfig]
    outcomes: Mapping[ContainerID, Termination | None] | None


MasterEvent = (
    MasterRegistered | Ping | RunTasks | RunTaskGroup | KillTask | ShutdownFramework
    | Acknowledge | UpdateFramework | FrameworkMessage | ShutdownExecutor
)  # fmt: skip
ExecutorCall = ExecutorSubscribe | ExecutorUpdate | ExecutorMessage | ExecutorDisconnected
ShellEvent = (
    ContainerLaunched | ContainerExited | HealthChanged | HealthFailed | Disconnected
    | MasterRefused | Tick | SendDueUpdates | KillAll | Reattach
)  # fmt: skip
Event = MasterEvent | ExecutorCall | ShellEvent
