"""Finding the leading master for the gateway's ``/mesos/`` proxy and its directory reads.

Called by: `dcos.gateway.directory.Directory` (`LeaderSource.leader()` before each master
read, `invalidate()` when the leader stopped answering) and `dcos.gateway.__main__`
(`leader_source(config)`, `start()`/`close()`).

Three ways, one interface (`LeaderSource`):

- one ``--master URL``: that master (`dcos.state.detector.StaticDetector`); a standby answers
  with its own redirect, which the client follows;
- ``--zk zk://host:port/path`` (or ``--master zk://...``): the leader the masters elected in
  ZooKeeper, followed through a children watch (`dcos.state.detector.ZooKeeperDetector`);
- several ``--master`` URLs (HA without ZooKeeper access): every master's
  ``/master/redirect`` answers 307 ``//host:port`` naming the leader; `RedirectLeader` asks
  them all at once (each bounded by a short timeout) and takes the answer most of them give
  (`choose_leader`, sans-IO). The answer is kept ~1 s; `invalidate()` asks again at once.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import time
from collections import Counter
from collections.abc import Sequence
from typing import Protocol

import aiohttp

from dcos.common.addresses import MasterAddressError, parse_master
from dcos.state.detector import StaticDetector, ZooKeeperDetector, master_address
from dcos.state.zk import is_zk_url, parse_zk_url

log = logging.getLogger(__name__)


class LeaderSource(Protocol):
    async def start(self) -> None: ...

    async def leader(self) -> str | None:
        """The leading master's base URL (``http://host:port``), None when none is known."""
        ...

    def why_none(self) -> str:
        """Why `leader()` gave None, in words (for the 503 message)."""
        ...

    def invalidate(self) -> None:
        """The leader stopped answering: look again on the next `leader()`."""
        ...

    def masters(self) -> list[str]:
        """Every master's base URL the source knows of (the leader among them), for
        ``/gateway/health`` and the UI's Nodes page."""
        ...

    async def close(self) -> None: ...


class DetectorLeader:
    """A `dcos.state.detector` detector (static address or ZooKeeper) as a `LeaderSource`."""

    def __init__(self, detector: StaticDetector | ZooKeeperDetector, where: str) -> None:
        self.detector = detector
        self.where = where

    async def start(self) -> None:
        await self.detector.start()

    async def leader(self) -> str | None:
        current = self.detector.current()
        return current.url if current is not None else None

    def why_none(self) -> str:
        return f"no leading master is known in {self.where} (ZooKeeper unreachable or no " \
               "master elected)"

    def invalidate(self) -> None:
        return None  # the detector follows changes by itself

    def masters(self) -> list[str]:
        if isinstance(self.detector, ZooKeeperDetector):
            scheme = self.detector.scheme
            return [master_address(m, scheme).url for m in self.detector.masters()]
        current = self.detector.current()
        return [current.url] if current is not None else []

    async def close(self) -> None:
        await self.detector.close()


def parse_redirect(location: str | None, scheme: str = "http") -> str | None:
    """A ``/master/redirect`` ``Location`` (``//host:port``, or a full URL) -> the leader's
    base URL (`scheme` when the Location has none), None when unusable."""
    if not location:
        return None
    try:
        return parse_master(location, scheme).url
    except MasterAddressError:
        return None


def choose_leader(answers: Sequence[str | None]) -> str | None:
    """The leader most masters name (ties: the one named first); None if nobody names one."""
    named = [a for a in answers if a]
    if not named:
        return None
    counts = Counter(named)
    best = max(counts.values())
    return next(a for a in named if counts[a] == best)


class RedirectLeader:
    """The leader among several masters, through their ``/master/redirect`` (module doc)."""

    def __init__(self, masters: Sequence[str], *, ttl: float = 1.0, probe_timeout: float = 1.0,
                 scheme: str = "http", ssl_context: ssl.SSLContext | None = None) -> None:  # fmt: skip
        self.scheme = scheme
        self.ssl_context = ssl_context
        self.masters_urls = [parse_master(m, scheme).url for m in masters]
        self.ttl = ttl
        self.probe_timeout = probe_timeout
        self._session: aiohttp.ClientSession | None = None
        self._cached: str | None = None
        self._at = float("-inf")
        self._lock = asyncio.Lock()
        self._why = "no master answered yet"

    async def start(self) -> None:
        self._session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=self.probe_timeout),
            connector=aiohttp.TCPConnector(ssl=self.ssl_context or True))

    async def _ask(self, url: str) -> str | None:
        assert self._session is not None, "RedirectLeader.start() first"
        try:
            async with self._session.get(url + "/master/redirect", allow_redirects=False) as r:
                await r.read()
                location = r.headers.get("Location")
                return parse_redirect(location, self.scheme) if r.status == 307 else None
        except (aiohttp.ClientError, TimeoutError, OSError, ValueError):
            return None

    async def leader(self) -> str | None:
        if time.monotonic() - self._at < self.ttl:
            return self._cached
        async with self._lock:
            if time.monotonic() - self._at < self.ttl:
                return self._cached
            answers = await asyncio.gather(*(self._ask(m) for m in self.masters_urls))
            leader = choose_leader(answers)
            if leader != self._cached:
                log.info("leading master: %s (answers: %s)", leader, answers)
            self._cached, self._at = leader, time.monotonic()
            self._why = f"none of the masters {', '.join(self.masters_urls)} names a leader"
            return leader

    def why_none(self) -> str:
        return self._why

    def invalidate(self) -> None:
        self._at = float("-inf")

    def masters(self) -> list[str]:
        return list(self.masters_urls)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()


def leader_source(masters: Sequence[str], zk: str | None, *, scheme: str = "http",
                  ssl_context: ssl.SSLContext | None = None) -> LeaderSource:  # fmt: skip
    """The `LeaderSource` for the gateway's ``--master`` (repeatable) / ``--zk`` flags;
    `scheme`: the masters' scheme where a URL (or ZooKeeper's record) gives none (https with
    security on), `ssl_context` the client context for the redirect probes."""
    text = zk or (masters[0] if len(masters) == 1 else None)
    if text is not None and is_zk_url(text):
        detector = ZooKeeperDetector(parse_zk_url(text), scheme=scheme)
        return DetectorLeader(detector, detector.url.redacted())
    if text is not None:
        return DetectorLeader(StaticDetector(parse_master(text, scheme)), text)
    return RedirectLeader(masters, scheme=scheme, ssl_context=ssl_context)


__all__ = ["DetectorLeader", "LeaderSource", "RedirectLeader", "choose_leader", "leader_source",
           "parse_redirect"]  # fmt: skip
