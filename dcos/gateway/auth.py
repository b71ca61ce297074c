"""The gateway's authentication middleware (security on: ``--security-dir``).

Called by: `dcos.gateway.app.build_app`, which installs `edge_middleware(ctx)` first when the
gateway has a `dcos.security.context.SecurityContext`; without one nothing here runs.

For a path `dcos.gateway.edge.is_open` names, the request passes untouched, its body limited
to 1 MiB (anyone may send it: the login). Otherwise the
identity comes from `dcos.security.http.authenticate` (a bearer token -- also from the UI's
cookie on GET/HEAD, see `dcos.gateway.edge` --, HTTP Basic of a framework, or a client
certificate of kind ``component``); a request without one, or with a bad or revoked token,
is answered here: 401 JSON ``{"code": 401, "message": ...}`` with ``WWW-Authenticate:
acsjwt`` (the DC/OS CLIs then log in). Nothing is relayed for it.

What passes keeps its ``Authorization`` header (a cookie token becomes ``Authorization:
token=<jwt>``): the relay forwards it, so every upstream authorizes the user itself (the
gateway's own certificate only opens the TLS connection). A client known only by its
certificate is let through only when it is a component's (an agent's or a framework's
certificate would be relayed with the gateway's rights).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from dcos.gateway.edge import CHALLENGE, cookie_token, is_open
from dcos.gateway.proxy import error
from dcos.security.context import SecurityContext
from dcos.security.http import AuthError, authenticate
from dcos.security.principal import Identity, Via

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
OPEN_MAX_BODY = 1 << 20  # request bodies on the open paths (the login): 1 MiB
NO_TOKEN = ("authentication required: log in (`dcos-py auth login`, or the web UI's login "
            "page) and send the token as 'Authorization: token=<token>'")  # fmt: skip


def unauthorized(message: str) -> web.Response:
    """The gateway's 401: its JSON error with ``WWW-Authenticate: acsjwt``."""
    resp = error(401, message)
    resp.headers["WWW-Authenticate"] = CHALLENGE
    return resp


def with_cookie_token(request: web.Request) -> web.Request:
    """`request`, or a copy with ``Authorization: token=<cookie token>`` when it has no
    ``Authorization`` header and a GET/HEAD cookie token (`dcos.gateway.edge.cookie_token`)."""
    if "Authorization" in request.headers:
        return request
    token = cookie_token(request.method, request.headers.get("Cookie"))
    if token is None:
        return request
    headers = request.headers.copy()
    headers["Authorization"] = f"token={token}"
    return request.clone(headers=headers)


def identify(request: web.Request, ctx: SecurityContext, now: float) -> Identity | str:
    """The request's identity, or why it has none acceptable at the edge (the 401 message)."""
    found = authenticate(request, ctx, now=now)
    if isinstance(found, AuthError):  # a bad, expired or revoked token, or bad Basic
        return found.message or NO_TOKEN
    if not found.authenticated:
        return NO_TOKEN
    if found.via == Via.CERT and found.kind != "component":
        return (f"certificate of {found.kind} '{found.principal}' is not accepted at the "
                "gateway: send a token")  # fmt: skip
    return found


def edge_middleware(ctx: SecurityContext, clock: Callable[[], float] = time.time) -> Any:
    """The aiohttp middleware (module docstring) for the security context `ctx`."""

    @web.middleware
    async def edge(request: web.Request, handler: Handler) -> web.StreamResponse:
        if is_open(request.raw_path):  # anyone may call these: small bodies only
            return await handler(request.clone(client_max_size=OPEN_MAX_BODY))
        request = with_cookie_token(request)
        who = identify(request, ctx, clock())
        if isinstance(who, str):
            log.info("401 %s %s: %s", request.method, request.path, who)
            return unauthorized(who)
        return await handler(request)

    return edge


__all__ = ["NO_TOKEN", "OPEN_MAX_BODY", "edge_middleware", "identify", "unauthorized", "with_cookie_token"]
