"""SRV and A lookups against one DNS server, with the standard library only.

The dask package's workers find their scheduler through dcos-py DNS before any wheel is
installed, so this speaks the DNS wire format itself (RFC 1035 messages, RFC 2782 SRV): one
UDP query, again over TCP when the answer comes back truncated.

A webapp app `/<a>/<b>` is `_<b>-<a>._tcp.webapp.dcos` in SRV (one record per task port, target
`<agent>.agent.dcos`, whose A record comes in the additional section), and a named port
`<name>` also `_<name>._<b>-<a>._tcp.webapp.dcos` (dcos/dns/records.py).

Called by `dcos_dask.launch` (a worker waiting for its scheduler).
"""

from __future__ import annotations

import os
import random
import re
import socket
import struct
from dataclasses import dataclass

TYPE_A = 1
TYPE_SRV = 33
CLASS_IN = 1
DOMAIN = "webapp.dcos"
_INVALID = re.compile(r"[^a-z0-9-]")
_DASHES = re.compile(r"-{2,}")


class DnsError(Exception):
    """A lookup failed (no answer, a bad reply, a timeout); the text says which name and why."""


@dataclass(frozen=True, order=True)
class Endpoint:
    """A resolved SRV record: the target's IPv4 address and the port."""

    host: str
    port: int


def app_label(app_id: str) -> str:
    """The DNS label of a webapp app id, as dcos-py DNS makes it: segments reversed, joined
    with dashes, lowercased, anything but letters/digits/dashes a dash (`/dask/scheduler` ->
    `scheduler-dask`). Labels over 63 characters are not supported here (DNS hashes them)."""
    parts = [p for p in app_id.split("/") if p]
    label = _DASHES.sub("-", _INVALID.sub("-", "-".join(reversed(parts)).lower())).strip("-")
    if not label or len(label) > 63:
        raise DnsError(f"app id {app_id!r} has no usable DNS label of at most 63 characters")
    return label


def srv_name(app_id: str, port_name: str | None = None) -> str:
    """The SRV name of an app's ports (or of its port named `port_name`)."""
    base = f"_{app_label(app_id)}._tcp.{DOMAIN}"
    return f"_{port_name}.{base}" if port_name else base


def resolver_address(spec: str | None = None) -> tuple[str, int]:
    """(host, port) of the DNS server to ask: `spec` or `$DCOS_DNS_RESOLVER` (`host:port`,
    `[v6]:port`), else the first nameserver of /etc/resolv.conf on port 53."""
    spec = os.environ.get("DCOS_DNS_RESOLVER", "") if spec is None else spec
    if spec:
        host, sep, port = spec.rpartition(":")
        if not sep or not host or not port.isdigit():
            raise DnsError(f"DCOS_DNS_RESOLVER must be host:port, got {spec!r}")
        return host.strip("[]"), int(port)
    try:
        with open("/etc/resolv.conf") as f:
            for line in f:
                fields = line.split()
                if len(fields) >= 2 and fields[0] == "nameserver":
                    return fields[1], 53
    except OSError:
        pass
    return "127.0.0.1", 53


def _encode_name(name: str) -> bytes:
    out = b""
    for label in name.rstrip(".").split("."):
        raw = label.encode("ascii")
        if not 0 < len(raw) < 64:
            raise DnsError(f"bad DNS name {name!r}")
        out += bytes([len(raw)]) + raw
    return out + b"\0"


def _read_name(msg: bytes, pos: int) -> tuple[str, int]:
    """The (possibly compressed) name at `pos` and the position after it."""
    labels: list[str] = []
    end = None
    for _ in range(128):  # bounded: a pointer loop is a bad reply, not a hang
        if pos >= len(msg):
            raise DnsError("truncated name in reply")
        length = msg[pos]
        if length & 0xC0 == 0xC0:
            if end is None:
                end = pos + 2
            pos = ((length & 0x3F) << 8) | msg[pos + 1]
            continue
        if length == 0:
            return ".".join(labels), (end if end is not None else pos + 1)
        labels.append(msg[pos + 1:pos + 1 + length].decode("ascii", "replace"))
        pos += 1 + length
    raise DnsError("name compression loop in reply")


