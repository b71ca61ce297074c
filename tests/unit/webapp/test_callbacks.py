"""HTTP callback event subscriptions (/v2/eventSubscriptions) against a local aiohttp receiver:
register/list/unregister, Marathon's subscribe/unsubscribe events, validation, persistence,
retries with backoff, and isolation of a hanging subscriber (bounded queue, oldest dropped)."""

import asyncio
import logging

import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from frameworks.webapp.callbacks import CallbackConfig, CallbackDispatcher, validate_callback_url
from frameworks.webapp.scheduler import WebappService
from frameworks.webapp.store import WebappStore


class Receiver:
    """A callback endpoint: records every POSTed event; can fail or hang on demand."""

    def __init__(self) -> None:
        self.got: asyncio.Queue[dict] = asyncio.Queue()
        self.fail_next = 0
        self.hang = asyncio.Event()  # cleared: requests wait until it is set
        self.hang.set()
        self.content_types: list[str] = []

    async def handle(self, request: web.Request) -> web.Response:
        await self.hang.wait()
        if self.fail_next:
            self.fail_next -= 1
            return web.Response(status=503)
        self.content_types.append(request.content_type)
        await self.got.put(orjson.loads(await request.read()))
        return web.Response(status=200)

    async def next_of(self, kind: str) -> dict:
        while True:
            ev = await asyncio.wait_for(self.got.get(), 5)
            if ev["eventType"] == kind:
                return ev


@pytest.fixture
async def receiver():
    rec = Receiver()
    app = web.Application()
    app.router.add_post("/events", rec.handle)
    async with TestServer(app) as server:
        rec.url = str(server.make_url("/events"))
        yield rec
        rec.hang.set()


APP = {"id": "/web", "cmd": "sleep 100", "cpus": 0.1, "mem": 16}


async def test_subscribe_deliver_list_and_unsubscribe(client, receiver):
    r = await client.post("/v2/eventSubscriptions", params={"callbackUrl": receiver.url})
    assert r.status == 200
    body = await r.json()
    assert body["eventType"] == "subscribe_event" and body["callbackUrl"] == receiver.url
    assert body["clientIp"] and body["timestamp"].endswith("Z")
    listed = await (await client.get("/v2/eventSubscriptions")).json()
    assert listed == {"callbackUrls": [receiver.url]}
    assert (await receiver.next_of("subscribe_event"))["callbackUrl"] == receiver.url
    # every event goes out as JSON: the API post and the deployment it started
    await client.post("/v2/apps", json=APP)
    posted = await receiver.next_of("api_post_event")
    assert posted["appDefinition"]["id"] == "/web" and posted["uri"] == "/v2/apps"
    assert (await receiver.next_of("deployment_info"))["plan"]["target"]["apps"][0]["id"] == "/web"
    assert set(receiver.content_types) == {"application/json"}
    info = await (await client.get("/v2/info")).json()
    assert info["event_subscriber"]["http_endpoints"] == [receiver.url]
    r = await client.delete("/v2/eventSubscriptions", params={"callbackUrl": receiver.url})
    assert r.status == 200
    assert (await r.json())["eventType"] == "unsubscribe_event"
    assert (await (await client.get("/v2/eventSubscriptions")).json()) == {"callbackUrls": []}
    assert await client.svc.store.subscriptions() == []


async def test_subscribe_events_on_the_event_stream(client, receiver):
    resp = await client.get("/v2/events?event_type=subscribe_event&event_type=unsubscribe_event")
    await asyncio.wait_for(resp.content.readuntil(b"\n\n"), 5)  # event_stream_attached
    await client.post("/v2/eventSubscriptions", params={"callbackUrl": receiver.url})
    await client.delete("/v2/eventSubscriptions", params={"callbackUrl": receiver.url})
    kinds = []
    for _ in range(2):
        frame = await asyncio.wait_for(resp.content.readuntil(b"\n\n"), 5)
        kinds.append(orjson.loads(frame.split(b"\ndata: ", 1)[1])["eventType"])
    assert kinds == ["subscribe_event", "unsubscribe_event"]
    resp.close()


@pytest.mark.parametrize("url", ["ftp://host/x", "not a url", "http://", "/relative", ""])
async def test_invalid_callback_url_is_422_and_changes_nothing(client, url):
    r = await client.post("/v2/eventSubscriptions", params={"callbackUrl": url})
    assert r.status == 422
    body = await r.json()
    assert body["message"] and body["details"][0]["path"] == "/callbackUrl"
    assert (await (await client.get("/v2/eventSubscriptions")).json()) == {"callbackUrls": []}
    assert (await client.post("/v2/eventSubscriptions")).status == 422  # no callbackUrl at all


def test_validate_callback_url():
    assert validate_callback_url("https://example.com:8443/hook") is None
    assert "http or https" in validate_callback_url("file:///etc/passwd")
    assert validate_callback_url("http://host:99999/") is not None


async def test_subscriptions_are_persisted_and_restored(client, receiver):
    await client.post("/v2/eventSubscriptions", params={"callbackUrl": receiver.url})
    again = WebappService(WebappStore(client.state_store), master="127.0.0.1:1")
    await again.restore_subscriptions()
    try:
        assert again.callbacks.urls == [receiver.url]
        again.bus.publish("deployment_success", {"id": "d1"})
        assert (await receiver.next_of("deployment_success"))["id"] == "d1"
    finally:
        await again.callbacks.close()


async def test_failed_posts_are_retried_with_backoff(receiver):
    d = CallbackDispatcher(CallbackConfig(backoff=0.001, retries=3))
    receiver.fail_next = 2
    d.add(receiver.url)
    try:
        d.publish("x", b'{"eventType":"x","n":1}')
        assert (await receiver.next_of("x"))["n"] == 1
        stats = d.stats(receiver.url)
        assert stats.retried == 2 and stats.failed == 0
        receiver.fail_next = 4  # every try of the next event fails: it is given up ...
        d.publish("x", b'{"eventType":"x","n":2}')
        d.publish("y", b'{"eventType":"y","n":3}')  # ... and the one after still goes
        assert (await receiver.next_of("y"))["n"] == 3
        assert stats.failed == 1 and stats.delivered == 2 and stats.retried == 5
    finally:
        await d.close()


async def test_hanging_subscriber_blocks_no_one_and_drops_its_oldest(receiver, caplog):
    fast = Receiver()
    app = web.Application()
    app.router.add_post("/events", fast.handle)
    d = CallbackDispatcher(CallbackConfig(max_queue=3, timeout=30))
    async with TestServer(app) as server:
        fast_url = str(server.make_url("/events"))
        receiver.hang.clear()  # the slow one never answers until released
        d.add(receiver.url)
        d.add(fast_url)
        try:
            with caplog.at_level(logging.WARNING, logger="frameworks.webapp.callbacks"):
                for n in range(10):  # the fast one gets each while the slow one hangs
                    d.publish("e", orjson.dumps({"eventType": "e", "n": n}))
                    assert (await fast.next_of("e"))["n"] == n
            slow = d.stats(receiver.url)
            # event 0 is in flight; of 1..9 the queue (3) keeps the newest: 6 dropped
            assert slow.dropped == 6 and slow.delivered == 0
            assert "too slow" in caplog.text and receiver.url in caplog.text
            assert fast_url not in caplog.text
            receiver.hang.set()
            assert [(await receiver.next_of("e"))["n"] for _ in range(4)] == [0, 7, 8, 9]
        finally:
            await d.close()
