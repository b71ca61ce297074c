"""The agent's session with the master: its subscription stream and its status update sender.

Owned by the agent shell (`dcos.agent.shell.AgentShell`), made in `start` once the HTTP
session exists. `connection_loop` subscribes (SUBSCRIBE body from the core), parses each
stream event (`dcos.agent.master_events`) and feeds it to the core through the shell's `feed`,
and re-subscribes with jittered exponential backoff (`dcos.common.backoff`: after a master
restart the agents do not all come back at the same instant). `update_loop` sends status
updates when the core said they are due (the shell hands it the `UpdatesDue` and
`SendUpdates` actions): batched UPDATE calls, each posted after the checkpoint is synced, so
the master never learns a state the agent could forget, and without waiting for the answer
to the previous one (a few in flight; a task has only one update in flight anyway).

Which master: a `dcos.state.detector.MasterDetector` says (a fixed address, or the leader
ZooKeeper names for ``--master zk://...``). Each subscription goes to the detector's current
leader; when the detector names another one (or none) while the stream is open, the stream
is dropped and the agent re-subscribes to the new leader at once (with its id, secret and
running tasks, as after any reconnect); while no master leads it waits for the detector,
without polling. A standby master answers SUBSCRIBE with ``307 Location: //ip:port/path``:
the next attempt goes there at once (a few times in a row, then with backoff); after that
stream ends the agent starts again from the detector's master.

The session secret (`dcos.protocol.internal`): each REGISTERED event carries it (a new one
at a first registration, the same one after a re-registration that showed it), which the link (`MasterLink.set_secret`) sends with every later call before the core even
sees the event. With checkpointing on it is also kept in ``<work_dir>/meta/master_secret``
(with the agent id it belongs to, mode 0600), so that an agent process restarted on that
work dir re-registers its checkpointed id with the secret the master knows.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
from collections.abc import Awaitable, Callable
from typing import Any

from dcos.agent.channel import MasterLink, Refused
from dcos.agent.core import AgentCore, Registered, SendUpdates
from dcos.agent.core import events as ev
from dcos.agent.master_events import parse_master_event
from dcos.common.addresses import MasterAddress, MasterAddressError, parse_master
from dcos.common.backoff import Backoff
from dcos.common.clock import Clock
from dcos.protocol import internal
from dcos.state.detector import MasterDetector

log = logging.getLogger(__name__)

PING_TIMEOUTS = 5  # silent ping intervals before the agent assumes the master is gone
SECRET_FILE = "master_secret"  # in the checkpoint's meta directory
MAX_UPDATE_CALLS = 4  # UPDATE calls in flight at once (the link's call connections)
MAX_FAST_REDIRECTS = 3  # redirects followed at once in a row; then with backoff
REDIRECTS = frozenset({301, 302, 303, 307, 308})


class MasterSession:
    def __init__(
        self,
        link: MasterLink,
        core: AgentCore,
        feed: Callable[[ev.Event], bool],
        clock: Clock,
        backoff: Backoff,
        registered: asyncio.Event,
        sync: Callable[[], Awaitable[None]] | None,
        on_bug: Callable[[], None],
        detector: MasterDetector,
    ) -> None:
        """`feed`: the shell's way into the core (False when the core raised); `sync`: wait
        for the checkpoint (None without one); `on_bug`: count a bug the loops caught;
        `detector`: names the master to subscribe to (started here, closed by the shell)."""
        self.link = link
        self.detector = detector
        self._redirect: MasterAddress | None = None  # where the next attempt goes, if set
        self._redirects = 0  # redirects followed in a row
        self.core = core  # read only: the SUBSCRIBE body and whether it is registered
        self.feed = feed
        self.clock = clock
        self.backoff = backoff
        self.registered = registered
        self.sync = sync
        self.on_bug = on_bug
        self._read_timeout: list[float | None] = [None]
        self._wake = asyncio.Event()  # `UpdatesDue` came: the update loop looks again
        self._updates_at: float | None = None  # when the core said updates are due next
        self._outbox: list[SendUpdates] = []  # UPDATE calls waiting for the update loop
        self._posting: set[asyncio.Future[int]] = set()  # UPDATE calls awaiting the answer
        # where the session secret is kept (None: not kept, the agent does not checkpoint)
        self.secret_path = (
            os.path.join(core.work_dir, "meta", SECRET_FILE) if sync is not None else None
        )
        self._secret_loaded = False

    # -- what the shell's dispatch hands over ----------------------------------------------

    def on_registered(self, a: Registered) -> None:
        log.info("registered with master as %s", a.agent_id)
        self.link.warm()  # the call connection, before the first status update needs it
        if a.ping_interval:
            self._read_timeout[0] = a.ping_interval * PING_TIMEOUTS
        self.registered.set()

    def updates_due(self, at: float) -> None:
        if self._updates_at is None or at < self._updates_at:
            self._updates_at = at
            self._wake.set()

    def send_updates(self, a: SendUpdates) -> None:
        self._outbox.append(a)

    # -- the subscription ------------------------------------------------------------------

    async def connection_loop(self) -> None:
        """Subscribe to the leading master, stream its events into the core, and subscribe
        again when the stream ends (with backoff) or another master leads (at once)."""
        await self._start_detector()
        last: MasterAddress | None = None
        while True:
            self._read_timeout[0] = None
            leader = await self._leader()
            if leader != last:  # a new leader: failures at the old one say nothing about it
                last = leader
                self.backoff.reset()
                self._redirects = 0
            target, self._redirect = self._redirect or leader, None
            self.link.point_at(target)
            moved = False
            try:
                registered, moved = await self._follow(leader, target)
                if registered:
                    self.backoff.reset()
                    self._redirects = 0
            except Exception:  # a bug outside the event handlers: re-subscribe
                self.on_bug()
                log.exception("agent bug in the master connection; re-subscribing")
            if self.core.registered and not moved:
                log.warning("lost the master's stream; re-subscribing")
            self.feed(ev.Disconnected())
            self.registered.clear()
            if moved:
                continue
            if self._redirect is not None and self._redirects <= MAX_FAST_REDIRECTS:
                continue
            await self._pause(self.backoff.next(), leader)

    async def _start_detector(self) -> None:
        """Start the detector (a ZooKeeper session), retrying with backoff until it starts."""
        while True:
            try:
                await self.detector.start()
                return
            except (TimeoutError, OSError) as exc:
                log.warning("cannot find the master: %s; retrying", exc)
            await self.clock.sleep(self.backoff.next())

    async def _pause(self, delay: float, leader: MasterAddress) -> None:
        """The backoff wait: `delay` seconds, ended early when the detector names a master
        other than `leader` (a dead leader's successor gets the agent at once)."""
        sleep = asyncio.ensure_future(self.clock.sleep(delay))
        moved = asyncio.ensure_future(self.detector.changed(leader))
        try:
            await asyncio.wait((sleep, moved), return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (sleep, moved):
                task.cancel()
            await asyncio.gather(sleep, moved, return_exceptions=True)

    async def _leader(self) -> MasterAddress:
        """The master the detector names; waits (for the detector's next change, no polling)
        while none leads."""
        leader = self.detector.current()
        if leader is not None:
            return leader
        log.info("no leading master known; waiting for one")
        while leader is None:
            leader = await self.detector.changed(None)
        log.info("the leading master is now %s", leader)
        return leader

    async def _follow(self, leader: MasterAddress, target: MasterAddress) -> tuple[bool, bool]:
        """One subscription to `target` while the detector names `leader`: returns
        (registered on it, another master leads now). The stream is dropped as soon as the
        detector names a master other than the one streaming."""
        stream = asyncio.ensure_future(self._stream_events())
        moved = asyncio.ensure_future(self._leader_moved(leader, target))
        try:
            await asyncio.wait((stream, moved), return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (stream, moved):
                task.cancel()
            await asyncio.gather(stream, moved, return_exceptions=True)
        if stream.done() and not stream.cancelled():
            return stream.result(), False  # raises the bug the stream met
        new = moved.result()
        log.warning("the leading master is now %s (was %s); re-subscribing",
                    new or "none", target)  # fmt: skip
        return self.core.registered, True

    async def _leader_moved(
        self, leader: MasterAddress, target: MasterAddress
    ) -> MasterAddress | None:
        """Return the detector's new master (None: none leads) once it is neither `leader`
        nor the master streaming (a redirect may have taken the agent there first)."""
        seen: MasterAddress | None = leader
        while True:
            seen = await self.detector.changed(seen)
            if seen != target:
                return seen

    async def _stream_events(self) -> bool:
        """One subscription: feed its events to the core until it ends. An event whose
        handler raises is logged and dropped; the stream goes on. True once registered."""
        registered = False
        if not self._secret_loaded:
            self._secret_loaded = True
            self._load_secret()
        subscription = self.link.subscribe(self.core.subscribe_call(), self._read_timeout)
        try:
            async for event in subscription:
                if isinstance(event, Refused):
                    self._refused(event)
                    break
                if event.get("type") == internal.REGISTERED:
                    self._take_secret(event)
                try:
                    parsed = parse_master_event(event)
                except Exception:
                    self.on_bug()
                    log.exception("agent bug while parsing master event; dropped: %.500r", event)
                    continue
                if parsed is not None:
                    self.feed(parsed)
                registered = registered or self.core.registered
        finally:
            await subscription.aclose()  # type: ignore[attr-defined]
        return registered

    def _take_secret(self, event: dict[str, Any]) -> None:
        """A REGISTERED event: send its secret from now on, and keep it with the id."""
        secret, agent_id = event.get("secret"), event.get("agent_id")
        if not isinstance(secret, str) or not isinstance(agent_id, str):
            self.link.set_secret(None)  # a master that hands out no secrets
            return
        self.link.set_secret(secret)
        if self.secret_path is not None:
            try:
                _write_private(self.secret_path, {"agent_id": agent_id, "secret": secret})
            except OSError as exc:
                log.error("cannot keep the master's session secret in %s: %s; a restarted "
                          "agent will have to register anew", self.secret_path, exc)  # fmt: skip

    def _load_secret(self) -> None:
        """At the first subscription: the secret kept for the agent id the core recovered."""
        if self.secret_path is None or self.core.agent_id is None:
            return
        try:
            with open(self.secret_path, encoding="utf-8") as f:
                saved = json.load(f)
        except FileNotFoundError:
            return
        except (OSError, ValueError) as exc:
            log.warning("unreadable session secret %s: %s", self.secret_path, exc)
            return
        if isinstance(saved, dict) and saved.get("agent_id") == self.core.agent_id:
            secret = saved.get("secret")
            self.link.set_secret(secret if isinstance(secret, str) else None)

    def _refused(self, refused: Refused) -> None:
        if refused.status in REDIRECTS:
            self._redirected(refused)
        elif refused.status == 403:
            log.error("master refused this agent (%s); killing its tasks and registering anew",
                      refused.message)  # fmt: skip
            self.feed(ev.MasterRefused())
        else:
            log.warning("master answered SUBSCRIBE with %d: %s", refused.status, refused.message)

    def _redirected(self, refused: Refused) -> None:
        """A standby master points at the leader: the next attempt goes there."""
        current = self.link.address
        scheme = current.scheme if current is not None else "http"
        try:
            self._redirect = parse_master(refused.location or "", default_scheme=scheme)
        except MasterAddressError as exc:
            log.warning("master %s redirected SUBSCRIBE to a bad location: %s", current, exc)
            return
        self._redirects += 1
        log.info("master %s is not the leader; following it to %s", current, self._redirect)

    # -- status updates --------------------------------------------------------------------

    async def update_loop(self) -> None:
        """Send due status updates in batched UPDATE calls; sleep until the next are due."""
        while True:
            try:
                await self._send_due_updates()
            except Exception:  # a bug must not stop status updates for good
                self.on_bug()
                log.exception("agent bug while sending status updates; retrying in 1s")
                await self.clock.sleep(1.0)

    async def _send_due_updates(self) -> None:
        """When the core said updates are due, ask it for the UPDATE call and send it; else
        sleep until then, or until an `UpdatesDue` changes the time."""
        while True:
            self._wake.clear()
            at = self._updates_at
            if at is None:
                await self._wake.wait()
                continue
            delay = at - self.clock.time()
            if delay <= 0:
                self._updates_at = None
                if not self.feed(ev.SendDueUpdates()):  # a bug: try again in a second
                    self._updates_at = self.clock.time() + 1.0
                calls, self._outbox = self._outbox, []
                for call in calls:
                    if self.sync is not None:
                        await self.sync()  # never tell what we could forget
                    await self._post(call.body)
                continue
            sleeper = asyncio.ensure_future(self.clock.sleep(delay))
            waker = asyncio.ensure_future(self._wake.wait())
            try:
                await asyncio.wait([sleeper, waker], return_when=asyncio.FIRST_COMPLETED)
            finally:
                sleeper.cancel()
                waker.cancel()

    async def _post(self, body: dict[str, Any]) -> None:
        """Post an UPDATE call without waiting for the master's answer (the status is not
        used: an update is retried until acknowledged), at most `MAX_UPDATE_CALLS` at a time.
        A task has one update in flight, so calls in flight together never reorder a task's."""
        while len(self._posting) >= MAX_UPDATE_CALLS:
            await asyncio.wait(self._posting, return_when=asyncio.FIRST_COMPLETED)
        task = asyncio.ensure_future(self.link.call(body))
        self._posting.add(task)
        task.add_done_callback(self._posting.discard)

    async def send_last_updates(self) -> None:
        """Best effort at stop: tell the master how the tasks the agent just killed ended."""
        self.feed(ev.SendDueUpdates())
        calls, self._outbox = self._outbox, []
        if not calls:
            return
        if self.sync is not None:
            await self.sync()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.link.call(calls[0].body), 1.0)


def _write_private(path: str, data: dict[str, Any]) -> None:
    """Write `data` as JSON to `path` durably and readable by this user only (a temporary
    file synced, then renamed over the old one)."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = f"{path}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, json.dumps(data).encode("utf-8"))
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
