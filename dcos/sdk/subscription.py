"""`Subscription`: a scheduler driver's SUBSCRIBE stream, kept open (owned by the driver).

`run` loops until stopped: wait the core's backoff delay, SUBSCRIBE (through the driver's
`MasterTransport`), classify the answer with the sans-IO `DriverCore` (redirect, retry,
abort), read the event stream while a watchdog closes it when heartbeats stop, and hand every
callback the core decides on to the driver's `deliver` (which queues it for the single
consumer). It returns when the master ended the subscription for good (aborted).

Which master: the driver's `dcos.state.detector.MasterDetector` names it (the address given,
or the leader ZooKeeper names for a ``zk://`` master). When the detector names another
leader, the open stream is closed (``disconnected``) and the next SUBSCRIBE, with the
framework id, goes to the new leader at once (``reregistered``); a backoff wait ends early
for it too; while no master leads the loop waits for the detector (no polling). A redirect
(307 from a standby) is followed for the next attempt; when the master redirected to cannot
be reached, the next attempt goes back to the detector's master.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import aiohttp

from dcos.common.addresses import MasterAddress
from dcos.common.clock import Clock
from dcos.protocol.codec import dumps_json
from dcos.sdk._stream import cancel_tasks, read_json_events
from dcos.sdk.core import Abort, Action, Connected, Dispatch, DriverCore, Redirect, Retry
from dcos.sdk.transport import MasterTransport
from dcos.state.detector import MasterDetector

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
        detector: MasterDetector,
    ) -> None:
        self.core = core
        self.http = http
        self.clock = clock
        self.deliver = deliver
        self.stopping = stopping
        self.detector = detector
        self.subscribed = asyncio.Event()
        self._leader: MasterAddress | None = core.master  # the detector's, last seen

    async def run(self) -> None:
        """Keep subscribing until stopped or aborted; the driver's subscription task."""
        await self._start_detector()
        while not self.stopping():
            self._take_leader()
            delay = self.core.next_delay()
            if delay > 0 and await self._pause(delay):
                continue  # another master leads: subscribe to it at once
            if self.stopping():
                return
            if self.core.master is None:
                await self._wait_leader()
                continue
            try:
                aborted = await self._subscribe_once()
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - keep the driver alive
                log.exception("subscription attempt failed unexpectedly")
                aborted = False
            if aborted:
                return

    async def _start_detector(self) -> None:
        """Start the detector (its ZooKeeper session), retrying with backoff until it does."""
        while not self.stopping():
            try:
                await self.detector.start()
                return
            except (TimeoutError, OSError) as exc:
                log.warning("cannot find the master: %s; retrying", exc)
            await self.clock.sleep(self.core.backoff.next())

    def _take_leader(self) -> None:
        """When the detector names another master than last seen, aim the core at it."""
        now = self.detector.current()
        if now != self._leader:
            log.info("the leading master is now %s (was %s)", now or "none", self._leader)
            self._leader = now
            self.core.on_leader(now)

    async def _pause(self, delay: float) -> bool:
        """Sleep `delay` seconds; True when the detector named another master meanwhile
        (the sleep ends then)."""
        sleep = asyncio.create_task(self.clock.sleep(delay))
        moved = asyncio.create_task(self.detector.changed(self._leader))
        try:
            await asyncio.wait((sleep, moved), return_when=asyncio.FIRST_COMPLETED)
        finally:
            await cancel_tasks((sleep, moved))
        return moved.done() and not moved.cancelled()

    async def _wait_leader(self) -> None:
        """No master leads: wait until the detector names one."""
        log.info("no leading master known; waiting for one")
        while self.detector.current() is None and not self.stopping():
            await self.detector.changed(None)

    def _back_to_leader(self) -> None:
        """An attempt failed at a master a redirect named: the next one goes to the
        detector's master again (it redirects to whoever leads now)."""
        if self._leader is not None and self.core.master != self._leader:
            self.core.master = self._leader

    async def _subscribe_once(self) -> bool:
        """One SUBSCRIBE and, if accepted, reading its stream to the end; True = aborted."""
        core = self.core
        assert core.master is not None
        try:
            resp = await self.http.subscribe(core.master, dumps_json(core.subscribe_body()))
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            log.info("cannot reach master %s: %s", core.master, exc)
            self._back_to_leader()
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
                self._back_to_leader()
                return False
            if isinstance(outcome, Abort):
                log.error("%s", outcome.message)
                self.deliver(Dispatch("error", (outcome.message,)))
                return True
            assert isinstance(outcome, Connected)
            return await self._read_stream(resp)

    async def _read_stream(self, resp: aiohttp.ClientResponse) -> bool:
        watchdog = asyncio.create_task(self._watchdog(resp), name="sdk-heartbeat")
        follower = asyncio.create_task(self._leader_moved(resp), name="sdk-leader")
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
            follower.cancel()
        actions = self.core.on_disconnected()
        self.subscribed.clear()
        if not aborted:
            log.info("disconnected from master %s", self.core.master)
            self._carry_out(actions)
        return aborted

    async def _leader_moved(self, resp: aiohttp.ClientResponse) -> None:
        """Close the stream when the detector names another master (or none) than the one
        streaming; `run` then subscribes to the new leader."""
        seen = self._leader
        while True:
            seen = await self.detector.changed(seen)
            if seen != self.core.master:
                log.warning("the leading master is now %s; leaving %s",
                            seen or "none", self.core.master)  # fmt: skip
                resp.close()
                return

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
