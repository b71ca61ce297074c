"""`Scheduler`: the callbacks a framework implements.

Subclass it and override the callbacks you need; all are ``async`` and do nothing by
default. `SchedulerDriver` calls them one at a time, in the order the master's events
arrived (a slow callback delays the next one); an exception raised by a callback is logged
and the driver carries on. Callbacks may call any driver method, including ``await
driver.stop()``. A callback may also be a plain ``def`` (as in pymesos): the driver awaits
only what is awaitable; such a callback starts calls with ``driver.apply_soon(actions)``.
`FrameworkScheduler` (below) adds reconciliation on every SUBSCRIBED and offer suppression.

What each callback receives (ids are typed strings from `dcos.protocol.ids`):

- `registered(driver, framework_id, master_info)`: the first SUBSCRIBED of this driver's
  life, including a failover (restarted scheduler subscribing with its old framework id);
  persist `framework_id` to fail over later. `master_info` is the Mesos MasterInfo dict.
- `reregistered(driver, master_info)`: a later SUBSCRIBED after the driver reconnected
  (stream dropped, master failover). A good place to `reconcile()`.
- `disconnected(driver)`: the subscription stream ended; the driver is reconnecting.
- `resource_offers(driver, offers)`: a list of `Offer` (Mesos Offer JSON dicts).
- `offer_rescinded(driver, offer_id)`.
- `status_update(driver, status)`: a `TaskStatus` (Mesos TaskStatus JSON dict). With implicit
  acknowledgements (the default) the driver acknowledges it after this callback returns.
- `framework_message(driver, executor_id, agent_id, data)`: `data` is the decoded bytes.
- `agent_lost(driver, agent_id)`.
- `executor_lost(driver, executor_id, agent_id, status)`: `status` is the exit status or None.
- `error(driver, message)`: the master sent ERROR (e.g. the framework was removed); the driver
  stops (aborted) after this callback.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from dcos.protocol.ids import AgentID, ExecutorID, FrameworkID, OfferID
from dcos.sdk.driver import SchedulerDriver
from dcos.sdk.framework import BackgroundTasks, SuppressionTracker, TaskRef, reconcile_actions
from dcos.sdk.types import Offer, TaskStatus


class Scheduler:
    """Base class of a framework scheduler; every callback is an async no-op."""

    async def registered(
        self, driver: SchedulerDriver, framework_id: FrameworkID, master_info: dict[str, Any]
    ) -> None:
        pass

    async def reregistered(self, driver: SchedulerDriver, master_info: dict[str, Any]) -> None:
        pass

    async def disconnected(self, driver: SchedulerDriver) -> None:
        pass

    async def resource_offers(self, driver: SchedulerDriver, offers: list[Offer]) -> None:
        pass

    async def offer_rescinded(self, driver: SchedulerDriver, offer_id: OfferID) -> None:
        pass

    async def status_update(self, driver: SchedulerDriver, status: TaskStatus) -> None:
        pass

    async def framework_message(
        self, driver: SchedulerDriver, executor_id: ExecutorID, agent_id: AgentID, data: bytes
    ) -> None:
        pass

    async def agent_lost(self, driver: SchedulerDriver, agent_id: AgentID) -> None:
        pass

    async def executor_lost(
        self,
        driver: SchedulerDriver,
        executor_id: ExecutorID,
        agent_id: AgentID | None,
        status: int | None,
    ) -> None:
        pass

    async def error(self, driver: SchedulerDriver, message: str) -> None:
        pass


class FrameworkScheduler(Scheduler):
    """A `Scheduler` with the framework layer wired in (dcos/sdk/framework.py).

    On every SUBSCRIBED (`registered` and `reregistered` alike) it marks offers unsuppressed
    and reconciles: explicitly the tasks `known_tasks()` lists, then implicitly; then it calls
    `subscribed(driver, first)`, the hook to override (instead of `registered` /
    `reregistered`; if you override those, call ``super()``). `demand(driver, wants)`
    suppresses or revives offers as needed; `background` keeps spawned tasks."""

    def __init__(self, *, roles: Iterable[str] | None = None, implicit_reconcile: bool = True):
        self.suppression = SuppressionTracker(roles)
        self.background = BackgroundTasks()
        self.implicit_reconcile = implicit_reconcile

    def known_tasks(self) -> Iterable[TaskRef]:
        """The tasks to reconcile explicitly after (re)subscribing; none by default."""
        return ()

    async def subscribed(self, driver: SchedulerDriver, first: bool) -> None:
        """After each SUBSCRIBED and its reconciliation; `first` for `registered`."""

    async def registered(
        self, driver: SchedulerDriver, framework_id: FrameworkID, master_info: dict[str, Any]
    ) -> None:
        await self._on_subscribed(driver, True)

    async def reregistered(self, driver: SchedulerDriver, master_info: dict[str, Any]) -> None:
        await self._on_subscribed(driver, False)

    async def _on_subscribed(self, driver: SchedulerDriver, first: bool) -> None:
        self.suppression.resubscribed()
        await driver.apply(reconcile_actions(self.known_tasks(), implicit=self.implicit_reconcile))
        await self.subscribed(driver, first)

    async def demand(
        self, driver: SchedulerDriver, wants_offers: bool, *, may_suppress: bool = True
    ) -> None:
        """SUPPRESS when no offers are wanted, REVIVE once when they are again."""
        actions = self.suppression.update(wants_offers, may_suppress=may_suppress)
        if actions:
            await driver.apply(actions)
