"""Following a Marathon-style `/v2/events` server-sent-event stream to keep a derived view fresh.

Used by the clients of the webapp framework's API that keep a view of its apps and tasks: the
DNS server (`dcos.dns`) and the HAProxy load balancer (`frameworks.webapp.lb`). Each of them
re-reads the apps (`fetch_apps`: `GET /v2/apps?embed=apps.tasks`) when the stream says something
changed.

The webapp framework may run as several instances (one leads, the followers proxy `/v2` to it),
so a client is given a list of instance URLs (`--webapp http://a:8080,http://b:8080`,
`parse_webapp_urls`). `WebappEndpoints` (sans-IO) remembers which one answered last; every
read (`fetch_apps_any`) and every stream (re)connect starts there and moves on to the next
instance when one does not answer, so the clients follow a failover of the webapp by
themselves.

Four parts:
- `SseParser` (sans-IO, in `dcos.common.sse_parser`, shared with the CLI): bytes of a
  `text/event-stream` body in, complete `SseEvent`s out.
- `SyncPolicy` (sans-IO): when to re-read. A change event asks for a resync after a short
  debounce (so a burst of status updates during a deployment costs one re-read, and a change is
  seen well within a second); every (re)connect asks for one at once (events may have been
  missed while disconnected); a slow periodic resync is the safety net; a failed resync is
  retried after `retry_s`.
- `WebappEndpoints` (sans-IO): the instances and the one in use.
- `EventFollower` (asyncio + aiohttp shell): holds the stream open (reconnecting to the next
  instance at once, and with a capped backoff after a full round of failures), feeds the policy,
  and calls the owner's `resync()` when the policy says so.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import orjson

from dcos.common.backoff import Backoff
from dcos.common.clock import Clock, RealClock
from dcos.common.sse_parser import SseEvent, SseParser

log = logging.getLogger(__name__)

__all__ = [
    "EventFollower", "SseEvent", "SseParser", "SyncPolicy", "WebappEndpoints", "fetch_apps",
    "fetch_apps_any", "parse_webapp_urls",
]

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


def parse_webapp_urls(text: str | Sequence[str]) -> tuple[str, ...]:
    """The webapp instance URLs of a ``--webapp`` value: one URL or several separated by commas
    (``http://a:8080,http://b:8080``), each ``http(s)://host[:port]``, trailing slash dropped,
    duplicates once. Raises ValueError naming the bad entry (the flag's usage error)."""
    items = text.split(",") if isinstance(text, str) else list(text)
    urls: list[str] = []
    for item in items:
        url = item.strip().rstrip("/")
        if not url:
            continue
        try:
            parts = urlsplit(url)
            parts.port  # noqa: B018 -- raises ValueError for a bad port
        except ValueError as exc:
            raise ValueError(f"bad webapp URL {url!r}: {exc}") from None
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"bad webapp URL {url!r}: expected http(s)://host[:port]")
        if url not in urls:
            urls.append(url)
    if not urls:
        raise ValueError("no webapp URL given (expected http://host:port[,http://host:port...])")
    return tuple(urls)


class WebappEndpoints:
    """The webapp instances a client may ask, and the one it uses now (sans-IO).

    Any instance answers `/v2` (followers proxy to the leader), so the choice only matters
    when one is down: `order()` is the current one first, then the others in turn; `failed(url)`
    moves on from `url` when it is the current one, `succeeded(url)` stays with it. Shared by a
    service's reads and its event stream (both `EventFollower` and `fetch_apps_any` take it)."""

    def __init__(self, urls: str | Sequence[str]) -> None:
        self.urls = parse_webapp_urls(urls)
        self.index = 0

    @classmethod
    def of(cls, value: str | Sequence[str] | WebappEndpoints) -> WebappEndpoints:
        return value if isinstance(value, WebappEndpoints) else cls(value)

    @property
    def current(self) -> str:
        return self.urls[self.index]

    def order(self) -> list[str]:
        return [self.urls[(self.index + i) % len(self.urls)] for i in range(len(self.urls))]

    def failed(self, url: str) -> None:
        if url == self.current:
            self.index = (self.index + 1) % len(self.urls)

    def succeeded(self, url: str) -> None:
        if url in self.urls:
            self.index = self.urls.index(url)

    def __str__(self) -> str:
        return ",".join(self.urls)


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


async def fetch_apps_any(session: aiohttp.ClientSession, endpoints: WebappEndpoints) -> list[Any]:
    """`fetch_apps` from the first instance of `endpoints.order()` that answers (200 with an
    ``apps`` list); remembers it. Raises RuntimeError naming every instance's failure when none
    answers (a failover in progress): the caller keeps what it has and retries."""
    problems: list[str] = []
    for url in endpoints.order():
        try:
            apps = await fetch_apps(session, url)
        except (aiohttp.ClientError, TimeoutError, RuntimeError, orjson.JSONDecodeError) as exc:
            endpoints.failed(url)
            problems.append(f"{url}: {str(exc) or type(exc).__name__}")
            continue
        endpoints.succeeded(url)
        return apps
    raise RuntimeError("no webapp instance answered (" + "; ".join(problems) + ")")


class EventFollower:
    """Keeps `<webapp>/v2/events` open and calls `resync()` when `SyncPolicy` says so.

    Called by: the DNS and load-balancer shells, `await follower.run()` as a task, cancelled on
    shutdown. `webapp` is one URL, several, or the `WebappEndpoints` the owner also reads from
    (`endpoints`); a stream that cannot be opened or drops moves to the next instance.
    `resync` raises on failure (logged, retried); `on_event` (optional) sees every
    event first. `synced` is set after each successful resync (tests and readiness wait on it).
    """

    def __init__(
        self,
        webapp: str | Sequence[str] | WebappEndpoints,
        resync: Callable[[], Awaitable[None]],
        *,
        policy: SyncPolicy | None = None,
        clock: Clock | None = None,
        on_event: Callable[[SseEvent], None] | None = None,
        reconnect_max_s: float = 5.0,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.ssl_context = ssl_context  # security on: the owner's mutual-TLS client context
        self.endpoints = WebappEndpoints.of(webapp)
        self.resync = resync
        self.policy = policy or SyncPolicy()
        self.clock = clock or RealClock()
        self.on_event = on_event
        self.reconnect_max_s = reconnect_max_s
        self.connected = False
        self.syncs = 0
        self.synced = asyncio.Event()
        self._wake = asyncio.Event()

    @property
    def url(self) -> str:
        """The events URL of the instance in use."""
        return self.endpoints.current + "/v2/events"

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
        connector = aiohttp.TCPConnector(ssl=self.ssl_context or True)
        async with aiohttp.ClientSession(timeout=timeout, trust_env=False,
                                         connector=connector) as session:
            misses = 0  # failed attempts in a row (a round: each instance once)
            while True:
                problem: BaseException | None = None
                instance = self.endpoints.current
                try:
                    await self._stream_once(session)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # noqa: BLE001 -- reconnect on any failure
                    problem = exc
                if self.connected:  # it was attached, then dropped: come back promptly
                    backoff.reset()
                    misses = 0
                misses += 1
                self.endpoints.failed(instance)
                # the next instance at once; the backoff after a whole round failed
                rounds_done = misses % len(self.endpoints.urls) == 0
                delay = backoff.next() if rounds_done else 0.05
                log.info("event stream %s/v2/events: %s; reconnecting to %s in %.1f s", instance,
                         (str(problem) or type(problem).__name__) if problem else "closed",
                         self.url, delay)
                self.connected = False
                await asyncio.sleep(delay)

    async def _stream_once(self, session: aiohttp.ClientSession) -> None:
        headers = {"Accept": "text/event-stream"}
        url = self.url
        async with session.get(url, headers=headers) as resp:
            if resp.status != 200:
                raise RuntimeError(f"GET {url} answered {resp.status}")
            self.connected = True
            self.endpoints.succeeded(url.removesuffix("/v2/events"))
            log.info("event stream %s attached", url)
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
