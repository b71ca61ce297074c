"""Master addresses: the one parser for ``--master`` flags, ``DCOS_MASTER`` and redirects.

Called by: the agent's link to the master, the SDK's scheduler driver (and its redirect
handling), the DNS service, the CLI and the batch framework's ``mesos://`` master URLs.

Accepted forms: ``host``, ``host:port``, ``[v6]:port``, a bare IPv6 literal (``::1``),
``http(s)://host[:port][/path]`` (the path is ignored), ``mesos://host:port`` (Spark's form; the default scheme)
and ``//host:port`` (a Mesos redirect ``Location``). The port defaults to 5050; the scheme
is kept (``https`` stays https).

``zk://host:port[,host:port]/path`` (and Spark's ``mesos://zk://...``) names the masters
through ZooKeeper: it is no address, so `parse_master` refuses it with a clear
`MasterAddressError` (a `ValueError`). `zk_master` recognises it (the ``--master`` flag type
and the CLI use it); `dcos.state.detector.master_detector` / `resolve_master` find the
leading master through it.
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


def zk_master(text: str) -> str | None:
    """The ``zk://`` URL when `text` names the masters through ZooKeeper (``zk://...`` or
    Spark's ``mesos://zk://...``; surrounding blanks dropped), else None. Only its shape is
    checked here (hosts and a path; `dcos.state.zk.parse_zk_url` checks the rest): raises
    `MasterAddressError` for ``zk://`` text without them."""
    raw = text.strip()
    if raw.lower().startswith("mesos://"):
        raw = raw[len("mesos://") :]
    if not raw.lower().startswith("zk://"):
        return None
    rest = raw[len("zk://") :]
    hosts, slash, path = rest.partition("/")
    if not hosts.rpartition("@")[2] or not slash or not path.strip("/"):
        raise MasterAddressError(
            f"invalid ZooKeeper master URL {text!r} (expected zk://host:port[,host:port]/path)"
        )
    return "zk://" + rest


def parse_master(text: str, default_scheme: str = "http") -> MasterAddress:
    """Parse one master address (see the module docstring); raises `MasterAddressError`."""
    raw = text.strip()
    if not raw:
        raise MasterAddressError("empty master address (expected host:port or http://host:port)")
    if zk_master(raw) is not None:
        raise MasterAddressError(
            f"{text!r} is a ZooKeeper URL, not a master address: find the leading master "
            "through it (dcos.state.detector)"
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


def http_base_url(text: str) -> str:
    """An HTTP service's base URL from ``host:port`` or ``http(s)://host:port[/path]``:
    ``http://`` added when no scheme is given, no trailing slash. ValueError ("bad port",
    "expected http://host:port") otherwise. Called by the CLI (`dcos.cli.config`) and the
    gateway's flags (`dcos.gateway.config`), which word the error their own way."""
    value = text.strip()
    if "://" not in value:
        value = "http://" + value
    parts = urlsplit(value)
    try:
        parts.port  # noqa: B018 -- validates the port
    except ValueError:
        raise ValueError("bad port") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("expected http://host:port")
    return f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}"
