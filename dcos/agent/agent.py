"""The agent: the shell (`dcos.agent.shell.AgentShell`) with its HTTP endpoints.

Used by `python -m dcos.agent` (`run_agent`), by `dcos-py up`, by integration tests, and by
benchmarks that run many `Agent`s on one event loop with a `FakeContainerizer`. With
``config.serve_http`` it serves `dcos.agent.http` on ``config.ip:config.port`` (port 0 picks a
free one, written back into the agent's info) before it recovers and subscribes; over TLS
when security is on (`dcos.agent.security`).
"""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web

from dcos.agent.config import AgentConfig
from dcos.agent.http.app import start_http
from dcos.agent.shell import AgentShell

log = logging.getLogger(__name__)


class Agent(AgentShell):
    _http_runner: web.AppRunner | None = None

    async def _start_http(self) -> None:
        if not self.config.serve_http:
            return
        self._http_runner, port = await start_http(self, self.config.ip, self.config.port)
        self.core.info.port = port
        log.info("agent listening on %s", self.url)

    async def _stop_http(self) -> None:
        if self._http_runner is not None:
            await self._http_runner.cleanup()
            self._http_runner = None


async def run_agent(config: AgentConfig, stop: asyncio.Event | None = None) -> None:
    """Run one agent until `stop` is set (forever without one), then stop it cleanly."""
    agent = Agent(config)
    await agent.start()
    try:
        await (stop.wait() if stop is not None else asyncio.Event().wait())
    finally:
        await agent.stop()
