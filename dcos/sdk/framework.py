"""The framework layer: the plumbing every framework scheduler needs, built once.

A framework's decision logic (which offers to use, what to launch, when to kill) is best
written as a sans-IO core that returns *framework actions*; the shell hands them to
``await driver.apply(actions)``, which sends the calls together (``asyncio.gather``), logs the
ones that failed and returns each one's outcome. The pieces here:

- Actions (frozen dataclasses, one per scheduler call): `Launch`, `Accept`, `Decline`,
  `Kill`, `Suppress`, `Revive`, `Reconcile`, `Acknowledge`, `Message`; their union is
  `FrameworkAction`. `SchedulerDriver.apply` / `apply_soon` carry them out.
- `framework_info(name, roles=..., capabilities=...)`: the Mesos FrameworkInfo JSON
  (``MULTI_ROLE`` added when roles are given).
- `SuppressionTracker`: SUPPRESS when nothing waits for offers, REVIVE once when demand
  comes back, SUPPRESS again after a re-subscription (a new subscription starts unsuppressed).
- `reconcile_actions(known)`: explicit reconciliation of the tasks a framework knows, then an
  implicit one (the master answers for the tasks the framework forgot), for `registered` /
  `reregistered`. `FrameworkScheduler` (dcos/sdk/scheduler.py) wires these two together.
- `BackgroundTasks`: keeps a reference to every task a framework spawns (so none is garbage
  collected mid-flight), logs what they raise, cancels them on shutdown.

Usage, in a scheduler whose core returns actions::

    from dcos.sdk import (Decline, Launch, SuppressionTracker, framework_info,
                          reconcile_actions, SchedulerDriver)

    info = framework_info("my-fw", roles=["web"], capabilities=["PARTITION_AWARE"],
                          webui_url="http://host:8080", failover_timeout=3600)
    driver = SchedulerDriver(my_scheduler, info, "127.0.0.1:5050")

    # in resource_offers:
    actions = [Launch([offer.id], [task]), Decline([other.id], refuse_seconds=60)]
    actions += tracker.update(wants_offers=bool(pending))      # [Suppress()] / [Revive()] / []
    await driver.apply(actions)                                 # logs failures, never raises

    # in registered / reregistered:
    tracker.resubscribed()
    await driver.apply(reconcile_actions(known_tasks))

Who calls what: framework cores build actions; framework shells call `apply` from their
`Scheduler` callbacks (or `apply_soon` from synchronous code); the driver turns each action into
the Mesos v1 call of the same name (dcos/sdk/calls.py builds the JSON).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from dcos.protocol.ids import AgentID, ExecutorID, OfferID, TaskID
from dcos.sdk.errors import DriverError, NotConnected

Json = dict[str, Any]
OfferRef = OfferID | str | Mapping[str, Any]
"""An offer id, or an `Offer` (its ``id`` is used)."""
TaskRef = TaskID | str | tuple[str, str | None] | Mapping[str, Any]
"""A task id, a ``(task_id, agent_id)`` pair, or a TaskStatus / TaskInfo dict."""

log = logging.getLogger(__name__)


# -- actions ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Launch:
    """ACCEPT `offer_ids` (all of one agent) with one LAUNCH of `tasks` (TaskInfo dicts).
    `refuse_seconds`: filter for the offers' unused remainder. No tasks: a DECLINE."""

    offer_ids: Sequence[OfferRef]
    tasks: Sequence[Json]
    refuse_seconds: float | None = None


@dataclass(frozen=True)
class Accept:
    """ACCEPT `offer_ids` with any Mesos Offer.Operation dicts (RESERVE, LAUNCH_GROUP ...)."""

    offer_ids: Sequence[OfferRef]
    operations: Sequence[Json]
    refuse_seconds: float | None = None


@dataclass(frozen=True)
class Decline:
    """DECLINE `offer_ids`; the master keeps their resources from this framework for
    `refuse_seconds` (until a REVIVE); None = the master's default (5 s)."""

    offer_ids: Sequence[OfferRef]
    refuse_seconds: float | None = None


@dataclass(frozen=True)
class Kill:
    """KILL a task (`agent_id` speeds the master up and is needed for unknown tasks)."""

    task_id: TaskID | str
    agent_id: AgentID | str | None = None


@dataclass(frozen=True)
class Suppress:
    """SUPPRESS offers for `roles` (None: every role of the framework)."""

    roles: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Revive:
    """REVIVE offers for `roles` (None: every role) and clear the decline filters."""

    roles: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Reconcile:
    """RECONCILE `tasks` (see `TaskRef`); none at all is an implicit reconciliation: the
    master sends the latest state of every task it knows for this framework."""

    tasks: tuple[TaskRef, ...] = ()


@dataclass(frozen=True)
class Acknowledge:
    """ACKNOWLEDGE a status update (only with implicit acknowledgements off)."""

    status: Mapping[str, Any]


@dataclass(frozen=True)
class Message:
    """MESSAGE: `data` to an executor of this framework."""

    agent_id: AgentID | str
    executor_id: ExecutorID | str
    data: bytes


FrameworkAction = (
    Launch | Accept | Decline | Kill | Suppress | Revive | Reconcile | Acknowledge | Message
)


# -- FrameworkInfo ----------------------------------------------------------------------


