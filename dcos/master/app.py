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
from pathlib import Path

from aiohttp import web

from dcos.allocator.interface import Allocator
from dcos.common.clock import Clock
from dcos.master.config import MasterConfig
from dcos.master.http.routes import add_routes
from dcos.master.shell import MasterShell
from dcos.security.context import SecurityContext, load_context
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
    security: SecurityContext | None = None,
) -> MasterShell:
    """A master shell with its aiohttp ``app`` routed (the core starts in the app's startup
    hook). Security is on with `security`, or loaded from ``config.security_dir``
    (`dcos.security.context.load_context` with ``config.tls_name``)."""
    if security is None and config.security_dir:
        security = load_context(Path(config.security_dir), config.tls_name)
    shell = MasterShell(config, clock=clock, store=store, allocator=allocator, security=security)
    add_routes(shell.app, shell)
    return shell


@dataclass
class RunningMaster:
    shell: MasterShell
    runner: web.AppRunner
    port: int

    @property
    def url(self) -> str:
        scheme = "https" if self.shell.security is not None else "http"
        host = self.shell.config.ip
        host = f"[{host}]" if ":" in host else host
        return f"{scheme}://{host}:{self.port}"

    async def stop(self) -> None:
        await self.runner.cleanup()


async def start_master(
    config: MasterConfig,
    *,
    clock: Clock | None = None,
    store: StateStore | None = None,
    allocator: Allocator | None = None,
    security: SecurityContext | None = None,
) -> RunningMaster:
    """Bind, start and serve (HTTPS with security on); returns once the master is
    listening."""
    sock = socket.socket(socket.AF_INET6 if ":" in config.ip else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((config.ip, config.port))
    config.port = sock.getsockname()[1]
    shell = create_master(config, clock=clock, store=store, allocator=allocator, security=security)
    runner = web.AppRunner(
        shell.app, handler_cancellation=True, access_log=None, shutdown_timeout=1.0
    )
    await runner.setup()
    # after a failover every agent connects at once: aiohttp's default backlog (128)
    # overflowed, and each dropped connection cost its agent a 1 s TCP retransmit
    ssl_context = shell.security.server_ssl if shell.security is not None else None
    site = web.SockSite(runner, sock, backlog=LISTEN_BACKLOG, ssl_context=ssl_context)
    await site.start()
    running = RunningMaster(shell, runner, config.port)
    log.info("master listening on %s%s", running.url,
             " (security on: TLS, authentication, ACLs)" if ssl_context else "")  # fmt: skip
    return running


async def run_master(
    config: MasterConfig,
    stop: asyncio.Event | None = None,
    started: Callable[[], None] | None = None,
    security: SecurityContext | None = None,
) -> None:
    """Serve until `stop` is set; `started` is called once the master serves (``python -m
    dcos.master`` passes `dcos.common.gc_tuning.tune_gc`, and the security context it
    loaded)."""
    running = await start_master(config, security=security)
    if started is not None:
        started()
    try:
        await (stop or asyncio.Event()).wait()
    finally:
        log.info("master shutting down")
        await running.stop()
