"""`LedgerScheduler`: an SDK framework that runs N logical tasks exactly once across a master
failover, and the record of what happened to each (for the master failover chaos test).

The framework keeps a ledger of its logical tasks ``0..N-1``. Each launch of logical task `i`
is an *attempt* with its own task id ``L<i>.a<k>``; an attempt is launched once and never
again. A logical task gets a new attempt only when its current one is known not to run:
the master answered TASK_UNKNOWN, TASK_DROPPED, TASK_GONE (or TASK_LOST) for it. An attempt
whose fate is unknown (its ACCEPT may have died with the master) keeps its place: after every
re-subscription the framework reconciles every unfinished attempt explicitly (with its agent
id when it knows one) and asks again every `reconcile_every` seconds until each has an answer
(the master keeps quiet about tasks of agents it still expects to re-register).
TASK_UNREACHABLE means "may still run": no relaunch.

Each attempt's command appends the shell's pid to ``<marks>/<task id>`` before it ``exec``s
its payload, so the test can count how many times each task id really started.

Called by the SDK driver (callbacks); the test reads `attempts`, `current`, the failover
timestamps, and calls `kill_all` at the end.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dcos.sdk import Offer, OfferPacker, Scheduler, SchedulerDriver, TaskNeeds, TaskStatus
from dcos.sdk import task_info as build_task_info

# States meaning "this task id does not run and never will" (Mesos semantics, partition-aware).
NOT_RUNNING = frozenset({"TASK_UNKNOWN", "TASK_DROPPED", "TASK_GONE", "TASK_LOST"})


@dataclass
class Attempt:
    """One launch of a logical task: its task id, where it went, and every status seen."""

    task_id: str
    logical: int
    agent_id: str | None
    launched_at: float
    statuses: list[TaskStatus] = field(default_factory=list)

    @property
    def states(self) -> list[str]:
        return [s.state for s in self.statuses]

    @property
    def state(self) -> str | None:
        return self.statuses[-1].state if self.statuses else None

    @property
    def answered(self) -> bool:
        """Whether any status arrived for it (a launch whose ACCEPT was lost gets none until
        it is reconciled)."""
        return bool(self.statuses)

    def terminal_updates(self) -> list[TaskStatus]:
        """Terminal updates that came from the agent (with a uuid), not reconciliation echoes."""
        return [s for s in self.statuses if s.terminal and s.uuid is not None]


class LedgerScheduler(Scheduler):
    """See the module docstring. `count` logical tasks, each running `payload` (a shell
    command) after its mark; at most `per_offer` launches per offer and `in_flight` launched
    tasks not yet running, so that the burst is paced by the agents (a test can kill the
    leader once some run while many more are still to launch)."""

    def __init__(self, count: int, marks: Path, payload: str = "sleep 1000", *,
                 needs: str = "cpus:0.01;mem:4", per_offer: int = 25, in_flight: int = 100,
                 reconcile_every: float = 1.0) -> None:  # fmt: skip
        self.count = count
        self.marks = marks
        self.payload = payload
        self.needs = TaskNeeds.parse(needs)
        self.per_offer = per_offer
        self.in_flight = in_flight
        self.reconcile_every = reconcile_every
        self.pending: deque[int] = deque(range(count))
        self.attempts: dict[str, Attempt] = {}
        self.current: dict[int, Attempt] = {}  # logical task -> its latest attempt
        self.framework_ids: list[str] = []
        self.subscriptions = 0
        self.ending = False  # the test is killing everything: no more launches
        self.failover_started: float | None = None  # set by the test when it kills the leader
        self.resubscribed_at: float | None = None
        self.first_offer_after_failover: float | None = None
        self.relaunched: list[tuple[str, str]] = []  # (old task id, the state that freed it)
        self.launch_errors: list[str] = []
        self.hold = False  # set by the test: keep the offers (see `launch_held`)
        self.held: list[Offer] = []
        self.changed = asyncio.Event()
        self._reconciler: asyncio.Task[None] | None = None

    # -- callbacks -----------------------------------------------------------------------

    async def registered(
        self, driver: SchedulerDriver, framework_id: Any, master_info: Any
    ) -> None:
        self.framework_ids.append(str(framework_id))
        self.subscriptions += 1
        self._poke()

    async def reregistered(self, driver: SchedulerDriver, master_info: Any) -> None:
        self.framework_ids.append(str(driver.framework_id))
        self.subscriptions += 1
        if self.failover_started is not None and self.resubscribed_at is None:
            self.resubscribed_at = time.monotonic()
        if self._reconciler is None or self._reconciler.done():
            self._reconciler = asyncio.create_task(self._reconcile_unanswered(driver))
        self._poke()

    async def resource_offers(self, driver: SchedulerDriver, offers: list[Offer]) -> None:
        if self.resubscribed_at is not None and self.first_offer_after_failover is None:
            self.first_offer_after_failover = time.monotonic()
        if self.hold:
            self.held.extend(offers)  # the test launches on them at a moment it chooses
            self._poke()
            return
        for offer in offers:
            await self._launch_on(
                driver, offer, min(self.per_offer, self.in_flight - self.launching())
            )
        self._poke()

    async def launch_held(self, driver: SchedulerDriver) -> list[str]:
        """Stop holding and launch up to `per_offer` tasks on each held offer (the test calls
        it while the leader is frozen: these ACCEPTs die with it); the task ids launched."""
        self.hold = False
        offers, self.held = self.held, []
        return [
            tid for offer in offers for tid in await self._launch_on(driver, offer, self.per_offer)
        ]

    async def _launch_on(self, driver: SchedulerDriver, offer: Offer, room: int) -> list[str]:
        """Launch at most `room` pending logical tasks on `offer` (one ACCEPT), or decline
        it; the task ids launched."""
        packer = OfferPacker(offer)
        tasks: list[dict[str, Any]] = []
        while (not self.ending and self.pending and len(tasks) < room
               and (fit := packer.take(self.needs)).ok):  # fmt: skip
            attempt = self._new_attempt(self.pending.popleft(), str(offer.agent_id))
            tasks.append(build_task_info(
                name=f"L{attempt.logical}", task_id=attempt.task_id, agent_id=offer.agent_id,
                resources=fit.resources, command=self._command(attempt.task_id)))  # fmt: skip
        try:
            if tasks:
                await driver.launch([offer], tasks, refuse_seconds=0.0)
            else:
                await driver.decline([offer], refuse_seconds=0.2)
        except Exception as exc:  # noqa: BLE001 - the master died mid-call: fate unknown
            # The launched attempts stay in the ledger unanswered; reconciliation after the
            # re-subscription tells whether the ACCEPT got through.
            self.launch_errors.append(f"{type(exc).__name__}: {exc}")
        return [t["task_id"]["value"] for t in tasks]

    async def status_update(self, driver: SchedulerDriver, status: TaskStatus) -> None:
        attempt = self.attempts.get(str(status.task_id))
        if attempt is None:
            return
        attempt.statuses.append(status)
        if status.agent_id:
            attempt.agent_id = str(status.agent_id)
        if (status.state in NOT_RUNNING and not self.ending
                and self.current.get(attempt.logical) is attempt):  # fmt: skip
            # Known not to run: the logical task gets a new attempt (a new task id).
            self.relaunched.append((attempt.task_id, status.state))
            self.pending.append(attempt.logical)
        self._poke()

    # -- helpers -------------------------------------------------------------------------

    def _new_attempt(self, logical: int, agent_id: str) -> Attempt:
        k = sum(1 for a in self.attempts.values() if a.logical == logical)
        attempt = Attempt(f"L{logical}.a{k}", logical, agent_id, time.monotonic())
        self.attempts[attempt.task_id] = attempt
        self.current[logical] = attempt
        return attempt

    def _command(self, task_id: str) -> str:
        return f"echo $$ >> {self.marks / task_id} && exec {self.payload}"

    def unsettled(self) -> list[Attempt]:
        """Current attempts not known to run nor to be over: those to reconcile."""
        return [a for a in self.current.values()
                if a.state != "TASK_RUNNING" and a.state not in NOT_RUNNING
                and not (a.statuses and a.statuses[-1].terminal)]  # fmt: skip

    async def _reconcile_unanswered(self, driver: SchedulerDriver) -> None:
        """After a re-subscription: explicit reconciliation of every attempt that is not known
        to run, repeated until each is answered (running, or known not to run)."""
        while not self.ending:
            todo = self.unsettled()
            if todo:
                try:
                    await driver.reconcile([(a.task_id, a.agent_id) for a in todo])
                except Exception:  # noqa: BLE001 - not connected right now: next round
                    pass
            await asyncio.sleep(self.reconcile_every)

    def launching(self) -> int:
        """Current attempts launched and not known to run or to be over yet."""
        return sum(1 for a in self.current.values()
                   if a.state in (None, "TASK_STAGING", "TASK_STARTING"))  # fmt: skip

    def running(self) -> int:
        """Logical tasks whose current attempt runs."""
        return sum(1 for a in self.current.values() if a.state == "TASK_RUNNING")

    def all_running(self) -> bool:
        return not self.pending and self.running() == self.count

    async def kill_all(self, driver: SchedulerDriver) -> None:
        """End of the test: kill every current attempt (no relaunch from now on)."""
        self.ending = True
        if self._reconciler is not None:
            self._reconciler.cancel()
        for a in self.current.values():
            await driver.kill(a.task_id, a.agent_id)

    async def wait(self, cond: Any, timeout: float, what: str) -> None:
        """Wait until `cond()` (re-checked after each callback); AssertionError on timeout."""

        async def loop() -> None:
            while not cond():
                self.changed.clear()
                try:
                    await asyncio.wait_for(self.changed.wait(), 0.5)
                except TimeoutError:
                    pass

        try:
            await asyncio.wait_for(loop(), timeout)
        except TimeoutError:
            raise AssertionError(f"timed out waiting for {what}: {self.summary()}") from None

    def summary(self) -> str:
        states: dict[str | None, int] = {}
        for a in self.current.values():
            states[a.state] = states.get(a.state, 0) + 1
        return (f"{len(self.pending)} pending, current attempts by state {states}, "
                f"{len(self.attempts)} attempts, relaunched {len(self.relaunched)}")  # fmt: skip

    def _poke(self) -> None:
        self.changed.set()

    async def close(self) -> None:
        if self._reconciler is not None:
            self._reconciler.cancel()
