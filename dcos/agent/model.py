"""The agent core's data (sans-IO): the actions it returns to its shell and its records of
the agent, its frameworks and their tasks.

Made and kept by `dcos.agent.core.AgentCore` (and its mixins in `dcos.agent.executors`,
`dcos.agent.default_executor`); read by the shell (`dcos.agent.agent`), the HTTP endpoints,
the checkpoint and recovery. `dcos.agent.core` re-exports every name here and defines the
`Action` union (which also holds the executor actions of `dcos.agent.executors`).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

from dcos.agent.containerizer import ContainerConfig
from dcos.protocol.ids import AgentID, ContainerID, ExecutorID, FrameworkID, MasterID, TaskID
from dcos.protocol.mesos import DCOS_PY_VERSION
from dcos.protocol.resources import Resources
from dcos.protocol.states import TaskState

MAX_COMPLETED_TASKS = 1000
MAX_COMPLETED_FRAMEWORKS = 50
AGENT_CAPABILITIES = ["MULTI_ROLE", "HIERARCHICAL_ROLE"]


# -- actions the shell carries out ---------------------------------------------------------


@dataclass(frozen=True)
class Launch:
    container_id: ContainerID
    config: ContainerConfig


@dataclass(frozen=True)
class Destroy:
    container_id: ContainerID
    grace: float


@dataclass(frozen=True)
class Call:
    body: dict[str, Any]


@dataclass(frozen=True)
class Watch:
    """Wait for a container recovered from a previous agent run (`dcos.agent.recovery`)."""

    container_id: ContainerID


@dataclass(frozen=True)
class Registered:
    agent_id: AgentID
    master_id: MasterID
    ping_interval: float | None


# -- state ---------------------------------------------------------------------------------


@dataclass
class TaskRecord:
    framework_id: FrameworkID
    task_id: TaskID
    task: dict[str, Any]
    container_id: ContainerID
    resources: Resources
    sandbox: str = ""
    state: TaskState = TaskState.TASK_STAGING
    statuses: list[dict[str, Any]] = field(default_factory=list)
    launched: bool = False
    kill_requested: bool = False
    grace: float = 3.0
    executor_id: ExecutorID | None = None  # a custom or default executor; None: command
    config: ContainerConfig | None = None  # what it was launched with (checkpointed)
    healthy: bool | None = None  # last health check verdict (None: no check / not yet)
    health_failure: str | None = None  # set when the health checker killed the task


@dataclass
class FrameworkRecord:
    id: FrameworkID
    info: dict[str, Any]
    tasks: dict[TaskID, TaskRecord] = field(default_factory=dict)
    completed: deque[TaskRecord] = field(default_factory=lambda: deque(maxlen=MAX_COMPLETED_TASKS))
    shutting_down: bool = False

    def capabilities(self) -> set[str]:
        return {
            str(c.get("type")) for c in self.info.get("capabilities") or [] if isinstance(c, dict)
        }


@dataclass
class AgentInfo:
    hostname: str
    ip: str
    port: int
    resources: Resources
    attributes: dict[str, str | float] = field(default_factory=dict)
    id: AgentID | None = None

    def to_wire(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "hostname": self.hostname,
            "ip": self.ip,
            "port": self.port,
            "resources": self.resources.to_dict(),
            "attributes": dict(self.attributes),
            "version": DCOS_PY_VERSION,
            "capabilities": list(AGENT_CAPABILITIES),
        }
