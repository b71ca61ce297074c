"""In-process change fan-out shared by the stores (memory, SQLite, ZooKeeper: their `watch`)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from dcos.state.store import Change


class Watchers:
    """Keeps one queue per live `watch` iterator and pushes matching changes into it."""

    def __init__(self) -> None:
        self._queues: list[tuple[str, asyncio.Queue[Change]]] = []

    def notify(self, change: Change) -> None:
        """Called by a store after a successful put or delete."""
        for prefix, q in self._queues:
            if change.key.startswith(prefix):
                q.put_nowait(change)

    def register(self, prefix: str) -> asyncio.Queue[Change]:
        q: asyncio.Queue[Change] = asyncio.Queue()
        self._queues.append((prefix, q))
        return q

    def unregister(self, q: asyncio.Queue[Change]) -> None:
        self._queues = [(p, x) for p, x in self._queues if x is not q]

    def prefixes(self) -> list[str]:
        """The prefixes of the live watches (the ZooKeeper store reads only those keys)."""
        return [p for p, _ in self._queues]


async def iterate(watchers: Watchers, q: asyncio.Queue[Change]) -> AsyncIterator[Change]:
    try:
        while True:
            yield await q.get()
    finally:
        watchers.unregister(q)
