"""The agent core's records (sans-IO): the agent, its frameworks, their tasks and executors.

Made and kept by the parts of `dcos.agent.core.AgentCore` (the task ledger, the executor
supervisor, the task groups); read by the shell (`dcos.agent.shell`), the HTTP views
(`dcos.agent.http`), the checkpoint and recovery.
"""

from __future__ import annotations

import secrets
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from dcos.agent.command_executor import EXECUTOR_SHUTDOWN_GRACE
from dcos.agent.containerizer import ContainerConfig
from dcos.protocol.ids import AgentID, ContainerID, ExecutorID, FrameworkID, TaskID
from dcos.protocol.mesos import DCOS_PY_VERSION
from dcos.protocol.resources import Resources
from dcos.protocol.states import TaskState

MAX_COMPLETED_TASKS = 1000
MAX_COMPLETED_FRAMEWORKS = 50
AGENT_CAPABILITIES = ["MULTI_ROLE", "HIERARCHICAL_ROLE"]
MAX_COMPLETED_EXECUTORS = 200
ExecutorKey = tuple[FrameworkID, ExecutorID]

# executor states
LAUNCHING = "LAUNCHING"  # container being started
REGISTERING = "REGISTERING"  # process up, not subscribed (yet / any more)
RUNNING = "RUNNING"  # subscribed: events flow
TERMINATING = "TERMINATING"  # shutdown asked; killed at `shutdown_deadline`
TERMINATED = "TERMINATED"


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
    reserved_role: str | None = None  # `--resources` as name(ROLE):value: the whole agent

    def to_wire(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "hostname": self.hostname,
            "ip": self.ip,
            "port": self.port,
            "resources": self.resources.to_dict(),
            "attributes": dict(self.attributes),
            "version": DCOS_PY_VERSION,
            "capabilities": list(AGENT_CAPABILITIES),
        }
        if self.reserved_role is not None:
            out["reserved_role"] = self.reserved_role
        return out


@dataclass
class ExecutorRecord:
    """A custom executor (its own process) or the default executor of task groups (played
    by the agent itself); kept by `dcos.agent.core.supervisor.ExecutorSupervisor`."""

    framework_id: FrameworkID
    executor_id: ExecutorID
    info: dict[str, Any]  # ExecutorInfo JSON, ids normalised
    container_id: ContainerID
    sandbox: str
    kind: str = "custom"  # "custom" (own process) or "default" (task groups, in the agent)
    state: str = LAUNCHING
    resources: Resources = field(default_factory=Resources.empty)
    tasks: set[TaskID] = field(default_factory=set)  # not yet completed
    queued: list[tuple[bool, list[TaskID]]] = field(default_factory=list)  # (group?, ids)
    groups: list[set[TaskID]] = field(default_factory=list)  # task groups (default executor)
    unacked: dict[str, TaskID] = field(default_factory=dict)  # executor update uuid -> task
    registration_deadline: float | None = None
    shutdown_deadline: float | None = None
    grace: float = EXECUTOR_SHUTDOWN_GRACE
    launched: bool = False  # container started (custom executors)
    adopted: bool = False  # (older agents) re-subscribed without this agent having started it
    # started with an authentication token in its environment (custom_executor.TOKEN_ENV),
    # which its calls must present; False only for executors an agent without tokens started
    token_auth: bool = True
    exit_status: int | None = None

    @property
    def key(self) -> ExecutorKey:
        return (self.framework_id, self.executor_id)

    @property
    def alive_custom(self) -> bool:
        """A custom executor that has not terminated."""
        return self.kind == "custom" and self.state != TERMINATED


@dataclass
class LaunchSite:
    """Where and as whom the core launches containers: the agent's info (id, address),
    work directory and base environment (a snapshot of the agent's own, taken once)."""

    info: AgentInfo
    work_dir: str
    base_env: dict[str, str] | None = None
    # the key of the executors' authentication tokens (`custom_executor.executor_token`): the
    # shell loads it from the meta dir at start; a fresh random one until then
    executor_secret: bytes = field(default_factory=lambda: secrets.token_bytes(32), repr=False)

    @property
    def agent_id(self) -> AgentID:
        return self.info.id or AgentID("")

    @property
    def endpoint(self) -> str:
        return f"{self.info.ip}:{self.info.port}"
