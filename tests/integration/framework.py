"""A small SDK framework for integration tests: launches queued tasks on offers and records
every status update, with async waits for the states tests expect."""

from __future__ import annotations

import asyncio
import uuid
from collections import defaultdict

from dcos.sdk import (
    Offer,
    OfferPacker,
    Scheduler,
    SchedulerDriver,
    TaskNeeds,
    TaskStatus,
    task_info,
)


class RecordingScheduler(Scheduler):
    def __init__(self, needs: str = "cpus:0.01;mem:8") -> None:
        self.needs = TaskNeeds.parse(needs)
        self.queue: list[tuple[str, str]] = []  # (task id, command)
        self.statuses: dict[str, list[TaskStatus]] = defaultdict(list)
        self.registrations = 0
        self.reregistrations = 0
        self.changed = asyncio.Event()
        self.driver: SchedulerDriver | None = None

    def submit(self, command: str, count: int = 1, prefix: str = "t") -> list[str]:
        ids = [f"{prefix}-{uuid.uuid4().hex[:12]}" for _ in range(count)]
        self.queue += [(tid, command) for tid in ids]
        return ids

    async def registered(self, driver, framework_id, master_info):
        self.registrations += 1
        self._poke()

    async def reregistered(self, driver, master_info):
        self.reregistrations += 1
        self._poke()

    async def resource_offers(self, driver, offers: list[Offer]):
        for offer in offers:
            packer = OfferPacker(offer)
            tasks = []
            while self.queue:
                fit = packer.take(self.needs)
                if not fit.ok:
                    break
                tid, cmd = self.queue.pop(0)
                tasks.append(task_info(name=tid, task_id=tid, agent_id=offer.agent_id, resources=fit.resources, command=cmd))
            if tasks:
                await driver.launch([offer], tasks, refuse_seconds=0.5)
            else:
                await driver.decline([offer], refuse_seconds=0.5)

    async def status_update(self, driver, status: TaskStatus):
        self.statuses[status.task_id].append(status)
        self._poke()

    def _poke(self) -> None:
        self.changed.set()

    def state(self, task_id: str) -> str | None:
        s = self.statuses.get(task_id)
        return s[-1].state if s else None

    async def wait(self, cond, timeout: float = 30.0, what: str = "condition") -> None:
        async def loop() -> None:
            while not cond():
                self.changed.clear()
                await self.changed.wait()

        try:
            await asyncio.wait_for(loop(), timeout)
        except TimeoutError:
            raise AssertionError(f"timed out waiting for {what}") from None

    async def wait_states(self, task_ids, state: str, timeout: float = 30.0) -> None:
        ids = list(task_ids)
        await self.wait(
            lambda: all(self.state(t) == state for t in ids), timeout,
            f"{len(ids)} task(s) to reach {state}; now "
            f"{ {t: self.state(t) for t in ids[:5]} }",
        )
