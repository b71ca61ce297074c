"""Where the CLI finds the master: `--master`, then env `DCOS_MASTER`, then `127.0.0.1:5050`.

Called by: every command that talks to the cluster (`node`, `framework`, `task` ...), before its
first request. Accepts `host:port`, `host` (port 5050), `http://host:port` and `https://...`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from urllib.parse import urlsplit

from dcos.cli.errors import CliError

ENV_MASTER = "DCOS_MASTER"
DEFAULT_MASTER = "127.0.0.1:5050"
DEFAULT_MASTER_PORT = 5050


def normalize_master_url(address: str) -> str:
    """Turn `host:port`, `host` or `http(s)://host[:port][/]` into `http(s)://host:port`.

    Raises `CliError` for an address that is not one of those forms (empty, bad port, a path).
    """
    text = address.strip()
    if not text:
        raise CliError("master address is empty (expected host:port or http://host:port)")
    if "://" not in text:
        text = "http://" + text
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        raise CliError(f"invalid master address {address!r}: bad port") from None
    if parts.scheme not in ("http", "https"):
        raise CliError(f"invalid master address {address!r}: scheme must be http or https")
    if not parts.hostname:
        raise CliError(f"invalid master address {address!r}: no host")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise CliError(f"invalid master address {address!r}: expected host:port, no path")
    host = parts.hostname
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    return f"{parts.scheme}://{host}:{port or DEFAULT_MASTER_PORT}"


def resolve_master(flag: str | None, env: Mapping[str, str] | None = None) -> str:
    """The master's base URL (`http://host:port`): the flag if given, else `DCOS_MASTER`, else
    the local default. An empty env value counts as unset."""
    environ = os.environ if env is None else env
    if flag:
        return normalize_master_url(flag)
    from_env = environ.get(ENV_MASTER, "").strip()
    if from_env:
        return normalize_master_url(from_env)
    return normalize_master_url(DEFAULT_MASTER)
