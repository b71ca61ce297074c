"""`MemoryStateStore`: the StateStore contract in a dict (tests, in-process clusters)."""

from __future__ import annotations

from collections.abc import AsyncIterator

from dcos.state._watchers import Watchers, iterate
from dcos.state.store import Change, VersionConflict, Versioned


class MemoryStateStore:
    def __init__(self) -> None:
        self._data: dict[str, Versioned] = {}
        self._watchers = Watchers()

    async def get(self, key: str) -> Versioned | None:
        return self._data.get(key)

    async def put(self, key: str, value: bytes, expected_version: int) -> int:
        cur = self._data.get(key)
        actual = cur.version if cur else 0
        if actual != expected_version:
            raise VersionConflict(key, expected_version, actual)
        new = Versioned(bytes(value), actual + 1)
        self._data[key] = new
        self._watchers.notify(Change(key, new.value, new.version))
        return new.version

    async def delete(self, key: str, expected_version: int) -> None:
        cur = self._data.get(key)
        actual = cur.version if cur else 0
        if cur is None or actual != expected_version:
            raise VersionConflict(key, expected_version, actual)
        del self._data[key]
        self._watchers.notify(Change(key, None, actual))

    async def list(self, prefix: str) -> list[str]:
        return sorted(k for k in self._data if k.startswith(prefix))

    def watch(self, prefix: str) -> AsyncIterator[Change]:
        return iterate(self._watchers, self._watchers.register(prefix))

    async def close(self) -> None:
        return None
