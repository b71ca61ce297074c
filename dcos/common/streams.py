"""Long-lived RecordIO event streams written to an aiohttp response (server side).

Shared by the master's streams (scheduler SUBSCRIBE and the internal agent channel:
`dcos.master.http.streams.EventStream`) and the agent's executor streams
(`dcos.agent.executor_streams.ExecutorStream`).

`RecordIOStream.send` is called synchronously by a shell when it carries out core actions; it
only buffers. `run` (awaited by the HTTP handler that owns the response) writes whatever is
buffered in one write -- every record whole, several records per write when they pile up --
until `close` is called or the peer goes away.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Callable
from typing import Any

from aiohttp import web

from dcos.protocol import recordio

_log = logging.getLogger(__name__)


def set_nodelay(request: web.Request) -> None:
    """Disable Nagle on the request's socket (event streams are many small writes).

    Called by a streaming handler before it prepares its response."""
    transport = request.transport
    sock = transport.get_extra_info("socket") if transport is not None else None
    if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass


class RecordIOStream:
    """One subscriber's stream: `send` buffers an encoded record, `run` writes until closed.

    `encode` turns an event into a record's bytes (JSON or msgpack); `logger` and `name` say
    where and how the end of the stream is logged (at debug level); `heartbeat_event` is what
    `run` sends when its `heartbeat` passes in silence."""

    def __init__(
        self, encode: Callable[[Any], bytes], logger: logging.Logger = _log,
        name: str = "event stream", heartbeat_event: Any = None,
    ) -> None:
        self._encode = encode
        self._heartbeat_event = heartbeat_event
        self._log = logger
        self._name = name
        self._buf: list[bytes] = []
        self._wake = asyncio.Event()
        self._closing = False
        self.closed = False

    def send(self, event: Any) -> None:
        if self._closing:
            return
        self._buf.append(recordio.encode(self._encode(event)))
        self._wake.set()

    def close(self) -> None:
        """Flush what is buffered, then end the stream."""
        self._closing = True
        self._wake.set()

    async def run(self, resp: web.StreamResponse, heartbeat: float | None = None) -> None:
        """Write buffered records until closed; returns when closed or the peer is gone.

        With `heartbeat` (seconds), the stream's `heartbeat_event` is sent whenever that long
        passes with nothing to write."""
        try:
            while True:
                if heartbeat is None:
                    await self._wake.wait()
                else:
                    try:  # asyncio.timeout, not wait_for: see dcos.agent.channel.subscribe
                        async with asyncio.timeout(heartbeat):
                            await self._wake.wait()
                    except TimeoutError:
                        self.send(self._heartbeat_event)
                self._wake.clear()
                if self._buf:
                    data = b"".join(self._buf) if len(self._buf) > 1 else self._buf[0]
                    self._buf.clear()
                    await resp.write(data)
                if self._closing:
                    break
        except (ConnectionError, RuntimeError) as exc:
            self._log.debug("%s ended: %s", self._name, exc)
        finally:
            self.closed = True
            self._closing = True
