"""A tiny HTTPS server for the TLS tests: answers GET /whoami with the peer identity."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiohttp import web

from dcos.security.tls import peer_identity


async def whoami(request: web.Request) -> web.Response:
    who = peer_identity(request)
    return web.json_response(None if who is None else
                             {"principal": who.principal, "kind": who.kind, "via": who.via})


@asynccontextmanager
async def https_server(ctx: ssl.SSLContext, app: web.Application | None = None,
                       host: str = "127.0.0.1") -> AsyncIterator[int]:
    """Serve `app` (default: /whoami) over TLS on `host`; yields the port."""
    if app is None:
        app = web.Application()
        app.router.add_get("/whoami", whoami)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, host, 0, ssl_context=ctx)
    await site.start()
    try:
        yield runner.addresses[0][1]
    finally:
        await runner.cleanup()


async def server_cert_der(port: int, ctx: ssl.SSLContext, host: str = "127.0.0.1") -> bytes:
    """The DER certificate the server presents to a fresh handshake."""
    _, writer = await asyncio.open_connection(host, port, ssl=ctx)
    try:
        der = writer.get_extra_info("ssl_object").getpeercert(binary_form=True)
        assert der is not None
        return bytes(der)
    finally:
        writer.close()
        try:
            await writer.wait_closed()
        except (ConnectionError, ssl.SSLError):
            pass
