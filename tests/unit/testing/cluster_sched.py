"""A small SDK scheduler for the InProcessCluster tests: launches the tasks it is given,
records every status update, and lets a test wait for a task to reach a state (no sleeps)."""

from __future__ import annotations

import asyncio
from collections import defaultdict

from dcos.sdk import OfferPacker, Scheduler, SchedulerDriver, TaskNeeds, task_info

NEEDS = TaskNeeds.parse("cpus:0.1;mem:32")


class RecordingScheduler(Scheduler):
    """`pending` holds (task_id, command) pairs still to launch, packed into offers."""

    def __init__(self, tasks: list[tuple[str, str]]) -> None:
        self.pending = list(tasks)
        self.states: dict[str, list[str]] = defaultdict(list)
        self.reasons: dict[str, list[str | None]] = defaultdict(list)
        self.registrations = 0
        self.reregistrations = 0
        self._changed = asyncio.Event()

    async def registered(self, driver, framework_id, master_info):
        self.registrations += 1
        self._changed.set()

    async def reregistered(self, driver, master_info):
        self.reregistrations += 1
        self._changed.set()

    async def resource_offers(self, driver: SchedulerDriver, offers):
        for offer in offers:
            packer = OfferPacker(offer)
            launch = []
            while self.pending and (fit := packer.take(NEEDS)).ok:
                task_id, command = self.pending.pop(0)
                launch.append(task_info(name=task_id, task_id=task_id, agent_id=offer.agent_id, resources=fit.resources, command=command))
            if launch:
                await driver.launch([offer], launch, refuse_seconds=0.1)
            else:
                await driver.decline([offer], refuse_seconds=60)

    async def status_update(self, driver, status):
        self.states[status.task_id].append(status.state)
        self.reasons[status.task_id].append(status.reason)
        self._changed.set()

    async def wait_for(self, task_id: str, state: str, timeout: float = 10.0) -> None:
        """Wait until `task_id` has reported `state` (at any time so far)."""
        await self.wait(lambda: state in self.states.get(task_id, ()), timeout)

    async def wait(self, predicate, timeout: float = 10.0) -> None:
        async def loop() -> None:
            while not predicate():
                self._changed.clear()
                await self._changed.wait()

        await asyncio.wait_for(loop(), timeout)
