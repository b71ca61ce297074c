"""``--resolvers`` (`dcos.dns.forward`): names outside the cluster domain go to upstream
resolvers (tiny dnslib servers in the test) over UDP or TCP as the client asked, the answer
is relayed, a silent or dead resolver passes to the next, none answering is SERVFAIL; the
cluster's own names never leave; without resolvers outside names stay REFUSED."""

from __future__ import annotations

import asyncio
import socket
import struct

import pytest
from dnslib import QTYPE, RCODE, RR, A, DNSRecord

from dcos.dns.__main__ import parse_args
from dcos.dns.forward import Forwarder, parse_resolvers
from dcos.dns.records import RecordTable
from dcos.dns.server import DnsServer


class Upstream:
    """A resolver on 127.0.0.1 (UDP and TCP, one port) answering every A question with
    `ip`; it counts the questions it got (`asked`); `silent`: it never answers."""

    def __init__(self, ip: str = "192.0.2.7", silent: bool = False) -> None:
        self.ip, self.silent, self.asked = ip, silent, []
        self.port = 0

    def reply(self, data: bytes) -> bytes:
        q = DNSRecord.parse(data)
        self.asked.append(str(q.q.qname))
        r = q.reply(ra=1, aa=0)
        r.add_answer(RR(q.q.qname, QTYPE.A, ttl=60, rdata=A(self.ip)))
        return r.pack()

    async def start(self) -> None:
        up = self
        loop = asyncio.get_running_loop()

        class Udp(asyncio.DatagramProtocol):
            def connection_made(self, transport):
                self.transport = transport

            def datagram_received(self, data, addr):
                if not up.silent:
                    self.transport.sendto(up.reply(data), addr)
                else:
                    up.asked.append("?")

        async def tcp(reader, writer):
            (n,) = struct.unpack("!H", await reader.readexactly(2))
            out = up.reply(await reader.readexactly(n))
            writer.write(struct.pack("!H", len(out)) + out)
            await writer.drain()
            writer.close()

        for _ in range(50):  # a free UDP port whose TCP twin is free too
            self.udp, _ = await loop.create_datagram_endpoint(Udp, local_addr=("127.0.0.1", 0))
            self.port = self.udp.get_extra_info("sockname")[1]
            try:
                self.tcp = await asyncio.start_server(tcp, "127.0.0.1", self.port)
                return
            except OSError:
                self.udp.close()
        raise RuntimeError("no port free for both UDP and TCP on 127.0.0.1")

    async def stop(self) -> None:
        self.udp.close()
        self.tcp.close()
        await self.tcp.wait_closed()


async def _udp_query(port: int, name: str, timeout: float = 5) -> DNSRecord:
    loop = asyncio.get_running_loop()
    got: asyncio.Future[bytes] = loop.create_future()

    class C(asyncio.DatagramProtocol):
        def datagram_received(self, data, addr):
            if not got.done():
                got.set_result(data)

    t, _ = await loop.create_datagram_endpoint(C, remote_addr=("127.0.0.1", port))
    try:
        t.sendto(DNSRecord.question(name, "A").pack())
        return DNSRecord.parse(await asyncio.wait_for(got, timeout))
    finally:
        t.close()


async def _tcp_query(port: int, name: str) -> DNSRecord:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    q = DNSRecord.question(name, "A").pack()
    writer.write(struct.pack("!H", len(q)) + q)
    (n,) = struct.unpack("!H", await reader.readexactly(2))
    data = await reader.readexactly(n)
    writer.close()
    return DNSRecord.parse(data)


def _dead_port() -> int:
    """A UDP port nobody listens on (ICMP port unreachable on loopback)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def _server(forwarder: Forwarder | None) -> DnsServer:
    server = DnsServer(lambda: RecordTable(domain="dcos"), "127.0.0.1", 0, forwarder=forwarder)
    await server.start()
    return server


async def test_outside_names_are_forwarded_and_the_cluster_domain_is_not():
    up = Upstream()
    await up.start()
    server = await _server(Forwarder([("127.0.0.1", up.port)], timeout=2))
    try:
        r = await _udp_query(server.port, "example.com")
        assert r.header.rcode == RCODE.NOERROR and [str(a.rdata) for a in r.rr] == [up.ip]
        r = await _tcp_query(server.port, "www.example.org")
        assert [str(a.rdata) for a in r.rr] == [up.ip]
        r = await _udp_query(server.port, "nothing.dcos")  # ours: answered here
        assert r.header.rcode == RCODE.NXDOMAIN
        assert up.asked == ["example.com.", "www.example.org."]
    finally:
        await server.stop()
        await up.stop()


async def test_a_silent_or_dead_resolver_passes_to_the_next_and_none_is_servfail():
    silent, good = Upstream(silent=True), Upstream(ip="192.0.2.9")
    await silent.start()
    await good.start()
    fwd = Forwarder([("127.0.0.1", _dead_port()), ("127.0.0.1", silent.port),
                     ("127.0.0.1", good.port)], timeout=0.3)  # fmt: skip
    server = await _server(fwd)
    try:
        r = await _udp_query(server.port, "example.com")
        assert [str(a.rdata) for a in r.rr] == ["192.0.2.9"] and silent.asked == ["?"]
        fwd.resolvers = [("127.0.0.1", silent.port), ("127.0.0.1", _dead_port())]
        r = await _udp_query(server.port, "example.net")
        assert r.header.rcode == RCODE.SERVFAIL and not r.rr
        fwd.resolvers = [("127.0.0.1", _dead_port())]  # TCP: connection refused
        r = await _tcp_query(server.port, "example.net")
        assert r.header.rcode == RCODE.SERVFAIL
    finally:
        await server.stop()
        await silent.stop()
        await good.stop()


async def test_without_resolvers_outside_names_stay_refused():
    server = await _server(None)
    try:
        r = await _udp_query(server.port, "example.com")
        assert r.header.rcode == RCODE.REFUSED
    finally:
        await server.stop()


def test_resolvers_flag():
    assert parse_resolvers("8.8.8.8, 10.0.0.2:5353,[::1]:54,::1") == (
        ("8.8.8.8", 53), ("10.0.0.2", 5353), ("::1", 54), ("::1", 53))
    assert parse_resolvers("") == ()
    for bad in ("dns.google", "1.2.3.4:0", "1.2.3.4:x", "[::1", "1.2.3.4:70000"):
        with pytest.raises(ValueError, match="resolver"):
            parse_resolvers(bad)
    config, _ = parse_args(["--resolvers", "8.8.8.8,1.1.1.1:53", "--resolver-timeout", "2"])
    assert config.resolvers == (("8.8.8.8", 53), ("1.1.1.1", 53))
    assert config.resolver_timeout_s == 2
    assert parse_args([])[0].resolvers == ()
