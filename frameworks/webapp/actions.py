"""What goes into the webapp core and what comes out of it (typed, no I/O).

Inputs: the shell parses each driver callback and API request into one of the dataclasses
below (`TaskUpdate` from a Mesos TaskStatus, `Deploy`, `KillTasks` ... from a request) and
calls the core's matching entry point with it and ``now``.

Outputs: every entry point returns a list of `Action`s, the only way anything leaves the
core. The shell (`frameworks.webapp.scheduler.WebappService.apply`) carries them out in one
`match`: `Persist`/`Delete` go to the `WebappStore` (always before any launch of the same
batch), `Publish` to the event bus, `WakeAt` to a timer, and the SDK's framework actions (`Launch`, `Decline`,
`Kill`, `Suppress`, `Revive`, `Reconcile`; `dcos.sdk.framework`) to ``driver.apply``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from dcos.protocol.ids import AgentID, TaskID
from dcos.sdk import TaskStatus
from dcos.sdk.framework import Decline, Kill, Launch, Reconcile, Revive, Suppress
from frameworks.webapp.deployments import Deployment
from frameworks.webapp.instances import Instance
from frameworks.webapp.model.spec import AppId, AppSpec, GroupId

Json = dict[str, Any]

# -- inputs -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TaskUpdate:
    """A task status update (or reconciliation answer), parsed from a Mesos TaskStatus."""

    task_id: TaskID
    state: str
    agent_id: AgentID | None = None
    healthy: bool | None = None
    message: str = ""
    reason: str | None = None

    @classmethod
    def of(cls, status: Mapping[str, Any]) -> TaskUpdate:
        """Parse a TaskStatus dict (called by the shell for every update)."""
        st = status if isinstance(status, TaskStatus) else TaskStatus(status)
        healthy = st.get("healthy")
        return cls(st.task_id, st.state, st.agent_id, None if healthy is None else bool(healthy),
                   str(st.get("message") or ""), st.reason)  # fmt: skip


@dataclass(frozen=True, slots=True)
class GroupUpdate:
    """The group side of a deployment made by /v2/groups: `deps` (group -> dependencies) to
    set, `remove` groups to delete; `record` keeps a version of group `id` afterwards and
    announces ``group_change_success``."""

    id: GroupId
    deps: Mapping[str, list[str]] = field(default_factory=dict)
    remove: tuple[str, ...] = ()
    record: bool = True


@dataclass(frozen=True, slots=True)
class Deploy:
    """Bring each app of `changes` to its new definition (None: remove it). `restart` forces
    a new configuration of those apps even when nothing changed."""

    changes: Mapping[AppId, AppSpec | None]
    force: bool = False
    restart: frozenset[AppId] = frozenset()
    group: GroupUpdate | None = None


@dataclass(frozen=True, slots=True)
class KillTasks:
    """``DELETE /v2/apps/{id}/tasks``, ``POST /v2/tasks/delete``: kill (`scale`: and lower
    the apps' instance counts; `wipe`: and expunge the records at once)."""

    task_ids: tuple[TaskID, ...]
    scale: bool = False
    wipe: bool = False
    force: bool = False


@dataclass(frozen=True, slots=True)
class Readiness:
    """A readiness check result of one task (from the shell's poller)."""

    task_id: TaskID
    ready: bool
    result: Json | None = None


@dataclass(frozen=True, slots=True)
class StopDeployment:
    """``DELETE /v2/deployments/{id}``: roll it back, or with `force` just forget it."""

    deployment_id: str
    force: bool = False


@dataclass(frozen=True, slots=True)
class ResetDelay:
    """``DELETE /v2/queue/{id}/delay``."""

    app_id: AppId


@dataclass(frozen=True, slots=True)
class Offers:
    """Offers arrived (the core gets the `Offer`s themselves; the log keeps their ids)."""

    offer_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Subscribed:
    """(Re-)subscribed to the master."""

    framework_id: str | None


@dataclass(frozen=True, slots=True)
class Tick:
    """The shell's timer fired."""


@dataclass(frozen=True, slots=True)
class Evaluate:
    """A coalesced planning pass after a burst of updates."""


# -- outputs ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AppRecord:
    """What is stored of one app: its definition, whether it is being stopped, its history."""

    app: AppSpec
    stopping: bool
    versions: tuple[AppSpec, ...]


@dataclass(frozen=True, slots=True)
class GroupVersion:
    group_id: str
    version: str
    snapshot: Json


@dataclass(frozen=True, slots=True)
class GroupsRecord:
    groups: Mapping[str, Json]


Record = AppRecord | Instance | Deployment | GroupsRecord | GroupVersion
RecordKind = Literal["app", "instance", "deployment", "group-version"]


@dataclass(frozen=True, slots=True)
class Persist:
    """Write `record` (an Instance is written as it is when the batch is written)."""

    record: Record


@dataclass(frozen=True, slots=True)
class Delete:
    """Remove a stored record (`id`: app id, task id, deployment id or ``group@version``)."""

    kind: RecordKind
    id: str


@dataclass(frozen=True, slots=True)
class Publish:
    """An event for the event stream and the HTTP callback subscribers."""

    kind: str
    payload: Json


@dataclass(frozen=True, slots=True)
class WakeAt:
    """Run the core's `tick` at `time` (not later than the shell's next regular tick): a task
    being drained from the load balancers is killed then."""

    time: float


DriverAction = Launch | Decline | Kill | Suppress | Revive | Reconcile
"""The scheduler calls, as `dcos.sdk.framework` actions (carried out by ``driver.apply``)."""
Action = Persist | Delete | Publish | WakeAt | DriverAction


@dataclass(frozen=True, slots=True)
class Conflict:
    """A deployment already touches these apps (answer 409 unless forced)."""

    deployments: list[str]
