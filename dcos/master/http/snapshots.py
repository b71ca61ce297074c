"""Large reads served from shared snapshots, so that readers never hold up the control plane.

`/master/state` (and its aliases), `/master/state-summary`, `/master/frameworks`,
`/master/slaves`, `/master/tasks` and the v1 GET_STATE / GET_TASKS / GET_AGENTS /
GET_FRAMEWORKS answers are built from the whole of the master's state: for 1,000 agents and
thousands of tasks one build and its JSON encoding take tens of milliseconds of the event
loop, and 200 clients reading in a loop used to take the loop from offers, launches and
status updates (Mesos fixed the same problem by batching state requests).

`ReadCache.get(key, build, gzip)` (called by the handlers in `operator_api`) answers every
reader of one view from one build:

- fresh: a reader never gets a snapshot built before its request arrived unless the master
  did not change since (the shell counts changes in `MasterShell.generation`), so a client
  reads its own writes;
- shared: readers that arrive while a build is due wait for that one build;
- rate-limited: two builds of one view are at least `gap` apart (`MIN_GAP`, more when a build
  is slow: `GAP_FACTOR` times its cost, at most `MAX_GAP`), so builds take a bounded share of
  the loop however many readers there are; readers wait for the next build meanwhile;
- encoded once: the JSON bytes are kept, and a gzip copy (compressed in a worker thread,
  zlib releases the GIL) for clients that accept it, which cuts what the loop has to write
  for a large state by an order of magnitude;
- answered in small groups (`RELEASE_CHUNK` readers per loop iteration), so that offers,
  launches and status updates are served between them.

The build itself reuses what did not change (`state_json`: encoded agents, tasks and offers
kept on their records), so one build of 1,000 agents and a few thousand tasks costs a few
milliseconds.
"""

from __future__ import annotations

import asyncio
import time
import zlib
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from dcos.protocol.codec import dumps_json

MIN_GAP = 0.06
RELEASE_CHUNK = 16  # readers answered per loop iteration once a build is ready
MAX_GAP = 0.25
GAP_FACTOR = 4.0
GZIP_MIN_BYTES = 16 * 1024
MAX_VIEWS = 32  # snapshots kept (a view per key: /master/tasks has one per query)


@dataclass(frozen=True)
class Snapshot:
    """One build of a view: its JSON bytes and (when large) their gzip."""

    body: bytes
    gzip: bytes | None
    generation: int


@dataclass
class _Entry:
    snapshot: Snapshot | None = None
    built_at: float = float("-inf")
    gap: float = MIN_GAP
    waiters: list[asyncio.Future[Snapshot]] = field(default_factory=list)  # for the next build
    build_due: bool = False  # a build task will serve `waiters`


@dataclass
class ReadCache:
    """Made by `operator_api.add_routes` (one per master app); `generation` reads the
    shell's change counter."""

    generation: Callable[[], int]
    clock: Callable[[], float] = time.monotonic
    _entries: OrderedDict[Any, _Entry] = field(default_factory=OrderedDict)
    _running: set[asyncio.Task[None]] = field(default_factory=set)  # builds under way
    builds: int = 0

    async def get(self, key: Any, build: Callable[[], Any]) -> Snapshot:
        """The snapshot of view `key` for a reader that arrives now; `build` makes the
        JSON-ready object from the master's state (called on the loop, at most once per
        gap for all readers)."""
        entry = self._entries.get(key)
        if entry is None:
            entry = self._entries[key] = _Entry()
            if len(self._entries) > MAX_VIEWS:  # views with query parameters: keep a few
                self._entries.popitem(last=False)
        else:
            self._entries.move_to_end(key)
        snap = entry.snapshot
        if snap is not None and snap.generation == self.generation():
            return snap
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[Snapshot] = loop.create_future()
        entry.waiters.append(waiter)
        if not entry.build_due:
            entry.build_due = True
            task = loop.create_task(self._build(entry, build))
            self._running.add(task)
            task.add_done_callback(self._running.discard)
        return await waiter

    async def _build(self, entry: _Entry, build: Callable[[], Any]) -> None:
        """Wait out the gap, build once, hand the snapshot to every waiting reader, a few
        at a time (`RELEASE_CHUNK`) so that the loop serves other requests in between
        instead of writing hundreds of answers in one go."""
        waiters: list[asyncio.Future[Snapshot]] = []
        try:
            wait = entry.built_at + entry.gap - self.clock()
            if wait > 0:
                await asyncio.sleep(wait)
            # readers from now on wait for the following build
            waiters, entry.waiters, entry.build_due = entry.waiters, [], False
            start = self.clock()
            generation = self.generation()
            body = dumps_json(build())
            cost = self.clock() - start
            entry.built_at = start
            entry.gap = min(MAX_GAP, max(MIN_GAP, GAP_FACTOR * cost))
            self.builds += 1
            gz = None
            if len(body) >= GZIP_MIN_BYTES:
                gz = await asyncio.to_thread(_gzip, body)
            snap = Snapshot(body, gz, generation)
            entry.snapshot = snap
            for i in range(0, len(waiters), RELEASE_CHUNK):
                if i:
                    await asyncio.sleep(0)
                for w in waiters[i : i + RELEASE_CHUNK]:
                    if not w.done():
                        w.set_result(snap)
        except BaseException as exc:
            if not waiters:  # it failed before taking the waiters (cancelled while waiting)
                waiters, entry.waiters, entry.build_due = entry.waiters, [], False
            for w in waiters:
                if not w.done():
                    w.set_exception(exc if isinstance(exc, Exception) else RuntimeError("stopped"))
            if not isinstance(exc, Exception):
                raise


def _gzip(body: bytes) -> bytes:
    c = zlib.compressobj(1, zlib.DEFLATED, 31)  # level 1, gzip container
    return c.compress(body) + c.flush()


def respond(request: web.Request, snap: Snapshot) -> web.Response:
    """The snapshot as a JSON answer, gzipped when the client accepts it."""
    if snap.gzip is not None and "gzip" in request.headers.get("Accept-Encoding", ""):
        resp = web.Response(body=snap.gzip, content_type="application/json")
        resp.headers["Content-Encoding"] = "gzip"
        resp.headers["Vary"] = "Accept-Encoding"
        return resp
    return web.Response(body=snap.body, content_type="application/json")
