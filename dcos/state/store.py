"""The `StateStore` contract: a small versioned key-value store with compare-and-set.

Called by: the master's registrar (`dcos.state.registry`) and frameworks that persist their
own state (the webapp framework's apps and framework id). Implementations:
`MemoryStateStore` (tests), `SQLiteStateStore` (embedded default), `ZooKeeperStateStore`
(`dcos.state.zookeeper`: HA masters and the webapp framework, several processes on one root,
writes fenced by the leader's election znode).

Every key holds bytes and a version. `put(key, value, expected_version)` succeeds only when
the key's current version equals `expected_version` (0 = the key must not exist) and returns
the new version; otherwise it raises `VersionConflict` and changes nothing.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Protocol


class VersionConflict(Exception):
    """A compare-and-set found another version than the caller expected (the ZooKeeper store
    raises its subclass `Fenced` when the writer's fence znode is gone)."""

    def __init__(self, key: str, expected: int, actual: int) -> None:
        super().__init__(f"version conflict on {key!r}: expected {expected}, found {actual}")
        self.key = key
        self.expected = expected
        self.actual = actual


@dataclass(frozen=True, slots=True)
class Versioned:
    """A stored value and its version (>= 1)."""

    value: bytes
    version: int


@dataclass(frozen=True, slots=True)
class Change:
    """One change seen by `watch`: `value` is None when the key was deleted."""

    key: str
    value: bytes | None
    version: int


class StateStore(Protocol):
    async def get(self, key: str) -> Versioned | None: ...

    async def put(self, key: str, value: bytes, expected_version: int) -> int:
        """Compare-and-set; returns the new version or raises `VersionConflict`."""
        ...

    async def delete(self, key: str, expected_version: int) -> None:
        """Remove the key if it is at `expected_version`; else `VersionConflict`."""
        ...

    async def list(self, prefix: str) -> list[str]:
        """Keys starting with `prefix`, sorted."""
        ...

    def watch(self, prefix: str) -> AsyncIterator[Change]:
        """Changes to keys under `prefix` made after the call, in order."""
        ...

    async def close(self) -> None: ...
