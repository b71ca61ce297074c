"""DNS over UDP and TCP (dnslib for the wire format) answering from a `RecordTable`.

`answer(table, packet, ttl, rng)` is the sans-IO part: query bytes in, reply bytes out (None
for bytes that are not a DNS query at all). `DnsServer` is the asyncio shell: a UDP endpoint and
a TCP server (2-byte length framing) on one address, asking `table_source()` for the current
table on every query (the service swaps tables; queries never see a half-built one).

Names outside the cluster domain are REFUSED, unless the server has a `forwarder`
(``--resolvers``, `dcos.dns.forward`): then `upstream(table, packet)` says so and the query
goes to the upstream resolvers, whose answer (or SERVFAIL) is relayed.

Called by: `dcos.dns.service.DnsService` (start/stop), tests (`answer` directly).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import random
import struct
from collections.abc import Callable
from dataclasses import dataclass, field

from dnslib import QTYPE, RCODE, RR, SOA, SRV, A, DNSError, DNSRecord

from dcos.dns.forward import Forwarder
from dcos.dns.records import RecordTable

log = logging.getLogger(__name__)

DEFAULT_TTL = 5
UDP_MAX = 512
EPHEMERAL_ATTEMPTS = 20  # port 0: tries at a free UDP port whose TCP twin is free too
EDNS_MAX = 4096


def _soa(table: RecordTable, ttl: int) -> RR:
    apex = table.domain + "."
    return RR(apex, QTYPE.SOA, ttl=ttl, rdata=SOA(f"ns1.{apex}", f"root.ns1.{apex}",
                                                  (1, 60, 30, 86400, ttl)))


def _fill(reply: DNSRecord, table: RecordTable, qname: str, qtype: int, ttl: int,
          rng: random.Random) -> None:
    """Put the answers for one question into `reply` (rcode set for unknown names)."""
    if not table.in_zone(qname):
        reply.header.rcode = RCODE.REFUSED
        return
    if not table.exists(qname):
        reply.header.rcode = RCODE.NXDOMAIN
        reply.add_auth(_soa(table, ttl))
        return
    answered = False
    if qtype in (QTYPE.A, QTYPE.ANY):
        ips = list(table.lookup_a(qname))
        rng.shuffle(ips)  # several tasks: shuffled order, the crude balancing clients expect
        for ip in ips:
            reply.add_answer(RR(qname, QTYPE.A, ttl=ttl, rdata=A(ip)))
            answered = True
    if qtype in (QTYPE.SRV, QTYPE.ANY):
        srvs = list(table.lookup_srv(qname))
        rng.shuffle(srvs)
        extra: dict[str, set[str]] = {}
        for s in srvs:
            reply.add_answer(RR(qname, QTYPE.SRV, ttl=ttl,
                                rdata=SRV(priority=0, weight=1, port=s.port, target=s.target + ".")))
            extra.setdefault(s.target, set()).add(s.ip)
            answered = True
        for target, target_ips in sorted(extra.items()):
            for ip in sorted(target_ips):
                reply.add_ar(RR(target + ".", QTYPE.A, ttl=ttl, rdata=A(ip)))
    if qtype == QTYPE.SOA and table.canonical(qname) == table.domain:
        reply.add_answer(_soa(table, ttl))
        answered = True
    if not answered:  # the name exists with other types: NOERROR, no data, SOA for caching
        reply.add_auth(_soa(table, ttl))


def answer(table: RecordTable, packet: bytes, ttl: int = DEFAULT_TTL,
           rng: random.Random | None = None, max_size: int | None = UDP_MAX) -> bytes | None:
    """The reply to one DNS query packet. `max_size` (UDP: 512, or the client's EDNS size up
    to 4096; TCP: None) truncates an oversized reply to its header with TC set, so the client
    retries over TCP."""
    try:
        request = DNSRecord.parse(packet)
    except (DNSError, struct.error, ValueError, IndexError):
        return None
    if request.header.qr:  # a response, not a query: ignore
        return None
    reply = request.reply(ra=0, aa=1)
    if request.header.opcode != 0 or len(request.questions) != 1:
        reply.header.rcode = RCODE.NOTIMP if request.header.opcode != 0 else RCODE.FORMERR
        return reply.pack()
    q = request.questions[0]
    _fill(reply, table, str(q.qname), int(q.qtype), ttl, rng or random.Random())
    data = reply.pack()
    if max_size is not None:
        limit = max_size
        for opt in request.ar:
            if opt.rtype == QTYPE.OPT:
                limit = max(UDP_MAX, min(EDNS_MAX, int(opt.rclass)))
        if len(data) > limit:
            short = request.reply(ra=0, aa=1)
            short.header.tc = 1
            return short.pack()
    return data


def upstream(table: RecordTable, packet: bytes) -> bool:
    """Whether `packet` is a standard query of one name outside the cluster's domain (a
    server with resolvers forwards it instead of answering REFUSED)."""
    try:
        request = DNSRecord.parse(packet)
    except (DNSError, struct.error, ValueError, IndexError):
        return False
    if request.header.qr or request.header.opcode != 0 or len(request.questions) != 1:
        return False
    return not table.in_zone(str(request.questions[0].qname))


@dataclass
class DnsServer:
    """UDP + TCP DNS listener on `host:port` answering from `table_source()`; names outside
    the domain go to `forwarder` when there is one."""

    table_source: Callable[[], RecordTable]
    host: str = "127.0.0.1"
    port: int = 8053
    ttl: int = DEFAULT_TTL
    rng: random.Random = field(default_factory=random.Random)
    forwarder: Forwarder | None = None
    _udp: asyncio.DatagramTransport | None = None
    _tcp: asyncio.base_events.Server | None = None
    _relays: set[asyncio.Task[None]] = field(default_factory=set)

    def _relay(self, transport: asyncio.DatagramTransport, data: bytes,
               addr: tuple[str, int]) -> None:  # fmt: skip
        """Forward a UDP query upstream; the answer goes back to `addr` when it comes."""
        assert self.forwarder is not None
        forwarder = self.forwarder

        async def relay() -> None:
            reply = await forwarder.forward(data)
            if reply is not None and not transport.is_closing():
                transport.sendto(reply, addr)

        task = asyncio.get_running_loop().create_task(relay())
        self._relays.add(task)
        task.add_done_callback(self._relays.discard)

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        server = self

        class _Udp(asyncio.DatagramProtocol):
            def connection_made(self, transport: asyncio.BaseTransport) -> None:
                self.transport = transport

            def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
                table = server.table_source()
                if server.forwarder is not None and upstream(table, data):
                    server._relay(self.transport, data, addr)  # type: ignore[arg-type]
                    return
                reply = answer(table, data, server.ttl, server.rng)
                if reply is not None:
                    self.transport.sendto(reply, addr)  # type: ignore[attr-defined]

        ephemeral = self.port == 0  # tests: one ephemeral port for both UDP and TCP
        for attempt in range(EPHEMERAL_ATTEMPTS if ephemeral else 1):
            port = 0 if ephemeral else self.port
            transport, _ = await loop.create_datagram_endpoint(_Udp, local_addr=(self.host, port))
            port = transport.get_extra_info("sockname")[1]
            try:
                self._tcp = await asyncio.start_server(self._serve_tcp, self.host, port)
            except OSError as exc:
                transport.close()
                # the UDP port's TCP twin may be taken by someone else: pick another pair
                if not ephemeral or exc.errno != errno.EADDRINUSE or attempt == EPHEMERAL_ATTEMPTS - 1:
                    raise
                continue
            self._udp, self.port = transport, port
            return

    async def _serve_tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readexactly(2)
                (length,) = struct.unpack("!H", head)
                packet = await reader.readexactly(length)
                table = self.table_source()
                if self.forwarder is not None and upstream(table, packet):
                    reply = await self.forwarder.forward(packet, tcp=True)
                else:
                    reply = answer(table, packet, self.ttl, self.rng, max_size=None)
                if reply is None:
                    break
                writer.write(struct.pack("!H", len(reply)) + reply)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await writer.wait_closed()

    async def stop(self) -> None:
        for task in list(self._relays):
            task.cancel()
        if self._udp is not None:
            self._udp.close()
        if self._tcp is not None:
            self._tcp.close()
            await self._tcp.wait_closed()
