"""The master's HTTP shell: scheduler API, internal agent channel, operator endpoints."""

from typing import Any

from aiohttp import web

MASTER: web.AppKey[Any] = web.AppKey("master")
