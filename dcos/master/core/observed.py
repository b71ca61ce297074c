"""What the master core tells operator subscribers: the facts behind Mesos' master v1
operator ``Event`` (TASK_ADDED, TASK_UPDATED, AGENT_ADDED, AGENT_REMOVED, FRAMEWORK_ADDED,
FRAMEWORK_UPDATED, FRAMEWORK_REMOVED).

The core returns them inside `Observed` actions (`dcos.master.core.model`), and only while
the shell has told it that an operator subscribes (`MasterCore.observe`): with nobody
watching the hot path makes none. They point at the core's records (read, never changed,
by the shell); the shell's operator feed (`dcos.master.http.operator_feed`) renders them
with the same v1 JSON builders as GET_STATE, once per event whatever the number of
subscribers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dcos.protocol.ids import AgentID

if TYPE_CHECKING:  # model imports this module (the `Observed` action)
    from dcos.master.core.model import Agent, Framework, Task


@dataclass(slots=True)
class TaskAdded:
    """A task became known: launched by a scheduler, or reported by a (re-)registering agent."""

    task: Task


@dataclass(slots=True)
class TaskUpdated:
    """The task's latest state changed; `status` is the status that changed it, `state` that
    state (both as they were when the core made the event)."""

    task: Task
    status: dict[str, Any]
    state: str


@dataclass(slots=True)
class AgentAdded:
    """An agent registered or re-registered (its new record)."""

    agent: Agent


@dataclass(slots=True)
class AgentRemoved:
    """A registered agent is gone: unreachable, or replaced by a new agent at its address."""

    agent_id: AgentID


@dataclass(slots=True)
class FrameworkAdded:
    """A framework became known: a new SUBSCRIBE, or reported by a re-registering agent."""

    framework: Framework


@dataclass(slots=True)
class FrameworkUpdated:
    """A framework re-subscribed (failover) or its scheduler disconnected."""

    framework: Framework


@dataclass(slots=True)
class FrameworkRemoved:
    """A framework was torn down or its failover timeout expired (its FrameworkInfo)."""

    info: dict[str, Any]


ObservedEvent = (
    TaskAdded
    | TaskUpdated
    | AgentAdded
    | AgentRemoved
    | FrameworkAdded
    | FrameworkUpdated
    | FrameworkRemoved
)


@dataclass(slots=True)
class Observed:
    """Action: tell the operator subscribers `event`. `seq` numbers the core's observed
    events (from 1, per core): a subscriber gets those after the number `observe` gave it
    with its snapshot, never one its snapshot already shows."""

    seq: int
    event: ObservedEvent
