"""Shared state and helpers of the master core (the mixins in frameworks.py, agents.py,
offers.py and tasks.py all build on `CoreBase`).

The core is sans-IO: every public method takes typed inputs and ``now``, changes state, and
returns the list of actions (`model.Action`) for the shell to carry out, in order.
"""

from __future__ import annotations

import logging
from typing import Any

from dcos.allocator.interface import Allocator
from dcos.master.core.books import AgentBook, FrameworkBook, MasterUpdates
from dcos.master.core.model import (
    ALLOCATE_SOON,
    Action,
    Agent,
    Framework,
    MasterSettings,
    Offer,
    Task,
    ToAgent,
    ToFramework,
)
from dcos.master.core.observed import Observed, ObservedEvent, TaskUpdated
from dcos.master.core.offer_book import OfferBook
from dcos.protocol import internal
from dcos.protocol.ids import MasterID, OfferID, TaskID, wrap
from dcos.protocol.mesos import task_status
from dcos.protocol.resources import Resources
from dcos.protocol.states import Reason, Source, is_terminal
from dcos.state.leader import MasterInfo

log = logging.getLogger(__name__)


class CallOutcome:
    """HTTP-level answer to a non-SUBSCRIBE call: 202, or an error status and message."""

    __slots__ = ("status", "message")

    def __init__(self, status: int = 202, message: str = "") -> None:
        self.status = status
        self.message = message


