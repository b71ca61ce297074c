"""Marathon's HTTP callback event subscriptions (``/v2/eventSubscriptions``).

Every event the framework publishes (`EventBus` listeners) is POSTed as JSON to each
registered callback URL. Delivery is asynchronous and isolated per subscriber: each has its
own bounded queue and worker task, so a slow, failing or hanging receiver never blocks the
framework or the other subscribers. A request that times out, cannot connect or gets a
5xx/408/429 answer is retried with exponential backoff; after the last try the event is
dropped and counted. When a queue is full the oldest event is dropped (a warning is logged,
once per burst). Events keep their order per subscriber.

`validate_callback_url` is called by the API before a URL is registered; `CallbackDispatcher`
is owned by `WebappService` (registered with `add`/`remove`, fed by `publish`, closed by
`close`); the URL list itself is persisted by `WebappStore` (``webapp/event-subscriptions``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import aiohttp

from dcos.sdk.util import Backoff

log = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({408, 429})
JSON_HEADERS = {"Content-Type": "application/json"}


def validate_callback_url(url: str | None) -> str | None:
    """None when `url` is an absolute http(s) URL with a host; otherwise the problem."""
    if not url:
        return "callbackUrl is required"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (raises on a bad port)
    except ValueError as e:
        return f"not a valid URL: {e}"
    if parts.scheme not in ("http", "https"):
        return f"callbackUrl must be an http or https URL, not {parts.scheme or 'a relative one'!r}"
    if not parts.hostname:
        return "callbackUrl needs a host"
    return None


@dataclass
class CallbackConfig:
    max_queue: int = 1000  # events waiting per subscriber; the oldest go first when full
    timeout: float = 10.0  # seconds per POST
    retries: int = 3  # tries after the first
    backoff: float = 0.5  # seconds before the first retry, doubled each time (jittered)
    max_backoff: float = 10.0


@dataclass
class SubscriberStats:
    delivered: int = 0
    failed: int = 0  # events given up after every retry
    dropped: int = 0  # events pushed out of a full queue
    retried: int = 0


@dataclass
class _Subscriber:
    url: str
    queue: deque[bytes]
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    stats: SubscriberStats = field(default_factory=SubscriberStats)
    task: asyncio.Task[None] | None = None
    warned: bool = False


class CallbackDispatcher:
    """One worker per callback URL; `publish` never waits."""

    def __init__(self, config: CallbackConfig | None = None) -> None:
        self.config = config or CallbackConfig()
        self._subs: dict[str, _Subscriber] = {}
        self._session: aiohttp.ClientSession | None = None

    @property
    def urls(self) -> list[str]:
        return list(self._subs)

    def stats(self, url: str) -> SubscriberStats | None:
        sub = self._subs.get(url)
        return sub.stats if sub else None

    def add(self, url: str) -> bool:
        """Register `url` (called in the event loop); False if it already was."""
        if url in self._subs:
            return False
        sub = _Subscriber(url, deque())
        sub.task = asyncio.get_running_loop().create_task(self._run(sub), name=f"callback {url}")
        self._subs[url] = sub
        return True

    def remove(self, url: str) -> bool:
        """Unregister `url`; events still queued for it are dropped. False if unknown."""
        sub = self._subs.pop(url, None)
        if sub is None:
            return False
        if sub.task is not None:
            sub.task.cancel()
        return True

    def publish(self, kind: str, body: bytes) -> None:
        """Queue one event (its JSON body) for every subscriber (an `EventBus` listener)."""
        limit = self.config.max_queue
        for sub in self._subs.values():
            if len(sub.queue) >= limit:
                sub.queue.popleft()
                sub.stats.dropped += 1
                if not sub.warned:
                    sub.warned = True
                    log.warning("event callback %s is too slow: its queue is full (%d events); "
                                "dropping the oldest", sub.url, limit)  # fmt: skip
            sub.queue.append(body)
            sub.wake.set()

    async def close(self) -> None:
        """Stop every worker (queued events are dropped) and close the HTTP session."""
        subs, self._subs = list(self._subs.values()), {}
        for sub in subs:
            if sub.task is not None:
                sub.task.cancel()
        for sub in subs:
            if sub.task is not None:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await sub.task
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
        return self._session

    async def _run(self, sub: _Subscriber) -> None:
        while True:
            while not sub.queue:
                sub.wake.clear()
                await sub.wake.wait()
            body = sub.queue.popleft()
            if not sub.queue:
                sub.warned = False  # caught up: warn again on the next overflow
            try:
                await self._deliver(sub, body)
            except asyncio.CancelledError:
                raise
            except Exception:  # never let one bad event stop the worker
                log.exception("event callback %s: delivery failed", sub.url)
                sub.stats.failed += 1

    async def _deliver(self, sub: _Subscriber, body: bytes) -> None:
        cfg = self.config
        backoff = Backoff(cfg.backoff, cfg.max_backoff)
        for attempt in range(cfg.retries + 1):
            problem = await self._post(sub.url, body)
            if problem is None:
                sub.stats.delivered += 1
                return
            if problem.startswith("HTTP 4") and not any(problem == f"HTTP {s}" for s in RETRY_STATUSES):
                break  # the receiver refuses it: retrying will not help
            if attempt < cfg.retries:
                sub.stats.retried += 1
                await asyncio.sleep(backoff.next())
        sub.stats.failed += 1
        log.warning("event callback %s: event dropped after %d tries (%s)", sub.url, attempt + 1, problem)

    async def _post(self, url: str, body: bytes) -> str | None:
        """One POST; None when the receiver took it (2xx/3xx), else what went wrong."""
        try:
            async with self._client().post(url, data=body, headers=JSON_HEADERS, allow_redirects=False,
                                           timeout=aiohttp.ClientTimeout(total=self.config.timeout)) as r:  # fmt: skip
                await r.read()
                return None if r.status < 400 else f"HTTP {r.status}"
        except TimeoutError:
            return f"timed out after {self.config.timeout:g} s"
        except (aiohttp.ClientError, OSError) as e:
            return f"{type(e).__name__}: {e}"
