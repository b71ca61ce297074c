"""The agent's end of the internal master <-> agent channel (`dcos.protocol.internal`).

`MasterLink` is used by the agent shell: `subscribe` opens the long-lived msgpack RecordIO
event stream (``POST /internal/agent`` SUBSCRIBE) and yields decoded events until the stream
ends; `call` posts one short call (UPDATE, PONG, MESSAGE) and returns the HTTP status.
Connection errors are results here (the stream simply ends, a call returns 0): the shell
decides when to retry.

The link talks to one master at a time: `point_at` retargets it (the master session does,
when ZooKeeper names a new leader or a standby master redirects it to the leader). Redirects
are not followed here: a 307 answer to SUBSCRIBE comes back as a `Refused` with its
``Location``, so that calls follow the subscription to the same master.

Every request carries the agent's session secret (``Dcos-Agent-Secret``, see
`dcos.protocol.internal`) once the master handed one out: `set_secret` is called by the
master session when a REGISTERED event brings one (or a saved one is loaded at start).

Calls go over a small pool of keep-alive, pipelined connections (`dcos.common.pipeline`: a
pre-encoded request head plus the body, about a fifth of an aiohttp request's CPU); the
stream stays on the aiohttp session.
"""

from __future__ import annotations

import asyncio
import logging
import re
import ssl as ssl_module
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp

from dcos.common.addresses import MasterAddress, parse_master
from dcos.common.pipeline import CallFailed, CallPool, request_prefix
from dcos.protocol import internal, recordio
from dcos.protocol.codec import MSGPACK, DecodeError, dumps_msgpack, loads_msgpack

log = logging.getLogger(__name__)

_HEADERS = {"Content-Type": MSGPACK, "Accept": MSGPACK}
_SECRET_TEXT = re.compile(r"[A-Za-z0-9_=-]{1,256}")


@dataclass(frozen=True)
class Refused:
    """The master answered SUBSCRIBE with something other than a stream."""

    status: int
    message: str
    location: str | None = None  # a redirect's ``Location`` (``//ip:port/path`` from Mesos)


