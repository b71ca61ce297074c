"""The driver's pipelined call client: answers matched in order, chunked and closing answers,
failures as `CallFailed` (against a raw asyncio server that scripts its answers)."""

from __future__ import annotations

import asyncio

import pytest

from dcos.common.pipeline import CallFailed, CallPool, request_prefix

WAIT = 5.0  # a guard against hangs, not a timing assertion


class RawServer:
    """Reads requests (Content-Length bodies) and answers each with `answer(body)`."""

    def __init__(self, answer) -> None:  # type: ignore[no-untyped-def]
        self.answer = answer
        self.bodies: list[bytes] = []
        self.connections = 0

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self.server.sockets[0].getsockname()[1]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = int(head.split(b"Content-Length: ")[1].split(b"\r\n")[0])
                body = await reader.readexactly(length)
                self.bodies.append(body)
                out = self.answer(body)
                if out is None:
                    writer.close()
                    return
                writer.write(out)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass

    async def stop(self) -> None:
        self.server.close()


def prefix(port: int) -> bytes:
    return request_prefix("127.0.0.1", port, "/api/v1/scheduler", {"Mesos-Stream-Id": "s"})


async def test_pipelined_calls_get_their_own_answers():
    def answer(body: bytes) -> bytes:
        return b"HTTP/1.1 400 Bad Request\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)

    srv = RawServer(answer)
    port = await srv.start()
    pool = CallPool("127.0.0.1", port, max_connections=1)
    got = await asyncio.wait_for(
        asyncio.gather(*(pool.post(prefix(port), b"call-%d" % i) for i in range(50))), WAIT
    )
    assert got == [(400, b"call-%d" % i) for i in range(50)]
    assert srv.connections == 1
    pool.close()
    await srv.stop()


async def test_chunked_answer_and_connection_close_retire_the_connection():
    def answer(body: bytes) -> bytes:
        return (
            b"HTTP/1.1 202 Accepted\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
            b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"
        )

    srv = RawServer(answer)
    port = await srv.start()
    pool = CallPool("127.0.0.1", port)
    assert await asyncio.wait_for(pool.post(prefix(port), b"x"), WAIT) == (202, b"abcde")
    assert await asyncio.wait_for(pool.post(prefix(port), b"y"), WAIT) == (202, b"abcde")
    assert srv.connections == 2
    pool.close()
    await srv.stop()


async def test_peer_closing_and_refused_connections_fail_the_call():
    srv = RawServer(lambda body: None)
    port = await srv.start()
    pool = CallPool("127.0.0.1", port)
    with pytest.raises(CallFailed):
        await asyncio.wait_for(pool.post(prefix(port), b"x"), WAIT)
    await srv.stop()
    pool.close()
    with pytest.raises(CallFailed, match="stopped"):
        await pool.post(prefix(port), b"x")
    closed = CallPool("127.0.0.1", 1)
    with pytest.raises(CallFailed, match="cannot connect"):
        await asyncio.wait_for(closed.post(prefix(1), b"x"), WAIT)
