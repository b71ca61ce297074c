"""`Executor` and `ExecutorDriver`: write a custom executor against the Mesos v1 executor API.

An executor is a process the agent starts (from a TaskInfo's ``executor``) with the ``MESOS_*``
environment; it subscribes to its agent (``POST /api/v1/executor``), receives tasks and runs
them however it likes, and reports their states with status updates. Subclass `Executor`,
override the callbacks you need (all ``async``; run one at a time, in event order), then::

    asyncio.run(ExecutorDriver(MyExecutor()).run())

What each callback receives:

- `registered(driver, executor_info, framework_info, agent_info)`: first SUBSCRIBED.
- `reregistered(driver, agent_info)`: SUBSCRIBED again after a reconnection.
- `disconnected(driver)`: the stream to the agent ended (e.g. the agent restarts); the driver
  re-subscribes (with the tasks and updates not yet acknowledged), backing off up to
  ``MESOS_SUBSCRIPTION_BACKOFF_MAX``, until ``MESOS_RECOVERY_TIMEOUT`` (default 15 min).
- `launch_task(driver, task)`: a TaskInfo dict; report at least TASK_RUNNING and a terminal state.
- `launch_group(driver, tasks)`: the TaskInfos of one task group.
- `kill_task(driver, task_id)`: kill the task and report TASK_KILLED.
- `acknowledged(driver, task_id, uuid)`: the scheduler acknowledged that update.
- `framework_message(driver, data)`: bytes from the scheduler.
- `shutdown(driver)`: kill every task; the driver stops after this callback, and the agent
  kills the executor after its shutdown grace period.
- `error(driver, message)`.

The bookkeeping (unacknowledged tasks and updates, event decoding) is the sans-IO
`ExecutorDriverCore`; `ExecutorDriver` owns the HTTP connection and the callback task.
"""

from __future__ import annotations

import asyncio
import base64
import inspect
import logging
import os
import ssl as ssl_module
import time
import uuid as uuidlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp

from dcos.common import durations
from dcos.common.backoff import Backoff
from dcos.common.clock import Clock, RealClock
from dcos.protocol.codec import JSON, dumps_json
from dcos.protocol.ids import ExecutorID, FrameworkID, TaskID, unwrap, wrap
from dcos.sdk._stream import cancel_tasks, read_json_events
from dcos.sdk.auth import Credentials, auth_headers
from dcos.sdk.errors import DriverError
from dcos.sdk.states import (
    DRIVER_ABORTED,
    DRIVER_NOT_STARTED,
    DRIVER_RUNNING,
    DRIVER_STOPPED,
    DriverState,
)
from dcos.sdk.transport import SSLOption

log = logging.getLogger(__name__)

DEFAULT_RECOVERY_TIMEOUT = 15 * 60.0


class Executor:
    """Base class of a custom executor; every callback is an async no-op."""

    async def registered(self, driver: ExecutorDriver, executor_info: dict[str, Any],
                         framework_info: dict[str, Any], agent_info: dict[str, Any]) -> None:  # fmt: skip
        pass

    async def reregistered(self, driver: ExecutorDriver, agent_info: dict[str, Any]) -> None:
        pass

    async def disconnected(self, driver: ExecutorDriver) -> None:
        pass

    async def launch_task(self, driver: ExecutorDriver, task: dict[str, Any]) -> None:
        pass

    async def launch_group(self, driver: ExecutorDriver, tasks: list[dict[str, Any]]) -> None:
        pass

    async def kill_task(self, driver: ExecutorDriver, task_id: TaskID) -> None:
        pass

    async def acknowledged(self, driver: ExecutorDriver, task_id: TaskID, uuid: str) -> None:
        pass

    async def framework_message(self, driver: ExecutorDriver, data: bytes) -> None:
        pass

    async def shutdown(self, driver: ExecutorDriver) -> None:
        pass

    async def error(self, driver: ExecutorDriver, message: str) -> None:
        pass


class ExecutorCallRejected(DriverError):
    """The agent answered a call with a non-2xx status (400: a malformed call)."""

    def __init__(self, call_type: str, status: int, message: str) -> None:
        super().__init__(f"{call_type} rejected by the agent ({status}): {message}")
        self.status = status
        self.message = message


