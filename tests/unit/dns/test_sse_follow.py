"""The `/v2/events` follower shared by DNS and the load balancer: the SSE parser, the debounce
and resync policy (sans-IO, explicit times), and the shell against a small fake SSE server."""

from __future__ import annotations

import asyncio

import orjson
from aiohttp import web

from dcos.common.sse import EventFollower, SseParser, SyncPolicy


def test_parser_handles_split_chunks_crlf_comments_and_multiline_data() -> None:
    p = SseParser()
    assert p.feed(b": hello\r\nevent: status_update_event\r\ndata: {\"a\":") == []
    events = p.feed(b" 1}\r\n\r\ndata: x\ndata: y\n\n")
    assert [(e.event, e.data) for e in events] == [("status_update_event", '{"a": 1}'),
                                                   ("message", "x\ny")]
    assert p.feed(b"\n\n") == []


def test_event_type_prefers_the_json_eventtype() -> None:
    (e,) = SseParser().feed(b'data: {"eventType": "deployment_success"}\n\n')
    assert e.event_type == "deployment_success"
    (e,) = SseParser().feed(b"event: ping\ndata: not json\n\n")
    assert e.event_type == "ping"


def test_policy_first_sync_is_due_at_once_then_debounces_events() -> None:
    p = SyncPolicy(debounce_s=0.2, full_every_s=60)
    assert p.due(0.0)
    p.begin(0.0)
    p.succeeded(0.1)
    assert not p.due(1.0)
    p.note_event(1.0, "status_update_event")
    p.note_event(1.1, "status_update_event")  # a burst: still due 0.2 s after the first
    assert not p.due(1.15) and p.due(1.2)
    p.begin(1.2)
    p.note_event(1.3, "health_status_changed_event")  # arrived during the resync
    p.succeeded(1.4)
    assert p.due_at() == 1.5


def test_policy_quiet_events_do_not_resync_but_connects_and_the_period_do() -> None:
    p = SyncPolicy(debounce_s=0.2, full_every_s=60)
    p.begin(0)
    p.succeeded(0)
    p.note_event(5, "event_stream_attached")
    assert p.due_at() == 60
    p.note_connected(10)
    assert p.due(10)


def test_policy_failed_resync_is_retried_after_retry_s() -> None:
    p = SyncPolicy(debounce_s=0.2, retry_s=1.0)
    p.begin(0)
    p.failed(0.5)
    assert not p.due(1.0) and p.due(1.5)


async def test_follower_resyncs_on_connect_and_after_change_events() -> None:
    queue: asyncio.Queue[bytes] = asyncio.Queue()

    async def events(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        await resp.write(b"event: event_stream_attached\ndata: {\"eventType\":"
                         b"\"event_stream_attached\"}\n\n")
        while True:
            await resp.write(await queue.get())

    app = web.Application()
    app.router.add_get("/v2/events", events)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    calls: asyncio.Queue[int] = asyncio.Queue()
    count = 0

    async def resync() -> None:
        nonlocal count
        count += 1
        await calls.put(count)

    follower = EventFollower(f"http://127.0.0.1:{port}", resync,
                             policy=SyncPolicy(debounce_s=0.05, full_every_s=3600))
    task = asyncio.create_task(follower.run())
    try:
        assert await asyncio.wait_for(calls.get(), 10) == 1  # the initial / connect resync
        while follower.policy.pending_since is not None or not follower.connected:
            await asyncio.wait_for(calls.get(), 10)
        before = count
        body = orjson.dumps({"eventType": "status_update_event", "taskStatus": "TASK_RUNNING"})
        await queue.put(b"event: status_update_event\ndata: " + body + b"\n\n")
        assert await asyncio.wait_for(calls.get(), 10) == before + 1
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await runner.cleanup()
