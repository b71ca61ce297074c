"""The event bus and Marathon's server-sent event stream (/v2/events).

`EventBus.publish(kind, payload)` is called by the service for every core event and by the
API (``api_post_event``); it stamps ``eventType`` and ``timestamp`` and hands the event to
every subscriber queue. `sse_handler` serves one subscriber: first ``event_stream_attached``,
then each event as ``event: <type>\\ndata: <json>\\n\\n`` (one write per event), optionally
only the types named by ``event_type`` query parameters. Listeners added with
`add_listener` (the HTTP callback subscriptions) get every event's JSON body. A subscriber too slow to keep up
(its queue full) is dropped rather than slowing the framework down.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from aiohttp import web

from frameworks.webapp.model.json import dumps, iso

MAX_QUEUE = 10_000


class EventBus:
    def __init__(self) -> None:
        self._subs: set[asyncio.Queue[bytes | None]] = set()
        self._listeners: list[Callable[[str, bytes], None]] = []
        self.published = 0

    def subscribe(self) -> asyncio.Queue[bytes | None]:
        q: asyncio.Queue[bytes | None] = asyncio.Queue(MAX_QUEUE)
        self._subs.add(q)
        return q

    def unsubscribe(self, q: asyncio.Queue[bytes | None]) -> None:
        self._subs.discard(q)

    @property
    def subscribers(self) -> int:
        return len(self._subs)

    def close_streams(self) -> None:
        """End every server-sent event stream (their clients reconnect); called when this
        instance steps down as leader, so the clients' next stream comes from the leader."""
        for q in list(self._subs):
            if q.full():
                q.get_nowait()  # a slow client loses one event but still sees the end
            q.put_nowait(None)
        self._subs.clear()

    def add_listener(self, listener: Callable[[str, bytes], None]) -> None:
        """Also hand every event to `listener(kind, json_body)` (must not block; the HTTP
        callback subscriptions are one)."""
        self._listeners.append(listener)

    def publish(self, kind: str, payload: dict[str, Any], now: float | None = None) -> None:
        self.published += 1
        if not self._subs and not self._listeners:
            return
        body = event_body(kind, payload, now)
        for listener in self._listeners:
            listener(kind, body)
        if not self._subs:
            return
        frame = b"event: " + kind.encode() + b"\ndata: " + body + b"\n\n"
        for q in list(self._subs):
            try:
                q.put_nowait(frame)
            except asyncio.QueueFull:
                self._subs.discard(q)  # too slow: dropped


def event_body(kind: str, payload: dict[str, Any], now: float | None = None) -> bytes:
    """The event's JSON: the payload plus ``eventType`` and ``timestamp``."""
    return dumps({**payload, "eventType": kind, "timestamp": iso(now if now is not None else time.time())})


def encode(kind: str, payload: dict[str, Any], now: float | None = None) -> bytes:
    return b"event: " + kind.encode() + b"\ndata: " + event_body(kind, payload, now) + b"\n\n"


async def sse_handler(request: web.Request, bus: EventBus) -> web.StreamResponse:
    types = set(request.query.getall("event_type", []))
    resp = web.StreamResponse(headers={"Content-Type": "text/event-stream",
                                       "Cache-Control": "no-cache"})  # fmt: skip
    await resp.prepare(request)
    q = bus.subscribe()
    try:
        peer = request.remote or ""
        await resp.write(encode("event_stream_attached", {"remoteAddress": peer}))
        while True:
            try:
                frame = await asyncio.wait_for(q.get(), 15.0)
            except TimeoutError:
                await resp.write(b":\n\n")  # keep-alive comment
                continue
            if frame is None:
                break
            if types:
                kind = frame[7 : frame.index(b"\n")].decode()
                if kind not in types:
                    continue
            await resp.write(frame)
    except (ConnectionResetError, asyncio.CancelledError):
        pass
    finally:
        bus.unsubscribe(q)
    return resp
