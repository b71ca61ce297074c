"""Master addresses: the one parser for ``--master`` flags, ``DCOS_MASTER`` and redirects.

Called by: the agent's link to the master, the SDK's scheduler driver (and its redirect
handling), the DNS service, the CLI and the batch framework's ``mesos://`` master URLs.

Accepted forms: ``host``, ``host:port``, ``[v6]:port``, a bare IPv6 literal (``::1``),
``http(s)://host[:port][/path]`` (the path is ignored), ``mesos://host:port`` (Spark's form; the default scheme)
and ``//host:port`` (a Mesos redirect ``Location``). The port defaults to 5050; the scheme
is kept (``https`` stays https). ``zk://`` URLs are not supported yet and raise a clear
`MasterAddressError` (a `ValueError`).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from urllib.parse import urlsplit

DEFAULT_MASTER_PORT = 5050


class MasterAddressError(ValueError):
    """A master address that cannot be used (empty, unknown scheme, bad port, no host)."""


@dataclass(frozen=True)
class MasterAddress:
    """A parsed master address; `host` is bare (no brackets around an IPv6 literal)."""

    scheme: str
    host: str
    port: int

    @property
    def hostport(self) -> str:
        """``host:port``, with an IPv6 host in brackets (``[::1]:5050``)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    @property
    def url(self) -> str:
        """The base URL, no trailing slash: ``https://[::1]:5050``."""
        return f"{self.scheme}://{self.hostport}"

    def __str__(self) -> str:
        return self.hostport


def _is_bare_ipv6(text: str) -> bool:
    try:
        return isinstance(ipaddress.ip_address(text.split("%", 1)[0]), ipaddress.IPv6Address)
    except ValueError:
        return False


def parse_master(text: str, default_scheme: str = "http") -> MasterAddress:
    """Parse one master address (see the module docstring); raises `MasterAddressError`."""
    raw = text.strip()
    if not raw:
        raise MasterAddressError("empty master address (expected host:port or http://host:port)")
    if raw.startswith("zk://"):
        raise MasterAddressError(
            f"ZooKeeper master URLs are not supported yet: {text!r} (use host:port or http://host:port)"
        )
    if raw.startswith("mesos://"):
        raw = raw[len("mesos://") :]
    if _is_bare_ipv6(raw):
        raw = f"[{raw}]"
    if raw.startswith("//"):
        raw = f"{default_scheme}:{raw}"
    elif "://" not in raw:
        raw = f"{default_scheme}://{raw}"
    try:
        parts = urlsplit(raw)
        port = parts.port
    except ValueError:
        raise MasterAddressError(f"invalid master address {text!r}: bad port") from None
    if parts.scheme not in ("http", "https"):
        raise MasterAddressError(
            f"invalid master address {text!r}: scheme must be http or https "
            "(use host:port or http://host:port)"
        )
    if not parts.hostname:
        raise MasterAddressError(f"invalid master address {text!r}: no host")
    return MasterAddress(parts.scheme, parts.hostname, port or DEFAULT_MASTER_PORT)
