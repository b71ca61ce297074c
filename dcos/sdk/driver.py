"""`SchedulerDriver`: connects a `Scheduler` to a master over the Mesos v1 scheduler HTTP API.

The driver keeps one SUBSCRIBE stream open (``POST /api/v1/scheduler``, JSON, chunked
RecordIO), turns its events into `Scheduler` callbacks run one at a time by a single consumer
task, and sends calls (orjson) with the ``Mesos-Stream-Id`` header of the current stream
(through its `MasterTransport`, dcos/sdk/transport.py). It re-subscribes with its
framework id when the stream ends or heartbeats stop, with exponential backoff after failed
attempts, and follows leader redirects (307 ``Location: //host:port``).

Use it as an async context manager (leaving the block stops it with ``failover=True``: the
master keeps the tasks for ``failover_timeout``; call ``await driver.stop()`` inside the block
to tear the framework down)::

    async with SchedulerDriver(MyScheduler(), framework_info("my-fw"), "127.0.0.1:5050") as d:
        await d.wait_subscribed()
        await d.join()

TLS, a shared aiohttp session and HTTP basic authentication: the ``ssl``, ``session`` and
``credentials`` arguments (dcos/sdk/auth.py). Framework actions (dcos/sdk/framework.py) are
carried out by `SchedulerDriver.apply`.

Calls made while the driver is not subscribed are not queued: they raise `NotConnected`
at once (offers die with the connection; reconcile in `reregistered` instead). A call the
master refuses raises `CallRejected` with its status and message.
Decisions about the protocol live in the sans-IO `dcos.sdk.core.DriverCore`.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import random
import ssl as ssl_module
from collections.abc import Iterable, Mapping
from types import TracebackType
from typing import Any

import aiohttp

from dcos.common.addresses import MasterAddress, parse_master, zk_master
from dcos.common.backoff import Backoff
from dcos.common.clock import Clock, RealClock
from dcos.protocol.ids import AgentID, ExecutorID, FrameworkID, StreamID, TaskID
from dcos.sdk import calls
from dcos.sdk._stream import cancel_tasks
from dcos.sdk.auth import Credentials
from dcos.sdk.core import Dispatch, DriverCore
from dcos.sdk.errors import CallRejected, DriverError, NotConnected
from dcos.sdk.framework import (
    Accept,
    Acknowledge,
    Decline,
    FrameworkAction,
    Kill,
    Launch,
    Message,
    Reconcile,
    Revive,
    Suppress,
    log_failures,
)
from dcos.sdk.states import (
    DRIVER_ABORTED,
    DRIVER_NOT_STARTED,
    DRIVER_RUNNING,
    DRIVER_STOPPED,
    DriverState,
)
from dcos.sdk.subscription import Subscription
from dcos.sdk.transport import MasterTransport, SSLOption
from dcos.state.detector import (
    MasterDetector,
    StaticDetector,
    ZooKeeperDetector,
    master_detector,
)
from dcos.state.zk import parse_zk_url

log = logging.getLogger(__name__)

__all__ = [
    "DRIVER_ABORTED",
    "DRIVER_NOT_STARTED",
    "DRIVER_RUNNING",
    "DRIVER_STOPPED",
    "CallRejected",
    "DriverError",
    "DriverState",
    "NotConnected",
    "SchedulerDriver",
]
_STOP = object()  # consumer-queue marker: finish after the callbacks before it


class SchedulerDriver:
    """Runs a `Scheduler` against a master (see the module docstring).

    `master` is ``host:port``, ``host``, ``http://host:port`` or ``zk://host:port/path`` (the
    leader found through ZooKeeper; a bad one raises ValueError); `detector` replaces the
    detector made from `master` (a shared one is not closed here). `framework_info` is a Mesos
    FrameworkInfo dict (``user`` and ``name`` are filled in when absent; an ``id`` makes the
    first SUBSCRIBE a failover of that framework). `failover_timeout` (seconds) sets
    ``framework_info.failover_timeout``. `clock` drives the backoff and heartbeat timers.
    `ssl` (an `ssl.SSLContext`, or False for no certificate check) applies to ``https://``
    masters (with an `SSLContext`, ``host:port`` and ``zk://`` masters are https too:
    `detector_for`; a context holding a certificate authenticates the framework by it, whose
    principal the master then expects in ``framework_info.principal``); `session` is an aiohttp session to use (and not close) instead of the driver's
    own; `credentials` authenticate every request (HTTP basic) and fill in
    ``framework_info.principal`` when it is absent. `scheduler` is a `Scheduler` or any object
    with the callbacks it wants (missing ones are skipped; each may be async or plain).
    """

    def __init__(
        self,
        scheduler: object,
        framework_info: Mapping[str, Any],
        master: str,
        *,
        implicit_acknowledgements: bool = True,
        failover_timeout: float | None = None,
        clock: Clock | None = None,
        backoff_initial: float = 0.1,
        backoff_max: float = 10.0,
        heartbeat_misses: float = 3.0,
        connect_timeout: float = 10.0,
        call_timeout: float = 30.0,
        max_connections: int = 16,
        seed: int | None = None,
        ssl: SSLOption = None,
        session: aiohttp.ClientSession | None = None,
        credentials: Credentials | None = None,
        detector: MasterDetector | None = None,
    ) -> None:
        self.scheduler = scheduler
        self.clock: Clock = clock or RealClock()
        info = dict(framework_info)
        if credentials is not None:
            info.setdefault("principal", credentials.principal)
        self._own_detector = detector is None
        self._detector = detector or detector_for(master, ssl)
        self._core = DriverCore.create(
            info,
            self._detector.current(),
            implicit_acknowledgements=implicit_acknowledgements,
            failover_timeout=failover_timeout,
            backoff=Backoff(backoff_initial, backoff_max, rng=random.Random(seed)),
            heartbeat_misses=heartbeat_misses,
        )
        self._http = MasterTransport(
            ssl=ssl,
            session=session,
            credentials=credentials,
            connect_timeout=connect_timeout,
            call_timeout=call_timeout,
            max_connections=max_connections,
        )
        self._queue: asyncio.Queue[Any] = asyncio.Queue()
        self._sub = Subscription(
            self._core,
            self._http,
            self.clock,
            self._queue.put_nowait,
            lambda: self._stopping,
            self._detector,
        )
        self._sub_task: asyncio.Task[None] | None = None
        self._consumer_task: asyncio.Task[None] | None = None
        self._background: set[asyncio.Future[Any]] = set()
        self._done: asyncio.Future[DriverState] | None = None
        self._state = DRIVER_NOT_STARTED
        self._stopping = False
        self._finisher: asyncio.Task[None] | None = None

    # -- properties ----------------------------------------------------------------------

    @property
    def framework_id(self) -> FrameworkID | None:
        return self._core.framework_id

    @property
    def stream_id(self) -> StreamID | None:
        return self._core.stream_id

    @property
    def master(self) -> MasterAddress | None:
        """The master currently used (changes when a redirect is followed or another master
        leads; None while a ``zk://`` driver knows no leader)."""
        return self._core.master

    @property
    def connected(self) -> bool:
        """True while subscribed (SUBSCRIBED received on the open stream)."""
        return self._core.subscribed

    @property
    def state(self) -> DriverState:
        return self._state

    @property
    def framework_info(self) -> dict[str, Any]:
        return self._core.framework_info

    # -- lifecycle -----------------------------------------------------------------------

    async def start(self) -> DriverState:
        """Start subscribing in the background; returns at once (``DRIVER_RUNNING``)."""
        if self._state != DRIVER_NOT_STARTED:
            return self._state
        loop = asyncio.get_running_loop()
        self._done = loop.create_future()
        self._http.open()
        self._state = DRIVER_RUNNING
        self._consumer_task = asyncio.create_task(self._consume(), name="sdk-callbacks")
        self._sub_task = asyncio.create_task(self._subscription(), name="sdk-subscription")
        return self._state

    async def join(self) -> DriverState:
        """Wait until the driver stops or aborts; returns ``DRIVER_STOPPED``/``DRIVER_ABORTED``."""
        if self._done is None:
            return self._state
        return await asyncio.shield(self._done)

    async def run(self) -> DriverState:
        """`start` then `join`."""
        await self.start()
        return await self.join()

    async def wait_subscribed(self, timeout: float | None = None) -> FrameworkID:
        """Wait until the driver is subscribed (SUBSCRIBED received; calls can be sent) and
        return the framework id. Raises `DriverError` if the driver stops or aborts first,
        `TimeoutError` after `timeout` seconds."""
        if self._state == DRIVER_NOT_STARTED or self._done is None:
            raise DriverError("the driver is not started")
        async with asyncio.timeout(timeout):
            while not self._core.subscribed:
                if self._done.done():
                    raise DriverError(f"the driver ended ({self._done.result()})")
                waiter = asyncio.ensure_future(self._sub.subscribed.wait())
                try:
                    await asyncio.wait(
                        (waiter, asyncio.shield(self._done)), return_when=asyncio.FIRST_COMPLETED
                    )
                finally:
                    waiter.cancel()
        return self._fid()

    async def __aenter__(self) -> SchedulerDriver:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Stop with failover (the tasks keep running for ``failover_timeout``); a driver
        already stopped inside the block (e.g. ``await driver.stop()``: TEARDOWN) stays so."""
        await self.stop(failover=True)

    async def stop(self, failover: bool = False) -> DriverState:
        """Stop the driver. Without `failover` the framework is torn down first (TEARDOWN:
        the master kills its tasks and forgets it); with it, the master keeps the tasks for
        ``failover_timeout`` so a new scheduler can re-subscribe with the same framework id.
        Safe to call from a callback and more than once."""
        if self._stopping or self._state == DRIVER_NOT_STARTED:
            return self._state
        self._stopping = True
        if not failover and self._core.subscribed and self._core.framework_id:
            try:
                await self._send(calls.teardown(self._core.framework_id))
            except DriverError as exc:
                log.warning("TEARDOWN not delivered: %s", exc)
        await self._finish(DRIVER_STOPPED)
        return DRIVER_STOPPED

    async def _finish(self, state: DriverState) -> None:
        """Tear everything down; called once by `stop` or on abort (from any task)."""
        self._stopping = True
        await cancel_tasks((self._sub_task, self._consumer_task))
        if self._background:
            await asyncio.wait(list(self._background), timeout=self._http.call_timeout)
        await self._http.close()
        if self._own_detector:
            await self._detector.close()
        self._core.on_disconnected()
        self._sub.subscribed.clear()
        self._state = state
        if self._done is not None and not self._done.done():
            self._done.set_result(state)

    async def _subscription(self) -> None:
        """The subscription task: `Subscription.run`; when it returns, the master aborted."""
        await self._sub.run()
        self._queue.put_nowait(_STOP)

    # -- callbacks -------------------------------------------------------------------------

    async def _consume(self) -> None:
        """The single consumer: run callbacks one at a time, in event order."""
        while True:
            item = await self._queue.get()
            if item is _STOP:
                self._finisher = asyncio.create_task(self._finish(DRIVER_ABORTED))
                return
            await self._dispatch(item)
            if self._stopping:
                return

    async def _dispatch(self, item: Dispatch) -> None:
        fn = getattr(self.scheduler, item.method, None)
        if fn is not None:
            try:
                result = fn(self, *item.args)
                if inspect.isawaitable(result):
                    await result
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - a callback must not kill the driver
                log.exception("scheduler callback %s raised", item.method)
        if item.ack is not None and not self._stopping:
            self._ack(item.ack)

    def _ack(self, body: dict[str, Any]) -> None:
        """Send an implicit acknowledgement without waiting for it: straight onto an open
        call connection when there is one (no task), else in a background task."""
        core = self._core
        if core.subscribed and core.master is not None:
            fut = self._http.try_send_nowait(core.master, core.stream_id, body)
            if fut is not None:
                self._background.add(fut)
                fut.add_done_callback(self._acked)
                return
        self._spawn(self._ack_async(body))

    def _acked(self, fut: asyncio.Future[tuple[int, bytes]]) -> None:
        self._background.discard(fut)
        if fut.cancelled():
            return
        exc = fut.exception()
        if exc is None:
            status, answer = fut.result()
            if 200 <= status < 300:
                return
            exc = CallRejected("ACKNOWLEDGE", status, answer.decode("utf-8", "replace").strip())
        log.info("acknowledgement not delivered (the master will resend the update): %s", exc)

    async def _ack_async(self, body: dict[str, Any]) -> None:
        try:
            await self._send(body)
        except DriverError as exc:
            log.info("acknowledgement not delivered (the master will resend the update): %s", exc)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    # -- calls -----------------------------------------------------------------------------

    async def _send(self, body: dict[str, Any]) -> None:
        """POST one call with the current stream id; raises `NotConnected`/`CallRejected`."""
        core = self._core
        if not core.subscribed or not core.framework_id or core.master is None:
            kind = body.get("type")
            raise NotConnected(f"{kind} not sent: the driver is not subscribed to a master")
        await self._http.send(core.master, core.stream_id, body)

    def _fid(self) -> FrameworkID:
        fid = self._core.framework_id
        if not fid or not self._core.subscribed:
            raise NotConnected("the driver is not subscribed to a master")
        return fid

    async def call(self, body: dict[str, Any]) -> None:
        """Send a raw Call body (``framework_id`` is filled in); for calls without a helper."""
        body = dict(body)
        body["framework_id"] = {"value": self._fid()}
        await self._send(body)

    async def accept(
        self,
        offer_ids: Iterable[Any],
        operations: list[dict[str, Any]],
        filters: dict[str, Any] | None = None,
        *,
        refuse_seconds: float | None = None,
    ) -> None:
        """ACCEPT offers (all from one agent) with Mesos Offer.Operation dicts."""
        ids = [calls.offer_id(o) for o in offer_ids]
        await self._send(
            calls.accept(self._fid(), ids, operations, calls.make_filters(filters, refuse_seconds))
        )

    async def launch(
        self,
        offer_ids: Iterable[Any],
        task_infos: list[dict[str, Any]],
        filters: dict[str, Any] | None = None,
        *,
        refuse_seconds: float | None = None,
    ) -> None:
        """Launch any number of tasks on offers of one agent in a single ACCEPT (one LAUNCH
        operation); with no tasks, the offers are declined."""
        ids = [calls.offer_id(o) for o in offer_ids]
        f = calls.make_filters(filters, refuse_seconds)
        if not task_infos:
            await self._send(calls.decline(self._fid(), ids, f))
            return
        await self._send(calls.accept(self._fid(), ids, [calls.launch_operation(task_infos)], f))

    async def decline(
        self,
        offer_ids: Iterable[Any],
        filters: dict[str, Any] | None = None,
        *,
        refuse_seconds: float | None = None,
    ) -> None:
        """DECLINE offers; `refuse_seconds` (or ``filters={"refuse_seconds": s}``) keeps the
        master from re-offering these agents' resources for that long (until REVIVE)."""
        ids = [calls.offer_id(o) for o in offer_ids]
        await self._send(
            calls.decline(self._fid(), ids, calls.make_filters(filters, refuse_seconds))
        )

    async def kill(self, task_id: TaskID | str, agent_id: AgentID | str | None = None) -> None:
        await self._send(calls.kill(self._fid(), task_id, agent_id))

    async def reconcile(self, tasks: Iterable[Any] = ()) -> None:
        """RECONCILE the given tasks (ids, (task_id, agent_id) pairs or statuses); with none,
        implicit reconciliation: the master sends the latest state of every known task."""
        await self._send(calls.reconcile(self._fid(), [calls.task_ref(t) for t in tasks]))

    async def suppress(self, roles: Iterable[str] | None = None) -> None:
        await self._send(calls.suppress(self._fid(), roles))

    async def revive(self, roles: Iterable[str] | None = None) -> None:
        await self._send(calls.revive(self._fid(), roles))

    async def acknowledge(self, status: Mapping[str, Any]) -> None:
        """ACKNOWLEDGE a status update (needed when implicit acknowledgements are off).
        Updates without a ``uuid`` (reconciliation answers) need none: nothing is sent."""
        fid = self._fid()
        if not status.get("uuid"):
            return
        body = self._core.ack_for(status)
        if body is None:
            raise ValueError("status has a uuid but no agent_id/task_id to acknowledge")
        assert body["framework_id"]["value"] == fid
        await self._send(body)

    async def message(
        self, agent_id: AgentID | str, executor_id: ExecutorID | str, data: bytes
    ) -> None:
        await self._send(calls.message(self._fid(), agent_id, executor_id, data))

    async def request(self, requests: list[dict[str, Any]]) -> None:
        await self._send(calls.request(self._fid(), requests))

    async def shutdown(self, executor_id: ExecutorID | str, agent_id: AgentID | str) -> None:
        await self._send(calls.shutdown(self._fid(), executor_id, agent_id))

    async def teardown(self) -> None:
        """TEARDOWN the framework (the master kills its tasks) and stop the driver."""
        await self._send(calls.teardown(self._fid()))
        await self.stop(failover=True)

    # -- framework actions (dcos/sdk/framework.py) ---------------------------------------

    async def apply(self, actions: Iterable[FrameworkAction]) -> list[BaseException | None]:
        """Send every action's call at once (``asyncio.gather``), log the ones that failed
        (`NotConnected` at info, other `DriverError`s at warning, anything else as an error)
        and return each action's outcome, in order: None when sent, else the exception.
        Never raises for a failed call. The calls go out together, so the master may handle
        them in any order: apply twice where one must come first (e.g. a REVIVE that must
        clear a DECLINE's filter). Called by framework shells with their core's actions."""
        todo = list(actions)
        if not todo:
            return []
        results = await asyncio.gather(*(self._carry_out(a) for a in todo), return_exceptions=True)
        log_failures(todo, results)
        return [r if isinstance(r, BaseException) else None for r in results]

    def apply_soon(
        self, actions: Iterable[FrameworkAction]
    ) -> asyncio.Task[list[BaseException | None]]:
        """`apply` in a task the driver keeps (and waits for when it stops); for synchronous
        code such as a timer or a core callback. Returns the task."""
        task = asyncio.create_task(self.apply(list(actions)), name="sdk-apply")
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return task

    async def _carry_out(self, action: FrameworkAction) -> None:
        """The driver call for one action (one dispatch table: the action's type)."""
        match action:
            case Launch(offer_ids, tasks, refuse_seconds):
                await self.launch(offer_ids, list(tasks), refuse_seconds=refuse_seconds)
            case Accept(offer_ids, operations, refuse_seconds):
                await self.accept(offer_ids, list(operations), refuse_seconds=refuse_seconds)
            case Decline(offer_ids, refuse_seconds):
                await self.decline(offer_ids, refuse_seconds=refuse_seconds)
            case Kill(task_id, agent_id):
                await self.kill(task_id, agent_id)
            case Suppress(roles):
                await self.suppress(roles)
            case Revive(roles):
                await self.revive(roles)
            case Reconcile(tasks):
                await self.reconcile(tasks)
            case Acknowledge(status):
                await self.acknowledge(status)
            case Message(agent_id, executor_id, data):
                await self.message(agent_id, executor_id, data)

    def __repr__(self) -> str:
        return f"SchedulerDriver(master={self._core.master}, framework_id={self.framework_id}, {self._state})"


def detector_for(master: str, ssl: SSLOption = None) -> MasterDetector:
    """The detector for a driver's `master` text. With an `ssl.SSLContext` (security on, e.g.
    `dcos.security.tls.client_context`) a master given without a scheme (``host:port``, or a
    leader found through ``zk://``) is reached over https; an explicit ``http://`` stays so.
    Called by `SchedulerDriver.__init__` (and by frameworks that build their own detector)."""
    zk = zk_master(master)
    if not isinstance(ssl, ssl_module.SSLContext):
        return master_detector(zk or master)
    if zk is not None:
        return ZooKeeperDetector(parse_zk_url(zk), scheme="https")
    return StaticDetector(parse_master(master, default_scheme="https"))