def parse_duration(text: str | None, default: float) -> float:
    """Seconds from a Mesos duration (``5secs``, ``3mins``, ``100ms``); `default` if unset or
    not a duration (`dcos.common.durations.parse_duration` does the parsing)."""
    if not text:
        return default
    try:
        return durations.parse_duration(text)
    except ValueError:
        return default


@dataclass(frozen=True)
class Env:
    """What the agent tells an executor through its environment."""

    agent_endpoint: str
    framework_id: FrameworkID
    executor_id: ExecutorID
    sandbox: str
    checkpoint: bool
    shutdown_grace: float
    recovery_timeout: float
    backoff_max: float | None = None  # MESOS_SUBSCRIPTION_BACKOFF_MAX, if set
    token: str | None = None  # MESOS_EXECUTOR_AUTHENTICATION_TOKEN: sent on every call
    # TLS to the agent (security on): DCOS_CA_FILE (or LIBPROCESS_SSL_CA_FILE) names the CA
    # bundle the agent's certificate is checked against; https when it is set or when
    # LIBPROCESS_SSL_ENABLED is 1/true (then the system CAs if no file is named).
    tls: bool = False
    ca_file: str | None = None

    @classmethod
    def read(cls, env: Mapping[str, str]) -> Env:
        """Raises KeyError naming a missing required variable."""
        for name in ("MESOS_AGENT_ENDPOINT", "MESOS_FRAMEWORK_ID", "MESOS_EXECUTOR_ID"):
            if not env.get(name):
                raise KeyError(f"{name} is not set: run this executor from a dcos-py agent")
        return cls(
            agent_endpoint=env["MESOS_AGENT_ENDPOINT"],
            framework_id=FrameworkID(env["MESOS_FRAMEWORK_ID"]),
            executor_id=ExecutorID(env["MESOS_EXECUTOR_ID"]),
            sandbox=env.get("MESOS_SANDBOX") or env.get("MESOS_DIRECTORY") or os.getcwd(),
            checkpoint=env.get("MESOS_CHECKPOINT", "0") == "1",
            shutdown_grace=parse_duration(env.get("MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD"), 5.0),
            recovery_timeout=parse_duration(
                env.get("MESOS_RECOVERY_TIMEOUT"), DEFAULT_RECOVERY_TIMEOUT
            ),  # fmt: skip
            backoff_max=(
                parse_duration(env["MESOS_SUBSCRIPTION_BACKOFF_MAX"], 2.0)
                if env.get("MESOS_SUBSCRIPTION_BACKOFF_MAX")
                else None
            ),  # fmt: skip
            token=env.get("MESOS_EXECUTOR_AUTHENTICATION_TOKEN") or None,
            tls=bool(env.get("DCOS_CA_FILE"))
            or env.get("LIBPROCESS_SSL_ENABLED", "").lower() in ("1", "true"),
            ca_file=env.get("DCOS_CA_FILE") or env.get("LIBPROCESS_SSL_CA_FILE") or None,
        )

    def ssl_context(self) -> ssl_module.SSLContext | None:
        """The client context for the agent's https executor API, or None (plain http).
        Called by `ExecutorDriver` when no ``ssl`` argument is given."""
        if not self.tls:
            return None
        return ssl_module.create_default_context(cafile=self.ca_file)


