"""The shell: `WebappService` (core + store + event bus + driver) and `WebappScheduler`.

`WebappService` is what the API and the entry point use. It owns the sans-IO `WebappCore`,
persists through `WebappStore`, publishes core events on the `EventBus` (which also feeds the
HTTP callback subscribers, `CallbackDispatcher`), and carries out the
core's actions with the SDK `SchedulerDriver` (launch, decline, kill), suppressing offers
when nothing waits and reviving them when work appears. Work is coalesced: a burst of status
updates re-plans each touched app once (`_kick` schedules one `process` pass). A timer calls
`core.tick` every `tick_interval` seconds; a poller runs HTTP readiness checks.

`WebappScheduler` is the `dcos.sdk.Scheduler` that feeds the driver's callbacks in.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

import aiohttp

from dcos.sdk import NotConnected, Offer, Scheduler, SchedulerDriver, TaskStatus
from dcos.sdk.driver import DriverError
from frameworks.webapp.callbacks import CallbackDispatcher
from frameworks.webapp.core import Action, CoreConfig, Decline, Kill, Launch, WebappCore
from frameworks.webapp.events import EventBus
from frameworks.webapp.health import readiness_url
from frameworks.webapp.model.json import iso
from frameworks.webapp.store import WebappStore

log = logging.getLogger("webapp")


class WebappService:
    def __init__(
        self,
        store: WebappStore,
        *,
        master: str,
        framework_name: str = "webapp",
        role: str = "*",
        hostname: str = "127.0.0.1",
        http_port: int = 8080,
        gpus: bool = False,
        failover_timeout: float = 7 * 24 * 3600.0,
        tick_interval: float = 1.0,
        core_config: CoreConfig | None = None,
        clock: Any = None,
    ) -> None:
        self.core = WebappCore(core_config or CoreConfig(role=role))
        self.store = store
        self.bus = EventBus()
        self.callbacks = CallbackDispatcher()
        self.bus.add_listener(self.callbacks.publish)
        self.master = master
        self.framework_name = framework_name
        self.role = role
        self.hostname = hostname
        self.http_port = http_port
        self.gpus = gpus
        self.failover_timeout = failover_timeout
        self.tick_interval = tick_interval
        self.time = clock.time if clock is not None else time.time
        self.driver: SchedulerDriver | None = None
        self.framework_id: str | None = None
        self.suppressed = False
        self.started_at = self.time()
        self._kicked = False
        self._lock = asyncio.Lock()
        self._tasks: list[asyncio.Task[Any]] = []
        self._session: aiohttp.ClientSession | None = None
        self._readiness_due: dict[str, float] = {}
        # Called after `start` loaded the stored state (the API warms its render caches).
        self.loaded_hooks: list[Callable[[], None]] = []
        self.metrics: dict[str, int] = {"launched": 0, "killed": 0, "offers": 0, "declined": 0,
                                        "status_updates": 0}  # fmt: skip

    # -- lifecycle -----------------------------------------------------------------------

    def framework_info(self) -> dict[str, Any]:
        caps = ["PARTITION_AWARE", "MULTI_ROLE", "TASK_KILLING_STATE"]
        if self.gpus:
            caps.append("GPU_RESOURCES")
        info: dict[str, Any] = {
            "name": self.framework_name,
            "roles": [self.role],
            "checkpoint": True,
            "hostname": self.hostname,
            "webui_url": f"http://{self.hostname}:{self.http_port}",
            "capabilities": [{"type": c} for c in caps],
        }
        if self.framework_id:
            info["id"] = {"value": self.framework_id}
        return info

    async def start(self) -> None:
        """Load the stored state, then subscribe (with the stored framework id)."""
        await self.store.load(self.core)
        for hook in self.loaded_hooks:
            hook()
        await self.restore_subscriptions()
        self.framework_id = await self.store.framework_id()
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
        self.driver = SchedulerDriver(WebappScheduler(self), self.framework_info(), self.master,
                                      failover_timeout=self.failover_timeout)  # fmt: skip
        await self.driver.start()
        self._tasks = [
            asyncio.create_task(self._tick_loop(), name="webapp-tick"),
            asyncio.create_task(self._readiness_loop(), name="webapp-readiness"),
        ]

    async def restore_subscriptions(self) -> None:
        """Register the stored HTTP callback URLs again (at start-up)."""
        for url in await self.store.subscriptions():
            self.callbacks.add(url)

    async def stop(self, failover: bool = True) -> None:
        """Stop; with `failover` the tasks keep running for the next framework process."""
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            try:
                await t
            except (asyncio.CancelledError, Exception):
                pass
        if self.driver is not None:
            await self.driver.stop(failover=failover)
        if self._session is not None:
            await self._session.close()
        await self.callbacks.close()
        await self.store.flush(self.core)

    # -- driving the core ----------------------------------------------------------------

    async def apply(self, actions: list[Action]) -> None:
        """Persist what changed, publish events, then send the actions (launches only after
        their instances are stored) and suppress/revive as needed."""
        await self.store.flush(self.core)
        self.publish_events()
        driver = self.driver
        if driver is None or not driver.connected:
            return
        sends = []
        for a in actions:
            if isinstance(a, Launch):
                self.metrics["launched"] += len(a.tasks)
                sends.append(driver.launch(a.offer_ids, a.tasks, refuse_seconds=self.core.config.decline_short))
            elif isinstance(a, Decline):
                self.metrics["declined"] += len(a.offer_ids)
                sends.append(driver.decline(a.offer_ids, refuse_seconds=a.refuse_seconds))
            elif isinstance(a, Kill):
                self.metrics["killed"] += 1
                sends.append(driver.kill(a.task_id, a.agent_id))
        wants = self.core.wants_offers
        if wants and self.suppressed:
            self.suppressed = False
            sends.append(driver.revive())
        elif not wants and not self.suppressed and not self.core.backoff_pending(self.time()):
            self.suppressed = True
            sends.append(driver.suppress())
        if sends:
            for r in await asyncio.gather(*sends, return_exceptions=True):
                if isinstance(r, DriverError):
                    log.warning("call failed: %s", r)
                elif isinstance(r, BaseException):
                    log.error("call failed: %r", r)

    def publish_events(self) -> None:
        events, self.core.events = self.core.events, []
        now = self.time()
        for kind, payload in events:
            self.bus.publish(kind, payload, now)

    def _kick(self) -> None:
        """Schedule one `process` pass (coalesces bursts of updates)."""
        if not self._kicked:
            self._kicked = True
            asyncio.get_running_loop().call_soon(lambda: asyncio.ensure_future(self.process()))

    async def process(self) -> None:
        self._kicked = False
        async with self._lock:
            await self.apply(self.core.evaluate(self.time()))

    async def _tick_loop(self) -> None:
        while True:
            await asyncio.sleep(self.tick_interval)
            try:
                async with self._lock:
                    await self.apply(self.core.tick(self.time()))
            except Exception:
                log.exception("tick failed")

    # -- callbacks (from WebappScheduler) -------------------------------------------------

    async def on_registered(self, framework_id: str) -> None:
        self.framework_id = framework_id
        await self.store.save_framework_id(framework_id)
        await self.reconcile()

    async def reconcile(self) -> None:
        driver = self.driver
        if driver is None:
            return
        self.suppressed = False  # a new subscription starts unsuppressed
        known = [(i.task_id, i.agent_id) for i in self.core.tasks.values()]
        try:
            if known:
                await driver.reconcile(known)
            await driver.reconcile()  # implicit: tasks we do not know get killed
        except DriverError as e:
            log.warning("reconcile failed: %s", e)
        self._kick()

    async def on_offers(self, offers: list[Offer]) -> None:
        self.metrics["offers"] += len(offers)
        async with self._lock:
            await self.apply(self.core.offers(self.time(), offers))

    async def on_status(self, status: TaskStatus) -> None:
        self.metrics["status_updates"] += 1
        actions = self.core.status(self.time(), status)
        if actions:
            async with self._lock:
                await self.apply(actions)
        else:
            self.publish_events()
        self._kick()

    # -- readiness -------------------------------------------------------------------------

    async def _readiness_loop(self) -> None:
        while True:
            await asyncio.sleep(0.5)
            try:
                await self._poll_readiness()
            except Exception:
                log.exception("readiness poll failed")

    async def _poll_readiness(self) -> None:
        now = self.time()
        targets = [(i, a) for i, a in self.core.readiness_targets()
                   if self._readiness_due.get(i.task_id, 0.0) <= now]  # fmt: skip
        if not targets:
            return
        results = await asyncio.gather(*(self._check_ready(i, a) for i, a in targets))
        now = self.time()
        for (inst, app), (ok, result) in zip(targets, results, strict=True):
            rc = app["readinessChecks"][0]
            self._readiness_due[inst.task_id] = now + float(rc.get("intervalSeconds", 30))
            self.core.readiness(inst.task_id, ok, now, result)
        self._kick()

    async def _check_ready(self, inst: Any, app: dict[str, Any]) -> tuple[bool, dict[str, Any]]:
        rc = app["readinessChecks"][0]
        url = readiness_url(rc, app, inst.host, inst.ports)
        result: dict[str, Any] = {"name": rc.get("name"), "taskId": inst.task_id, "ready": False,
                                  "lastResponse": None}  # fmt: skip
        if url is None or self._session is None:
            return False, result
        try:
            async with self._session.get(url, timeout=aiohttp.ClientTimeout(
                    total=float(rc.get("timeoutSeconds", 10)))) as resp:  # fmt: skip
                body = await resp.text()
                ok = resp.status in (rc.get("httpStatusCodesForReady") or [200])
                result["lastResponse"] = {"status": resp.status, "contentType": resp.content_type,
                                          "body": body[:1000] if rc.get("preserveLastResponse") else ""}  # fmt: skip
        except (aiohttp.ClientError, TimeoutError, OSError) as e:
            ok = False
            result["lastResponse"] = {"status": 0, "contentType": "", "body": str(e)}
        result["ready"] = ok
        result["timestamp"] = iso(self.time())
        return ok, result


class WebappScheduler(Scheduler):
    """Feeds SDK callbacks into the `WebappService`."""

    def __init__(self, service: WebappService) -> None:
        self.service = service

    async def registered(self, driver, framework_id, master_info):
        log.info("registered as framework %s", framework_id)
        await self.service.on_registered(framework_id)

    async def reregistered(self, driver, master_info):
        log.info("re-registered; reconciling")
        await self.service.reconcile()

    async def disconnected(self, driver):
        log.warning("disconnected from the master")

    async def resource_offers(self, driver, offers):
        await self.service.on_offers(offers)

    async def status_update(self, driver, status):
        await self.service.on_status(status)

    async def error(self, driver, message):
        log.error("master error: %s", message)


__all__ = ["NotConnected", "WebappScheduler", "WebappService"]
