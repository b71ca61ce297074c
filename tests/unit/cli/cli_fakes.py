"""Fakes for the CLI tests: a small aiohttp fake master serving canned Mesos-shaped JSON.

The fake runs on its own event loop in a background thread, because the CLI's client is
synchronous and is called from the test's thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson
import pytest
from aiohttp import web

from dcos.testing.processes import free_port  # noqa: F401 (the tests import it from here)


@contextlib.contextmanager
def serve_in_thread(app: web.Application) -> Iterator[str]:
    """Serve `app` on 127.0.0.1 from its own event loop in a daemon thread (the CLI's client
    is synchronous and runs in the test's thread); yields the base URL, stops it on exit.
    Used by every CLI fake (this module's, `pkg_fakes`, test_app_cli's)."""
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
    port = free_port()

    async def start() -> None:
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()

    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(start(), loop).result(timeout=10)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()


AGENTS = [
    {
        "id": "a1b2-S0", "pid": "slave(1)@127.0.0.1:5051", "hostname": "node-a", "port": 5051,
        "resources": {"cpus": 2.0, "mem": 2048.0, "disk": 10000.0, "ports": "[31000-31999]"},
        "used_resources": {"cpus": 0.5, "mem": 128.0, "disk": 0.0},
        "attributes": {"rack": "r1", "zone": "z1"}, "active": True,
    },
    {
        "id": "a1b2-S1", "pid": "slave(1)@127.0.0.1:5052", "hostname": "node-b", "port": 5052,
        "resources": {"cpus": 1.5, "mem": 1024.0, "disk": 5000.0},
        "used_resources": {}, "attributes": {}, "active": False,
    },
]
RUNNING_TASK = {"id": "web.1", "name": "web", "framework_id": "fw-1", "slave_id": "a1b2-S0",
                "state": "TASK_RUNNING", "resources": {"cpus": 0.5, "mem": 128.0}}
DONE_TASK = {"id": "job.7", "name": "job", "framework_id": "fw-1", "slave_id": "a1b2-S1",
             "state": "TASK_FINISHED", "resources": {"cpus": 0.1, "mem": 32.0}}
OLD_TASK = {"id": "old.3", "name": "old", "framework_id": "fw-0", "slave_id": "gone-S9",
            "state": "TASK_KILLED", "resources": {}}
FRAMEWORKS = [
    {"id": "fw-1", "name": "webapp", "role": "*", "active": True,
     "used_resources": {"cpus": 0.5, "mem": 128.0}, "tasks": [RUNNING_TASK],
     "completed_tasks": [DONE_TASK]},
]
COMPLETED_FRAMEWORKS = [
    {"id": "fw-0", "name": "old-batch", "roles": ["batch", "etl"], "active": False,
     "used_resources": {}, "tasks": [], "completed_tasks": [OLD_TASK]},
]
STATE = {"slaves": AGENTS, "frameworks": FRAMEWORKS, "completed_frameworks": COMPLETED_FRAMEWORKS}


@dataclass
class FakeMaster:
    """`routes[path] = (status, body)`; `requests` records the paths asked for."""

    url: str = ""
    routes: dict[str, tuple[int, Any]] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)


@pytest.fixture
def fake_master() -> Iterator[FakeMaster]:
    fake = FakeMaster(routes={
        "/master/slaves": (200, {"slaves": AGENTS, "recovered_slaves": []}),
        "/master/frameworks": (200, {"frameworks": FRAMEWORKS,
                                     "completed_frameworks": COMPLETED_FRAMEWORKS,
                                     "unregistered_frameworks": []}),
        "/master/state": (200, STATE),
        "/health": (200, None),
    })

    async def handle(request: web.Request) -> web.Response:
        fake.requests.append(request.path)
        status, body = fake.routes.get(request.path, (404, "no such endpoint"))
        if isinstance(body, str) or body is None:
            return web.Response(status=status, text=body or "")
        return web.Response(status=status, body=orjson.dumps(body),
                            content_type="application/json")

    app = web.Application()
    app.router.add_route("GET", "/{tail:.*}", handle)
    with serve_in_thread(app) as url:
        fake.url = url
        yield fake