class MasterLink:
    """Created by the agent shell in `Agent.start`, closed by it in `Agent.stop`. `master`:
    the first master to talk to (an address text or a parsed one), or None: none until the
    master session's `point_at`."""

    def __init__(
        self, master: str | MasterAddress | None, session: aiohttp.ClientSession,
        ssl: ssl_module.SSLContext | None = None,
    ) -> None:
        self.session = session
        self.ssl = ssl  # https masters: the calls' pipelined connections speak (mutual) TLS
        self._headers = dict(_HEADERS)
        self._pool: CallPool | None = None
        self._warming: asyncio.Task[None] | None = None
        self.secret: str | None = None
        self.address: MasterAddress | None = None
        self.master = ""  # host:port of `address`
        self.url = ""
        self.host, self.port = "", 0
        self._prefix = b""
        if master is not None:  # raises ValueError (MasterAddressError) for a bad text
            self.point_at(parse_master(master) if isinstance(master, str) else master)

    def point_at(self, address: MasterAddress) -> None:
        """Send later calls and subscriptions to `address`; the call connections to the
        previous master are closed (their calls in flight return 0). Called by the master
        session before each subscription."""
        if address == self.address:
            return
        self.address = address
        self.master = address.hostport
        self.url = f"{address.url}{internal.PATH}"
        self.host, self.port = address.host, address.port
        self._prefix = request_prefix(self.host, self.port, internal.PATH, self._headers)
        if self._pool is not None:
            self._pool.close()
            self._pool = None

    def set_secret(self, secret: str | None) -> None:
        """Send `secret` (None: none) with every later call and subscription. A secret
        that is not URL-safe base64 text (it goes into a header line) is not used."""
        if secret is not None and not _SECRET_TEXT.fullmatch(secret):
            log.warning("the master's session secret is not URL-safe text; not used")
            secret = None
        self.secret = secret
        self._headers = dict(_HEADERS)
        if secret:
            self._headers[internal.SECRET_HEADER] = secret
        if self.address is not None:
            self._prefix = request_prefix(self.host, self.port, internal.PATH, self._headers)

    def _new_pool(self) -> CallPool:
        tls = self.ssl if self.address is not None and self.address.scheme == "https" else None
        return CallPool(self.host, self.port, max_connections=4, ssl=tls)

    def warm(self) -> None:
        """Open the call connection to the master in the background (called by the master
        session when the agent registers): the first status update then finds it open,
        TLS handshake done."""
        if self.address is None or (self.address.scheme == "https" and self.ssl is None):
            return
        if self._pool is None or self._pool.closed:
            self._pool = self._new_pool()
        task = asyncio.get_running_loop().create_task(self._pool.warm())
        self._warming = task  # kept referenced until done

    async def call(self, body: dict[str, Any]) -> int:
        """POST one call; the HTTP status, or 0 when the master could not be reached (or
        no master is known yet)."""
        if self.address is None:
            return 0
        if self.address.scheme == "https" and self.ssl is None:
            return await self._call_tls(body)
        if self._pool is None or self._pool.closed:
            self._pool = self._new_pool()
        try:
            status, answer = await self._pool.post(self._prefix, dumps_msgpack(body))
        except CallFailed as exc:
            log.debug("%s call failed: %s", body.get("type"), exc)
            return 0
        if status >= 400:
            log.warning("master answered %s to %s: %s", status, body.get("type"),
                        answer[:200].decode("utf-8", "replace"))  # fmt: skip
        return status

    async def _call_tls(self, body: dict[str, Any]) -> int:
        """`call` over the aiohttp session (an https master and no SSL context given)."""
        try:
            async with self.session.post(self.url, data=dumps_msgpack(body), headers=self._headers,
                                         timeout=aiohttp.ClientTimeout(total=10)) as resp:
                await resp.read()
                return resp.status
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            log.debug("%s call failed: %s", body.get("type"), exc)
            return 0

    def close(self) -> None:
        """Close the call connections (calls in flight return 0); called by `Agent.stop`."""
        if self._pool is not None:
            self._pool.close()

    async def subscribe(
        self, body: dict[str, Any], read_timeout: list[float | None]
    ) -> AsyncIterator[dict[str, Any] | Refused]:
        """Yield the events of one subscription until the stream ends or fails.

        A `Refused` is yielded (and the stream ends) when the master answers with an error
        or a redirect (not followed: see the module docstring). `read_timeout[0]`
        (changeable while streaming) bounds the silence between events. Cancelling the
        consumer always ends the stream (and releases the connection).
        """
        if self.address is None:
            return
        try:
            async with self.session.post(
                self.url,
                data=dumps_msgpack(body),
                headers=self._headers,
                allow_redirects=False,
                timeout=aiohttp.ClientTimeout(total=None, connect=10, sock_read=None),
            ) as resp:
                if resp.status != 200:
                    text = await resp.text(errors="replace")
                    yield Refused(resp.status, text[:500], resp.headers.get("Location"))
                    return
                decoder = recordio.Decoder()
                while True:
                    # not asyncio.wait_for: on Python 3.11 it swallows a cancellation that
                    # arrives as the read completes (the read runs as a separate task), and
                    # the cancelled connection loop then went on reading the stream forever
                    async with asyncio.timeout(read_timeout[0]):
                        chunk = await resp.content.readany()
                    if not chunk:
                        return
                    for record in decoder.feed(chunk):
                        event = loads_msgpack(record)
                        if isinstance(event, dict):
                            yield event
        except TimeoutError:
            log.warning("no event from the master for %.0fs; reconnecting", read_timeout[0])
        except (aiohttp.ClientError, OSError) as exc:
            log.debug("master stream failed: %s", exc)
        except (DecodeError, recordio.RecordIOError) as exc:
            log.warning("bad data on the master stream: %s", exc)
