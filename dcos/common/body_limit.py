"""Request body limits, answered before any of the body is read.

aiohttp refuses a body over the app's ``client_max_size`` only when a handler reads it (after
authentication, routing and the handler's own work). Here a body whose ``Content-Length`` is
over the limit is refused before anything of it is read or parsed, and a chunked body found too
large while read gets the same answer in the API's own format. aiohttp then discards the rest
of the upload unparsed (so the client can finish sending and read the 413 rather than a
connection reset) and keeps the connection: closing it would make a flooding client pay, and
the server too, a new TLS handshake per request (benchmarks/flood.py measured that as worse).

Called by the app factories of the master (`dcos.master.http.routes`), the agent
(`dcos.agent.http.app`), the gateway (`dcos.gateway.app`) and the package service
(`dcos.packaging.api`) as their first middleware, with their own error format (the webapp's
own check in `frameworks.webapp.api.security` does the same).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from aiohttp import web

ErrorFn = Callable[[int, str], web.StreamResponse]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def too_large_message(limit: int, length: int | None) -> str:
    size = f"of {length} bytes " if length is not None else ""
    return f"request body {size}is larger than the limit of {limit} bytes"


def body_limit_middleware(error: ErrorFn, *, exempt: Iterable[str] = ()) -> Any:
    """A middleware answering ``error(413, ...)`` for bodies over the app's (or the cloned
    request's) ``client_max_size``; paths in `exempt` (which read their own bodies with a
    larger bound, such as the master's agent channel) pass untouched."""
    skip = frozenset(exempt)

    @web.middleware
    async def body_limit(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path in skip:
            return await handler(request)
        limit = request.client_max_size
        length = request.content_length
        if limit and length is not None and length > limit:
            return error(413, too_large_message(limit, length))
        try:
            return await handler(request)
        except web.HTTPRequestEntityTooLarge:
            return error(413, too_large_message(limit, None))

    return body_limit
