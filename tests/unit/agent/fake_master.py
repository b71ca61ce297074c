"""A tiny fake master speaking the internal msgpack channel, for agent tests."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from dcos.protocol import internal, recordio
from dcos.protocol.codec import MSGPACK, dumps_msgpack, loads_msgpack


class FakeMaster:
    """Accepts SUBSCRIBE (answers REGISTERED with a fixed agent id), records calls.

    `send(event)` pushes an event down the current stream; `auto_ack` acknowledges every
    update it receives. `restart()` drops every connection and listens again on the same port.
    """

    def __init__(self, agent_id: str = "agent-1", auto_ack: bool = True) -> None:
        self.agent_id = agent_id
        self.auto_ack = auto_ack
        self.subscribes: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.updates: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.pongs: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.update_calls: list[dict[str, Any]] = []
        self.refuse_next = False
        self.port = 0
        self._stream: asyncio.Queue[dict[str, Any] | None] | None = None
        self._runner: web.AppRunner | None = None
        self._handlers: set[asyncio.Task[Any]] = set()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post(internal.PATH, self._handle)
        self._runner = web.AppRunner(app, handler_cancellation=True)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self.port, reuse_address=True)
        await site.start()
        self.port = self._runner.addresses[0][1]

    async def stop(self) -> None:
        if self._stream is not None:
            self._stream.put_nowait(None)
            self._stream = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def restart(self) -> None:
        await self.stop()
        await self.start()

    def send(self, event: dict[str, Any]) -> None:
        assert self._stream is not None, "no agent subscribed"
        self._stream.put_nowait(event)

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = loads_msgpack(await request.read())
        kind = body.get("type")
        if kind == internal.SUBSCRIBE:
            if self.refuse_next:
                self.refuse_next = False
                self.subscribes.put_nowait(body)
                return web.json_response({"message": "agent removed"}, status=403)
            return await self._subscribe(request, body)
        if kind == internal.UPDATE:
            self.update_calls.append(body)
            for u in body["updates"]:
                self.updates.put_nowait(u)
                if self.auto_ack and self._stream is not None:
                    s = u["status"]
                    self._stream.put_nowait(
                        {"type": internal.ACKNOWLEDGE, "framework_id": u["framework_id"],
                         "task_id": s["task_id"]["value"], "uuid": s["uuid"]}
                    )  # fmt: skip
        elif kind == internal.PONG:
            self.pongs.put_nowait(body)
        return web.Response(status=202)

    async def _subscribe(self, request: web.Request, body: dict[str, Any]) -> web.StreamResponse:
        self.subscribes.put_nowait(body)
        resp = web.StreamResponse(status=200, headers={"Content-Type": MSGPACK})
        await resp.prepare(request)
        queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        if self._stream is not None:
            self._stream.put_nowait(None)
        self._stream = queue
        queue.put_nowait(
            {"type": internal.REGISTERED, "agent_id": self.agent_id, "master_id": "m-1",
             "ping_interval": 15}
        )  # fmt: skip
        while True:
            event = await queue.get()
            if event is None:
                break
            await resp.write(recordio.encode(dumps_msgpack(event)))
        return resp
