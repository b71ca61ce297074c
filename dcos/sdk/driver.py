"""`SchedulerDriver`: connects a `Scheduler` to a master over the Mesos v1 scheduler HTTP API.

The driver keeps one SUBSCRIBE stream open (``POST /api/v1/scheduler``, JSON, chunked
RecordIO), turns its events into `Scheduler` callbacks run one at a time by a single consumer
task, and sends calls (orjson) with the ``Mesos-Stream-Id`` header of the current stream on
keep-alive, pipelined TCP_NODELAY connections (`dcos.common.pipeline.CallPool`: a pre-encoded
request head per stream; https masters: the aiohttp session). It re-subscribes with its
framework id when the stream ends or heartbeats stop, with exponential backoff after failed
attempts, and follows leader redirects (307 ``Location: //host:port``).

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
from collections.abc import Iterable, Mapping
from typing import Any

import aiohttp

from dcos.common.clock import Clock, RealClock
from dcos.common.pipeline import CallFailed, CallPool, request_prefix
from dcos.protocol.codec import JSON, dumps_json
from dcos.protocol.ids import AgentID, ExecutorID, FrameworkID, StreamID, TaskID, unwrap
from dcos.sdk import calls
from dcos.sdk._stream import cancel_tasks, read_json_events
from dcos.sdk.core import (
    Abort,
    Action,
    Backoff,
    Connected,
    Dispatch,
    DriverCore,
    MasterAddress,
    Redirect,
    Retry,
)
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

log = logging.getLogger("dcos.sdk.driver")

DRIVER_RUNNING = "DRIVER_RUNNING"
DRIVER_STOPPED = "DRIVER_STOPPED"
DRIVER_ABORTED = "DRIVER_ABORTED"
DRIVER_NOT_STARTED = "DRIVER_NOT_STARTED"

PATH = "/api/v1/scheduler"
_STOP = object()  # consumer-queue marker: finish after the callbacks before it


def _offer_id(o: Any) -> str:
    if isinstance(o, str):
        return o
    if isinstance(o, Mapping):
        v = unwrap(o.get("id")) if "id" in o else unwrap(o)
        if v:
            return v
    raise TypeError(f"not an offer or offer id: {o!r}")


def _task_ref(t: Any) -> tuple[str, str | None]:
    """A task id string, a (task_id, agent_id) pair or a TaskStatus/TaskInfo dict."""
    if isinstance(t, str):
        return t, None
    if isinstance(t, tuple) and len(t) == 2:
        return str(t[0]), (str(t[1]) if t[1] else None)
    if isinstance(t, Mapping):
        tid = unwrap(t.get("task_id"))
        if tid:
            return tid, unwrap(t.get("agent_id"))
    raise TypeError(f"not a task reference: {t!r}")


class SchedulerDriver:
    """Runs a `Scheduler` against a master (see the module docstring).

    `master` is ``host:port``, ``host`` or ``http://host:port``. `framework_info` is a Mesos
    FrameworkInfo dict (``user`` and ``name`` are filled in when absent; an ``id`` makes the
    first SUBSCRIBE a failover of that framework). `failover_timeout` (seconds) sets
    ``framework_info.failover_timeout``. `clock` drives the backoff and heartbeat timers.
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
    ) -> None:
        self.scheduler = scheduler
        self.clock: Clock = clock or RealClock()
        self._core = DriverCore.create(
            framework_info,
            master,
            implicit_acknowledgements=implicit_acknowledgements,
            failover_timeout=failover_timeout,
            backoff=Backoff(backoff_initial, backoff_max, rng=random.Random(seed)),
            heartbeat_misses=heartbeat_misses,
        )
        self._connect_timeout = connect_timeout
        self._call_timeout = call_timeout
        self._max_connections = max_connections
        self._session: aiohttp.ClientSession | None = None
        self._pool: CallPool | None = None  # calls to a plain-HTTP master (see `_send`)
        self._prefix = b""
        self._prefix_key: tuple[Any, Any] | None = None
        self._queue: asyncio.Queue[Any] = asyncio.Queue()
        self._sub_task: asyncio.Task[None] | None = None
        self._consumer_task: asyncio.Task[None] | None = None
        self._background: set[asyncio.Future[Any]] = set()
        self._done: asyncio.Future[str] | None = None
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
    def master(self) -> MasterAddress:
        """The master currently used (changes when a redirect is followed)."""
        return self._core.master

    @property
    def connected(self) -> bool:
        """True while subscribed (SUBSCRIBED received on the open stream)."""
        return self._core.subscribed

    @property
    def state(self) -> str:
        return self._state

    @property
    def framework_info(self) -> dict[str, Any]:
        return self._core.framework_info

    # -- lifecycle -----------------------------------------------------------------------

    async def start(self) -> str:
        """Start subscribing in the background; returns at once (``DRIVER_RUNNING``)."""
        if self._state != DRIVER_NOT_STARTED:
            return self._state
        loop = asyncio.get_running_loop()
        self._done = loop.create_future()
        connector = aiohttp.TCPConnector(limit=self._max_connections, keepalive_timeout=60)
        # aiohttp sets TCP_NODELAY on every client connection it opens.
        self._session = aiohttp.ClientSession(connector=connector)
        self._state = DRIVER_RUNNING
        self._consumer_task = asyncio.create_task(self._consume(), name="sdk-callbacks")
        self._sub_task = asyncio.create_task(self._subscription_loop(), name="sdk-subscription")
        return self._state

    async def join(self) -> str:
        """Wait until the driver stops or aborts; returns ``DRIVER_STOPPED``/``DRIVER_ABORTED``."""
        if self._done is None:
            return self._state
        return await asyncio.shield(self._done)

    async def run(self) -> str:
        """`start` then `join`."""
        await self.start()
        return await self.join()

    async def stop(self, failover: bool = False) -> str:
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

    async def _finish(self, state: str) -> None:
        """Tear everything down; called once by `stop` or on abort (from any task)."""
        self._stopping = True
        await cancel_tasks((self._sub_task, self._consumer_task))
        if self._background:
            await asyncio.wait(list(self._background), timeout=self._call_timeout)
        if self._pool is not None:
            self._pool.close()
            self._pool = None
        if self._session is not None:
            await self._session.close()
            self._session = None
        self._core.on_disconnected()
        self._state = state
        if self._done is not None and not self._done.done():
            self._done.set_result(state)

    # -- subscription ------------------------------------------------------------------

    async def _subscription_loop(self) -> None:
        while not self._stopping:
            delay = self._core.next_delay()
            if delay > 0:
                await self.clock.sleep(delay)
            if self._stopping:
                return
            try:
                aborted = await self._subscribe_once()
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - keep the driver alive
                log.exception("subscription attempt failed unexpectedly")
                aborted = False
            if aborted:
                self._queue.put_nowait(_STOP)
                return

    async def _subscribe_once(self) -> bool:
        """One SUBSCRIBE and, if accepted, reading its stream to the end; True = aborted."""
        assert self._session is not None
        core = self._core
        body = dumps_json(core.subscribe_body())
        headers = {"Content-Type": JSON, "Accept": JSON}
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=self._connect_timeout)
        try:
            resp = await self._session.post(
                core.master.url + PATH,
                data=body,
                headers=headers,
                allow_redirects=False,
                timeout=timeout,
            )
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            log.info("cannot reach master %s: %s", core.master, exc)
            return False
        async with resp:
            text = "" if resp.status == 200 else await resp.text(errors="replace")
            outcome = core.on_subscribe_response(
                resp.status,
                resp.headers.get("Location"),
                resp.headers.get("Mesos-Stream-Id"),
                text,
                self.clock.time(),
            )
            if isinstance(outcome, Redirect):
                log.info("master redirected to the leader at %s", outcome.master)
                return False
            if isinstance(outcome, Retry):
                log.info("SUBSCRIBE to %s not accepted: %s", core.master, outcome.reason)
                return False
            if isinstance(outcome, Abort):
                log.error("%s", outcome.message)
                self._queue.put_nowait(Dispatch("error", (outcome.message,)))
                return True
            assert isinstance(outcome, Connected)
            return await self._read_stream(resp)

    async def _read_stream(self, resp: aiohttp.ClientResponse) -> bool:
        watchdog = asyncio.create_task(self._watchdog(resp), name="sdk-heartbeat")
        aborted = False

        def handle(event: Any) -> bool:
            nonlocal aborted
            if self._apply(self._core.on_event(event, self.clock.time())):
                aborted = True
            return aborted

        try:
            await read_json_events(resp, handle, log, str(self._core.master))
        finally:
            watchdog.cancel()
        actions = self._core.on_disconnected()
        if not aborted:
            log.info("disconnected from master %s", self._core.master)
            self._apply(actions)
        return aborted

    async def _watchdog(self, resp: aiohttp.ClientResponse) -> None:
        """Close the stream when no event (not even HEARTBEAT) came for too long."""
        while True:
            now = self.clock.time()
            deadline = self._core.heartbeat_deadline()
            if now >= deadline:
                log.warning(
                    "no event from master %s for %.1f s: treating it as disconnected",
                    self._core.master,
                    now - self._core.last_event_at,
                )
                resp.close()
                return
            await self.clock.sleep(deadline - now)

    def _apply(self, actions: list[Action]) -> bool:
        aborted = False
        for action in actions:
            if isinstance(action, Dispatch):
                self._queue.put_nowait(action)
            elif isinstance(action, Abort):
                aborted = True
        return aborted

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
        if core.subscribed and core.master.scheme == "http" and self._session is not None:
            pool, prefix = self._call_pool()
            fut = pool.try_post(prefix, dumps_json(body))
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
        """POST one call with the current stream id; raises `NotConnected`/`CallRejected`.
        Plain-HTTP masters get the call on the driver's pipelined `CallPool`; https ones go
        through the aiohttp session."""
        kind = str(body.get("type"))
        core = self._core
        if not core.subscribed or self._session is None or not core.framework_id:
            raise NotConnected(f"{kind} not sent: the driver is not subscribed to a master")
        if core.master.scheme == "http":
            pool, prefix = self._call_pool()
            try:
                status, answer = await pool.post(prefix, dumps_json(body))
            except CallFailed as exc:
                raise NotConnected(f"{kind} not delivered: {exc}") from None
            if 200 <= status < 300:
                return
            raise CallRejected(kind, status, answer.decode("utf-8", "replace").strip())
        await self._send_aiohttp(kind, body)

    def _call_pool(self) -> tuple[CallPool, bytes]:
        """The pool for the current master and the request head for the current stream id
        (both cached; a new master or stream replaces them)."""
        core = self._core
        key = (core.master, core.stream_id)
        if self._prefix_key != key:
            if self._pool is not None and (self._pool.host, self._pool.port) != (
                core.master.host,
                core.master.port,
            ):
                self._pool.close()
                self._pool = None
            headers = {"Content-Type": JSON, "Mesos-Stream-Id": core.stream_id or ""}
            self._prefix = request_prefix(core.master.host, core.master.port, PATH, headers)
            self._prefix_key = key
        if self._pool is None or self._pool.closed:
            self._pool = CallPool(
                core.master.host,
                core.master.port,
                max_connections=self._max_connections,
                connect_timeout=self._connect_timeout,
                call_timeout=self._call_timeout,
            )
        return self._pool, self._prefix

    async def _send_aiohttp(self, kind: str, body: dict[str, Any]) -> None:
        assert self._session is not None
        core = self._core
        headers = {"Content-Type": JSON, "Mesos-Stream-Id": core.stream_id or ""}
        timeout = aiohttp.ClientTimeout(total=self._call_timeout)
        try:
            async with self._session.post(
                core.master.url + PATH,
                data=dumps_json(body),
                headers=headers,
                allow_redirects=False,
                timeout=timeout,
            ) as resp:
                if 200 <= resp.status < 300:
                    await resp.read()
                    return
                text = (await resp.text(errors="replace")).strip()
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            raise NotConnected(f"{kind} not delivered: {exc or type(exc).__name__}") from None
        raise CallRejected(kind, resp.status, text)

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
        ids = [_offer_id(o) for o in offer_ids]
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
        ids = [_offer_id(o) for o in offer_ids]
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
        ids = [_offer_id(o) for o in offer_ids]
        await self._send(
            calls.decline(self._fid(), ids, calls.make_filters(filters, refuse_seconds))
        )

    async def kill(self, task_id: TaskID | str, agent_id: AgentID | str | None = None) -> None:
        await self._send(calls.kill(self._fid(), task_id, agent_id))

    async def reconcile(self, tasks: Iterable[Any] = ()) -> None:
        """RECONCILE the given tasks (ids, (task_id, agent_id) pairs or statuses); with none,
        implicit reconciliation: the master sends the latest state of every known task."""
        await self._send(calls.reconcile(self._fid(), [_task_ref(t) for t in tasks]))

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
        Never raises for a failed call. Called by framework shells with their core's actions."""
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