def framework_info(
    name: str,
    *,
    roles: Iterable[str] | None = None,
    capabilities: Iterable[str] = (),
    webui_url: str | None = None,
    labels: Mapping[str, str] | None = None,
    failover_timeout: float | None = None,
    hostname: str | None = None,
    checkpoint: bool | None = None,
    principal: str | None = None,
    user: str | None = None,
    framework_id: str | None = None,
) -> Json:
    """A Mesos v1 FrameworkInfo JSON object, for `SchedulerDriver(scheduler, info, master)`.

    `capabilities` are type names (``"PARTITION_AWARE"``, ``"TASK_KILLING_STATE"``,
    ``"GPU_RESOURCES"`` ...); ``MULTI_ROLE`` is added when `roles` are given. `labels` become
    ``{"labels": [{"key", "value"}]}``; `failover_timeout` is in seconds; `framework_id`
    makes the first SUBSCRIBE a failover of that framework. ``user`` defaults (in the driver)
    to the current user."""
    info: Json = {"name": name}
    caps = list(dict.fromkeys(capabilities))
    if roles is not None:
        info["roles"] = list(roles)
        if "MULTI_ROLE" not in caps:
            caps.append("MULTI_ROLE")
    if caps:
        info["capabilities"] = [{"type": c} for c in caps]
    if webui_url is not None:
        info["webui_url"] = webui_url
    if labels:
        info["labels"] = {"labels": [{"key": k, "value": v} for k, v in labels.items()]}
    if failover_timeout is not None:
        info["failover_timeout"] = float(failover_timeout)
    if hostname is not None:
        info["hostname"] = hostname
    if checkpoint is not None:
        info["checkpoint"] = checkpoint
    if principal is not None:
        info["principal"] = principal
    if user is not None:
        info["user"] = user
    if framework_id:
        info["id"] = {"value": framework_id}
    return info


# -- suppression and reconciliation ------------------------------------------------------


class SuppressionTracker:
    """Whether offers are suppressed, and the SUPPRESS / REVIVE that keeps it in step with
    demand (sans-IO: returns actions). Called by a framework after each decision round
    (`update`) and on every SUBSCRIBED (`resubscribed`)."""

    def __init__(self, roles: Iterable[str] | None = None) -> None:
        self.roles: tuple[str, ...] | None = tuple(roles) if roles is not None else None
        self.suppressed = False

    def update(self, wants_offers: bool, *, may_suppress: bool = True) -> list[Suppress | Revive]:
        """`Revive` when offers are wanted while suppressed; `Suppress` when they are not
        wanted and `may_suppress` (e.g. False while a relaunch backoff is pending, so the
        offers come back when it expires); otherwise nothing."""
        if wants_offers and self.suppressed:
            self.suppressed = False
            return [Revive(self.roles)]
        if not wants_offers and not self.suppressed and may_suppress:
            self.suppressed = True
            return [Suppress(self.roles)]
        return []

    def revive(self) -> list[Revive]:
        """A `Revive` whatever the state (also clears decline filters, e.g. after a task was
        lost and must be placed again at once)."""
        self.suppressed = False
        return [Revive(self.roles)]

    def resubscribed(self) -> None:
        """A new subscription starts unsuppressed: the next `update` without demand
        suppresses again. Called from `registered` and `reregistered`."""
        self.suppressed = False


def reconcile_actions(known: Iterable[TaskRef] = (), *, implicit: bool = True) -> list[Reconcile]:
    """The reconciliation to send after (re)registering: one explicit RECONCILE of the
    `known` tasks (their latest state, TASK_LOST/UNKNOWN for those the master lost), then,
    with `implicit`, one implicit RECONCILE (updates for tasks the framework does not know,
    which it may then kill)."""
    out: list[Reconcile] = []
    tasks = tuple(known)
    if tasks:
        out.append(Reconcile(tasks))
    if implicit:
        out.append(Reconcile())
    return out


# -- background tasks ---------------------------------------------------------------------


class BackgroundTasks:
    """The asyncio tasks a framework started and does not await at once.

    `spawn` keeps a reference until the task ends (the event loop keeps only weak ones) and
    logs what it raised: `DriverError` at info/warning (a call not delivered), anything else
    as an error with its traceback. `close` cancels the rest; called on shutdown."""

    def __init__(self, logger: logging.Logger | None = None) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()
        self._log = logger or log

    def spawn(
        self, coro: Coroutine[Any, Any, Any], *, name: str | None = None
    ) -> asyncio.Task[Any]:
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            return
        exc = task.exception()
        if isinstance(exc, NotConnected):
            self._log.info("%s: %s", task.get_name(), exc)
        elif isinstance(exc, DriverError):
            self._log.warning("%s: %s", task.get_name(), exc)
        elif exc is not None:
            self._log.error("%s failed", task.get_name(), exc_info=exc)

    def __len__(self) -> int:
        return len(self._tasks)

    def __iter__(self) -> Iterator[asyncio.Task[Any]]:
        return iter(set(self._tasks))

    async def wait(self, timeout: float | None = None) -> None:
        """Wait until every task ended (or `timeout` passed)."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=timeout)

    async def close(self) -> None:
        """Cancel every task still running and wait for them to end."""
        tasks = set(self._tasks)
        for t in tasks:
            t.cancel()
        if tasks:
            await asyncio.wait(tasks)


def log_failures(actions: Sequence[FrameworkAction], results: Sequence[object]) -> None:
    """Log each action whose call failed (`NotConnected` at info, other `DriverError`s at
    warning, anything else as an error). Called by `SchedulerDriver.apply`."""
    for action, r in zip(actions, results, strict=True):
        kind = type(action).__name__
        if isinstance(r, NotConnected):
            log.info("%s not sent: %s", kind, r)
        elif isinstance(r, DriverError):
            log.warning("%s failed: %s", kind, r)
        elif isinstance(r, BaseException):
            log.error("%s failed", kind, exc_info=r)
