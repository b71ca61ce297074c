"""Leader election's shapes: `MasterInfo` (Mesos' JSON), `Leadership`, the `LeaderElector`
protocol, and `EmbeddedLeaderElector` (one master, always the leader).

Called by the master shell at start (`campaign`) and by the operator endpoints
(`leader()` for `/master/redirect`). The ZooKeeper election (``json.info_*`` znodes) behind
the same shape is `dcos.state.election.ZooKeeperLeaderElector`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True)
class MasterInfo:
    id: str
    ip: str
    port: int
    hostname: str
    version: str

    def to_json(self) -> dict[str, Any]:
        """Mesos' MasterInfo JSON (``ip`` as the uint32 Mesos uses, plus ``address``)."""
        try:
            a, b, c, d = (int(x) for x in self.ip.split("."))
            ip_num = a | (b << 8) | (c << 16) | (d << 24)
        except ValueError:
            ip_num = 0
        return {
            "id": self.id,
            "ip": ip_num,
            "port": self.port,
            "pid": f"master@{self.ip}:{self.port}",
            "hostname": self.hostname,
            "version": self.version,
            "address": {"hostname": self.hostname, "ip": self.ip, "port": self.port},
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> MasterInfo:
        """Parse Mesos' MasterInfo JSON (as `to_json` writes it, or as Mesos does): the IP
        from ``address.ip``, else ``pid`` (``master@ip:port``), else the uint32 ``ip``.
        Raises ValueError / KeyError / TypeError on a record without id or address."""
        if not isinstance(d, dict):
            raise TypeError(f"MasterInfo JSON must be an object, got {type(d).__name__}")
        address = d.get("address") or {}
        ip = address.get("ip") or ""
        port = address.get("port") or d.get("port")
        pid = d.get("pid") or ""
        if (not ip or not port) and "@" in pid:
            host, _, pid_port = pid.split("@", 1)[1].rpartition(":")
            ip, port = ip or host, port or int(pid_port)
        if not ip and isinstance(d.get("ip"), int):
            n = int(d["ip"])
            ip = ".".join(str((n >> s) & 0xFF) for s in (0, 8, 16, 24))
        if not ip or not port:
            raise ValueError(f"MasterInfo without an address: {d!r}")
        hostname = address.get("hostname") or d.get("hostname") or ip
        return cls(
            id=str(d["id"]), ip=str(ip), port=int(port), hostname=str(hostname),
            version=str(d.get("version", "")),
        )


class Leadership:
    """Held while this master leads; `lost` is set when leadership ends."""

    def __init__(self) -> None:
        self.lost = asyncio.Event()

    async def __aenter__(self) -> Leadership:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.lost.set()

    async def wait_lost(self) -> None:
        await self.lost.wait()


class LeaderElector(Protocol):
    async def campaign(self) -> Leadership: ...
    def leader(self) -> MasterInfo | None: ...
    def watch(self) -> AsyncIterator[MasterInfo | None]: ...


class EmbeddedLeaderElector:
    """A single master that always leads."""

    def __init__(self, info: MasterInfo) -> None:
        self.info = info
        self._elected = False

    async def campaign(self) -> Leadership:
        self._elected = True
        return Leadership()

    def leader(self) -> MasterInfo | None:
        return self.info if self._elected else None

    async def watch(self) -> AsyncIterator[MasterInfo | None]:
        yield self.leader()
        await asyncio.Event().wait()  # the leader never changes
