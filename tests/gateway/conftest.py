"""Fixtures for the gateway tests: tiny aiohttp upstreams and an in-process gateway.

`upstream(app)` serves an aiohttp app on 127.0.0.1 (a free port) for one test; `gateway(...)`
runs `dcos.gateway.app.Gateway` in the test's loop (port 0) and stops it at the end; `raw(url,
request_bytes)` sends bytes as they are (no client-side path normalisation) and returns the
status and body. The tests that need a real master, agent and webapp start them in
`test_gateway_cluster.py`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from dcos.gateway.app import Gateway
from dcos.gateway.config import GatewayConfig
from dcos.testing import free_port

Upstream = Callable[[web.Application], Awaitable[str]]
MakeGateway = Callable[..., Awaitable[Gateway]]


@pytest.fixture
async def upstream() -> AsyncIterator[Upstream]:
    runners: list[web.AppRunner] = []

    async def start(app: web.Application) -> str:
        runner = web.AppRunner(app, shutdown_timeout=0.2)
        await runner.setup()
        port = free_port()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        runners.append(runner)
        return f"http://127.0.0.1:{port}"

    yield start
    for runner in runners:
        await runner.cleanup()


@pytest.fixture
async def gateway(tmp_path: Path) -> AsyncIterator[MakeGateway]:
    started: list[Gateway] = []

    async def start(**changes: Any) -> Gateway:
        config = replace(GatewayConfig(port=0, web_dir=tmp_path / "no-dist", connect_timeout=1.0),
                         **changes)
        gw = await Gateway(config).start()
        started.append(gw)
        return gw

    yield start
    for gw in started:
        await gw.stop()


def fake_master(frameworks: dict[str, str], agents: dict[str, str] | None = None) -> web.Application:
    """A master stand-in that only answers ``/master/state-summary`` (for routing to tiny
    upstreams by framework name); the real master is used in `test_gateway_cluster.py`."""

    async def summary(request: web.Request) -> web.Response:
        return web.json_response({
            "frameworks": [{"name": n, "active": True, "webui_url": u} for n, u in frameworks.items()],
            "slaves": [{"id": i, "pid": f"slave(1)@{u.split('//')[1]}"} for i, u in (agents or {}).items()],
        })  # fmt: skip

    app = web.Application()
    app.router.add_get("/master/state-summary", summary)
    return app


async def raw(url: str, request: bytes, timeout: float = 5.0) -> tuple[int, bytes]:
    """Send `request` (a whole HTTP/1.1 request, ``Connection: close``) to `url`'s host and
    port as raw bytes; the status and the body (after the head)."""
    host, port = url.split("//")[1].split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write(request)
        await writer.drain()
        data = await asyncio.wait_for(reader.read(), timeout)
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body
