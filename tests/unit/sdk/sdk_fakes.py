"""A fake Mesos master speaking the v1 scheduler HTTP API, for the SDK driver tests.

It answers SUBSCRIBE with a chunked RecordIO stream (SUBSCRIBED first, then whatever the
test sends) and every other call with 202, recording bodies and headers. Tests wait on its
queues (events, never sleeps).
"""

from __future__ import annotations

import asyncio
import itertools
import ssl
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web

from dcos.protocol import recordio
from dcos.sdk import Scheduler

WAIT = 5.0  # a guard against hangs, not a timing assertion


@dataclass
class Stream:
    headers: dict[str, str]
    body: dict[str, Any]
    stream_id: str
    queue: asyncio.Queue[Any] = field(default_factory=asyncio.Queue)

    def send(self, event: dict[str, Any]) -> None:
        self.queue.put_nowait(event)

    def close(self) -> None:
        self.queue.put_nowait(None)


class FakeMaster:
    def __init__(self) -> None:
        self.framework_id = "fw-0001"
        self.heartbeat_interval = 15.0
        self.streams: asyncio.Queue[Stream] = asyncio.Queue()
        self.calls: asyncio.Queue[tuple[dict[str, str], dict[str, Any]]] = asyncio.Queue()
        self.all_calls: list[dict[str, Any]] = []
        self.subscribe_answers: list[web.Response] = []  # served before any real stream
        self.call_status = 202
        self.open_streams: list[Stream] = []
        self._ids = itertools.count(1)
        self.runner: web.AppRunner | None = None
        self.port = 0

    async def start(self, ssl_context: ssl.SSLContext | None = None) -> None:
        """Listen on an ephemeral loopback port (TLS with `ssl_context`)."""
        app = web.Application()
        app.router.add_post("/api/v1/scheduler", self._handle)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0, ssl_context=ssl_context)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        for stream in self.open_streams:
            stream.close()
        if self.runner:
            await self.runner.cleanup()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = orjson.loads(await request.read())
        headers = dict(request.headers)
        if body.get("type") != "SUBSCRIBE":
            self.all_calls.append(body)
            self.calls.put_nowait((headers, body))
            return web.Response(
                status=self.call_status, text="bad call" if self.call_status >= 400 else ""
            )
        if self.subscribe_answers:
            return self.subscribe_answers.pop(0)
        stream = Stream(headers, body, f"stream-{next(self._ids)}")
        resp = web.StreamResponse(
            status=200,
            headers={"Mesos-Stream-Id": stream.stream_id, "Content-Type": "application/json"},
        )
        resp.enable_chunked_encoding()
        await resp.prepare(request)
        fid = (body.get("framework_id") or {}).get("value") or self.framework_id
        stream.send(
            {
                "type": "SUBSCRIBED",
                "subscribed": {
                    "framework_id": {"value": fid},
                    "heartbeat_interval_seconds": self.heartbeat_interval,
                    "master_info": {"id": "m1", "hostname": "127.0.0.1", "port": self.port},
                },
            }
        )
        self.streams.put_nowait(stream)
        self.open_streams.append(stream)
        while True:
            event = await stream.queue.get()
            if event is None:
                break
            await resp.write(recordio.encode(orjson.dumps(event)))
        return resp

    async def next_stream(self) -> Stream:
        return await asyncio.wait_for(self.streams.get(), WAIT)

    async def next_call(self, kind: str | None = None) -> tuple[dict[str, str], dict[str, Any]]:
        while True:
            headers, body = await asyncio.wait_for(self.calls.get(), WAIT)
            if kind is None or body["type"] == kind:
                return headers, body


class Recorder(Scheduler):
    """Records every callback as (name, args) and lets tests await them in order."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, tuple[Any, ...]]] = []
        self.queue: asyncio.Queue[tuple[str, tuple[Any, ...]]] = asyncio.Queue()

    def _record(self, name: str, *args: Any) -> None:
        self.seen.append((name, args))
        self.queue.put_nowait((name, args))

    async def next(self, name: str | None = None) -> tuple[Any, ...]:
        while True:
            got, args = await asyncio.wait_for(self.queue.get(), WAIT)
            if name is None or got == name:
                return args

    async def registered(self, driver, framework_id, master_info):
        self._record("registered", framework_id, master_info)

    async def reregistered(self, driver, master_info):
        self._record("reregistered", master_info)

    async def disconnected(self, driver):
        self._record("disconnected")

    async def resource_offers(self, driver, offers):
        self._record("resource_offers", offers)

    async def offer_rescinded(self, driver, offer_id):
        self._record("offer_rescinded", offer_id)

    async def status_update(self, driver, status):
        self._record("status_update", status)

    async def framework_message(self, driver, executor_id, agent_id, data):
        self._record("framework_message", executor_id, agent_id, data)

    async def agent_lost(self, driver, agent_id):
        self._record("agent_lost", agent_id)

    async def executor_lost(self, driver, executor_id, agent_id, status):
        self._record("executor_lost", executor_id, agent_id, status)

    async def error(self, driver, message):
        self._record("error", message)
