"""Where the CLI finds the master: `--master`, then env `DCOS_MASTER`, then `127.0.0.1:5050`.

Called by: every command that talks to the cluster (`node`, `framework`, `task` ...), before its
first request. Accepts `host:port`, `host` (port 5050), `http://host:port` and `https://...`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from dcos.cli.errors import CliError
from dcos.common.addresses import MasterAddressError, parse_master

ENV_MASTER = "DCOS_MASTER"
DEFAULT_MASTER = "127.0.0.1:5050"


def normalize_master_url(address: str) -> str:
    """Turn `host:port`, `host`, `[v6]:port` or `http(s)://host[:port][/]` into
    `http(s)://host:port` (`dcos.common.addresses.parse_master` does the parsing).

    Raises `CliError` for an address that is not one of those forms (empty, bad port, a path).
    """
    text = address.strip()
    if "://" in text:
        rest = text.split("://", 1)[1]
        if rest.rstrip("/").count("/") or "?" in rest or "#" in rest:
            raise CliError(f"invalid master address {address!r}: expected host:port, no path")
    try:
        return parse_master(text).url
    except MasterAddressError as exc:
        raise CliError(str(exc)) from None


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
