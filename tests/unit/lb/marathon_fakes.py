"""A small fake Marathon for the clients of the webapp API (DNS, load balancer): it serves
`GET /v2/apps?embed=apps.tasks` from a mutable app list and pushes `/v2/events` server-sent
events to every attached stream when a test changes the apps.

It runs its own event loop in a background thread (the tests drive real processes and blocking
clients from the test thread). Import as `marathon_fakes` from tests/unit/lb and as
`tests.unit.lb.marathon_fakes` from tests/integration.
"""

from __future__ import annotations

import asyncio
import copy
import threading
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web

from dcos.testing.processes import free_port


def marathon_task(app_id: str, n: int, host: str, ports: list[int], agent: str = "S0",
                  state: str = "TASK_RUNNING", alive: bool | None = None) -> dict[str, Any]:
    """A Marathon task JSON (the fields the clients read); `alive` adds a health result."""
    tid = f"{app_id.strip('/').replace('/', '_')}.{n}"
    task: dict[str, Any] = {
        "id": tid, "appId": app_id, "host": host, "ports": ports, "slaveId": agent,
        "state": state, "stagedAt": "2024-01-01T00:00:00.000Z",
        "startedAt": "2024-01-01T00:00:01.000Z", "version": "2024-01-01T00:00:00.000Z",
        "ipAddresses": [{"ipAddress": host, "protocol": "IPv4"}], "servicePorts": [],
    }
    if alive is not None:
        task["healthCheckResults"] = [{"alive": alive, "consecutiveFailures": 0 if alive else 3,
                                       "taskId": tid}]
    return task


@dataclass
class FakeMarathon:
    """`apps` is the list `/v2/apps` serves (tests replace it through `set_apps`)."""

    port: int = field(default_factory=free_port)
    apps: list[dict[str, Any]] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    _loop: asyncio.AbstractEventLoop | None = None
    _streams: list[asyncio.Queue[bytes | None]] = field(default_factory=list)
    _runner: web.AppRunner | None = None
    _thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # -- test side (any thread) -------------------------------------------------------------

    def set_apps(self, apps: list[dict[str, Any]], event: str = "status_update_event") -> None:
        """Replace the apps and push one `event` to every attached stream."""
        assert self._loop is not None
        new = copy.deepcopy(apps)

        def apply() -> None:
            self.apps = new
            self._broadcast(event, {"eventType": event, "timestamp": "2024-01-01T00:00:00.000Z"})

        self._loop.call_soon_threadsafe(apply)

    def attached(self) -> int:
        return len(self._streams)

    def drop_streams(self) -> None:
        """Close every event stream (clients must reconnect and resync)."""
        assert self._loop is not None
        self._loop.call_soon_threadsafe(lambda: [q.put_nowait(None) for q in self._streams])

    # -- server side -------------------------------------------------------------------------

    def _broadcast(self, event: str, body: dict[str, Any]) -> None:
        data = f"event: {event}\ndata: ".encode() + orjson.dumps(body) + b"\n\n"
        for q in self._streams:
            q.put_nowait(data)

    async def _apps(self, request: web.Request) -> web.Response:
        self.requests.append(request.path_qs)
        return web.json_response({"apps": self.apps}, dumps=lambda v: orjson.dumps(v).decode())

    async def _events(self, request: web.Request) -> web.StreamResponse:
        self.requests.append(request.path_qs)
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        q: asyncio.Queue[bytes | None] = asyncio.Queue()
        self._streams.append(q)
        try:
            await resp.write(b"event: event_stream_attached\ndata: "
                             + orjson.dumps({"eventType": "event_stream_attached",
                                             "remoteAddress": request.remote}) + b"\n\n")
            while (chunk := await q.get()) is not None:
                await resp.write(chunk)
        finally:
            self._streams.remove(q)
        return resp

    async def _ping(self, _: web.Request) -> web.Response:
        return web.Response(text="pong")

    def start(self) -> FakeMarathon:
        ready = threading.Event()

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            app = web.Application()
            app.router.add_get("/v2/apps", self._apps)
            app.router.add_get("/v2/events", self._events)
            app.router.add_get("/ping", self._ping)
            self._runner = web.AppRunner(app, shutdown_timeout=0.1)
            loop.run_until_complete(self._runner.setup())
            loop.run_until_complete(web.TCPSite(self._runner, "127.0.0.1", self.port).start())
            ready.set()
            loop.run_forever()
            loop.run_until_complete(self._runner.cleanup())
            loop.close()

        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()
        ready.wait(10)
        return self

    def stop(self) -> None:
        if self._loop is None or self._thread is None:
            return
        self.drop_streams()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
