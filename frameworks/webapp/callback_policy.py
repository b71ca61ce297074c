"""Which URLs ``/v2/eventSubscriptions`` may register (pure): `CallbackPolicy`.

An event callback makes the webapp POST to a URL a client chose: without limits, any client
can make it call the cluster's own components (``http://127.0.0.1:5050/...``) or a cloud
metadata service. The rule (flags of ``python -m frameworks.webapp``):

1. ``--event-callback-allow host:port`` patterns given (repeatable, or comma separated; host
   ``*``, ``*.example.com``, a name or an address, ``[v6]``; port a number or ``*``): a URL is
   allowed only when its host and port (80/443 by default) match one. Security on or off.
2. Security on (``--security-dir``) and no pattern: nothing is allowed.
3. Security off and no pattern (today's behaviour, minus the cluster itself): any http(s) URL
   except (a) a loopback or unspecified host (``127.0.0.0/8``, ``::1``, ``0.0.0.0``, ``::``,
   ``localhost``, ``*.localhost``) on one of the cluster's component ports: `COMPONENT_PORTS`
   (the defaults of dcos-py's components) plus this webapp's own port and the master's port,
   and (b) a link-local host (``169.254.0.0/16``, ``fe80::/10``: cloud metadata services) on
   any port.

Only the URL's literal host is judged: a name that resolves to a loopback address is not
caught in mode 3 (use security on with an allow-list for that). `check` answers None (allowed)
or the reason; the API answers 422 for a malformed URL and 403 ``{"message": reason}`` for one
the policy refuses; stored subscriptions the policy no longer allows are dropped (with a
warning) when the webapp starts. Called by `frameworks.webapp.api.server.Api.subscriptions`
and `WebappService.restore_subscriptions`.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

# DESIGN.md section 5: ZooKeeper, master, agents (5051 + one per extra local agent), package
# service, batch dispatcher, gateway, DNS (and its HTTP API), webapp, load balancer + stats.
COMPONENT_PORTS = frozenset({2181, 5050, *range(5051, 5061), 7070, 7077, 8000, 8053, 8080,
                             8123, 9080, 9090})  # fmt: skip
DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True, slots=True)
class CallbackPattern:
    """One ``host:port`` allow-list entry; `port` None means any port."""

    host: str  # lower case; "*" any, "*.example.com" any name under example.com
    port: int | None

    @classmethod
    def parse(cls, text: str) -> CallbackPattern:
        """``host:port`` (``[v6]:port``, port ``*``); ValueError saying what is wrong."""
        raw = text.strip()
        host, sep, port = raw.rpartition(":")
        if not sep or not host or not port:
            raise ValueError(f"callback allow pattern {text!r}: expected host:port (port a number or *)")
        if host.startswith("[") and host.endswith("]"):
            host = host[1:-1]
        if port == "*":
            return cls(host.lower(), None)
        if not (port.isascii() and port.isdigit()) or not 0 < int(port) < 65536:
            raise ValueError(f"callback allow pattern {text!r}: port must be 1..65535 or *")
        return cls(host.lower(), int(port))

    def matches(self, host: str, port: int) -> bool:
        if self.port is not None and self.port != port:
            return False
        if self.host == "*":
            return True
        if self.host.startswith("*."):
            return host.endswith(self.host[1:])
        return _same_host(self.host, host)


def _same_host(a: str, b: str) -> bool:
    try:
        return ipaddress.ip_address(a) == ipaddress.ip_address(b)
    except ValueError:
        return a == b


def _address(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        addr = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        return addr.ipv4_mapped
    return addr


def is_local_host(host: str) -> bool:
    """A loopback or unspecified host (by literal address or the name localhost)."""
    if host == "localhost" or host.endswith(".localhost"):
        return True
    addr = _address(host)
    return addr is not None and (addr.is_loopback or addr.is_unspecified)


def is_link_local(host: str) -> bool:
    addr = _address(host)
    return addr is not None and addr.is_link_local


def parse_patterns(values: Iterable[str]) -> tuple[CallbackPattern, ...]:
    """The ``--event-callback-allow`` values (each may hold several, comma separated)."""
    out: list[CallbackPattern] = []
    for value in values:
        out.extend(CallbackPattern.parse(p) for p in value.split(",") if p.strip())
    return tuple(out)


@dataclass(frozen=True)
class CallbackPolicy:
    """The rule of the module docstring for one webapp process."""

    allow: tuple[CallbackPattern, ...] = ()
    secure: bool = False
    internal_ports: frozenset[int] = COMPONENT_PORTS

    def with_ports(self, ports: Iterable[int]) -> CallbackPolicy:
        """The same policy with more internal ports (the webapp's own, the master's)."""
        return CallbackPolicy(self.allow, self.secure, self.internal_ports | frozenset(ports))

    def check(self, url: str) -> str | None:
        """None when the webapp may POST events to `url` (already a valid http(s) URL:
        `frameworks.webapp.callbacks.validate_callback_url`), else why not."""
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        port = parts.port or DEFAULT_PORTS.get(parts.scheme, 80)
        where = f"{host}:{port}" if ":" not in host else f"[{host}]:{port}"
        if self.allow:
            if any(p.matches(host, port) for p in self.allow):
                return None
            return f"callback URL {url!r} is not allowed: {where} matches no --event-callback-allow pattern"
        if self.secure:
            return (f"callback URL {url!r} is not allowed: event callbacks are refused unless "
                    "their host:port is listed with --event-callback-allow")  # fmt: skip
        if is_link_local(host):
            return f"callback URL {url!r} is not allowed: {host} is a link-local address"
        if is_local_host(host) and port in self.internal_ports:
            return (f"callback URL {url!r} is not allowed: {where} is one of the cluster's own "
                    "component ports")  # fmt: skip
        return None
