"""The gateway's relay sends a POST once more when the upstream drops a kept-alive connection
before answering (a stale pooled connection; aiohttp retries only idempotent methods)."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from dcos.gateway.proxy import Relay
from dcos.gateway.routes import Kind, Target


async def test_a_post_on_a_dropped_connection_is_sent_again() -> None:
    seen: list[bytes] = []

    async def upstream_api(request: web.Request) -> web.StreamResponse:
        seen.append(await request.read())
        if len(seen) == 1:  # the first attempt: the connection closes with no answer
            assert request.transport is not None
            request.transport.close()
            return web.Response()
        return web.json_response({"attempt": len(seen)})

    upstream_app = web.Application()
    upstream_app.router.add_post("/api/v1", upstream_api)
    upstream = TestServer(upstream_app)
    await upstream.start_server()
    relay = Relay()

    async def front(request: web.Request) -> web.StreamResponse:
        target = Target(Kind.MASTER, "master", str(upstream.make_url("")), "/api/v1", "/mesos")
        return await relay.forward(request, target)

    front_app = web.Application()
    front_app.router.add_post("/mesos/api/v1", front)
    client: Any = TestClient(TestServer(front_app))
    await client.start_server()
    try:
        resp = await client.post("/mesos/api/v1", data=b'{"type":"SUBSCRIBE"}')
        assert resp.status == 200 and (await resp.json()) == {"attempt": 2}
        assert seen == [b'{"type":"SUBSCRIBE"}'] * 2
    finally:
        await client.close()
        await relay.close()
        await upstream.close()
