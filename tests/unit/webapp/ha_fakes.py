"""In-memory stand-ins for ZooKeeper's election and fenced store, for the webapp HA unit tests
(the integration test `tests/integration/test_webapp_ha.py` runs a real ZooKeeper).

`FakeEnsemble` keeps the contenders in sequence order (the lowest leads, as with ephemeral
sequential znodes); `FakeElection` is one instance's `frameworks.webapp.ha.Election` on it, with
`expire()` standing for a lost session (its znode goes, `Leadership.lost` is set).
`FencedStore` is one instance's view of a shared `MemoryStateStore` whose writes, once `fence`d,
fail with the real `Fenced` when the fence znode is gone (as `ZooKeeperStateStore` does)."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator

from dcos.state import Change, MemoryStateStore, Versioned
from dcos.state.leader import Leadership
from dcos.state.zookeeper import Fenced


class FakeEnsemble:
    def __init__(self) -> None:
        self.contenders: list[FakeElection] = []
        self._seq = itertools.count()
        self._changed = asyncio.Event()

    def next_seq(self) -> int:
        return next(self._seq)

    def notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def changed(self) -> None:
        await self._changed.wait()

    def live(self) -> set[str]:
        return {c.path for c in self.contenders}

    @property
    def leader(self) -> FakeElection | None:
        return self.contenders[0] if self.contenders else None


class FakeElection:
    def __init__(self, ensemble: FakeEnsemble, data: bytes) -> None:
        self.ens = ensemble
        self.data = data
        self.path = ""
        self.leadership: Leadership | None = None

    async def campaign(self) -> Leadership:
        self.path = f"/leader/json.info_{self.ens.next_seq():010d}"
        self.ens.contenders.append(self)
        self.ens.notify()
        while self.ens.leader is not self:
            await self.ens.changed()
        self.leadership = Leadership()
        return self.leadership

    @property
    def znode(self) -> str | None:
        return self.path if self in self.ens.contenders else None

    def leader_data(self) -> bytes | None:
        leader = self.ens.leader
        return leader.data if leader else None

    async def watch(self) -> AsyncIterator[bytes | None]:
        last: object = object()
        while True:
            now = self.leader_data()
            if now != last:
                last = now
                yield now
            await self.ens.changed()

    async def withdraw(self) -> None:
        self._leave()

    def expire(self) -> None:
        """The session is lost: the znode goes and leadership with it."""
        self._leave()

    def _leave(self) -> None:
        if self in self.ens.contenders:
            self.ens.contenders.remove(self)
        if self.leadership is not None:
            self.leadership.lost.set()
            self.leadership = None
        self.ens.notify()


class FencedStore:
    """One writer's view of `shared`: writes check the fence znode first."""

    def __init__(self, shared: MemoryStateStore, ensemble: FakeEnsemble) -> None:
        self.shared = shared
        self.ens = ensemble
        self._fence: str | None = None
        self.refused = 0

    def fence(self, znode: str | None) -> None:
        self._fence = znode

    def _check(self, key: str, expected: int) -> None:
        if self._fence is not None and self._fence not in self.ens.live():
            self.refused += 1
            raise Fenced(key, self._fence, expected)

    async def get(self, key: str) -> Versioned | None:
        return await self.shared.get(key)

    async def put(self, key: str, value: bytes, expected_version: int) -> int:
        self._check(key, expected_version)
        return await self.shared.put(key, value, expected_version)

    async def delete(self, key: str, expected_version: int) -> None:
        self._check(key, expected_version)
        await self.shared.delete(key, expected_version)

    async def list(self, prefix: str) -> list[str]:
        return await self.shared.list(prefix)

    def watch(self, prefix: str) -> AsyncIterator[Change]:
        return self.shared.watch(prefix)

    async def close(self) -> None:
        pass
