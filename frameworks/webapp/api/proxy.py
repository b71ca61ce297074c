"""Followers proxy the API to the leader, as Marathon's ``LeaderProxyFilter`` does.

`LeaderProxy.middleware` runs first for every request and asks `frameworks.webapp.ha.route`
where it goes. The leader serves it (and, like Marathon, names itself in an
``X-Marathon-Leader: http://host:port`` header on every answer: `add_leader_header`). A
follower forwards it to the leader: method, path, query, body and headers (less the hop-by-hop
ones and ``Host``), plus ``X-Marathon-Via: 1.1 <host:port>`` (loop detection) and
``X-Forwarded-For``; the leader's status, headers and body come back with that
``X-Marathon-Via`` added. Server-sent event streams (``/v2/events``) are relayed as they come.
Marathon's errors: 503 ``{"message": "Could not determine the current leader"}`` while no
leader is known (after waiting up to `settle` seconds for the election to settle), 502 for a
loop or a leader that refused the connection, 504 when it timed out.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from ssl import SSLContext

import aiohttp
from aiohttp import web

from frameworks.webapp.api.http import error
from frameworks.webapp.ha import (
    LEADER_HEADER,
    VIA_HEADER,
    HaState,
    Loop,
    Proxy,
    Serve,
    Unavailable,
    route,
)
from frameworks.webapp.scheduler import NotLeading

log = logging.getLogger(__name__)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# Not forwarded in either direction (RFC 9110 hop-by-hop, plus what aiohttp recomputes).
HOP_BY_HOP = frozenset({
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
    "transfer-encoding", "upgrade", "host", "content-length",
})  # fmt: skip
FORWARDED = "x-dcos-forwarded-principal"  # set only by `extra_headers`, never relayed as sent
REFUSED = "Connection to leader refused."
TIMED_OUT = "Connection to leader timed out."
BAD_CONNECTION = "Failed to successfully establish a connection to the leader."


class LeaderProxy:
    """The proxying middleware of one API server (`build_app` installs it)."""

    def __init__(self, state: HaState, *, settle: float = 2.5, connect_timeout: float = 5.0,
                 read_timeout: float = 60.0, ssl: SSLContext | None = None,
                 extra_headers: Callable[[web.Request], list[tuple[str, str]]] | None = None) -> None:  # fmt: skip
        """`ssl`: the client context for an https leader (security on: mutual TLS with this
        instance's certificate); `extra_headers(request)`: added to each forwarded request
        (the caller's identity, `frameworks.webapp.api.security.FORWARDED_HEADER`)."""
        self.state = state
        self.ssl = ssl
        self.extra_headers = extra_headers
        self.settle = settle
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self._session: aiohttp.ClientSession | None = None
        self.proxied = 0

    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            # auto_decompress off: bodies are relayed as the leader encoded them; no
            # connection limit: each relayed event stream holds one for its whole life
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=0, ssl=self.ssl if self.ssl is not None else True),
                auto_decompress=False,
                timeout=aiohttp.ClientTimeout(total=None),
            )  # fmt: skip
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        decision = await self._route(request)
        match decision:
            case Serve():
                try:
                    return await handler(request)
                except NotLeading as e:  # leadership lost while the request ran
                    return error(503, str(e))
            case Proxy(url=url):
                return await self.forward(request, url)
            case Loop(message=message):
                log.error("proxy loop: %s %s came back (via %s)", request.method, request.path,
                          request.headers.getall(VIA_HEADER, []))  # fmt: skip
                return error(502, message)
            case Unavailable(message=message):
                return error(503, message)
        raise AssertionError(decision)  # pragma: no cover

    async def _route(self, request: web.Request) -> Serve | Proxy | Loop | Unavailable:
        """`route`, waiting (up to `settle` s, as Marathon does) while no leader is known."""
        via = request.headers.getall(VIA_HEADER, [])
        decision = route(self.state, request.method, request.path, via)
        waited = 0.0
        while isinstance(decision, Unavailable) and waited < self.settle:
            await asyncio.sleep(0.25)
            waited += 0.25
            decision = route(self.state, request.method, request.path, via)
        return decision

    def _request_headers(self, request: web.Request) -> list[tuple[str, str]]:
        out = [(k, v) for k, v in request.headers.items()
               if k.lower() not in HOP_BY_HOP and k.lower() != FORWARDED]  # fmt: skip
        if self.extra_headers is not None:
            out.extend(self.extra_headers(request))
        out.append((VIA_HEADER, self.state.via))
        forwarded = [request.headers.get("X-Forwarded-For"), request.remote]
        out = [(k, v) for k, v in out if k.lower() != "x-forwarded-for"]
        out.append(("X-Forwarded-For", ",".join(f for f in forwarded if f)))
        return out

    async def forward(self, request: web.Request, leader_url: str) -> web.StreamResponse:
        """Relay `request` to the leader at `leader_url` and its answer back."""
        self.proxied += 1
        body = await request.read() if request.body_exists else None
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=self.connect_timeout,
                                        sock_read=None if _is_stream(request) else self.read_timeout)  # fmt: skip
        try:
            upstream = await self.session().request(
                request.method, leader_url + request.rel_url.raw_path_qs, data=body,
                headers=self._request_headers(request), allow_redirects=False, timeout=timeout,
            )  # fmt: skip
        except aiohttp.ClientConnectorError as e:
            log.warning("%s %s: leader %s refused: %s", request.method, request.path, leader_url, e)
            return error(502, REFUSED)
        except TimeoutError:
            return error(504, TIMED_OUT)
        except aiohttp.ClientError as e:
            log.warning("%s %s: proxying to %s failed: %s", request.method, request.path, leader_url, e)
            return error(502, BAD_CONNECTION)
        async with upstream:
            headers = [(k, v) for k, v in upstream.headers.items() if k.lower() not in HOP_BY_HOP]
            headers.append((VIA_HEADER, self.state.via))
            if upstream.content_type != "text/event-stream":
                try:
                    data = await upstream.read()
                except TimeoutError:
                    return error(504, TIMED_OUT)
                except aiohttp.ClientError:
                    return error(502, BAD_CONNECTION)
                resp = web.Response(status=upstream.status, body=data)
                resp.headers.extend(headers)
                return resp
            return await _relay_stream(request, upstream, headers)


def _is_stream(request: web.Request) -> bool:
    return request.path.rstrip("/") == "/v2/events" or "text/event-stream" in request.headers.get("Accept", "")


async def _relay_stream(request: web.Request, upstream: aiohttp.ClientResponse,
                        headers: list[tuple[str, str]]) -> web.StreamResponse:  # fmt: skip
    """Relay a server-sent event stream chunk by chunk until either side ends it."""
    resp = web.StreamResponse(status=upstream.status)
    resp.headers.extend(headers)
    await resp.prepare(request)
    try:
        async for chunk in upstream.content.iter_any():
            await resp.write(chunk)
    except (aiohttp.ClientError, ConnectionResetError):
        pass  # the leader went away (or the client): the client reconnects
    return resp


def add_leader_header(state: HaState) -> Callable[[web.Request, web.StreamResponse], Awaitable[None]]:
    """An ``on_response_prepare`` hook: the leader's answers carry ``X-Marathon-Leader``
    (a proxied answer keeps the one the leader set)."""

    async def hook(request: web.Request, response: web.StreamResponse) -> None:
        if state.leading and LEADER_HEADER not in response.headers:
            response.headers[LEADER_HEADER] = state.me.url

    return hook


__all__ = ["LeaderProxy", "add_leader_header"]