@dataclass(frozen=True)
class _Record:
    name: str
    rtype: int
    data: bytes
    offset: int  # of `data` in the message (SRV targets may point back into it)


def _parse(msg: bytes, qid: int) -> tuple[int, list[_Record]]:
    """(rcode, answer + additional records) of a reply to query `qid`."""
    if len(msg) < 12:
        raise DnsError("short reply")
    rid, flags, qd, an, ns, ar = struct.unpack("!6H", msg[:12])
    if rid != qid:
        raise DnsError("reply to another query")
    pos = 12
    for _ in range(qd):
        _, pos = _read_name(msg, pos)
        pos += 4
    records = []
    for _ in range(an + ns + ar):
        name, pos = _read_name(msg, pos)
        rtype, _cls, _ttl, length = struct.unpack("!HHIH", msg[pos:pos + 10])
        pos += 10
        records.append(_Record(name.lower(), rtype, msg[pos:pos + length], pos))
        pos += length
    return flags & 0xF, records


def _exchange(query: bytes, server: tuple[str, int], timeout: float, tcp: bool) -> bytes:
    family = socket.AF_INET6 if ":" in server[0] else socket.AF_INET
    if not tcp:
        with socket.socket(family, socket.SOCK_DGRAM) as s:
            s.settimeout(timeout)
            s.sendto(query, server)
            return s.recv(65535)
    with socket.create_connection(server, timeout=timeout) as s:
        s.sendall(struct.pack("!H", len(query)) + query)
        buf = b""
        while len(buf) < 2 or len(buf) < 2 + struct.unpack("!H", buf[:2])[0]:
            chunk = s.recv(65535)
            if not chunk:
                raise DnsError("TCP reply cut short")
            buf += chunk
        return buf[2:]


def query(name: str, rtype: int, server: tuple[str, int], timeout: float = 2.0
          ) -> tuple[list[_Record], bytes]:  # fmt: skip
    """The records (answer and additional sections) the server returns for `name`/`rtype`
    and the raw reply; raises DnsError on NXDOMAIN, a server failure or a timeout."""
    qid = random.randrange(1 << 16)
    msg = struct.pack("!6H", qid, 0x0100, 1, 0, 0, 0) + _encode_name(name)
    msg += struct.pack("!HH", rtype, CLASS_IN)
    try:
        reply = _exchange(msg, server, timeout, tcp=False)
        if len(reply) > 2 and reply[2] & 0x02:  # TC: truncated, ask again over TCP
            reply = _exchange(msg, server, timeout, tcp=True)
    except OSError as exc:
        raise DnsError(f"{name}: no reply from {server[0]}:{server[1]} ({exc})") from None
    rcode, records = _parse(reply, qid)
    if rcode == 3:
        raise DnsError(f"{name}: no such name (NXDOMAIN)")
    if rcode != 0:
        raise DnsError(f"{name}: server answered rcode {rcode}")
    return records, reply


def lookup_srv(name: str, server: tuple[str, int], timeout: float = 2.0) -> list[Endpoint]:
    """Every SRV record of `name` as (IPv4, port), targets resolved through the additional
    section, else an A query to the same server; [] when the name has no SRV record."""
    records, reply = query(name, TYPE_SRV, server, timeout)
    addresses = {r.name: socket.inet_ntoa(r.data) for r in records
                 if r.rtype == TYPE_A and len(r.data) == 4}  # fmt: skip
    out = []
    for r in records:
        if r.rtype != TYPE_SRV or len(r.data) < 7:
            continue
        _prio, _weight, port = struct.unpack("!HHH", r.data[:6])
        target, _ = _read_name(reply, r.offset + 6)
        host = addresses.get(target.lower()) or _lookup_a(target, server, timeout)
        out.append(Endpoint(host, port))
    return out


def _lookup_a(name: str, server: tuple[str, int], timeout: float) -> str:
    records, _ = query(name, TYPE_A, server, timeout)
    for r in records:
        if r.rtype == TYPE_A and len(r.data) == 4:
            return socket.inet_ntoa(r.data)
    raise DnsError(f"{name}: no A record")
