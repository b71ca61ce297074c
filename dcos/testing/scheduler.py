"""`RecordingScheduler`: a small SDK scheduler for tests of a cluster (`InProcessCluster`,
`ProcessCluster`) and a base for test schedulers with their own launch rules.

It launches queued ``(task_id, command)`` pairs on the offers it gets, packed by `needs`,
declines what it cannot use, records registrations and every status update, and lets a test
wait for a condition without sleeping (each callback wakes the waiters)::

    sched = RecordingScheduler(tasks=[("t1", "sleep 1")])
    driver = SchedulerDriver(sched, {"name": "test"}, cluster.url, clock=cluster.clock)
    await driver.start()
    await sched.wait_for("t1", "TASK_FINISHED")
    assert sched.history("t1") == ["TASK_STARTING", "TASK_RUNNING", "TASK_FINISHED"]
"""

from __future__ import annotations

import asyncio
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any

from dcos.sdk import Offer, OfferPacker, Scheduler, SchedulerDriver, TaskNeeds, TaskStatus
from dcos.sdk import task_info as build_task_info

__all__ = ["RecordingScheduler"]


class RecordingScheduler(Scheduler):
    """Launches `queue` on offers and records what happens (see the module docstring).

    `needs` is what each task takes (``"cpus:0.01;mem:8"``); launches filter the offer's
    agent for `launch_refuse` seconds, declines (nothing left to launch) for `decline_refuse`.
    Tests may set `driver` for their own use. Waits raise AssertionError on timeout.
    """

    def __init__(
        self,
        needs: str = "cpus:0.01;mem:8",
        *,
        tasks: Iterable[tuple[str, str]] = (),
        launch_refuse: float = 0.5,
        decline_refuse: float = 0.5,
    ) -> None:
        self.needs = TaskNeeds.parse(needs)
        self.queue: list[tuple[str, str]] = list(tasks)  # (task id, command) to launch
        self.launch_refuse = launch_refuse
        self.decline_refuse = decline_refuse
        self.statuses: dict[str, list[TaskStatus]] = defaultdict(list)
        self.registrations = 0
        self.reregistrations = 0
        self.changed = asyncio.Event()
        self.driver: SchedulerDriver | None = None

    # -- what to run ---------------------------------------------------------------------------

    def submit(self, command: str, count: int = 1, prefix: str = "t") -> list[str]:
        """Queue `count` tasks running `command` under fresh ids; the ids."""
        ids = [f"{prefix}-{uuid.uuid4().hex[:12]}" for _ in range(count)]
        self.queue += [(tid, command) for tid in ids]
        return ids

    # -- scheduler callbacks (called by the driver) ------------------------------------------

    async def registered(self, driver: SchedulerDriver, framework_id: Any, master_info: Any) -> None:
        self.registrations += 1
        self._poke()

    async def reregistered(self, driver: SchedulerDriver, master_info: Any) -> None:
        self.reregistrations += 1
        self._poke()

    async def resource_offers(self, driver: SchedulerDriver, offers: list[Offer]) -> None:
        for offer in offers:
            packer = OfferPacker(offer)
            tasks = []
            while self.queue and (fit := packer.take(self.needs)).ok:
                tid, cmd = self.queue.pop(0)
                tasks.append(build_task_info(name=tid, task_id=tid, agent_id=offer.agent_id,
                                             resources=fit.resources, command=cmd))  # fmt: skip
            if tasks:
                await driver.launch([offer], tasks, refuse_seconds=self.launch_refuse)
            else:
                await driver.decline([offer], refuse_seconds=self.decline_refuse)

    async def status_update(self, driver: SchedulerDriver, status: TaskStatus) -> None:
        self.statuses[status.task_id].append(status)
        self._poke()

    def _poke(self) -> None:
        """Wake every `wait` (subclasses call it from their own callbacks)."""
        self.changed.set()

    # -- what happened ---------------------------------------------------------------------

    def state(self, task_id: str) -> str | None:
        """The last state `task_id` reported, or None."""
        s = self.statuses.get(task_id)
        return s[-1].state if s else None

    def history(self, task_id: str) -> list[str]:
        """Every state `task_id` reported, in order."""
        return [s.state for s in self.statuses.get(task_id, ())]

    def reasons(self, task_id: str) -> list[str | None]:
        """The reason of each status update of `task_id`, in order."""
        return [s.reason for s in self.statuses.get(task_id, ())]

    # -- waiting -------------------------------------------------------------------------------

    async def wait(
        self, cond: Callable[[], Any], timeout: float = 30.0, what: str = "condition"
    ) -> None:
        """Wait until `cond()` is true, re-checked after every callback; AssertionError
        naming `what` after `timeout` real seconds."""

        async def loop() -> None:
            while not cond():
                self.changed.clear()
                await self.changed.wait()

        try:
            await asyncio.wait_for(loop(), timeout)
        except TimeoutError:
            raise AssertionError(f"timed out waiting for {what}") from None

    async def wait_for(self, task_id: str, state: str, timeout: float = 30.0) -> None:
        """Wait until `task_id` has reported `state` (at any time so far)."""
        await self.wait(lambda: state in self.history(task_id), timeout,
                        f"{task_id} to report {state}; so far {self.history(task_id)}")  # fmt: skip

    async def wait_states(self, task_ids: Iterable[str], state: str, timeout: float = 30.0) -> None:
        """Wait until every task of `task_ids` is in `state` now (its last update)."""
        ids = list(task_ids)
        await self.wait(
            lambda: all(self.state(t) == state for t in ids), timeout,
            f"{len(ids)} task(s) to reach {state}; now "
            f"{ {t: self.state(t) for t in ids[:5]} }",
        )
