"""The agent's one aiohttp app key: the shell whose core the handlers read."""

from __future__ import annotations

from aiohttp import web

from dcos.agent.shell import AgentShell

AGENT_KEY = web.AppKey("agent", AgentShell)
