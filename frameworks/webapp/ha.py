"""High availability of the webapp framework: who leads, and where a request goes (pure).

Several instances run with the same ``--zk zk://hosts/dcos-webapp``; they elect one leader in
ZooKeeper (ephemeral sequential ``/dcos-webapp/leader/json.info_<seq>`` znodes, the lowest
leads; each holds this instance's `LeaderRecord` JSON). Only the leader runs the scheduler
(`WebappService.start`) and writes the state; the others stand by and proxy the ``/v2`` API to
it, as Marathon's followers do (`frameworks.webapp.api.proxy`). Without ``--zk`` the single
instance always leads (`SoloElection`).

This module holds the pieces with no I/O: `LeaderRecord` (the election data), `HaState`
(what this instance knows: whether it leads, who does; written by
`frameworks.webapp.leading.LeaderLoop`, read by the API) and `route` (where one request goes:
served here, proxied to the leader, refused while no leader is known, or a proxy loop).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from typing import Protocol

import orjson

from dcos.state.leader import Leadership

LEADER_HEADER = "X-Marathon-Leader"  # on every answer of the leader: its URL
VIA_HEADER = "X-Marathon-Via"  # added by a follower that proxied: "1.1 host:port"
NO_LEADER = "Could not determine the current leader"
PROXY_LOOP = "Detected proxying loop."
STARTING = "The leader is loading its state"

# Answered by every instance itself (its own view): liveness, who leads, this instance's
# configuration and its own metrics/debug output. Everything else under /v2 is the leader's.
LOCAL_PATHS = frozenset({"/ping", "/v2/info", "/metrics", "/metrics/prometheus"})


@dataclass(frozen=True, slots=True)
class LeaderRecord:
    """One instance as it campaigns: the JSON in its election znode (``id``, ``host``,
    ``port``, ``url``, ``version``). `id` is unique per process (a restart on the same port is
    another contender); `url` is where its API answers (followers proxy there)."""

    id: str
    host: str
    port: int
    url: str
    version: str

    @classmethod
    def new(cls, host: str, port: int, version: str, scheme: str = "http") -> LeaderRecord:
        shown = f"[{host}]" if ":" in host else host
        return cls(uuid.uuid4().hex, host, port, f"{scheme}://{shown}:{port}", version)

    @property
    def host_port(self) -> str:
        """``host:port`` (Marathon's ``/v2/leader`` and ``/v2/info`` ``leader``)."""
        return f"{self.host}:{self.port}"

    def to_bytes(self) -> bytes:
        return orjson.dumps({"id": self.id, "host": self.host, "port": self.port,
                             "url": self.url, "version": self.version})  # fmt: skip

    @classmethod
    def parse(cls, data: bytes | None) -> LeaderRecord | None:
        """The record in a znode's data; None when absent or not ours (then no leader is
        known: the API answers 503 rather than proxying somewhere wrong)."""
        if not data:
            return None
        try:
            d = orjson.loads(data)
            host, port = d["host"], d["port"]
            if not isinstance(host, str) or not isinstance(port, int) or isinstance(port, bool):
                return None
            url = d.get("url") or f"http://{host}:{port}"
            return cls(str(d.get("id") or f"{host}:{port}"), host, port, str(url), str(d.get("version", "")))
        except (orjson.JSONDecodeError, KeyError, TypeError):
            return None


@dataclass(frozen=True, slots=True)
class ZkSettings:
    """The ZooKeeper configuration, as ``/v2/info`` shows it."""

    url: str  # redacted: zk://hosts/path, no password
    hosts: str
    path: str
    session_timeout: float  # seconds


@dataclass(slots=True)
class HaState:
    """What this instance knows about the leadership. The `LeaderLoop` sets `leading` (True
    only between its election and the first sign of loss) and `leader` (the election's
    current leader data, from its watch); the API reads them for every request."""

    me: LeaderRecord
    zk: ZkSettings | None = None
    leading: bool = False
    # True from the election until the service has loaded the store: `/v2` waits (503 after
    # `settle`), so no client reads the empty core of a leader still loading (the load
    # balancer would reload HAProxy with no servers)
    starting: bool = False
    leader: LeaderRecord | None = None
    terms: int = 0  # how many times this instance was elected

    @property
    def current_leader(self) -> LeaderRecord | None:
        """Who leads as far as this instance knows: itself while leading; else the watched
        leader, unless that is still this instance's own (stale) record."""
        if self.leading:
            return self.me
        if self.leader is not None and self.leader.id != self.me.id:
            return self.leader
        return None

    @property
    def via(self) -> str:
        """This instance's ``X-Marathon-Via`` value."""
        return f"1.1 {self.me.host_port}"


@dataclass(frozen=True, slots=True)
class Serve:
    """Answer here (this instance leads, or the path is answered by every instance)."""


@dataclass(frozen=True, slots=True)
class Proxy:
    """Forward to the leader at `url` (``http://host:port``)."""

    url: str


@dataclass(frozen=True, slots=True)
class Unavailable:
    """No leader known (an election is under way): 503 with `message`."""

    message: str = NO_LEADER


@dataclass(frozen=True, slots=True)
class Loop:
    """The request already passed through this instance (leaders disagree): 502."""

    message: str = PROXY_LOOP


Route = Serve | Proxy | Unavailable | Loop


def is_local(method: str, path: str) -> bool:
    """Whether every instance answers `path` itself (``GET /v2/leader`` too; ``DELETE
    /v2/leader`` is the leader's: it abdicates)."""
    if path in LOCAL_PATHS or path.startswith("/debug/"):
        return True
    if path.rstrip("/") == "/v2/leader":
        return method in ("GET", "HEAD")
    return not (path == "/v2" or path.startswith("/v2/"))


def route(state: HaState, method: str, path: str, via: Iterable[str] = ()) -> Route:
    """Where a request goes (Marathon's ``LeaderProxyFilter``): the leader and the local
    paths are served; a follower proxies to the leader it knows, refuses a request that it
    proxied already (a loop), and answers 503 while it knows no leader."""
    if is_local(method, path):
        return Serve()
    if state.leading:
        return Unavailable(STARTING) if state.starting else Serve()
    mine = state.via
    if any(mine == v.strip() for header in via for v in header.split(",")):
        return Loop()
    leader = state.current_leader
    if leader is None:
        return Unavailable()
    return Proxy(leader.url)


class Election(Protocol):
    """What the `LeaderLoop` campaigns with: `dcos.state.election.ZooKeeperElection`, or
    `SoloElection` for a single instance."""

    async def campaign(self) -> Leadership: ...

    @property
    def znode(self) -> str | None: ...

    def leader_data(self) -> bytes | None: ...

    def watch(self) -> AsyncIterator[bytes | None]: ...

    async def withdraw(self) -> None: ...


class SoloElection:
    """The only instance (no ``--zk``): elected at once, never loses (but can abdicate:
    `withdraw`, then `campaign` wins again)."""

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._elected = False

    async def campaign(self) -> Leadership:
        self._elected = True
        return Leadership()

    @property
    def znode(self) -> str | None:
        return None

    def leader_data(self) -> bytes | None:
        return self._data if self._elected else None

    async def watch(self) -> AsyncIterator[bytes | None]:
        yield self._data
        await asyncio.Event().wait()  # the leader never changes

    async def withdraw(self) -> None:
        self._elected = False


__all__ = [
    "LEADER_HEADER",
    "NO_LEADER",
    "VIA_HEADER",
    "Election",
    "HaState",
    "LeaderRecord",
    "Loop",
    "Proxy",
    "Route",
    "Serve",
    "SoloElection",
    "Unavailable",
    "ZkSettings",
    "is_local",
    "route",
]
