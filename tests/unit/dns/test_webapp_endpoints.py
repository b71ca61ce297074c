"""Several webapp instances for the clients of its API (DNS, load balancer): the `--webapp`
list, the choice of instance (sans-IO `WebappEndpoints`), reads that move on to the next
instance when one does not answer, and the event stream that does the same, against small
aiohttp servers on loopback (one answering, one refusing connections, one answering 503)."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator

import aiohttp
import orjson
import pytest
from aiohttp import web

from dcos.common.sse import (
    EventFollower,
    SyncPolicy,
    WebappEndpoints,
    fetch_apps_any,
    parse_webapp_urls,
)


def test_webapp_urls_are_comma_separated_and_normalised() -> None:
    assert parse_webapp_urls("http://a:8080/, http://b:8080,,http://a:8080") == (
        "http://a:8080", "http://b:8080")
    assert parse_webapp_urls(["https://c"]) == ("https://c",)


@pytest.mark.parametrize("bad", ["", " , ", "a:8080", "ftp://a", "http://a:99999", "http://"])
def test_bad_webapp_urls_are_refused_with_the_entry_named(bad: str) -> None:
    with pytest.raises(ValueError, match="webapp URL"):
        parse_webapp_urls(bad)


def test_endpoints_start_at_the_one_that_answered_and_move_on_from_a_failed_one() -> None:
    e = WebappEndpoints("http://a,http://b,http://c")
    assert e.order() == ["http://a", "http://b", "http://c"]
    e.failed("http://a")
    assert e.current == "http://b" and e.order() == ["http://b", "http://c", "http://a"]
    e.failed("http://a")  # a stale failure (someone already moved on) changes nothing
    assert e.current == "http://b"
    e.succeeded("http://c")
    assert e.order() == ["http://c", "http://a", "http://b"]
    e.failed("http://c")
    assert e.current == "http://a"  # wraps around


def _dead_url() -> str:
    """A loopback URL whose port refuses connections (bound, never listening)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


class Instance:
    """A webapp instance: `/v2/apps` answers `apps` (or `status`), `/v2/events` streams."""

    def __init__(self, apps: list[dict], status: int = 200) -> None:
        self.apps, self.status = apps, status
        self.hits = 0
        self.streams = 0
        self.url = ""
        self.events: asyncio.Queue[bytes] = asyncio.Queue()
        self._runner: web.AppRunner | None = None

    async def _apps(self, _: web.Request) -> web.Response:
        self.hits += 1
        if self.status != 200:
            return web.Response(status=self.status, text="no leader")
        return web.Response(body=orjson.dumps({"apps": self.apps}), content_type="application/json")

    async def _events(self, request: web.Request) -> web.StreamResponse:
        if self.status != 200:
            return web.Response(status=self.status, text="no leader")
        self.streams += 1
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        await resp.write(b'event: event_stream_attached\ndata: {"eventType":'
                         b'"event_stream_attached"}\n\n')
        while True:
            await resp.write(await self.events.get())

    async def start(self) -> Instance:
        app = web.Application()
        app.router.add_get("/v2/apps", self._apps)
        app.router.add_get("/v2/events", self._events)
        self._runner = web.AppRunner(app, shutdown_timeout=0.1)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"  # type: ignore[union-attr]
        return self

    async def stop(self) -> None:
        assert self._runner is not None
        await self._runner.cleanup()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as s:
        yield s


async def test_reads_go_to_the_next_instance_when_one_is_down_or_has_no_leader(
        session: aiohttp.ClientSession) -> None:
    leaderless = await Instance([], status=503).start()
    good = await Instance([{"id": "/web"}]).start()
    try:
        e = WebappEndpoints([_dead_url(), leaderless.url, good.url])
        assert await fetch_apps_any(session, e) == [{"id": "/web"}]
        assert e.current == good.url  # remembered: the next read starts there
        assert leaderless.hits == 1
        await fetch_apps_any(session, e)
        assert leaderless.hits == 1 and good.hits == 2
    finally:
        await leaderless.stop()
        await good.stop()


async def test_a_read_with_no_instance_answering_raises_naming_each(
        session: aiohttp.ClientSession) -> None:
    leaderless = await Instance([], status=503).start()
    try:
        dead = _dead_url()
        with pytest.raises(RuntimeError, match="no webapp instance answered") as info:
            await fetch_apps_any(session, WebappEndpoints([dead, leaderless.url]))
        assert dead in str(info.value) and "503" in str(info.value)
    finally:
        await leaderless.stop()


async def test_the_event_stream_moves_to_a_live_instance_when_its_instance_dies() -> None:
    first = await Instance([]).start()
    second = await Instance([]).start()
    endpoints = WebappEndpoints([first.url, second.url])
    resyncs: asyncio.Queue[str] = asyncio.Queue()

    async def resync() -> None:
        await resyncs.put(endpoints.current)

    follower = EventFollower(endpoints, resync,
                             policy=SyncPolicy(debounce_s=0.01, full_every_s=3600))
    task = asyncio.create_task(follower.run())
    try:
        while not (follower.connected and first.streams == 1):
            await asyncio.wait_for(resyncs.get(), 10)
        await first.stop()  # the instance in use dies: its stream ends
        while not (follower.connected and second.streams == 1):
            await asyncio.wait_for(resyncs.get(), 10)
        assert follower.url == second.url + "/v2/events"
        assert endpoints.current == second.url
        # and the new stream's change events drive resyncs
        while not resyncs.empty():
            resyncs.get_nowait()
        await second.events.put(b'event: status_update_event\ndata: {"eventType":'
                                b'"status_update_event"}\n\n')
        assert await asyncio.wait_for(resyncs.get(), 10) == second.url
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await second.stop()
