"""The gateway's streaming relay: one request to a `dcos.gateway.routes.Target` and its answer
back, as it comes.

Called by: `dcos.gateway.app` (`Relay.forward(request, target)`; `error(status, message)`
for its own JSON errors).

The same ideas as the webapp's leader proxy (`frameworks.webapp.api.proxy`), which the
gateway may not import: one aiohttp client session with no connection limit (each relayed
stream holds a connection for its whole life) and ``auto_decompress`` off (bodies pass as the
upstream encoded them); hop-by-hop headers (RFC 9110, plus those the ``Connection`` header
names) dropped both ways; ``X-Forwarded-For``/``-Proto``/``-Host`` added (security on: the
gateway's own view, the UI's token cookie dropped, and the caller's ``Authorization`` sent
only to the cluster's own components, never to a user's framework or app); redirects not
followed but passed back, a ``Location`` on the upstream rewritten to the gateway path
(`dcos.gateway.routes.rewrite_location`).

Answers: a small body with a ``Content-Length`` goes back in one write; anything else
(server-sent events, Mesos' chunked RecordIO ``SUBSCRIBE`` streams, big files) chunk by chunk
as each arrives, never buffered, until either side ends it. Errors, JSON
``{"code", "message"}``: 502 when the upstream refuses the connection or breaks it before
answering, 504 when connecting (or waiting for the answer's head) takes too long, 508 when
the request comes back to this gateway (its ``Via`` token: an upstream URL pointing at the
gateway itself), 413 for a request body over the application's limit (64 MiB; 1 MiB on the
paths open without a token when security is on).
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import uuid

import aiohttp
import orjson
from aiohttp import web
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

from dcos.gateway.edge import without_auth_cookie
from dcos.gateway.routes import Target, rewrite_location

log = logging.getLogger(__name__)

# RFC 9110 hop-by-hop headers, plus what aiohttp recomputes for each side.
HOP_BY_HOP = frozenset({
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "proxy-connection",
    "te", "trailer", "transfer-encoding", "upgrade", "host", "content-length",
})  # fmt: skip
ONE_WRITE_MAX = 1 << 20  # bodies up to this many bytes (with a Content-Length) in one write


def error(status: int, message: str) -> web.Response:
    """The gateway's own error answer: JSON ``{"code": status, "message": message}``."""
    return web.Response(status=status, body=orjson.dumps({"code": status, "message": message}),
                        content_type="application/json")  # fmt: skip


def _dropped(headers: CIMultiDictProxy[str]) -> frozenset[str]:
    named = {h.strip().lower() for v in headers.getall("Connection", []) for h in v.split(",")}
    return HOP_BY_HOP | frozenset(named)


def request_headers(request: web.Request, via: str | None = None, *, edge: bool = False,
                    credentials: bool = True) -> CIMultiDict[str]:  # fmt: skip
    """The headers sent upstream (module docstring); `via` is appended to ``Via``. `edge`
    (security on): the client's own ``X-Forwarded-Proto``/``-Host`` are replaced by what
    this gateway saw (upstreams trust them from the gateway's certificate only), the UI's
    token cookie is left out, and so is ``Authorization`` unless `credentials` (the target
    is a cluster component: `dcos.gateway.routes.Target.component`)."""
    drop = _dropped(request.headers) | {"x-forwarded-for", "x-forwarded-proto",
                                        "x-forwarded-host"}  # fmt: skip
    if edge:
        drop |= {"cookie"} if credentials else {"cookie", "authorization"}
    out = CIMultiDict((k, v) for k, v in request.headers.items() if k.lower() not in drop)
    if edge:
        for value in request.headers.getall("Cookie", []):
            kept = without_auth_cookie(value)
            if kept:
                out.add("Cookie", kept)
    chain = [request.headers.get("X-Forwarded-For"), request.remote]
    out["X-Forwarded-For"] = ", ".join(f for f in chain if f)
    given = not edge
    out["X-Forwarded-Proto"] = given and request.headers.get("X-Forwarded-Proto") or request.scheme
    out["X-Forwarded-Host"] = given and request.headers.get("X-Forwarded-Host") or request.host
    if via is not None:
        out.add("Via", via)
    return out


def response_headers(upstream: aiohttp.ClientResponse, target: Target) -> CIMultiDict[str]:
    """The upstream's answer headers as relayed to the client."""
    drop = _dropped(upstream.headers)
    out: CIMultiDict[str] = CIMultiDict()
    for k, v in upstream.headers.items():
        if k.lower() in drop:
            continue
        out.add(k, rewrite_location(v, target) if k.lower() == "location" else v)
    return out