class ExecutorDriverCore:
    """Sans-IO: the calls to send and what events mean; no sockets here."""

    def __init__(self, env: Env) -> None:
        self.env = env
        self.tasks: dict[TaskID, dict[str, Any]] = {}  # launched, no update acknowledged yet
        self.updates: dict[str, dict[str, Any]] = {}  # uuid -> unacknowledged TaskStatus
        self.subscribed_once = False
        self.executor_info: dict[str, Any] | None = None
        self.framework_info: dict[str, Any] | None = None
        self.agent_info: dict[str, Any] | None = None

    def _ids(self) -> dict[str, Any]:
        return {"framework_id": wrap(self.env.framework_id),
                "executor_id": wrap(self.env.executor_id)}  # fmt: skip

    def subscribe_body(self) -> dict[str, Any]:
        return {"type": "SUBSCRIBE", **self._ids(), "subscribe": {
            "unacknowledged_tasks": list(self.tasks.values()),
            "unacknowledged_updates": [{**self._ids(), "status": s}
                                       for s in self.updates.values()],
        }}  # fmt: skip

    def status(self, task_id: str, state: str, now: float, *, message: str | None = None,
               data: bytes | None = None, healthy: bool | None = None,
               reason: str | None = None) -> dict[str, Any]:  # fmt: skip
        """A new TaskStatus (uuid, timestamp, source filled), kept until acknowledged."""
        status: dict[str, Any] = {
            "task_id": wrap(task_id), "state": state, "source": "SOURCE_EXECUTOR",
            "uuid": base64.b64encode(uuidlib.uuid4().bytes).decode("ascii"),
            "timestamp": now, "executor_id": wrap(self.env.executor_id),
        }  # fmt: skip
        if message is not None:
            status["message"] = message
        if data is not None:
            status["data"] = base64.b64encode(data).decode("ascii")
        if healthy is not None:
            status["healthy"] = healthy
        if reason is not None:
            status["reason"] = reason
        self.updates[status["uuid"]] = status
        return status

    def update_body(self, status: dict[str, Any]) -> dict[str, Any]:
        return {"type": "UPDATE", **self._ids(), "update": {"status": status}}

    def message_body(self, data: bytes) -> dict[str, Any]:
        return {"type": "MESSAGE", **self._ids(),
                "message": {"data": base64.b64encode(data).decode("ascii")}}  # fmt: skip

    def on_event(self, event: dict[str, Any]) -> tuple[str, tuple[Any, ...]] | None:
        """(callback name, args) for one event, or None (HEARTBEAT, unknown)."""
        kind = event.get("type")
        body = event.get(str(kind).lower()) or {}
        if kind == "SUBSCRIBED":
            self.executor_info = body.get("executor_info") or {}
            self.framework_info = body.get("framework_info") or {}
            self.agent_info = body.get("agent_info") or {}
            if self.subscribed_once:
                return "reregistered", (self.agent_info,)
            self.subscribed_once = True
            return "registered", (self.executor_info, self.framework_info, self.agent_info)
        if kind == "LAUNCH":
            task = body.get("task") or {}
            self.tasks[TaskID(unwrap(task.get("task_id")) or "")] = task
            return "launch_task", (task,)
        if kind == "LAUNCH_GROUP":
            tasks = (body.get("task_group") or {}).get("tasks") or []
            for task in tasks:
                self.tasks[TaskID(unwrap(task.get("task_id")) or "")] = task
            return "launch_group", (tasks,)
        if kind == "KILL":
            return "kill_task", (TaskID(unwrap(body.get("task_id")) or ""),)
        if kind == "ACKNOWLEDGED":
            tid, uuid = TaskID(unwrap(body.get("task_id")) or ""), str(body.get("uuid"))
            self.updates.pop(uuid, None)
            self.tasks.pop(tid, None)
            return "acknowledged", (tid, uuid)
        if kind == "MESSAGE":
            return "framework_message", (base64.b64decode(body.get("data") or ""),)
        if kind == "SHUTDOWN":
            return "shutdown", ()
        if kind == "ERROR":
            return "error", (str(body.get("message", "")),)
        if kind != "HEARTBEAT":
            log.warning("ignoring unknown executor event %r", kind)
        return None


