"""A small HTTP/1.1 client for short calls to the master: keep-alive, pipelined, pre-encoded heads.

Used by `dcos.sdk.driver.SchedulerDriver._send` for every scheduler call except SUBSCRIBE
(which needs a streaming response and stays on aiohttp), and by the agent's
`dcos.agent.channel.MasterLink.call` for its UPDATE/PONG/MESSAGE calls. A full aiohttp
request costs about 100 us of client CPU; a framework acknowledges three status updates per
task and an agent sends about two UPDATE calls per task, so that cost alone capped the rate
at which tasks could run. Here a call is one
pre-encoded request head plus the body, written on an open connection (several calls per
write when they pile up in one loop iteration, HTTP/1.1 pipelining), and the answer is
matched to its call by order.

`CallPool.post(prefix, body)` returns a future resolving to ``(status, body_bytes)`` or
failing with `CallFailed` (connection refused, broken or timed out: whether the master saw
the call is unknown, as with any HTTP client). A connection is opened when every open one
already has `depth` calls outstanding and fewer than `max_connections` are open; a
``Connection: close`` answer or any error retires the connection (its outstanding calls
fail; later calls open a fresh one).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl as ssl_module
from collections import deque
from typing import Any

__all__ = ["CallFailed", "CallPool", "request_prefix"]


class CallFailed(Exception):
    """The connection could not be opened, broke, or the call timed out."""


def request_prefix(host: str, port: int, path: str, headers: dict[str, str]) -> bytes:
    """The bytes of a POST request head up to (not including) ``Content-Length``; called by
    the driver once per (master, stream id), by `MasterLink` once, and reused for every call."""
    h = f"[{host}]" if ":" in host else host
    lines = [f"POST {path} HTTP/1.1", f"Host: {h}:{port}"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\nContent-Length: ").encode("latin-1")


class _Conn(asyncio.Protocol):
    """One keep-alive connection; answers are matched to calls in order (pipelining)."""

    def __init__(self, pool: CallPool) -> None:
        self.pool = pool
        self.transport: asyncio.Transport | None = None
        self.pending: deque[asyncio.Future[tuple[int, bytes]]] = deque()
        self.out: list[bytes] = []  # request bytes waiting for the end of this iteration
        self.buf = bytearray()
        self.head: tuple[int, int, bool] | None = None  # (status, length or -1 chunked, close)
        self.usable = True

    # -- asyncio.Protocol -------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's is no subclass
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError:
                pass

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail(f"connection to the master lost{': ' + str(exc) if exc else ''}")

    def data_received(self, data: bytes) -> None:
        self.buf += data
        try:
            while self._parse_one():
                pass
        except ValueError as exc:
            self._fail(f"bad HTTP answer from the master: {exc}")

    # -- requests ------------------------------------------------------------------------

    def send(self, data: bytes, fut: asyncio.Future[tuple[int, bytes]]) -> None:
        """Queue one request; the writes of one loop iteration go out as one."""
        self.pending.append(fut)
        if not self.out:
            self.pool.loop.call_soon(self._flush)
        self.out.append(data)

    def _flush(self) -> None:
        if self.out and self.transport is not None and not self.transport.is_closing():
            data = b"".join(self.out) if len(self.out) > 1 else self.out[0]
            self.transport.write(data)
        self.out.clear()

    def abort(self, reason: str) -> None:
        self._fail(reason)

    def _fail(self, reason: str) -> None:
        self.usable = False
        self.pool._retire(self)
        if self.transport is not None:
            self.transport.abort()
        while self.pending:
            fut = self.pending.popleft()
            if not fut.done():
                fut.set_exception(CallFailed(reason))

    # -- answers ---------------------------------------------------------------------------

    def _parse_one(self) -> bool:
        """Complete at most one answer from `buf`; False when more bytes are needed."""
        buf = self.buf
        if self.head is None:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                if len(buf) > 65536:
                    raise ValueError("header too long")
                return False
            self.head = _parse_head(bytes(buf[:end]))
            del buf[: end + 4]
        status, length, close = self.head
        if length >= 0:
            if len(buf) < length:
                return False
            body = bytes(buf[:length])
            del buf[:length]
        else:
            parsed = _dechunk(buf)
            if parsed is None:
                return False
            body, used = parsed
            del buf[:used]
        self.head = None
        if not self.pending:
            raise ValueError("an answer nobody asked for")
        fut = self.pending.popleft()
        if not fut.done():
            fut.set_result((status, body))
        if close:
            self._fail("the master closed the connection")
            return False
        return bool(buf)


def _parse_head(head: bytes) -> tuple[int, int, bool]:
    lines = head.split(b"\r\n")
    first = lines[0].split(b" ", 2)
    if len(first) < 2 or not first[0].startswith(b"HTTP/1."):
        raise ValueError(f"bad status line {lines[0][:80]!r}")
    status = int(first[1])
    length, close = 0, first[0] == b"HTTP/1.0"
    chunked = False
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        key = name.strip().lower()
        if key == b"content-length":
            length = int(value.strip())
        elif key == b"transfer-encoding":
            chunked = b"chunked" in value.lower()
        elif key == b"connection":
            v = value.strip().lower()
            close = v == b"close" or (close and v != b"keep-alive")
    if status in (204, 304) or 100 <= status < 200:
        length = 0
    return status, (-1 if chunked else length), close


def _dechunk(buf: bytearray) -> tuple[bytes, int] | None:
    """A whole chunked body at the start of `buf`: (body, bytes used), or None if partial."""
    pos, parts = 0, list[bytes]()
    while True:
        eol = buf.find(b"\r\n", pos)
        if eol < 0:
            return None
        size = int(bytes(buf[pos:eol]).split(b";", 1)[0].strip() or b"0", 16)
        pos = eol + 2
        if size == 0:
            end = buf.find(b"\r\n\r\n", pos - 2)  # no trailers expected: "0\r\n\r\n"
            if end < 0:
                return None
            return b"".join(parts), end + 4
        if len(buf) < pos + size + 2:
            return None
        parts.append(bytes(buf[pos : pos + size]))
        pos += size + 2


class CallPool:
    """Keep-alive connections to one ``host:port``; owned (and closed) by the scheduler driver
    or by an agent's `MasterLink`."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        max_connections: int = 16,
        depth: int = 4,
        connect_timeout: float = 10.0,
        call_timeout: float = 30.0,
        ssl: ssl_module.SSLContext | None = None,
    ) -> None:
        self.host, self.port = host, port
        self.ssl = ssl  # TLS (mutual when the context holds a certificate) on every connection
        self.loop = asyncio.get_running_loop()
        self.max_connections = max(1, max_connections)
        self.depth = max(1, depth)
        self.connect_timeout = connect_timeout
        self.call_timeout = call_timeout
        self.conns: list[_Conn] = []
        self._connecting: asyncio.Future[_Conn] | None = None
        self.closed = False

    def _pick(self) -> _Conn | None:
        best: _Conn | None = None
        for c in self.conns:
            if best is None or len(c.pending) < len(best.pending):
                best = c
        if best is None or (
            len(best.pending) >= self.depth and len(self.conns) < self.max_connections
        ):
            return None
        return best

    async def _open(self) -> _Conn:
        if self._connecting is None:
            self._connecting = self.loop.create_future()
            connecting = self._connecting
            try:
                _, proto = await asyncio.wait_for(
                    self.loop.create_connection(
                        lambda: _Conn(self), self.host, self.port, ssl=self.ssl
                    ),
                    self.connect_timeout,
                )
                if self.closed:
                    proto.abort("the call pool was closed (its owner stopped)")
                    raise CallFailed("the call pool was closed (its owner stopped)")
                self.conns.append(proto)
                connecting.set_result(proto)
            except (OSError, TimeoutError, CallFailed) as exc:
                err = (
                    exc
                    if isinstance(exc, CallFailed)
                    else CallFailed(
                        f"cannot connect to {self.host}:{self.port}: {exc or type(exc).__name__}"
                    )
                )
                connecting.set_exception(err)
                connecting.exception()  # retrieved: callers waiting on it raise their own
                raise err from None
            finally:
                self._connecting = None
            return proto
        return await asyncio.shield(self._connecting)

    async def warm(self) -> None:
        """Open the first connection now if none is open (errors are the next call's to
        see): an agent does it when it registers, so its first status update does not wait
        for a TCP (and TLS) handshake."""
        if not self.closed and not self.conns and self._connecting is None:
            with contextlib.suppress(CallFailed):
                await self._open()

    async def post(self, prefix: bytes, body: bytes) -> tuple[int, bytes]:
        """Send one request (`prefix` from `request_prefix`); (status, body) of its answer."""
        fut = self.try_post(prefix, body)
        if fut is None:
            if self.closed:
                raise CallFailed("the call pool was closed (its owner stopped)")
            conn = await self._open() if self._connecting is None else await self._wait_open()
            fut = self._post_on(conn, prefix, body)
        return await fut

    def try_post(self, prefix: bytes, body: bytes) -> asyncio.Future[tuple[int, bytes]] | None:
        """`post` without a coroutine: the answer's future, or None when no connection is
        open to take the call now (the caller then awaits `post`). Called by the driver for
        acknowledgements, which need no task of their own."""
        if self.closed:
            return None
        conn = self._pick()
        return None if conn is None else self._post_on(conn, prefix, body)

    def _post_on(
        self, conn: _Conn, prefix: bytes, body: bytes
    ) -> asyncio.Future[tuple[int, bytes]]:
        fut: asyncio.Future[tuple[int, bytes]] = self.loop.create_future()
        conn.send(b"%s%d\r\n\r\n%s" % (prefix, len(body), body), fut)
        timer = self.loop.call_later(self.call_timeout, self._timed_out, conn, fut)
        fut.add_done_callback(lambda _: timer.cancel())
        return fut

    async def _wait_open(self) -> _Conn:
        """Another call is opening a connection: use it, or an open one if that fails."""
        try:
            return await self._open()
        except CallFailed:
            conn = self._pick() or (self.conns[0] if self.conns else None)
            if conn is None:
                raise
            return conn

    def _timed_out(self, conn: _Conn, fut: asyncio.Future[Any]) -> None:
        if not fut.done():
            conn.abort(f"no answer from the master in {self.call_timeout:g} s")

    def _retire(self, conn: _Conn) -> None:
        if conn in self.conns:
            self.conns.remove(conn)

    def close(self) -> None:
        """Abort every connection (their outstanding calls fail with `CallFailed`)."""
        self.closed = True
        for conn in list(self.conns):
            conn.abort("the call pool was closed (its owner stopped)")
