"""`RegistryQueue`: the master shell's actions, carried out in order, each batch that holds a
registry change (`Persist`) only after that change is written.

Called by `dcos.master.shell.MasterShell`: `dispatch(actions)` for every batch the core
returns, `persisted()` by operator writes that answer only once their change is in the
registry, `drop()` when the master steps down (one queue per term of leadership: a new
term starts with a new queue). Batches with no registry change and nothing queued ahead
of them are sent at once; otherwise they queue, and one drainer task writes the registry
operations of every queued batch in one compare-and-set (`write`), then sends their other
actions in order. A failed write goes to `failed`; when it answers True (the master stepped
down), nothing that waited on the write is ever sent.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

from dcos.master.core import ALLOCATE_SOON, Action, AllocateSoon, Persist
from dcos.state import Operation


class NotLeading(Exception):
    """Raised by the shell's request methods while this master does not lead (standby, or
    elected and still recovering the registry); the HTTP guard answers 307 or 503."""


class RegistryQueue:
    def __init__(
        self,
        send: Callable[[list[Action]], None],
        write: Callable[[list[Operation]], Awaitable[Any]],
        failed: Callable[[Exception], bool],
        allocate_soon: Callable[[], None],
    ) -> None:
        self._send = send
        self._write = write
        self._failed = failed
        self._allocate_soon = allocate_soon
        self._queue: deque[list[Action]] = deque()
        self._busy = False
        self._dropped = False
        self._drainer: asyncio.Task[None] | None = None
        # batches queued / carried out, and the callers waiting for theirs (`persisted`)
        self._queued = 0
        self._done = 0
        self._waiters: list[tuple[int, asyncio.Future[None]]] = []

    def dispatch(self, actions: list[Action]) -> None:
        """Carry out core actions in order; registry writes are awaited before the actions
        that follow them (and before any later batch). An `AllocateSoon` in a batch that
        must wait is acted on at once (the allocation reads the core's state, which already
        changed; its offers queue behind the write like every other message)."""
        if not actions or self._dropped:
            return
        if self._busy or any(type(a) is Persist for a in actions):
            if ALLOCATE_SOON in actions:
                self._allocate_soon()
                actions = [a for a in actions if type(a) is not AllocateSoon]
            self._queue.append(actions)
            self._queued += 1
            if not self._busy:
                self._busy = True
                self._drainer = asyncio.get_running_loop().create_task(self._drain())
            return
        self._send(actions)

    async def persisted(self) -> None:
        """Wait until every batch queued so far is written and carried out; `NotLeading`
        when the queue is dropped first (the master stepped down)."""
        if self._dropped:
            raise NotLeading
        seq = self._queued
        if self._done >= seq:
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append((seq, fut))
        await fut

    def drop(self) -> None:
        """The term ended: cancel the write in flight (unless the drainer itself is
        stepping down), forget every queued batch, fail the waiters with `NotLeading`."""
        self._dropped = True
        drainer, self._drainer = self._drainer, None
        if drainer is not None and drainer is not asyncio.current_task():
            drainer.cancel()
        self._queue.clear()
        for _, fut in self._waiters:
            if not fut.done():
                fut.set_exception(NotLeading())
        self._waiters = []

    async def _drain(self) -> None:
        """Write the registry operations of every queued batch in one CAS, then send their
        other actions in order; repeat while batches keep arriving."""
        try:
            while self._queue and not self._dropped:
                batches = list(self._queue)
                self._queue.clear()
                ops = [a.op for b in batches for a in b if type(a) is Persist]
                if ops:
                    try:
                        await self._write(ops)
                    except Exception as exc:  # noqa: BLE001 - the shell decides
                        if self._failed(exc) or self._dropped:
                            return
                for b in batches:
                    self._send([a for a in b if type(a) is not Persist])
                self._carried_out(len(batches))
        finally:
            self._busy = False

    def _carried_out(self, n: int) -> None:
        self._done += n
        done, waiting = self._done, []
        for seq, fut in self._waiters:
            if seq > done:
                waiting.append((seq, fut))
            elif not fut.done():
                fut.set_result(None)
        self._waiters = waiting
