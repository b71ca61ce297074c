"""Long-lived RecordIO event streams (scheduler SUBSCRIBE and the internal agent stream).

`EventStream.send` is called synchronously by the master shell when it carries out core
actions; it only buffers. `run` (awaited by the HTTP handler that owns the response) writes
whatever is buffered in one write -- every record whole, several records per write when
they pile up -- until `close` is called or the peer goes away.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Callable
from typing import Any

from aiohttp import web

from dcos.protocol import recordio

log = logging.getLogger("dcos.master.http")


def set_nodelay(request: web.Request) -> None:
    """Disable Nagle on the request's socket (event streams are many small writes)."""
    transport = request.transport
    sock = transport.get_extra_info("socket") if transport is not None else None
    if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass


class EventStream:
    def __init__(self, encode: Callable[[Any], bytes]) -> None:
        self._encode = encode
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

    async def run(self, resp: web.StreamResponse) -> None:
        """Write buffered records until closed; returns when closed or the peer is gone."""
        try:
            while True:
                await self._wake.wait()
                self._wake.clear()
                if self._buf:
                    data = b"".join(self._buf) if len(self._buf) > 1 else self._buf[0]
                    self._buf.clear()
                    await resp.write(data)
                if self._closing:
                    break
        except (ConnectionError, RuntimeError) as exc:
            log.debug("event stream ended: %s", exc)
        finally:
            self.closed = True
            self._closing = True
