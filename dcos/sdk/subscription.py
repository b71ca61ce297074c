"""`Subscription`: a scheduler driver's SUBSCRIBE stream, kept open (owned by the driver).

`run` loops until stopped: wait the core's backoff delay, SUBSCRIBE (through the driver's
`MasterTransport`), classify the answer with the sans-IO `DriverCore` (redirect, retry,
abort), read the event stream while a watchdog closes it when heartbeats stop, and hand every
callback the core decides on to the driver's `deliver` (which queues it for the single
consumer). It returns when the master ended the subscription for good (aborted).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import aiohttp

from dcos.common.clock import Clock
from dcos.protocol.codec import dumps_json
from dcos.sdk._stream import read_json_events
from dcos.sdk.core import Abort, Action, Connected, Dispatch, DriverCore, Redirect, Retry
from dcos.sdk.transport import MasterTransport

log = logging.getLogger(__name__)


class Subscription:
    """See the module docstring. `subscribed` is set while SUBSCRIBED holds on the open
    stream (what `SchedulerDriver.wait_subscribed` waits for)."""

    def __init__(
        self,
        core: DriverCore,
        http: MasterTransport,
        clock: Clock,
        deliver: Callable[[Dispatch], None],
        stopping: Callable[[], bool],
    ) -> None:
        self.core = core
        self.http = http
        self.clock = clock
        self.deliver = deliver
        self.stopping = stopping
        self.subscribed = asyncio.Event()

    async def run(self) -> None:
        """Keep subscribing until stopped or aborted; the driver's subscription task."""
        while not self.stopping():
            delay = self.core.next_delay()
            if delay > 0:
                await self.clock.sleep(delay)
            if self.stopping():
                return
            try:
                aborted = await self._subscribe_once()
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - keep the driver alive
                log.exception("subscription attempt failed unexpectedly")
                aborted = False
            if aborted:
                return

    async def _subscribe_once(self) -> bool:
        """One SUBSCRIBE and, if accepted, reading its stream to the end; True = aborted."""
        core = self.core
        try:
            resp = await self.http.subscribe(core.master, dumps_json(core.subscribe_body()))
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
                self.deliver(Dispatch("error", (outcome.message,)))
                return True
            assert isinstance(outcome, Connected)
            return await self._read_stream(resp)

    async def _read_stream(self, resp: aiohttp.ClientResponse) -> bool:
        watchdog = asyncio.create_task(self._watchdog(resp), name="sdk-heartbeat")
        aborted = False

        def handle(event: Any) -> bool:
            nonlocal aborted
            if self._carry_out(self.core.on_event(event, self.clock.time())):
                aborted = True
            if self.core.subscribed:
                self.subscribed.set()
            return aborted

        try:
            await read_json_events(resp, handle, log, str(self.core.master))
        finally:
            watchdog.cancel()
        actions = self.core.on_disconnected()
        self.subscribed.clear()
        if not aborted:
            log.info("disconnected from master %s", self.core.master)
            self._carry_out(actions)
        return aborted

    async def _watchdog(self, resp: aiohttp.ClientResponse) -> None:
        """Close the stream when no event (not even HEARTBEAT) came for too long."""
        while True:
            now = self.clock.time()
            deadline = self.core.heartbeat_deadline()
            if now >= deadline:
                log.warning(
                    "no event from master %s for %.1f s: treating it as disconnected",
                    self.core.master,
                    now - self.core.last_event_at,
                )
                resp.close()
                return
            await self.clock.sleep(deadline - now)

    def _carry_out(self, actions: list[Action]) -> bool:
        """Deliver the core's callbacks; True when it said to abort."""
        aborted = False
        for action in actions:
            if isinstance(action, Dispatch):
                self.deliver(action)
            elif isinstance(action, Abort):
                aborted = True
        return aborted
