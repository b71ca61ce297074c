"""Following a Marathon-style `/v2/events` server-sent-event stream to keep a derived view fresh.

Used by the clients of the webapp framework's API that keep a view of its apps and tasks: the
DNS server (`dcos.dns`) and the HAProxy load balancer (`frameworks.webapp.lb`). Each of them
re-reads the apps (`fetch_apps`: `GET /v2/apps?embed=apps.tasks`) when the stream says something
changed.

Three parts:
- `SseParser` (sans-IO, in `dcos.common.sse_parser`, shared with the CLI): bytes of a
  `text/event-stream` body in, complete `SseEvent`s out.
- `SyncPolicy` (sans-IO): when to re-read. A change event asks for a resync after a short
  debounce (so a burst of status updates during a deployment costs one re-read, and a change is
  seen well within a second); every (re)connect asks for one at once (events may have been
  missed while disconnected); a slow periodic resync is the safety net; a failed resync is
  retried after `retry_s`.
- `EventFollower` (asyncio + aiohttp shell): holds the stream open (reconnecting with a capped
  backoff), feeds the policy, and calls the owner's `resync()` when the policy says so.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
import orjson

from dcos.common.backoff import Backoff
from dcos.common.clock import Clock, RealClock
from dcos.common.sse_parser import SseEvent, SseParser

log = logging.getLogger(__name__)

__all__ = ["EventFollower", "SseEvent", "SseParser", "SyncPolicy", "fetch_apps"]

# Event types that never change apps or tasks (everything else, unknown ones included, does).
QUIET_EVENTS = frozenset({
    "event_stream_attached", "event_stream_detached", "subscribe_event", "unsubscribe_event",
})


@dataclass
class SyncPolicy:
    """When the view must be re-read (sans-IO; the shell passes `now` and asks `due`/`wakeup`).

    `debounce_s`: delay from the first unsynced change event to the resync it causes.
    `full_every_s`: the safety-net resync period. `retry_s`: delay after a failed resync.
    """

    debounce_s: float = 0.2
    full_every_s: float = 60.0
    retry_s: float = 1.0
    pending_since: float | None = None
    last_sync: float | None = None
    retry_at: float | None = None

    def note_event(self, now: float, event_type: str) -> None:
        """A stream event arrived; changes (anything not in QUIET_EVENTS) ask for a resync."""
        if event_type in QUIET_EVENTS:
            return
        if self.pending_since is None:
            self.pending_since = now

    def note_connected(self, now: float) -> None:
        """The stream was (re)opened: resync at once (events may have been missed)."""
        self.pending_since = now - self.debounce_s

    def due_at(self) -> float:
        """The time the next resync is due (0 before the first one)."""
        if self.last_sync is None and self.retry_at is None:
            return 0.0
        candidates = [self.last_sync + self.full_every_s if self.last_sync is not None else 0.0]
        if self.pending_since is not None:
            candidates.append(self.pending_since + self.debounce_s)
        if self.retry_at is not None:
            candidates = [max(min(candidates), self.retry_at)]
        return min(candidates)

    def due(self, now: float) -> bool:
        return now >= self.due_at()

    def begin(self, now: float) -> None:
        """A resync starts now: events from here on need another one."""
        self.pending_since = None
        self.retry_at = None

    def succeeded(self, now: float) -> None:
        self.last_sync = now

    def failed(self, now: float) -> None:
        """The resync failed: try again after `retry_s` (events keep their pending state)."""
        self.retry_at = now + self.retry_s
        if self.pending_since is None:
            self.pending_since = now


async def fetch_apps(session: aiohttp.ClientSession, webapp_url: str) -> list[Any]:
    """The apps with their tasks: `GET <webapp>/v2/apps?embed=apps.tasks`, its ``apps`` list.
    Raises RuntimeError for another status or no list (aiohttp/orjson errors pass through).
    Called by the followers' `resync` (DNS and load balancer)."""
    url = webapp_url.rstrip("/") + "/v2/apps?embed=apps.tasks"
    async with session.get(url, headers={"Accept": "application/json"}) as resp:
        if resp.status != 200:
            raise RuntimeError(f"GET {url} answered {resp.status}")
        body = orjson.loads(await resp.read())
    apps = body.get("apps") if isinstance(body, dict) else None
    if not isinstance(apps, list):
        raise RuntimeError(f"GET {url}: no 'apps' list")
    return apps


