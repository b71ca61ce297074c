"""Leader election. `EmbeddedLeaderElector`: one master, always the leader.

Called by the master shell at start (`campaign`) and by the operator endpoints
(`leader()` for `/master/redirect`). ZooKeeper election (``json.info_*`` znodes) comes later
behind the same shape.
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
