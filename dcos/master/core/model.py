"""The master core's data: frameworks, agents, tasks, offers, settings and the actions the
core returns to its shell.

Created and changed only by the `MasterCore` mixins (frameworks, agents, offers, tasks);
read by the shell's JSON views (`dcos.master.http.state_json`).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from dcos.master.core.observed import Observed
from dcos.protocol.ids import AgentID, FrameworkID, OfferID, Role, TaskID
from dcos.protocol.mesos import PARTITION_AWARE, FrameworkInfo
from dcos.protocol.resources import Resources
from dcos.state.registry import Operation

MAX_COMPLETED_TASKS = 1000
MAX_COMPLETED_FRAMEWORKS = 100


@dataclass
class MasterSettings:
    """Timeouts and intervals (seconds) the core decides with."""

    agent_ping_timeout: float = 15.0
    max_agent_ping_timeouts: int = 5
    agent_reregister_timeout: float = 600.0
    offer_timeout: float | None = None
    heartbeat_interval: float = 15.0
    default_refuse_seconds: float = 5.0


# -- actions returned to the shell -------------------------------------------------------
#
# Plain slotted dataclasses (not frozen: one is made per event on the hot path, and a frozen
# one costs several times as much to create); nobody changes them once made.


@dataclass(slots=True)
class ToFramework:
    """Send a scheduler event (Mesos v1 JSON) on the framework's current stream."""

    framework_id: FrameworkID
    event: dict[str, Any]


@dataclass(slots=True)
class ToAgent:
    """Send an internal-channel event (dcos.protocol.internal) on the agent's stream."""

    agent_id: AgentID
    event: dict[str, Any]


@dataclass(slots=True)
class CloseFramework:
    """End the framework's stream (torn down or removed)."""

    framework_id: FrameworkID


@dataclass(slots=True)
class CloseAgent:
    """End the agent's stream (it was marked unreachable or replaced)."""

    agent_id: AgentID


@dataclass(slots=True)
class Persist:
    """Write this registry operation; actions after it wait for the write."""

    op: Operation


@dataclass(frozen=True, slots=True)
class AllocateSoon:
    """Resources were freed (or demand appeared): run an allocation cycle soon (the shell
    debounces; at most one per entry-point call)."""


ALLOCATE_SOON = AllocateSoon()

Action = ToFramework | ToAgent | CloseFramework | CloseAgent | Persist | AllocateSoon | Observed


# -- records -----------------------------------------------------------------------------


@dataclass(slots=True)
class Task:
    task_id: TaskID
    framework_id: FrameworkID
    agent_id: AgentID
    name: str
    role: Role
    resources: Resources
    info: dict[str, Any]
    executor_id: str | None = None
    state: str = "TASK_STAGING"
    status: dict[str, Any] | None = None
    statuses: list[dict[str, Any]] = field(default_factory=list)
    # the JSON views' cache of this task's encoded form (`dcos.master.http.state_json`)
    view: Any = field(default=None, repr=False, compare=False)


@dataclass(slots=True)
class Offer:
    id: OfferID
    framework_id: FrameworkID
    agent_id: AgentID
    role: Role
    resources: Resources
    created: float
    expires: float | None
    # the JSON views' cache of its encoded form (`dcos.master.http.state_json`)
    view: Any = field(default=None, repr=False, compare=False)


@dataclass(slots=True)
class Framework:
    id: FrameworkID
    info: dict[str, Any]
    roles: tuple[Role, ...]
    capabilities: frozenset[str]
    registered_time: float
    stream_id: str | None = None
    connected: bool = False
    active: bool = False
    recovered: bool = False
    reregistered_time: float | None = None
    unregistered_time: float | None = None
    failover_deadline: float | None = None
    next_heartbeat: float = 0.0
    tasks: dict[TaskID, Task] = field(default_factory=dict)
    unreachable_tasks: dict[TaskID, Task] = field(default_factory=dict)
    completed_tasks: OrderedDict[TaskID, Task] = field(default_factory=OrderedDict)
    offers: set[OfferID] = field(default_factory=set)
    suppressed_roles: set[Role] = field(default_factory=set)
    failover_timeout: float = 0.0
    # the JSON views' cache of what its tasks use and are offered (`..http.state_json`)
    view: Any = field(default=None, repr=False, compare=False)

    @property
    def partition_aware(self) -> bool:
        return PARTITION_AWARE in self.capabilities

    def take_info(self, info: FrameworkInfo, json: dict[str, Any]) -> None:
        """Adopt a (new) FrameworkInfo; `json` is what is stored and shown (with the id)."""
        self.info = json
        self.roles, self.capabilities = info.roles, info.capabilities
        self.failover_timeout = info.failover_timeout

    def complete(self, task: Task) -> None:
        """Move a task to the bounded completed list."""
        self.tasks.pop(task.task_id, None)
        self.unreachable_tasks.pop(task.task_id, None)
        self.completed_tasks[task.task_id] = task
        self.completed_tasks.move_to_end(task.task_id)
        while len(self.completed_tasks) > MAX_COMPLETED_TASKS:
            self.completed_tasks.popitem(last=False)


@dataclass(slots=True)
class Agent:
    id: AgentID
    info: dict[str, Any]
    hostname: str
    ip: str
    port: int
    total: Resources
    attributes: dict[str, Any]
    registered_time: float
    last_seen: float
    next_ping: float
    connected: bool = True
    deactivated: bool = False  # by the operator (DEACTIVATE_AGENT): no offers of it
    reregistered_time: float | None = None
    stream_token: object = None
    peer: str | None = None  # the host its SUBSCRIBE came from (None: not known)
    reserved_role: Role | None = None  # the whole agent statically reserved to it (None: not)
    tasks: dict[tuple[FrameworkID, TaskID], Task] = field(default_factory=dict)
    offers: set[OfferID] = field(default_factory=set)
    # the JSON views' cache of this agent's encoded form (`dcos.master.http.state_json`)
    view: Any = field(default=None, repr=False, compare=False)

    def used(self) -> Resources:
        tasks = self.tasks
        if len(tasks) <= 1:  # the common case: no summing, the same object every time
            return next(iter(tasks.values())).resources if tasks else Resources.empty()
        return Resources.total([t.resources for t in tasks.values()])
