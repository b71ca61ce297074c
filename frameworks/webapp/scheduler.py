"""The shell: `WebappService` (core + store + event bus + driver) and `WebappScheduler`.

`WebappService` is what the API and the entry point use. It owns the sans-IO `WebappCore`
and is the only caller of its entry points: driver callbacks (`on_offers`, `on_status`,
`on_subscribed`), the timers (`tick` every `tick_interval` seconds of its `Clock`, the
readiness poller) and one method per API request kind (`deploy`, `kill_tasks`,
`delete_deployment`, `reset_delay`, `subscribe`). Each call's (event, actions) pair is
recorded in a `StimulusLog` (``GET /debug/stimuli``), then `apply` carries the actions out
with one `match`: `Persist`/`Delete` to the `WebappStore` (written before any launch that
follows them), `Publish` to the `EventBus` (which also feeds the HTTP callback subscribers,
`CallbackDispatcher`), `WakeAt` to a one-off `tick`, the SDK framework actions to ``driver.apply``. Work is coalesced: a
burst of status updates re-plans each touched app once (`_kick` schedules one `process`).

`WebappScheduler` is the SDK `FrameworkScheduler` feeding the driver's callbacks in (it
reconciles every task after each SUBSCRIBED).
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import aiohttp

from dcos.common.clock import Clock, RealClock
from dcos.common.stimulus import StimulusLog
from dcos.protocol.ids import TaskID
from dcos.sdk import FrameworkScheduler, Offer, SchedulerDriver, TaskStatus
from dcos.sdk.framework import BackgroundTasks, Decline, Kill, Launch, framework_info
from dcos.security.context import SecurityContext
from frameworks.webapp.actions import (
    Action,
    Conflict,
    Delete,
    Deploy,
    DriverAction,
    Evaluate,
    KillTasks,
    Offers,
    Persist,
    Publish,
    Readiness,
    ResetDelay,
    StopDeployment,
    Subscribed,
    TaskUpdate,
    Tick,
    WakeAt,
)  # fmt: skip
from frameworks.webapp.callback_policy import CallbackPolicy
from frameworks.webapp.callbacks import CallbackDispatcher
from frameworks.webapp.core import CoreConfig, CoreView, WebappCore
from frameworks.webapp.deployments import Deployment
from frameworks.webapp.events import EventBus
from frameworks.webapp.health import readiness_url
from frameworks.webapp.instances import Instance
from frameworks.webapp.model.json import iso
from frameworks.webapp.model.spec import AppSpec
from frameworks.webapp.store import NotLeading, WebappStore

log = logging.getLogger(__name__)
CAPABILITIES = ("PARTITION_AWARE", "MULTI_ROLE", "TASK_KILLING_STATE")


@dataclass(frozen=True, slots=True)
class Origin:
    """Who asked for a change (Marathon's ``api_post_event``: client address and path)."""

    client_ip: str | None
    uri: str


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
        clock: Clock | None = None,
        stimuli: int = 1000,
        security: SecurityContext | None = None,
        callback_policy: CallbackPolicy | None = None,
        mesos_user: str | None = None,
    ) -> None:
        """`security` (security on): the master is reached over mutual TLS with this
        process's certificate, which is also how it authenticates (FrameworkInfo.principal is
        the certificate's name). `callback_policy` decides which stored callback URLs are
        registered again at start-up (`restore_subscriptions`). `mesos_user` is the
        FrameworkInfo.user (the user of apps without their own ``user``; Marathon's
        ``--mesos_user``): by default this process's user, or ``nobody`` with security on."""
        self.mesos_user = mesos_user or ("nobody" if security is not None else None)
        self.security = security
        self.callback_policy = callback_policy or CallbackPolicy(secure=security is not None)
        self.core_config = core_config or CoreConfig(role=role)
        self.core = WebappCore(self.core_config)
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
        self.clock: Clock = clock or RealClock()
        self.stimuli = StimulusLog(stimuli)
        self.driver: SchedulerDriver | None = None
        self.framework_id: str | None = None
        self.started_at = self.time()
        self._kicked = False
        self._lock = asyncio.Lock()
        self._background = BackgroundTasks(log)
        self._unwritten: dict[str, Persist | Delete] = {}
        self._session: aiohttp.ClientSession | None = None
        self._readiness_due: dict[str, float] = {}
        self._wakes: set[float] = set()  # times of the extra ticks scheduled (`_wake`)
        # False after `step_down` until the next `start`: this process no longer leads, so
        # nothing is written or sent (`NotLeading`).
        self.acting = True
        # Called after `start` loaded the stored state (the API warms its render caches).
        self.loaded_hooks: list[Callable[[], None]] = []
        self.metrics: dict[str, int] = {"launched": 0, "killed": 0, "offers": 0, "declined": 0,
                                        "status_updates": 0}  # fmt: skip

    def time(self) -> float:
        return self.clock.time()

    @property
    def view(self) -> CoreView:
        """The core's state, for queries (the API renders from it, never changes it)."""
        return self.core

    # -- lifecycle -----------------------------------------------------------------------

    def framework_info(self) -> dict[str, Any]:
        caps = [*CAPABILITIES, "GPU_RESOURCES"] if self.gpus else list(CAPABILITIES)
        scheme = "https" if self.security is not None else "http"
        info = framework_info(
            self.framework_name, roles=[self.role], capabilities=caps, checkpoint=True,
            hostname=self.hostname, webui_url=f"{scheme}://{self.hostname}:{self.http_port}",
            framework_id=self.framework_id, user=self.mesos_user,
        )  # fmt: skip
        if self.security is not None:
            info["principal"] = self.security.name
        return info

    async def load(self) -> None:
        """Load the stored state into the core and the callback URLs (at start-up)."""
        await self.store.load(self.core)
        for hook in self.loaded_hooks:
            hook()
        await self.restore_subscriptions()

    async def start(self) -> None:
        """Load the stored state, then subscribe (with the stored framework id). Called once
        by a single instance, and by `frameworks.webapp.leading.LeaderLoop` at the start of
        each leadership term (after `step_down` ended the previous one): the core is rebuilt
        from the store, so a new leader resumes the deployments where the store has them and
        fails the framework over to itself (same id, same tasks, reconciled on SUBSCRIBED)."""
        async with self._lock:  # an in-flight request of an earlier term finishes first
            self.core = WebappCore(self.core_config)
            self._unwritten.clear()
            self._readiness_due.clear()
            self.store.reset()
            self.acting = True
            await self.load()
            self.framework_id = await self.store.framework_id()
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
        ssl = self.security.client_ssl if self.security is not None else None
        self.driver = SchedulerDriver(WebappScheduler(self), self.framework_info(), self.master,
                                      failover_timeout=self.failover_timeout, ssl=ssl)  # fmt: skip
        await self.driver.start()
        self.start_timers()

    async def step_down(self) -> None:
        """Stop acting at once (leadership lost or fenced, or abdicated): no more writes,
        launches or kills; the timers, readiness checks and callbacks stop, the master
        subscription is closed without TEARDOWN (the framework and its tasks wait for the next
        leader), the local event streams end (their clients reconnect, to the new leader).
        Writes still queued are dropped: the next leader owns the state. Called by the
        `LeaderLoop`; safe when not acting."""
        self.acting = False
        self._unwritten.clear()
        await self._background.close()
        self._wakes.clear()
        self._kicked = False
        driver, self.driver = self.driver, None
        if driver is not None:
            await driver.stop(failover=True)
        if self._session is not None:
            await self._session.close()
            self._session = None
        for url in self.callbacks.urls:
            self.callbacks.remove(url)
        self.bus.close_streams()

    def start_timers(self) -> None:
        """The tick loop and the readiness poller (on the service's clock)."""
        self._background.spawn(self._tick_loop(), name="webapp-tick")
        self._background.spawn(self._readiness_loop(), name="webapp-readiness")

    async def restore_subscriptions(self) -> None:
        """Register the stored HTTP callback URLs again (at start-up); one the callback
        policy no longer allows (e.g. security was turned on since) is dropped."""
        for url in await self.store.subscriptions():
            reason = self.callback_policy.check(url)
            if reason is not None:
                log.warning("event subscription dropped: %s", reason)
                continue
            self.callbacks.add(url)

    async def stop(self, failover: bool = True) -> None:
        """Stop; with `failover` the tasks keep running for the next framework process."""
        await self._background.close()
        if self.driver is not None:
            await self.driver.stop(failover=failover)
        if self._session is not None:
            await self._session.close()
        await self.callbacks.close()
        if self.acting:
            await self._write()
        self.acting = False

    # -- carrying out the core's actions -------------------------------------------------

    def _record(self, event: object, actions: list[Action]) -> list[Action]:
        self.stimuli.record(self.time(), event, actions)
        return actions

    def _take(self, actions: Iterable[Action]) -> list[DriverAction]:
        """Publish events now, queue writes (the last per key wins), return the driver's."""
        sends: list[DriverAction] = []
        now = self.time()
        for a in actions:
            match a:
                case Publish(kind=kind, payload=payload):
                    self.bus.publish(kind, payload, now)
                case Persist() | Delete():
                    self._unwritten[WebappStore.key(a)] = a
                case Launch(tasks=tasks):
                    self.metrics["launched"] += len(tasks)
                    sends.append(a)
                case Decline(offer_ids=ids):
                    self.metrics["declined"] += len(ids)
                    sends.append(a)
                case Kill():
                    self.metrics["killed"] += 1
                    sends.append(a)
                case WakeAt(time=at):
                    self._wake(at)
                case _:
                    sends.append(a)
        return sends

    async def _write(self) -> None:
        if not self.acting:
            raise NotLeading("this instance stepped down; the leader carries out changes")
        todo, self._unwritten = self._unwritten, {}
        await self.store.write(todo.values())

    async def apply(self, actions: Iterable[Action]) -> None:
        """Publish the events, write what changed, then send the scheduler calls (launches
        only after their instances are stored)."""
        sends = self._take(actions)
        await self._write()
        driver = self.driver
        if sends and driver is not None and driver.connected:
            await driver.apply(sends)

    def _kick(self) -> None:
        """Schedule one `process` pass (coalesces bursts of updates)."""
        if not self._kicked:
            self._kicked = True
            asyncio.get_running_loop().call_soon(lambda: self._background.spawn(self.process(), name="webapp-process"))

    async def process(self) -> None:
        self._kicked = False
        async with self._lock:
            await self.apply(self._record(Evaluate(), self.core.evaluate(self.time())))

    async def tick(self) -> None:
        """One timer pass (`_tick_loop` calls it every `tick_interval`)."""
        async with self._lock:
            await self.apply(self._record(Tick(), self.core.tick(self.time())))

    def _wake(self, at: float) -> None:
        """Schedule one extra `tick` at `at` (rounded up to 0.1 s, so the drains a rolling
        restart starts in one pass cost one tick, not one each)."""
        at = math.ceil(at * 10) / 10
        if at not in self._wakes:
            self._wakes.add(at)
            self._background.spawn(self._tick_at(at), name="webapp-wake")

    async def _tick_at(self, at: float) -> None:
        """The extra `tick` the core asked for with `WakeAt` (a drained task's kill)."""
        try:
            await self.clock.sleep(max(0.0, at - self.time()))
            await self.tick()
        except Exception:
            log.exception("tick failed")
        finally:
            self._wakes.discard(at)

    async def _tick_loop(self) -> None:
        while True:
            await self.clock.sleep(self.tick_interval)
            try:
                await self.tick()
            except Exception:
                log.exception("tick failed")

    # -- driver callbacks (from WebappScheduler) -----------------------------------------

    async def on_subscribed(self, framework_id: str | None) -> None:
        """After each SUBSCRIBED (the SDK layer reconciled every task already)."""
        if framework_id and framework_id != self.framework_id:
            self.framework_id = framework_id
            await self.store.save_framework_id(framework_id)
        async with self._lock:
            await self.apply(self._record(Subscribed(framework_id), self.core.subscribed(self.time())))

    async def on_offers(self, offers: list[Offer]) -> None:
        self.metrics["offers"] += len(offers)
        async with self._lock:
            actions = self.core.offers(self.time(), offers)
            await self.apply(self._record(Offers(tuple(o.id for o in offers)), actions))

    async def on_status(self, status: TaskStatus) -> None:
        self.metrics["status_updates"] += 1
        update = TaskUpdate.of(status)
        actions = self._record(update, self.core.status(self.time(), update))
        sends = self._take(actions)
        if sends:  # a kill: write first (the store then knows the task is being killed)
            async with self._lock:
                await self._write()
                if self.driver is not None and self.driver.connected:
                    await self.driver.apply(sends)
        self._kick()  # the next pass writes the instance and plans its app

    # -- API requests (one method per kind; the handlers never touch the core) ----------

    async def deploy(self, req: Deploy, origin: Origin | None = None) -> Deployment | Conflict:
        """Start a deployment (POST/PUT/DELETE /v2/apps, /v2/groups): the Deployment, or
        the Conflict with the running ones (nothing changed). With `origin`, Marathon's
        ``api_post_event`` for each app goes out before the deployment's events."""
        async with self._lock:
            d, actions = self.core.deploy(self.time(), req)
            if isinstance(d, Conflict):
                return d
            if origin is not None:
                actions = [self._api_event(origin, self.core.apps.get(aid) or app)
                           for aid, app in req.changes.items()] + actions  # fmt: skip
            await self.apply(self._record(req, actions))
        return d

    def _api_event(self, origin: Origin, app: AppSpec | None) -> Publish:
        return Publish("api_post_event", {"clientIp": origin.client_ip, "uri": origin.uri,
                                          "appDefinition": app.json if app else {}})  # fmt: skip

    async def kill_tasks(self, req: KillTasks) -> Deployment | Conflict | list[Instance]:
        """Kill tasks (DELETE .../tasks, POST /v2/tasks/delete): the killed instances, or
        with ``scale`` the deployment lowering their apps (or the Conflict)."""
        async with self._lock:
            result, actions = self.core.kill_tasks(self.time(), req)
            await self.apply(self._record(req, actions))
        return result

    async def delete_deployment(self, req: StopDeployment) -> Deployment | bool | None:
        """DELETE /v2/deployments/{id}: with `force` forget it (True), else roll it back (the
        new Deployment); None/False when unknown."""
        async with self._lock:
            now = self.time()
            result: Deployment | bool | None
            if req.force:
                result, actions = self.core.stop_deployment(now, req.deployment_id)
            else:
                result, actions = self.core.rollback(now, req.deployment_id)
            await self.apply(self._record(req, actions))
        return result

    async def reset_delay(self, req: ResetDelay) -> None:
        """DELETE /v2/queue/{id}/delay."""
        async with self._lock:
            await self.apply(self._record(req, self.core.reset_delay(self.time(), req.app_id)))

    async def subscribe(self, url: str, add: bool, client_ip: str | None) -> dict[str, Any]:
        """Register (`add`) or unregister an HTTP callback URL (persisted); the
        ``subscribe_event``/``unsubscribe_event`` payload, also published."""
        kind = "subscribe_event" if add else "unsubscribe_event"
        async with self._lock:
            if not self.acting:
                raise NotLeading("this instance stepped down; the leader carries out changes")
            if add:
                self.callbacks.add(url)
            else:
                self.callbacks.remove(url)
            await self.store.save_subscriptions(self.callbacks.urls)
            now = self.time()
            payload = {"clientIp": client_ip, "callbackUrl": url}
            self.bus.publish(kind, payload, now)
        return {**payload, "eventType": kind, "timestamp": iso(now)}

    # -- readiness -------------------------------------------------------------------------

    async def _readiness_loop(self) -> None:
        while True:
            await self.clock.sleep(0.5)
            try:
                await self.poll_readiness()
            except Exception:
                log.exception("readiness poll failed")

    async def poll_readiness(self) -> None:
        """Run the readiness checks that are due and hand the results to the core."""
        now = self.time()
        targets = [(i, a) for i, a in self.core.readiness_targets()
                   if self._readiness_due.get(i.task_id, 0.0) <= now]  # fmt: skip
        if not targets:
            return
        results = await asyncio.gather(*(self._check_ready(i, a) for i, a in targets))
        now = self.time()
        for (inst, app), (ok, result) in zip(targets, results, strict=True):
            assert app.readiness is not None
            self._readiness_due[inst.task_id] = now + app.readiness.interval
            event = Readiness(TaskID(inst.task_id), ok, result)
            self._take(self._record(event, self.core.readiness(now, event)))
        self._kick()

    async def _check_ready(self, inst: Instance, app: AppSpec) -> tuple[bool, dict[str, Any]]:
        rc = app.readiness
        assert rc is not None
        url = readiness_url(rc, app, inst.host, inst.ports)
        result: dict[str, Any] = {"name": rc.name, "taskId": inst.task_id, "ready": False,
                                  "lastResponse": None}  # fmt: skip
        if url is None or self._session is None:
            return False, result
        try:
            async with self._session.get(url, timeout=aiohttp.ClientTimeout(total=rc.timeout)) as resp:
                body = await resp.text()
                ok = resp.status in rc.ready_statuses
                result["lastResponse"] = {"status": resp.status, "contentType": resp.content_type,
                                          "body": body[:1000] if rc.preserve_last_response else ""}  # fmt: skip
        except (aiohttp.ClientError, TimeoutError, OSError) as e:
            ok = False
            result["lastResponse"] = {"status": 0, "contentType": "", "body": str(e)}
        result["ready"] = ok
        result["timestamp"] = iso(self.time())
        return ok, result


class WebappScheduler(FrameworkScheduler):
    """Feeds SDK callbacks into the `WebappService`; the SDK layer reconciles the tasks
    the core knows after every SUBSCRIBED."""

    def __init__(self, service: WebappService) -> None:
        super().__init__(roles=[service.role])
        self.service = service

    def known_tasks(self) -> list[tuple[str, str | None]]:
        return self.service.core.known_tasks()

    async def subscribed(self, driver: SchedulerDriver, first: bool) -> None:
        log.info("%s as framework %s", "registered" if first else "re-registered", driver.framework_id)
        await self.service.on_subscribed(driver.framework_id)

    async def disconnected(self, driver: SchedulerDriver) -> None:
        log.warning("disconnected from the master")

    async def resource_offers(self, driver: SchedulerDriver, offers: list[Offer]) -> None:
        await self.service.on_offers(offers)

    async def status_update(self, driver: SchedulerDriver, status: TaskStatus) -> None:
        await self.service.on_status(status)

    async def error(self, driver: SchedulerDriver, message: str) -> None:
        log.error("master error: %s", message)


__all__ = ["NotLeading", "Origin", "WebappScheduler", "WebappService"]
