"""Mesos-DNS's HTTP API (port 8123): `/v1/version`, `/v1/config`, `/v1/hosts/{host}`,
`/v1/services/{service}`, plus `/health` for readiness checks.

Security on (`make_app(..., security=ctx)`): every route but ``/health`` and ``/openapi.json``
needs an identity (a token, Basic credentials or a client certificate,
`dcos.security.http.auth_middleware`); otherwise 401 with a plain-text body, as Mesos-DNS's
plain answers. The names themselves stay public on the DNS port.

Unknown names answer Mesos-DNS's own shape: one row of empty strings. Called by:
`dcos.dns.service.DnsService`, which mounts `make_app(...)`; the gateway proxies
`/mesos_dns/v1/...` here so the old DC/OS CLI's `master.mesos` lookup works.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
from aiohttp import web

from dcos.common.openapi import add_openapi_route
from dcos.dns.openapi import dns_spec
from dcos.dns.records import RecordTable
from dcos.security.context import SecurityContext
from dcos.security.http import auth_middleware

VERSION = "dcos-py-dns 0.1"


def _json(value: Any, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(value), status=status, content_type="application/json")


def _text_error(status: int, message: str) -> web.Response:
    return web.Response(status=status, text=message + "\n")


def make_app(table_source: Callable[[], RecordTable], config: Callable[[], dict[str, Any]],
             synced: Callable[[], bool], *,
             security: SecurityContext | None = None) -> web.Application:  # fmt: skip
    """The aiohttp app: `table_source()` gives the current table, `config()` the `/v1/config`
    body, `synced()` whether a first resync has happened (`/health` is 503 until then);
    `security`: authenticate every other route (module docstring)."""

    async def version(_: web.Request) -> web.Response:
        return _json({"Service": "Mesos-DNS", "URL": "https://github.com/mesosphere/mesos-dns",
                      "Version": VERSION})

    async def get_config(_: web.Request) -> web.Response:
        return _json(config())

    async def hosts(request: web.Request) -> web.Response:
        rows = table_source().hosts(request.match_info["host"])
        return _json(rows or [{"host": "", "ip": ""}])

    async def services(request: web.Request) -> web.Response:
        rows = table_source().services(request.match_info["service"])
        return _json(rows or [{"service": "", "host": "", "ip": "", "port": ""}])

    async def health(_: web.Request) -> web.Response:
        if synced():
            return web.Response(text="OK")
        return web.Response(status=503, text="no records loaded yet")

    middlewares = [auth_middleware(security, error=_text_error)] if security is not None else []
    app = web.Application(middlewares=middlewares)
    app.router.add_get("/v1/version", version)
    app.router.add_get("/v1/config", get_config)
    app.router.add_get("/v1/hosts/{host}", hosts)
    app.router.add_get("/v1/services/{service}", services)
    app.router.add_get("/health", health)
    add_openapi_route(app, dns_spec())
    return app
