"""The gateway's relay against tiny aiohttp upstreams: an SSE event arrives within 100 ms of
being sent, a chunked RecordIO stream passes record by record (the upstream sends the second
record only once the client has the first: a buffering proxy would deadlock), and status,
headers, bodies, encodings and redirects pass through."""

from __future__ import annotations

import asyncio
import gzip
import time

import aiohttp
import orjson
from aiohttp import web

from dcos.testing import free_port
from tests.gateway.conftest import MakeGateway, Upstream, fake_master

EVENTS = 5


async def test_sse_event_arrives_within_100_ms(upstream: Upstream, gateway: MakeGateway) -> None:
    sent: dict[int, float] = {}

    async def events(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        await resp.write(b"event: event_stream_attached\ndata: {}\n\n")
        for i in range(EVENTS):
            await asyncio.sleep(0.05)
            sent[i] = time.perf_counter()
            await resp.write(f"event: status_update_event\ndata: {i}\n\n".encode())
        await asyncio.sleep(30)  # the stream stays open: the client ends it
        return resp

    app = web.Application()
    app.router.add_get("/v2/events", events)
    svc = await upstream(app)
    gw = await gateway(masters=(await upstream(fake_master({"webapp": svc})),))
    received: dict[int, float] = {}
    async with aiohttp.ClientSession() as s:
        async with s.get(gw.url + "/service/marathon/v2/events",
                         headers={"Accept": "text/event-stream"}) as r:  # fmt: skip
            assert r.status == 200 and r.content_type == "text/event-stream"
            while len(received) < EVENTS:
                line = await asyncio.wait_for(r.content.readline(), 5)
                if line.startswith(b"data: ") and line.strip() != b"data: {}":
                    received[int(line[6:])] = time.perf_counter()
    latencies = {i: received[i] - sent[i] for i in range(EVENTS)}
    assert max(latencies.values()) < 0.1, latencies


def _record(obj: object) -> bytes:
    data = orjson.dumps(obj)
    return f"{len(data)}\n".encode() + data


async def test_chunked_recordio_streams_record_by_record(upstream: Upstream,
                                                         gateway: MakeGateway) -> None:  # fmt: skip
    got_first = asyncio.Event()
    bodies: list[object] = []

    async def api(request: web.Request) -> web.StreamResponse:
        bodies.append(await request.json())
        resp = web.StreamResponse(headers={"Content-Type": "application/json"})
        resp.enable_chunked_encoding()
        await resp.prepare(request)
        await resp.write(_record({"type": "SUBSCRIBED"}))
        await asyncio.wait_for(got_first.wait(), 5)  # a buffering proxy never gets here
        await resp.write(_record({"type": "HEARTBEAT"}))
        await resp.write_eof()
        return resp

    master = fake_master({})
    master.router.add_post("/api/v1", api)
    gw = await gateway(masters=(await upstream(master),))
    async with aiohttp.ClientSession() as s:
        async with s.post(gw.url + "/mesos/api/v1", json={"type": "SUBSCRIBE"}) as r:
            assert r.status == 200 and r.headers["Content-Type"] == "application/json"
            assert r.headers.get("Transfer-Encoding") == "chunked"
            first = await asyncio.wait_for(r.content.readuntil(b"}"), 5)
            assert b'"SUBSCRIBED"' in first
            got_first.set()
            rest = await asyncio.wait_for(r.content.read(), 5)
    assert b'"HEARTBEAT"' in rest
    assert bodies == [{"type": "SUBSCRIBE"}]


async def test_status_headers_body_encoding_and_redirects_pass(upstream: Upstream,
                                                                gateway: MakeGateway) -> None:  # fmt: skip
    seen: list[dict[str, str]] = []
    packed = gzip.compress(b'{"big": "' + b"x" * 5000 + b'"}')

    async def teapot(request: web.Request) -> web.Response:
        seen.append(dict(request.headers))
        return web.Response(status=418, text="short and stout", headers={
            "X-Custom": "yes", "Connection": "close, X-Hop", "X-Hop": "dropped"})  # fmt: skip

    async def zipped(request: web.Request) -> web.Response:
        return web.Response(body=packed, headers={"Content-Encoding": "gzip",
                                                  "Content-Type": "application/json"})  # fmt: skip

    async def moved(request: web.Request) -> web.Response:
        raise web.HTTPFound(str(request.url.with_path("/there")))

    app = web.Application()
    app.router.add_route("*", "/teapot", teapot)
    app.router.add_get("/zipped", zipped)
    app.router.add_get("/moved", moved)
    svc = await upstream(app)
    gw = await gateway(masters=(await upstream(fake_master({"svc": svc + "/"})),))
    async with aiohttp.ClientSession(auto_decompress=False) as s:
        async with s.put(gw.url + "/service/svc/teapot?x=1", data=b"body",
                         headers={"X-Forwarded-For": "10.0.0.9"}) as r:  # fmt: skip
            assert (r.status, await r.text()) == (418, "short and stout")
            assert r.headers["X-Custom"] == "yes" and "X-Hop" not in r.headers
        async with s.get(gw.url + "/service/svc/zipped") as r:
            assert r.headers["Content-Encoding"] == "gzip" and await r.read() == packed
        async with s.get(gw.url + "/service/svc/moved", allow_redirects=False) as r:
            assert (r.status, r.headers["Location"]) == (302, "/service/svc/there")
        async with s.head(gw.url + "/service/svc/zipped") as r:
            assert r.status == 200 and r.headers["Content-Length"] == str(len(packed))
        async with s.get(gw.url + "/service/svc", allow_redirects=False) as r:
            assert (r.status, r.headers["Location"]) == (307, "/service/svc/")
    headers = seen[0]
    assert headers["X-Forwarded-For"].startswith("10.0.0.9, 127.0.0.1")
    assert headers["X-Forwarded-Proto"] == "http"
    assert headers["X-Forwarded-Host"] == gw.url.split("//")[1]


async def test_a_moved_framework_is_found_again(upstream: Upstream, gateway: MakeGateway) -> None:
    """The framework's old address refuses: the gateway reads the master again and retries
    once at the new one."""
    async def hello(request: web.Request) -> web.Response:
        return web.json_response({"hello": True})

    app = web.Application()
    app.router.add_get("/hello", hello)
    live = await upstream(app)
    frameworks = {"svc": f"http://127.0.0.1:{free_port()}"}
    master = fake_master(frameworks)
    gw = await gateway(masters=(await upstream(master),))
    async with aiohttp.ClientSession() as s:
        async with s.get(gw.url + "/gateway/health") as r:  # warms the directory (dead URL)
            assert "svc" in (await r.json())["frameworks"]
        frameworks["svc"] = live  # the fake master's summary reads the dict at each request
        async with s.get(gw.url + "/service/svc/hello") as r:
            assert (r.status, await r.json()) == (200, {"hello": True})
