"""Serving a master: the shell (`dcos.master.shell.MasterShell`) with the HTTP routes of
`dcos.master.http` on a socket.

Public entry points (tests, benchmarks, `python -m dcos.master`):

- ``create_master(config, *, clock=None, store=None, allocator=None) -> MasterShell``: the
  shell with its aiohttp ``app`` (the core starts in the app's startup hook). Usable with
  aiohttp's test client.
- ``await start_master(config, ...) -> RunningMaster``: serve on ``config.ip:config.port``
  (port 0 picks a free port); ``.url``, ``.port``, ``.shell``, ``await .stop()``.
- ``await run_master(config, stop=None)``: serve until `stop` is set (or forever).
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import web

from dcos.allocator.interface import Allocator
from dcos.common.clock import Clock
from dcos.master.config import MasterConfig
from dcos.master.http.routes import add_routes
from dcos.master.shell import MasterShell
from dcos.state import StateStore

__all__ = [
    "MasterConfig",
    "MasterShell",
    "RunningMaster",
    "create_master",
    "run_master",
    "start_master",
]

log = logging.getLogger(__name__)

LISTEN_BACKLOG = 4096  # the kernel caps it at net.core.somaxconn


def create_master(
    config: MasterConfig,
    *,
    clock: Clock | None = None,
    store: StateStore | None = None,
    allocator: Allocator | None = None,
) -> MasterShell:
    """A master shell with its aiohttp ``app`` routed (the core starts in the app's startup
    hook)."""
    shell = MasterShell(config, clock=clock, store=store, allocator=allocator)
    add_routes(shell.app, shell)
    return shell


@dataclass
class RunningMaster:
    shell: MasterShell
    runner: web.AppRunner
    port: int

    @property
    def url(self) -> str:
        return f"http://{self.shell.config.ip}:{self.port}"

    async def stop(self) -> None:
        await self.runner.cleanup()


async def start_master(
    config: MasterConfig,
    *,
    clock: Clock | None = None,
    store: StateStore | None = None,
    allocator: Allocator | None = None,
) -> RunningMaster:
    """Bind, start and serve; returns once the master is listening."""
    sock = socket.socket(socket.AF_INET6 if ":" in config.ip else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((config.ip, config.port))
    config.port = sock.getsockname()[1]
    shell = create_master(config, clock=clock, store=store, allocator=allocator)
    runner = web.AppRunner(
        shell.app, handler_cancellation=True, access_log=None, shutdown_timeout=1.0
    )
    await runner.setup()
    # after a failover every agent connects at once: aiohttp's default backlog (128)
    # overflowed, and each dropped connection cost its agent a 1 s TCP retransmit
    site = web.SockSite(runner, sock, backlog=LISTEN_BACKLOG)
    await site.start()
    log.info("master listening on http://%s:%d", config.ip, config.port)
    return RunningMaster(shell, runner, config.port)


async def run_master(
    config: MasterConfig,
    stop: asyncio.Event | None = None,
    started: Callable[[], None] | None = None,
) -> None:
    """Serve until `stop` is set; `started` is called once the master serves (``python -m
    dcos.master`` passes `dcos.common.gc_tuning.tune_gc`)."""
    running = await start_master(config)
    if started is not None:
        started()
    try:
        await (stop or asyncio.Event()).wait()
    finally:
        log.info("master shutting down")
        await running.stop()
