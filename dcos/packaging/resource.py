"""Serving one package asset: `GET /package/resource?url=<absolute asset URL>`.

Called by: the HTTP shell (dcos/packaging/api.py) once the service core has checked that the URL
is exactly an asset or image of a package in a configured repository (`PackageService.asset`),
so nothing else -- no other file, no traversal -- can be read through it. A `file://` asset is
sent from disk; an `http(s)://` one is streamed from its repository's server with the
repository's credentials (which never leave the service). Every answer carries
`SAFE_HEADERS`: the browser reaches this endpoint from the web UI's origin (through the gateway),
so an asset (an SVG image of a repository added later, say) is never run as a page there.
"""

from __future__ import annotations

import logging
import mimetypes
import os
from urllib.parse import unquote, urlsplit

import aiohttp
from aiohttp import web

from dcos.packaging import errors
from dcos.packaging.repositories import Repository

CHUNK = 256 * 1024
# An asset is data, never a document of the UI's origin: no script, no sniffing.
SAFE_HEADERS = {"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; sandbox",
                "X-Content-Type-Options": "nosniff"}
log = logging.getLogger(__name__)


async def serve_asset(request: web.Request, session: aiohttp.ClientSession, repo: Repository,
                      url: str) -> web.StreamResponse:
    """The asset's bytes as the response (raises `CosmosError` when it cannot be read)."""
    parts = urlsplit(url)
    if parts.scheme == "file":
        path = unquote(parts.path)
        if not os.path.isfile(path):
            raise errors.resource_not_found(url)
        return web.FileResponse(path, headers={"Content-Type": _content_type(path),
                                               **SAFE_HEADERS})
    return await _proxy(request, session, repo, url)


def _content_type(path: str) -> str:
    if path.endswith(".tar"):
        return "application/x-tar"
    return mimetypes.guess_type(path)[0] or "application/octet-stream"


def _same_origin(repo: Repository, url: str) -> bool:
    a, b = urlsplit(repo.fetch_url()), urlsplit(url)
    return (a.scheme, a.hostname, a.port) == (b.scheme, b.hostname, b.port)


async def _proxy(request: web.Request, session: aiohttp.ClientSession, repo: Repository,
                 url: str) -> web.StreamResponse:
    headers = repo.auth_headers() if _same_origin(repo, url) else {}
    resp: web.StreamResponse | None = None
    try:
        async with session.get(url, headers=headers,
                               timeout=aiohttp.ClientTimeout(total=None, sock_read=60)) as up:
            if up.status != 200:
                raise errors.CosmosError("UniverseClientHttpError",
                                         f"Unexpected upstream http error: GET {url} {up.status}",
                                         {"url": url, "clientStatus": up.status}, status=502)
            resp = web.StreamResponse(status=200, headers={
                "Content-Type": up.headers.get("Content-Type", "application/octet-stream"),
                **SAFE_HEADERS})
            if up.content_length is not None:
                resp.content_length = up.content_length
            await resp.prepare(request)
            async for chunk in up.content.iter_chunked(CHUNK):
                await resp.write(chunk)
            await resp.write_eof()
            return resp
    except (aiohttp.ClientError, TimeoutError, OSError) as exc:
        if resp is not None and resp.prepared:
            # the status line is out: end the connection early; the fetcher sees a short read
            log.warning("asset %s: upstream failed mid-stream: %s", url, exc)
            if request.transport is not None:
                request.transport.close()
            return resp
        raise errors.CosmosError("EndpointUriConnection", f"Could not access data at URI {url}",
                                 {"url": url, "cause": str(exc)}, status=502) from None
