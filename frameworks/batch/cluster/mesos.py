"""`MesosSide`: the driver as a Mesos framework (dcos.sdk) -- offers in, executors out.

Owned by `ClusterBackend`; its callbacks run on the driver loop. It carries out what the
`ExecutorPolicy` core decides: launch executors (one Mesos task each, run by the agent's command
executor), decline surplus offers with a long filter, SUPPRESS and REVIVE, kill released or
lingering executors, and report executors whose task ended or whose agent was lost.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Any

from dcos.sdk import (
    DriverError,
    Offer,
    OfferPacker,
    Scheduler,
    SchedulerDriver,
    TaskNeeds,
    TaskStatus,
    task_info,
)

if TYPE_CHECKING:
    from frameworks.batch.cluster.backend import ClusterBackend

log = logging.getLogger("batch.mesos")


class MesosSide(Scheduler):
    """The SDK scheduler of one batch driver."""

    def __init__(self, backend: ClusterBackend, master: str) -> None:
        self.backend = backend
        self.master = master
        self.last_problem = ""
        info: dict[str, Any] = {
            "name": f"batch: {backend.app_name}",
            "webui_url": backend.ui_url,
            "labels": {"labels": [{"key": "DCOS_PY_BATCH_APP", "value": backend.app_id}]},
        }
        if backend.conf.role:
            info["roles"] = [backend.conf.role]
            info["capabilities"] = [{"type": "MULTI_ROLE"}]
        # failover_timeout 0: when the driver dies the master kills its executors at once.
        self.driver = SchedulerDriver(self, info, master, failover_timeout=0.0)
        self._background: set[asyncio.Task[Any]] = set()

    @property
    def framework_id(self) -> str | None:
        return self.driver.framework_id

    async def start(self) -> None:
        await self.driver.start()

    async def stop(self) -> None:
        await self.driver.stop()

    # ---- calls the backend makes ------------------------------------------------------------

    def revive(self) -> None:
        self._spawn(self.driver.revive())

    def kill(self, executor_id: str, agent_id: str) -> None:
        self._spawn(self.driver.kill(executor_id, agent_id))

    def _spawn(self, coro: Any) -> None:
        async def guarded() -> None:
            try:
                await coro
            except DriverError as exc:
                log.debug("call not delivered: %s", exc)

        task = asyncio.ensure_future(guarded())
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    # ---- scheduler callbacks ---------------------------------------------------------------

    async def registered(self, driver, framework_id, master_info):
        log.info("batch driver %s registered as framework %s", self.backend.app_id, framework_id)

    async def reregistered(self, driver, master_info):
        await driver.reconcile()

    async def resource_offers(self, driver: SchedulerDriver, offers: list[Offer]) -> None:
        b = self.backend
        decision = b.executor_policy.on_offers(offers, b.outstanding(), time.monotonic())
        spec = b.conf.spec
        calls = []
        for offer, eid in decision.launch:
            cpus = b.executor_policy.executors[eid].cpus
            fit = OfferPacker(offer).take(TaskNeeds.parse(f"cpus:{cpus:g};mem:{spec.mem_mb:g}"))
            command = {
                "value": b.executor_command(eid, offer.hostname)[0],
                "arguments": b.executor_command(eid, offer.hostname),
                "shell": False,
            }
            info = task_info(
                f"{b.app_id} executor",
                eid,
                offer.agent_id,
                command,
                fit.resources,
                environment=b.executor_env(),
                kill_grace_period=2.0,
            )
            calls.append(driver.launch([offer], [info], refuse_seconds=1))
        if decision.decline:
            for offer in decision.decline:
                why = b.executor_policy.fits(offer)
                if why:
                    self.last_problem = f"offer from {offer.hostname}: {why}"
            calls.append(driver.decline(decision.decline, refuse_seconds=decision.refuse_seconds))
        if decision.suppress:
            calls.append(driver.suppress())
        for result in await asyncio.gather(*calls, return_exceptions=True):
            if isinstance(result, Exception):
                log.warning("offer call failed: %s", result)

    async def status_update(self, driver: SchedulerDriver, status: TaskStatus) -> None:
        if status.terminal:
            reason = f"{status.state} {status.reason or ''} {status.message}".strip()
            if status.state != "TASK_FINISHED":
                self.last_problem = f"executor {status.task_id}: {reason}"
            self.backend.executor_gone(status.task_id, f"executor task ended: {reason}")

    async def agent_lost(self, driver, agent_id):
        for eid in self.backend.executor_policy.agent_lost(agent_id):
            self.backend.executor_gone(eid, f"agent {agent_id} lost")

    async def error(self, driver, message):
        self.last_problem = f"master error: {message}"
        log.error("master error: %s", message)