class CoreBase:
    def __init__(
        self,
        settings: MasterSettings,
        allocator: Allocator,
        master_info: MasterInfo,
        now: float,
    ) -> None:
        self.settings = settings
        self.allocator = allocator
        self.master_info = master_info
        self.master_id = MasterID(master_info.id)
        self.start_time = now
        self.agent_book = AgentBook()
        self.framework_book = FrameworkBook()
        self.offers = OfferBook(self.master_id)
        self.master_updates = MasterUpdates()
        # the books' own dicts, under the names the JSON views and tests read
        self.agents = self.agent_book.registered
        self.recovered_agents = self.agent_book.expected
        self.unreachable_agents = self.agent_book.unreachable
        self.frameworks = self.framework_book.live
        self.completed_frameworks = self.framework_book.completed
        # the actions of the entry-point call now running (see `_begin` / `_end`)
        self._out: list[Action] = []
        self._allocate_soon = False
        self.counters: dict[str, int] = {}
        self.weights: dict[str, float] = {}
        self.quota: dict[str, Resources] = {}
        # operator subscribers (`observe`): `Observed` actions are made only while True
        self.observed = False
        self.observed_seq = 0

    # -- plumbing -------------------------------------------------------------------------
    #
    # Each public entry point calls `_begin()` first and returns `_end()`: the helpers it
    # calls append actions to `self._out`, a list that belongs to that one call and is
    # handed back whole (nothing stays behind for the shell to poll).

    def _begin(self) -> None:
        self._out = []
        self._allocate_soon = False

    def _end(self) -> list[Action]:
        out, self._out = self._out, []
        return out

    def _allocate(self) -> None:
        """Ask the shell for an allocation cycle soon (once per call)."""
        if not self._allocate_soon:
            self._allocate_soon = True
            self._out.append(ALLOCATE_SOON)

    def _observe(self, event: ObservedEvent) -> None:
        """Queue an operator event; callers check `self.observed` first (and build nothing
        while nobody watches)."""
        self.observed_seq += 1
        self._out.append(Observed(self.observed_seq, event))

    def _count(self, name: str, n: int = 1) -> None:
        self.counters[name] = self.counters.get(name, 0) + n

    def _to_framework(self, fw: Framework, event: dict[str, Any]) -> None:
        """Queue a scheduler event; dropped when the framework has no stream."""
        if fw.connected:
            self._out.append(ToFramework(fw.id, event))

    def _to_agent(self, agent: Agent | None, event: dict[str, Any]) -> None:
        if agent is not None and agent.connected:
            self._out.append(ToAgent(agent.id, event))

    # -- offers -----------------------------------------------------------------------------

    def _add_offer(self, offer: Offer) -> None:
        self.offers.add(offer)
        self.frameworks[offer.framework_id].offers.add(offer.id)
        self.agents[offer.agent_id].offers.add(offer.id)

    def _remove_offer(self, offer: Offer) -> None:
        self.offers.pop(offer.id)
        fw = self.frameworks.get(offer.framework_id)
        if fw is not None:
            fw.offers.discard(offer.id)
        agent = self.agents.get(offer.agent_id)
        if agent is not None:
            agent.offers.discard(offer.id)

    def _rescind_offer(self, offer: Offer, *, notify: bool = True) -> None:
        """Withdraw an outstanding offer and give its resources back (no filter)."""
        self._remove_offer(offer)
        self.allocator.recover(offer.framework_id, offer.agent_id, offer.role, offer.resources)
        self._allocate()
        fw = self.frameworks.get(offer.framework_id)
        if notify and fw is not None:
            self._to_framework(fw, {"type": "RESCIND", "rescind": {"offer_id": wrap(offer.id)}})
        self._count("offers_rescinded")

    def _rescind_offers(self, ids: set[OfferID], *, notify: bool = True) -> None:
        for oid in list(ids):
            offer = self.offers.get(oid)
            if offer is not None:
                self._rescind_offer(offer, notify=notify)

    # -- tasks ------------------------------------------------------------------------------

    def _set_task_status(self, task: Task, status: dict[str, Any]) -> None:
        """Record `status` as the task's latest; a new state goes to its history (and to
        operator subscribers as TASK_UPDATED, unless the task is new: TASK_ADDED follows)."""
        state = status["state"]
        task.status = status
        if task.state != state or not task.statuses:
            if self.observed and task.statuses:
                self._observe(TaskUpdated(task, status, state))
            task.statuses.append({"state": state, "timestamp": status.get("timestamp")})
        task.state = state

    def _release_task(self, task: Task) -> None:
        """A task became terminal (or lost): free its resources and move it to completed."""
        fw = self.frameworks.get(task.framework_id)
        agent = self.agents.get(task.agent_id)
        key = (task.framework_id, task.task_id)
        if agent is not None and key in agent.tasks:
            del agent.tasks[key]
            self.allocator.recover(task.framework_id, task.agent_id, task.role, task.resources)
            self._allocate()
        if fw is not None:
            fw.complete(task)

    def _master_status(
        self,
        fw: Framework | None,
        task_id: str,
        state: str,
        agent_id: str | None,
        now: float,
        *,
        reason: str | None = None,
        message: str | None = None,
    ) -> dict[str, Any]:
        """A master-generated status update sent to `fw`; it carries a uuid (and so is
        acknowledged) only when there is an agent id, as schedulers require."""
        uuid = self.master_updates.issue() if agent_id is not None else None
        status = task_status(
            task_id, state, agent_id=agent_id, source=Source.SOURCE_MASTER, timestamp=now,
            uuid=uuid, reason=reason, message=message,
        )  # fmt: skip
        if fw is not None:
            self._to_framework(fw, {"type": "UPDATE", "update": {"status": status}})
        return status

    def _find_task(self, fw: Framework, task_id: str) -> Task | None:
        tid = TaskID(task_id)
        return fw.tasks.get(tid) or fw.unreachable_tasks.get(tid)

    def _run_tasks_event(self, fw: Framework, tasks: list[dict[str, Any]]) -> dict[str, Any]:
        return {"type": internal.RUN_TASKS, "framework": fw.info, "tasks": tasks}

    def _reconcile_status(
        self, tid: str, state: str, agent_id: str | None, now: float, task: Task | None
    ) -> dict[str, Any]:
        """A reconciliation answer (REASON_RECONCILIATION, no uuid) for task `tid` in
        `state`, with the health, labels, container status and data of its last status."""
        status = task_status(
            tid, state, agent_id=agent_id, source=Source.SOURCE_MASTER, timestamp=now,
            reason=Reason.REASON_RECONCILIATION, message="Reconciliation: Latest task state",
            executor_id=task.executor_id if task else None,
        )  # fmt: skip
        if task is not None and task.status is not None:
            for key in ("healthy", "labels", "container_status", "data"):
                if key in task.status:
                    status[key] = task.status[key]
        return status

    @staticmethod
    def _live(task: Task) -> bool:
        return not is_terminal(task.state)
