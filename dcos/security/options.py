"""``--security-dir`` and ``--tls-name`` for every component's ``__main__``, and `base_url`.

Called by each entry point (master, agent, webapp, batch, package service, gateway, DNS, LB):
`add_security_args(parser)` while building its parser, `context_from_args(args, name)` after
parsing (None when ``--security-dir`` is absent: security off, everything as before), and
`base_url(host, port, ctx)` wherever code builds a URL from a host and a port.
Works with a plain `argparse.ArgumentParser` and with `dcos.common.flags.DaemonParser` (then the
flags also read DCOS_SECURITY_DIR / DCOS_TLS_NAME).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from dcos.security.context import SecurityContext, load_context


def add_security_args(parser: Any) -> None:
    """Add --security-dir DIR and --tls-name NAME to `parser`."""
    add = getattr(parser, "flag", None) or parser.add_argument
    add("--security-dir", dest="security_dir", default=None,
        help="security directory (made by `dcos-py up --secure`): turns TLS, authentication "
             "and authorization on")
    add("--tls-name", dest="tls_name", default=None,
        help="principal whose certificate this process presents (certs/<name>.crt; default: "
             "the component's name)")


def context_from_args(args: argparse.Namespace | Any,
                      default_name: str) -> SecurityContext | None:
    """The SecurityContext the flags ask for, or None when security is off."""
    directory = getattr(args, "security_dir", None)
    if not directory:
        return None
    return load_context(Path(directory), getattr(args, "tls_name", None) or default_name)


def base_url(host: str, port: int, ctx: SecurityContext | None) -> str:
    """``http://host:port`` (security off) or ``https://host:port``; IPv6 hosts bracketed."""
    host = f"[{host}]" if ":" in host and not host.startswith("[") else host
    return f"{'https' if ctx is not None else 'http'}://{host}:{port}"
