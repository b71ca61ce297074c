"""TLS contexts for servers and clients, the peer's identity, and reloading on rotation.

Called by every component's shell when security is on (through
`dcos.security.context.load_context`): `server_context` for its aiohttp server,
`client_context` for its outgoing aiohttp sessions (mutual TLS: it presents its own
certificate), `peer_identity` by `dcos.security.http.authenticate` per request, and a
`CertReloader` started at startup and stopped at shutdown.

Servers ask for a client certificate but do not require one (CERT_OPTIONAL): executors, the
CLI and browsers have none and authenticate with tokens or Basic instead. TLS 1.2 or newer.
Clients verify the server's certificate against the cluster CA and its hostname against the
certificate's SANs (127.0.0.1, ::1, localhost and the hosts given at issue).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import ssl
from collections.abc import Sequence
from typing import Any

from aiohttp import web

from dcos.security.layout import SecurityDir
from dcos.security.principal import Identity, Principal, Via

log = logging.getLogger(__name__)

RELOAD_INTERVAL_S = 2.0
_PEER_CACHE_SIZE = 1024
_peer_cache: dict[bytes, Identity] = {}  # DER of a verified peer certificate -> its identity


def server_context(sd: SecurityDir, name: str) -> ssl.SSLContext:
    """An SSLContext for an HTTPS server presenting certs/<name>.crt; peers' optional client
    certificates are verified against ca.crt."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(sd.cert(name), sd.key(name))
    ctx.load_verify_locations(cafile=str(sd.ca_cert))
    ctx.verify_mode = ssl.CERT_OPTIONAL
    return ctx


def client_context(sd: SecurityDir, name: str | None) -> ssl.SSLContext:
    """An SSLContext for outgoing HTTPS: verifies the server (CA + hostname); presents
    certs/<name>.crt when `name` is given (mutual TLS)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.check_hostname = True
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.load_verify_locations(cafile=str(sd.ca_cert))
    if name is not None:
        ctx.load_cert_chain(sd.cert(name), sd.key(name))
    return ctx


def ca_client_context(ca_file: str | os.PathLike[str]) -> ssl.SSLContext:
    """A client context trusting only `ca_file` (no certificate of its own): for the CLI,
    SDK users and executors that have the CA bundle but no security directory."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_verify_locations(cafile=str(ca_file))
    return ctx


def _field(cert: dict[str, Any], key: str) -> str | None:
    for rdn in cert.get("subject", ()):
        for k, v in rdn:
            if k == key:
                return str(v)
    return None


def identity_from_peercert(cert: dict[str, Any] | None) -> Identity | None:
    """The Identity in a verified peer certificate (`SSLSocket.getpeercert()` dict):
    principal = CN, kind = OU; None without a certificate."""
    if not cert:
        return None
    cn = _field(cert, "commonName")
    if not cn:
        return None
    return Identity(principal=Principal(cn), kind=_field(cert, "organizationalUnitName")
                    or "component", via=Via.CERT)


def peer_identity(request: web.Request) -> Identity | None:
    """The identity of the request's verified client certificate, or None (no TLS, no cert).
    With CERT_OPTIONAL, the ssl module only reports a certificate that chained to ca.crt."""
    transport = request.transport
    if transport is None:
        return None
    ssl_object = transport.get_extra_info("ssl_object")
    if ssl_object is None:
        return None
    der = ssl_object.getpeercert(binary_form=True)
    if der is None:
        return None
    found = _peer_cache.get(der)
    if found is None:
        # the dict form is empty unless the certificate chained to the trusted CAs
        found = identity_from_peercert(ssl_object.getpeercert())
        if found is None:
            return None
        if len(_peer_cache) >= _PEER_CACHE_SIZE:
            _peer_cache.clear()
        _peer_cache[der] = found
    return found


def _stamp(paths: Sequence[os.PathLike[str] | str]) -> tuple[tuple[int, int, int], ...]:
    out = []
    for p in paths:
        try:
            st = os.stat(p)
            out.append((st.st_ino, st.st_mtime_ns, st.st_size))
        except FileNotFoundError:
            out.append((0, 0, 0))
    return tuple(out)


class CertReloader:
    """Reloads certificates into the SAME SSLContext objects when their files change.

    Each shell makes one at startup with its server and client contexts, calls `start()`, and
    `await stop()` at shutdown. Every `interval_s` it compares ca.crt, certs/<name>.crt and
    .key (inode, mtime, size) with what it loaded; on a change it calls
    ``load_verify_locations`` (new CA added to the trust store) and ``load_cert_chain`` (new
    certificate) on each context. New handshakes use the new certificate: ``dcos-py ca
    rotate`` needs no restart. A half-written pair (new certificate, old key) fails to load
    and is retried at the next poll. `verify_only` contexts get the CA bundle only (client
    contexts that present no certificate).
    """

    def __init__(self, sd: SecurityDir, name: str | None, contexts: Sequence[ssl.SSLContext],
                 *, verify_only: Sequence[ssl.SSLContext] = (),
                 interval_s: float = RELOAD_INTERVAL_S) -> None:
        self.sd = sd
        self.name = name
        self.contexts = list(contexts)
        self.verify_only = list(verify_only)
        self.interval_s = interval_s
        self.reloads = 0
        self._stamp = self._current()
        self._task: asyncio.Task[None] | None = None

    def _paths(self) -> list[Any]:
        paths: list[Any] = [self.sd.ca_cert]
        if self.name is not None:
            paths += [self.sd.cert(self.name), self.sd.key(self.name)]
        return paths

    def _current(self) -> tuple[tuple[int, int, int], ...]:
        return _stamp(self._paths())

    def check(self) -> bool:
        """One poll: reload if the files changed; True when something was reloaded."""
        stamp = self._current()
        if stamp == self._stamp:
            return False
        try:
            for ctx in [*self.contexts, *self.verify_only]:
                ctx.load_verify_locations(cafile=str(self.sd.ca_cert))
            if self.name is not None:
                for ctx in self.contexts:
                    ctx.load_cert_chain(self.sd.cert(self.name), self.sd.key(self.name))
        except (OSError, ssl.SSLError, ValueError) as exc:
            log.warning("certificate reload of %s failed (retrying): %s", self.name, exc)
            return False
        self._stamp = stamp
        self.reloads += 1
        log.info("reloaded certificates of %s from %s", self.name or "(CA only)", self.sd.root)
        return True

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            try:
                self.check()
            except Exception:  # never let the poller die
                log.exception("certificate reload check failed")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