class ExecutorDriver:
    """Runs an `Executor` against its agent (see the module docstring).

    `env` defaults to ``os.environ``; `clock` drives the reconnection backoff. With `ssl`
    (an `ssl.SSLContext`, or False for no certificate check) the agent is reached over https;
    without it, https when the agent says so in the environment (``DCOS_CA_FILE``, or
    ``LIBPROCESS_SSL_ENABLED`` + ``LIBPROCESS_SSL_CA_FILE``: `Env.ssl_context`);
    `session` is an aiohttp session to use (and not close); every request carries the token
    of ``MESOS_EXECUTOR_AUTHENTICATION_TOKEN`` (``Authorization: Bearer``), or else, with
    `credentials`, HTTP basic authentication.
    """

    def __init__(self, executor: Executor, *, env: Mapping[str, str] | None = None,
                 clock: Clock | None = None, backoff_initial: float = 0.1,
                 backoff_max: float | None = None, call_timeout: float = 10.0,
                 ssl: SSLOption = None, session: aiohttp.ClientSession | None = None,
                 credentials: Credentials | None = None) -> None:  # fmt: skip
        """`backoff_max` defaults to ``MESOS_SUBSCRIPTION_BACKOFF_MAX``, else 2 s."""
        self.executor = executor
        self._given_session = session
        self._auth = auth_headers(credentials)
        self.clock: Clock = clock or RealClock()
        self.core = ExecutorDriverCore(Env.read(os.environ if env is None else env))
        self._ssl = ssl if ssl is not None else self.core.env.ssl_context()
        if self.core.env.token:  # the agent's proof that it launched us (Mesos' Bearer token)
            self._auth = {"Authorization": f"Bearer {self.core.env.token}"}
            if env is None:  # as Mesos' executor library: the tasks we start do not inherit it
                os.environ.pop("MESOS_EXECUTOR_AUTHENTICATION_TOKEN", None)
        if backoff_max is None:
            backoff_max = self.core.env.backoff_max or 2.0
        self._backoff = (backoff_initial, backoff_max)
        self._call_timeout = call_timeout
        self._session: aiohttp.ClientSession | None = None
        self._queue: asyncio.Queue[tuple[str, tuple[Any, ...]] | None] = asyncio.Queue()
        self._tasks: list[asyncio.Task[Any]] = []
        self._done: asyncio.Future[DriverState] | None = None
        self._state = DRIVER_NOT_STARTED
        self._connected = False
        self._stopping = False
        self._finisher: asyncio.Task[DriverState] | None = None

    @property
    def url(self) -> str:
        scheme = "http" if self._ssl is None else "https"
        return f"{scheme}://{self.core.env.agent_endpoint}/api/v1/executor"

    @property
    def _ssl_arg(self) -> Any:
        return True if self._ssl is None else self._ssl

    @property
    def framework_id(self) -> FrameworkID:
        return self.core.env.framework_id

    @property
    def executor_id(self) -> ExecutorID:
        return self.core.env.executor_id

    @property
    def sandbox(self) -> str:
        return self.core.env.sandbox

    @property
    def connected(self) -> bool:
        return self._connected

    @property
    def state(self) -> DriverState:
        return self._state

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self) -> DriverState:
        """Start subscribing in the background; returns ``DRIVER_RUNNING`` at once."""
        if self._state != DRIVER_NOT_STARTED:
            return self._state
        self._done = asyncio.get_running_loop().create_future()
        self._session = self._given_session or aiohttp.ClientSession()
        self._state = DRIVER_RUNNING
        self._tasks = [asyncio.create_task(self._consume()),
                       asyncio.create_task(self._connection_loop())]  # fmt: skip
        return self._state

    async def join(self) -> DriverState:
        if self._done is None:
            return self._state
        return await asyncio.shield(self._done)

    async def run(self) -> DriverState:
        await self.start()
        return await self.join()

    async def __aenter__(self) -> ExecutorDriver:
        """``async with ExecutorDriver(MyExecutor()) as driver: await driver.join()``."""
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    async def stop(self, state: DriverState = DRIVER_STOPPED) -> DriverState:
        """Stop the driver (safe from a callback and more than once)."""
        if self._stopping or self._state == DRIVER_NOT_STARTED:
            return self._state
        self._stopping = True
        await cancel_tasks(self._tasks)
        if self._session is not None and self._session is not self._given_session:
            await self._session.close()
        self._session = None
        self._connected = False
        self._state = state
        if self._done is not None and not self._done.done():
            self._done.set_result(state)
        return state

    # -- calls -----------------------------------------------------------------------------

    async def send_status_update(self, task_id: str, state: str, message: str | None = None,
                                 data: bytes | None = None, healthy: bool | None = None,
                                 reason: str | None = None) -> dict[str, Any]:  # fmt: skip
        """Report a task's state; returns the TaskStatus sent. Kept (and re-sent when the
        driver re-subscribes) until the scheduler acknowledges it. Raises
        `ExecutorCallRejected` when the agent refuses it (e.g. an invalid state)."""
        status = self.core.status(str(task_id), str(state), time.time(), message=message,
                                  data=data, healthy=healthy, reason=reason)  # fmt: skip
        try:
            await self._post(self.core.update_body(status))
        except ExecutorCallRejected:
            self.core.updates.pop(status["uuid"], None)
            raise
        except DriverError as exc:
            log.info("update for %s not delivered now (sent again on re-subscribe): %s",
                     task_id, exc)  # fmt: skip
        return status

    async def send_framework_message(self, data: bytes) -> None:
        """Send `data` to the scheduler (its `framework_message` callback)."""
        await self._post(self.core.message_body(bytes(data)))

    async def _post(self, body: dict[str, Any]) -> None:
        if self._session is None:
            raise DriverError("the driver is not running")
        timeout = aiohttp.ClientTimeout(total=self._call_timeout)
        try:
            async with self._session.post(self.url, data=dumps_json(body),
                                          headers={"Content-Type": JSON, **self._auth},
                                          timeout=timeout, ssl=self._ssl_arg) as resp:  # fmt: skip
                text = await resp.text(errors="replace")
                if 200 <= resp.status < 300:
                    return
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            raise DriverError(
                f"{body['type']} not delivered: {exc or type(exc).__name__}"
            ) from None
        raise ExecutorCallRejected(str(body["type"]), resp.status, text.strip())

    # -- the subscription ------------------------------------------------------------------

    async def _connection_loop(self) -> None:
        backoff = Backoff(*self._backoff)
        lost_at: float | None = None
        while not self._stopping:
            outcome = await self._subscribe_once()
            if outcome == "refused":
                self._queue.put_nowait(None)
                return
            now = self.clock.time()
            if outcome == "subscribed":
                backoff.reset()
                lost_at = now
                self._queue.put_nowait(("disconnected", ()))
            lost_at = now if lost_at is None else lost_at
            if now - lost_at > self.core.env.recovery_timeout:
                log.error("agent unreachable for %.0f s: shutting down", now - lost_at)
                self._queue.put_nowait(("shutdown", ()))
                self._queue.put_nowait(None)
                return
            await self.clock.sleep(backoff.next())

    async def _subscribe_once(self) -> str:
        """'subscribed' (the stream ran, then ended), 'failed' or 'refused'."""
        assert self._session is not None
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=self._call_timeout)
        try:
            resp = await self._session.post(
                self.url, data=dumps_json(self.core.subscribe_body()),
                headers={"Content-Type": JSON, "Accept": JSON, **self._auth}, timeout=timeout,
                ssl=self._ssl_arg,
            )  # fmt: skip
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            log.info("cannot reach the agent at %s: %s", self.core.env.agent_endpoint, exc)
            return "failed"
        async with resp:
            if resp.status != 200:
                text = await resp.text(errors="replace")
                log.error("SUBSCRIBE refused (%d): %s", resp.status, text)
                if 400 <= resp.status < 500:
                    self._queue.put_nowait(("error", (f"SUBSCRIBE refused: {text}",)))
                    return "refused"
                return "failed"
            self._connected = True

            def handle(event: Any) -> bool:
                dispatch = self.core.on_event(event)
                if dispatch is not None:
                    self._queue.put_nowait(dispatch)
                return False

            try:
                await read_json_events(resp, handle, log, "the agent")
            finally:
                self._connected = False
        return "subscribed"

    async def _consume(self) -> None:
        """Run callbacks one at a time; SHUTDOWN (or a refusal) ends the driver."""
        while True:
            item = await self._queue.get()
            if item is None:
                self._finisher = asyncio.create_task(self.stop(DRIVER_ABORTED))
                return
            name, args = item
            fn = getattr(self.executor, name, None)
            if fn is not None:
                try:
                    result = fn(self, *args)
                    if inspect.isawaitable(result):
                        await result
                except asyncio.CancelledError:
                    raise
                except Exception:  # noqa: BLE001 - a callback must not kill the driver
                    log.exception("executor callback %s raised", name)
            if name == "shutdown":
                self._finisher = asyncio.create_task(self.stop(DRIVER_STOPPED))
                return

    def __repr__(self) -> str:
        return f"ExecutorDriver({self.core.env.executor_id}@{self.core.env.agent_endpoint}, {self._state})"
