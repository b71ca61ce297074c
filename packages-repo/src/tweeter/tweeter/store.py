"""Tweets and analytics results in Redis: the data model both tweeter programs share.

Keys (prefix `tweeter` by default, `--key-prefix` / `TWEETER_KEY_PREFIX`):
- `<prefix>:tweets`: a list of tweets as JSON objects `{"id", "handle", "text", "time"}`,
  newest first (LPUSH), so the timeline is one LRANGE.
- `<prefix>:next-id`: the counter tweet ids come from (INCR).
- `<prefix>:analytics`: the last result of tweeter-analytics as one JSON object (see
  `tweeter_analytics.job.Result.to_json`).

Called by `tweeter.web` (async client, per request) and `tweeter_analytics.__main__` (sync
client, once per interval).
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from dataclasses import asdict, dataclass
from typing import Any

import redis
import redis.asyncio as aredis
import redis.asyncio.retry
import redis.backoff
import redis.retry

from tweeter.discovery import DiscoveryError, Endpoint, locate

MAX_TEXT = 280
HANDLE_RE = re.compile(r"^[A-Za-z0-9_]{1,32}$")
CONNECT_TIMEOUT_S = 2.0


@dataclass(frozen=True)
class Keys:
    prefix: str = "tweeter"

    @property
    def tweets(self) -> str:
        return f"{self.prefix}:tweets"

    @property
    def next_id(self) -> str:
        return f"{self.prefix}:next-id"

    @property
    def analytics(self) -> str:
        return f"{self.prefix}:analytics"


@dataclass(frozen=True)
class Tweet:
    id: int
    handle: str
    text: str
    time: float

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_json(cls, raw: str | bytes) -> Tweet:
        d = json.loads(raw)
        return cls(int(d["id"]), str(d["handle"]), str(d["text"]), float(d["time"]))


class InvalidTweet(ValueError):
    """A posted tweet that is refused; `field` names the offending field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def checked_fields(handle: Any, text: Any) -> tuple[str, str]:
    """The (handle, text) of a post, stripped, or `InvalidTweet`: the handle is 1-32 letters,
    digits or underscores; the text 1-280 characters. Called by the web app before storing."""
    if not isinstance(handle, str) or not HANDLE_RE.match(handle.strip()):
        raise InvalidTweet("handle", "handle must be 1-32 letters, digits or underscores")
    if not isinstance(text, str) or not text.strip():
        raise InvalidTweet("text", "text must not be empty")
    text = text.strip()
    if len(text) > MAX_TEXT:
        raise InvalidTweet("text", f"text must be at most {MAX_TEXT} characters, got {len(text)}")
    return handle.strip(), text


class RedisLocator:
    """Where Redis is: a fixed `url` (`redis://host:port/0`), else the webapp app `service`
    looked up in dcos-py DNS. The address is kept until `forget()` (called after a connection
    error: Redis may have been restarted elsewhere)."""

    def __init__(self, service: str = "redis", url: str | None = None) -> None:
        self.service = service
        self.url = url
        self._found: Endpoint | None = None

    def endpoint(self) -> Endpoint:
        """The Redis address; `DiscoveryError` when DNS has none."""
        if self.url:
            parsed = redis.connection.parse_url(self.url)
            return Endpoint(str(parsed.get("host", "127.0.0.1")), int(parsed.get("port", 6379)))
        if self._found is None:
            self._found = locate(self.service)
        return self._found

    def known(self) -> Endpoint | None:
        """The address when it needs no lookup (a fixed URL or one found before), else None."""
        return self.endpoint() if self.url else self._found

    def forget(self) -> None:
        self._found = None


class AsyncStore:
    """The web app's view of Redis. Each call finds Redis (cached), and a connection failure
    forgets the address and the client so the next call looks again."""

    def __init__(self, locator: RedisLocator, keys: Keys) -> None:
        self.locator = locator
        self.keys = keys
        self._client: aredis.Redis | None = None
        self._client_for: Endpoint | None = None

    async def _redis(self) -> aredis.Redis:
        # A DNS lookup blocks: it runs in a thread, and only when the address is not known.
        ep = self.locator.known()
        if ep is None:
            ep = await asyncio.to_thread(self.locator.endpoint)
        if self._client is None or self._client_for != ep:
            await self.close()
            # One immediate retry (a pooled connection Redis closed), no backoff: with Redis
            # gone a request (and /health) answers 503 at once instead of after seconds.
            self._client = aredis.Redis(
                host=ep.host, port=ep.port, socket_timeout=CONNECT_TIMEOUT_S,
                socket_connect_timeout=CONNECT_TIMEOUT_S,
                retry=redis.asyncio.retry.Retry(redis.backoff.NoBackoff(), 1))
            self._client_for = ep
        return self._client

    async def _failed(self) -> None:
        self.locator.forget()
        await self.close()

    async def close(self) -> None:
        if self._client is not None:
            client, self._client, self._client_for = self._client, None, None
            await client.aclose()

    async def call(self, op: str, *args: Any) -> Any:
        """Run one Redis command. On a connection error or timeout forget where Redis was; when
        DNS now names another address (Redis was replaced) run it once more there, else raise
        `StoreUnavailable`. (The old address is gone, so a retried write is not applied twice.)"""
        retried = False
        while True:
            used: Endpoint | None = None
            try:
                r = await self._redis()
                used = self._client_for
                return await r.execute_command(op, *args)
            except DiscoveryError as exc:
                raise StoreUnavailable(str(exc)) from None
            except (redis.ConnectionError, redis.TimeoutError, OSError) as exc:
                await self._failed()
                if not retried and await self._moved(used):
                    retried = True
                    continue
                raise StoreUnavailable(f"redis: {exc}") from None

    async def _moved(self, used: Endpoint | None) -> bool:
        """Whether DNS now gives another Redis address than `used` (never for a fixed URL)."""
        if self.locator.url or used is None:
            return False
        try:
            return await asyncio.to_thread(self.locator.endpoint) != used
        except DiscoveryError:
            return False

    async def ping(self) -> str:
        """'' when Redis answers PING, else why not."""
        try:
            await self.call("PING")
        except StoreUnavailable as exc:
            return str(exc)
        return ""

    async def post(self, handle: str, text: str) -> Tweet:
        tweet_id = int(await self.call("INCR", self.keys.next_id))
        tweet = Tweet(tweet_id, handle, text, round(time.time(), 3))
        await self.call("LPUSH", self.keys.tweets, tweet.to_json())
        return tweet

    async def timeline(self, limit: int) -> list[Tweet]:
        raw = await self.call("LRANGE", self.keys.tweets, 0, limit - 1)
        return [Tweet.from_json(r) for r in raw]

    async def count(self) -> int:
        return int(await self.call("LLEN", self.keys.tweets))

    async def analytics(self) -> dict[str, Any] | None:
        raw = await self.call("GET", self.keys.analytics)
        return None if raw is None else dict(json.loads(raw))


class StoreUnavailable(Exception):
    """Redis could not be reached (no DNS record, refused, timed out); the message says why."""


def sync_client(locator: RedisLocator) -> redis.Redis:
    """A blocking client of the Redis `locator` finds now (tweeter-analytics' driver)."""
    ep = locator.endpoint()
    return redis.Redis(host=ep.host, port=ep.port, socket_timeout=10,
                       socket_connect_timeout=CONNECT_TIMEOUT_S,
                       retry=redis.retry.Retry(redis.backoff.NoBackoff(), 1))