class EventFollower:
    """Keeps `<webapp>/v2/events` open and calls `resync()` when `SyncPolicy` says so.

    Called by: the DNS and load-balancer shells, `await follower.run()` as a task, cancelled on
    shutdown. `resync` raises on failure (logged, retried); `on_event` (optional) sees every
    event first. `synced` is set after each successful resync (tests and readiness wait on it).
    """

    def __init__(
        self,
        webapp_url: str,
        resync: Callable[[], Awaitable[None]],
        *,
        policy: SyncPolicy | None = None,
        clock: Clock | None = None,
        on_event: Callable[[SseEvent], None] | None = None,
        reconnect_max_s: float = 5.0,
    ) -> None:
        self.url = webapp_url.rstrip("/") + "/v2/events"
        self.resync = resync
        self.policy = policy or SyncPolicy()
        self.clock = clock or RealClock()
        self.on_event = on_event
        self.reconnect_max_s = reconnect_max_s
        self.connected = False
        self.syncs = 0
        self.synced = asyncio.Event()
        self._wake = asyncio.Event()

    async def run(self) -> None:
        """Stream and sync until cancelled."""
        stream = asyncio.create_task(self._stream_loop())
        try:
            await self._sync_loop()
        finally:
            stream.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await stream

    def poke(self) -> None:
        """Ask for a resync now (e.g. after the owner's own configuration changed)."""
        self.policy.note_connected(self.clock.time())
        self._wake.set()

    async def _sync_loop(self) -> None:
        while True:
            now = self.clock.time()
            if self.policy.due(now):
                self.policy.begin(now)
                try:
                    await self.resync()
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # noqa: BLE001 -- any failure: log, retry later
                    log.warning("resync from %s failed: %s", self.url, exc)
                    self.policy.failed(self.clock.time())
                else:
                    self.policy.succeeded(self.clock.time())
                    self.syncs += 1
                    self.synced.set()
                continue
            self._wake.clear()
            delay = max(0.0, self.policy.due_at() - now)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=delay)

    async def _stream_loop(self) -> None:
        backoff = Backoff(0.2, max(0.2, self.reconnect_max_s))
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=5, sock_read=None)
        async with aiohttp.ClientSession(timeout=timeout, trust_env=False) as session:
            while True:
                problem: BaseException | None = None
                try:
                    await self._stream_once(session)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # noqa: BLE001 -- reconnect on any failure
                    problem = exc
                if self.connected:  # it was attached, then dropped: come back promptly
                    backoff.reset()
                delay = backoff.next()
                log.info("event stream %s: %s; reconnecting in %.1f s", self.url,
                         (str(problem) or type(problem).__name__) if problem else "closed", delay)
                self.connected = False
                await asyncio.sleep(delay)

    async def _stream_once(self, session: aiohttp.ClientSession) -> None:
        headers = {"Accept": "text/event-stream"}
        async with session.get(self.url, headers=headers) as resp:
            if resp.status != 200:
                raise RuntimeError(f"GET {self.url} answered {resp.status}")
            self.connected = True
            log.info("event stream %s attached", self.url)
            self.policy.note_connected(self.clock.time())
            self._wake.set()
            parser = SseParser()
            async for chunk in resp.content.iter_any():
                for event in parser.feed(chunk):
                    if self.on_event is not None:
                        self.on_event(event)
                    self.policy.note_event(self.clock.time(), event.event_type)
                    self._wake.set()
        raise RuntimeError("stream closed by the server")
