"""dcos.common.body_limit: oversized request bodies are refused before they are read, in the
API's own format, and the connection stays usable."""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from dcos.common.body_limit import body_limit_middleware

LIMIT = 1024


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"message": message}, status=status)


async def _client(calls: list[str]) -> TestClient:
    async def echo(request: web.Request) -> web.Response:
        calls.append(request.path)
        return web.Response(body=await request.read())

    app = web.Application(client_max_size=LIMIT,
                          middlewares=[body_limit_middleware(_error, exempt=("/big",))])
    app.router.add_post("/echo", echo)
    app.router.add_post("/big", echo)
    client = TestClient(TestServer(app))
    await client.start_server()
    return client


async def test_announced_oversized_body_is_refused_unread_and_the_connection_closed() -> None:
    calls: list[str] = []
    client = await _client(calls)
    try:
        resp = await client.post("/echo", data=b"x" * (LIMIT + 1))
        assert resp.status == 413
        assert "larger than the limit of 1024 bytes" in (await resp.json())["message"]
        assert calls == []  # the handler never ran
        ok = await client.post("/echo", data=b"y" * LIMIT)  # the same client goes on
        assert ok.status == 200 and await ok.read() == b"y" * LIMIT
    finally:
        await client.close()


async def test_chunked_oversized_body_is_413_in_the_apis_format() -> None:
    calls: list[str] = []
    client = await _client(calls)

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(4):
            yield b"z" * 512

    try:
        resp = await client.post("/echo", data=chunks())
        assert resp.status == 413
        assert (await resp.json())["message"].startswith("request body is larger")
    finally:
        await client.close()


async def test_exempt_paths_read_their_own_bodies() -> None:
    calls: list[str] = []
    client = await _client(calls)
    try:
        resp = await client.post("/big", data=b"x" * 100)
        assert resp.status == 200 and calls == ["/big"]
    finally:
        await client.close()
