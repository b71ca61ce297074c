"""`MasterTransport`: the HTTP side of a `SchedulerDriver` (owned by it, one per driver).

SUBSCRIBE streams go through one aiohttp session (the driver's own, or one the application
passes in: then it is never closed here). Other calls go on keep-alive, pipelined TCP_NODELAY
connections (`dcos.common.pipeline.CallPool`) with a request head pre-encoded once per
(master, stream id): plain TCP for ``http://`` masters, TLS with the `ssl.SSLContext` given
for ``https://`` ones (it verifies the master against the cluster CA and, when it holds a
certificate, presents it: mutual TLS, e.g. `dcos.security.tls.client_context`). Calls to an
https master without an `SSLContext` (``ssl`` None/True/False) take the aiohttp path. Every
request carries the ``Authorization`` header of the driver's `Credentials` (HTTP Basic,
Mesos' framework authentication).
"""

from __future__ import annotations

import asyncio
import ssl as ssl_module
from typing import Any

import aiohttp

from dcos.common.addresses import MasterAddress
from dcos.common.pipeline import CallFailed, CallPool, request_prefix
from dcos.protocol.codec import JSON, dumps_json
from dcos.protocol.ids import StreamID
from dcos.sdk.auth import Credentials, auth_headers
from dcos.sdk.errors import CallRejected, NotConnected

PATH = "/api/v1/scheduler"
Json = dict[str, Any]

SSLOption = ssl_module.SSLContext | bool | None
"""An `ssl.SSLContext`, False (no certificate check) or None/True (the default checks)."""


class MasterTransport:
    """Sends a driver's requests; the driver says to which master and stream (see module
    docstring). `open` when the driver starts, `close` when it ends."""

    def __init__(
        self,
        *,
        ssl: SSLOption = None,
        session: aiohttp.ClientSession | None = None,
        credentials: Credentials | None = None,
        connect_timeout: float = 10.0,
        call_timeout: float = 30.0,
        max_connections: int = 16,
    ) -> None:
        self._ssl: ssl_module.SSLContext | bool = True if ssl is None else ssl
        self._given_session = session
        self._session: aiohttp.ClientSession | None = None
        self._auth = auth_headers(credentials)
        self.connect_timeout = connect_timeout
        self.call_timeout = call_timeout
        self._max_connections = max_connections
        self._pool: CallPool | None = None
        self._prefix = b""
        self._prefix_key: tuple[Any, Any] | None = None

    @property
    def opened(self) -> bool:
        return self._session is not None

    def open(self) -> None:
        """Called by `SchedulerDriver.start`: the session (aiohttp sets TCP_NODELAY)."""
        if self._given_session is not None:
            self._session = self._given_session
            return
        connector = aiohttp.TCPConnector(
            limit=self._max_connections, keepalive_timeout=60, ssl=self._ssl
        )
        self._session = aiohttp.ClientSession(connector=connector)

    async def close(self) -> None:
        """Called once by the driver when it stops: the pool, and the session if it is ours."""
        if self._pool is not None:
            self._pool.close()
            self._pool = None
        if self._session is not None and self._session is not self._given_session:
            await self._session.close()
        self._session = None

    async def subscribe(self, master: MasterAddress, body: bytes) -> aiohttp.ClientResponse:
        """POST a SUBSCRIBE; the response (its body is the event stream) or an aiohttp/OS
        error. Called by the driver's subscription loop."""
        assert self._session is not None
        headers = {"Content-Type": JSON, "Accept": JSON, **self._auth}
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=self.connect_timeout)
        return await self._session.post(
            master.url + PATH,
            data=body,
            headers=headers,
            allow_redirects=False,
            timeout=timeout,
            ssl=self._ssl,
        )

    async def send(self, master: MasterAddress, stream_id: StreamID | None, body: Json) -> None:
        """POST one call; raises `NotConnected` (not delivered) or `CallRejected` (non-2xx)."""
        kind = str(body.get("type"))
        if self._session is None:
            raise NotConnected(f"{kind} not sent: the driver is not running")
        if self._pooled(master):
            pool, prefix = self._call_pool(master, stream_id)
            try:
                status, answer = await pool.post(prefix, dumps_json(body))
            except CallFailed as exc:
                raise NotConnected(f"{kind} not delivered: {exc}") from None
            if 200 <= status < 300:
                return
            raise CallRejected(kind, status, answer.decode("utf-8", "replace").strip())
        await self._send_aiohttp(master, stream_id, kind, body)

    def try_send_nowait(
        self, master: MasterAddress, stream_id: StreamID | None, body: Json
    ) -> asyncio.Future[tuple[int, bytes]] | None:
        """Put a call straight onto an open plain-HTTP connection (no task); None when there
        is none to use. Called for implicit acknowledgements."""
        if self._session is None or not self._pooled(master):
            return None
        pool, prefix = self._call_pool(master, stream_id)
        return pool.try_post(prefix, dumps_json(body))

    def _pooled(self, master: MasterAddress) -> bool:
        """Whether calls to `master` go through the `CallPool` (plain http, or https with an
        `ssl.SSLContext` to wrap its connections in)."""
        return master.scheme == "http" or isinstance(self._ssl, ssl_module.SSLContext)

    def _call_pool(
        self, master: MasterAddress, stream_id: StreamID | None
    ) -> tuple[CallPool, bytes]:
        """The pool for `master` and the request head for `stream_id` (both cached; a new
        master or stream replaces them)."""
        key = (master, stream_id)
        if self._prefix_key != key:
            if self._pool is not None and (self._pool.host, self._pool.port, self._pool.ssl) != (
                master.host,
                master.port,
                self._tls(master),
            ):
                self._pool.close()
                self._pool = None
            headers = {"Content-Type": JSON, "Mesos-Stream-Id": stream_id or "", **self._auth}
            self._prefix = request_prefix(master.host, master.port, PATH, headers)
            self._prefix_key = key
        if self._pool is None or self._pool.closed:
            self._pool = CallPool(
                master.host,
                master.port,
                max_connections=self._max_connections,
                connect_timeout=self.connect_timeout,
                call_timeout=self.call_timeout,
                ssl=self._tls(master),
            )
        return self._pool, self._prefix

    def _tls(self, master: MasterAddress) -> ssl_module.SSLContext | None:
        if master.scheme == "https" and isinstance(self._ssl, ssl_module.SSLContext):
            return self._ssl
        return None

    async def _send_aiohttp(
        self, master: MasterAddress, stream_id: StreamID | None, kind: str, body: Json
    ) -> None:
        assert self._session is not None
        headers = {"Content-Type": JSON, "Mesos-Stream-Id": stream_id or "", **self._auth}
        timeout = aiohttp.ClientTimeout(total=self.call_timeout)
        try:
            async with self._session.post(
                master.url + PATH,
                data=dumps_json(body),
                headers=headers,
                allow_redirects=False,
                timeout=timeout,
                ssl=self._ssl,
            ) as resp:
                if 200 <= resp.status < 300:
                    await resp.read()
                    return
                text = (await resp.text(errors="replace")).strip()
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            raise NotConnected(f"{kind} not delivered: {exc or type(exc).__name__}") from None
        raise CallRejected(kind, resp.status, text)