class Relay:
    """The proxy shell: owns the client session (`close()` at shutdown)."""

    def __init__(self, *, connect_timeout: float = 3.0, head_timeout: float = 120.0,
                 ssl_context: ssl.SSLContext | None = None) -> None:  # fmt: skip
        """`ssl_context`: the client context of the gateway's certificate (security on:
        https upstreams verified against the cluster CA, mutual TLS)."""
        self.ssl_context = ssl_context
        # `Via` token naming this gateway process: a request coming back with it is a loop
        # (a framework whose webui_url points at the gateway itself)
        self.via = f"1.1 dcos-py-gateway-{uuid.uuid4().hex[:12]}"
        self.connect_timeout = connect_timeout
        self.head_timeout = head_timeout
        self._session: aiohttp.ClientSession | None = None

    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=0, ssl=self.ssl_context or True),
                auto_decompress=False,
                timeout=aiohttp.ClientTimeout(total=None), cookie_jar=aiohttp.DummyCookieJar(),
            )  # fmt: skip
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def _send(self, method: str, url: URL, body: bytes | None, headers: CIMultiDict[str],
                    timeout: aiohttp.ClientTimeout) -> aiohttp.ClientResponse:
        """One attempt at the upstream request (`forward` makes a second on a dropped
        kept-alive connection); waits at most ``head_timeout`` for the answer's head."""
        return await asyncio.wait_for(self.session().request(
            method, url, data=body, headers=headers, allow_redirects=False, timeout=timeout,
            skip_auto_headers=("User-Agent",)), self.head_timeout)  # fmt: skip

    async def forward(self, request: web.Request, target: Target) -> web.StreamResponse:
        """Relay `request` to `target` and its answer back (module docstring). Raises
        `UpstreamRefused` (the caller may retry elsewhere) before anything was sent back."""
        try:
            url = URL(target.url, encoded=True)
        except ValueError:
            return error(400, f"bad request path {request.raw_path!r}")
        if any(self.via in v for v in request.headers.getall("Via", [])):
            return error(508, f"loop: {target.name} at {target.base} sent the request back to "
                              "this gateway")  # fmt: skip
        try:
            body = await request.read() if request.body_exists else None
        except web.HTTPRequestEntityTooLarge:
            return error(413, f"request body larger than {request.client_max_size} bytes")
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=self.connect_timeout)
        where = f"{target.name} at {target.base}"
        headers = request_headers(request, self.via, edge=self.ssl_context is not None,
                                  credentials=target.component)
        try:
            try:
                upstream = await self._send(request.method, url, body, headers, timeout)
            except aiohttp.ServerDisconnectedError:
                # a kept-alive connection the upstream had closed, found only on use: aiohttp
                # retries idempotent methods itself; a POST (the UI's master stream) is sent
                # once more (the body is in memory)
                log.info("%s %s -> %s: connection dropped before an answer; sending again",
                         request.method, request.path, target.url)
                upstream = await self._send(request.method, url, body, headers, timeout)
        except aiohttp.ConnectionTimeoutError:
            return error(504, f"{where} is not answering: no connection within "
                              f"{self.connect_timeout:g} s")  # fmt: skip
        except aiohttp.ClientConnectorError as exc:
            raise UpstreamRefused(f"{where} is not answering: {_why(exc)}") from None
        except TimeoutError:
            return error(504, f"{where} did not answer within {self.head_timeout:g} s")
        except (aiohttp.ClientError, OSError) as exc:
            log.warning("%s %s -> %s: %s", request.method, request.path, target.url, exc)
            return error(502, f"{where} is not answering: {_why(exc)}")
        except ValueError as exc:  # a method or header aiohttp refuses to send
            return error(400, f"cannot relay this request: {exc}")
        async with upstream:
            return await self._answer(request, upstream, target, where)

    async def _answer(self, request: web.Request, upstream: aiohttp.ClientResponse,
                      target: Target, where: str) -> web.StreamResponse:  # fmt: skip
        headers = response_headers(upstream, target)
        length = upstream.content_length
        if request.method == "HEAD" or upstream.status in (204, 304):
            resp = web.Response(status=upstream.status, reason=upstream.reason)
            resp.headers.extend(headers)
            if length is not None and request.method == "HEAD":
                resp.headers["Content-Length"] = str(length)
            return resp
        if length is not None and length <= ONE_WRITE_MAX:
            try:
                data = await upstream.read()
            except (aiohttp.ClientError, OSError) as exc:
                return error(502, f"{where} broke off its answer: {_why(exc)}")
            resp = web.Response(status=upstream.status, reason=upstream.reason, body=data)
            resp.headers.extend(headers)
            return resp
        return await _stream(request, upstream, headers, length)


async def _stream(request: web.Request, upstream: aiohttp.ClientResponse,
                  headers: CIMultiDict[str], length: int | None) -> web.StreamResponse:  # fmt: skip
    """Relay the body chunk by chunk, each written (and flushed) as soon as it arrives."""
    resp = web.StreamResponse(status=upstream.status, reason=upstream.reason)
    resp.headers.extend(headers)
    if length is not None:
        resp.content_length = length
    else:
        resp.enable_chunked_encoding()
    await resp.prepare(request)
    try:
        async for chunk in upstream.content.iter_any():
            await resp.write(chunk)
        await resp.write_eof()
    except (aiohttp.ClientError, ConnectionError, OSError):
        pass  # either side went away: nothing more can be said to the client
    return resp


def _why(exc: BaseException) -> str:
    if isinstance(exc, aiohttp.ClientConnectorError):
        return exc.strerror or str(exc.os_error) or "connection refused"
    return str(exc) or type(exc).__name__


class UpstreamRefused(Exception):
    """The upstream refused the connection: nothing was sent; the message is the 502's."""


__all__ = ["HOP_BY_HOP", "Relay", "UpstreamRefused", "error", "request_headers",
           "response_headers"]  # fmt: skip
