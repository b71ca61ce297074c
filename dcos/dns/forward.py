"""Forwarding of names outside the cluster domain to upstream resolvers (Mesos-DNS'
``resolvers``): ``python -m dcos.dns --resolvers 8.8.8.8,10.0.0.2:5353``.

Without resolvers a question outside the domain is REFUSED (`dcos.dns.server.answer`). With
them, `DnsServer` hands such a query to `Forwarder.forward`: the client's packet is sent as it
is to the first resolver (UDP for a UDP client, TCP for a TCP client), and the first answer
that comes back is relayed as it is (the client's id, the upstream's flags and records); a
resolver that does not answer within `timeout` (or refuses the connection, or answers
garbage) passes the query to the next one; when none answers the client gets SERVFAIL.

Called by: `dcos.dns.__main__` (`parse_resolvers` for the flag), `dcos.dns.service.DnsService`
(makes the `Forwarder`), `dcos.dns.server.DnsServer` (per query); the installer writes
``--resolvers`` from ``cluster.yaml``'s ``resolvers`` (`dcos.installer.units`).
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import struct
from collections.abc import Sequence
from dataclasses import dataclass

from dnslib import RCODE, DNSError, DNSRecord

log = logging.getLogger(__name__)

DEFAULT_PORT = 53
DEFAULT_TIMEOUT_S = 5.0  # Mesos-DNS' default ``timeout``
UDP_BUFFER = 65535

Resolver = tuple[str, int]


def parse_resolver(text: str) -> Resolver:
    """``IP``, ``IP:port``, ``[IPv6]:port`` or a bare IPv6 literal -> (ip, port); ValueError
    with a message otherwise."""
    text = text.strip()
    host, port = text, DEFAULT_PORT
    if text.startswith("["):
        end = text.find("]")
        if end < 0 or (text[end + 1:] and not text[end + 1:].startswith(":")):
            raise ValueError(f"resolver {text!r}: expected [IPv6]:port")
        host, rest = text[1:end], text[end + 2:]
        port = _port(rest, text) if rest else DEFAULT_PORT
    elif text.count(":") == 1:
        host, _, rest = text.partition(":")
        port = _port(rest, text)
    try:
        ip = str(ipaddress.ip_address(host))
    except ValueError:
        raise ValueError(f"resolver {text!r}: not an IP address (a resolver is IP[:port])") from None
    return ip, port


def _port(text: str, whole: str) -> int:
    if not text.isdigit() or not 0 < int(text) <= 65535:
        raise ValueError(f"resolver {whole!r}: port must be 1-65535")
    return int(text)


def parse_resolvers(text: str) -> tuple[Resolver, ...]:
    """``--resolvers``: comma-separated resolvers ('' -> none)."""
    return tuple(parse_resolver(part) for part in text.split(",") if part.strip())


def servfail(packet: bytes) -> bytes | None:
    """SERVFAIL for the query `packet` (None when it is no query)."""
    try:
        request = DNSRecord.parse(packet)
    except (DNSError, struct.error, ValueError, IndexError):
        return None
    reply = request.reply(ra=1, aa=0)
    reply.header.rcode = RCODE.SERVFAIL
    return reply.pack()


def _same_query(packet: bytes, data: bytes) -> bool:
    """Whether `data` is a reply to `packet` (same id, QR set)."""
    return len(data) >= 12 and data[:2] == packet[:2] and bool(data[2] & 0x80)


class _Once(asyncio.DatagramProtocol):
    def __init__(self, packet: bytes) -> None:
        self.packet = packet
        self.reply: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        if _same_query(self.packet, data) and not self.reply.done():
            self.reply.set_result(data)

    def error_received(self, exc: Exception) -> None:  # ICMP port unreachable
        if not self.reply.done():
            self.reply.set_exception(exc)


@dataclass
class Forwarder:
    """Asks `resolvers` in order; `timeout` seconds each."""

    resolvers: Sequence[Resolver]
    timeout: float = DEFAULT_TIMEOUT_S

    async def forward(self, packet: bytes, *, tcp: bool = False) -> bytes | None:
        """The first upstream answer to `packet`, else SERVFAIL (None: not a query)."""
        for ip, port in self.resolvers:
            try:
                ask = self._tcp if tcp else self._udp
                return await asyncio.wait_for(ask(ip, port, packet), self.timeout)
            except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError) as exc:
                log.info("resolver %s:%d did not answer: %s", ip, port, exc or type(exc).__name__)
        return servfail(packet)

    async def _udp(self, ip: str, port: int, packet: bytes) -> bytes:
        loop = asyncio.get_running_loop()
        transport, proto = await loop.create_datagram_endpoint(
            lambda: _Once(packet), remote_addr=(ip, port)
        )
        try:
            transport.sendto(packet)
            return await proto.reply
        finally:
            transport.close()

    async def _tcp(self, ip: str, port: int, packet: bytes) -> bytes:
        reader, writer = await asyncio.open_connection(ip, port)
        try:
            writer.write(struct.pack("!H", len(packet)) + packet)
            await writer.drain()
            (length,) = struct.unpack("!H", await reader.readexactly(2))
            data = await reader.readexactly(length)
            if not _same_query(packet, data):
                raise ValueError("the reply does not answer the query")
            return data
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await writer.wait_closed()
