"""The dcos-py variables every task's environment carries (besides the ``MESOS_*`` ones).

- ``DCOS_PYTHON``: the absolute path of the agent's interpreter (``sys.executable``); package
  commands run Python as ``"$DCOS_PYTHON"`` and their wheels are built for it.
- ``DCOS_MASTER``: the agent's ``--master`` (host:port, an https URL, or ``zk://...``);
  frameworks shipped as packages register with it.
- ``DCOS_DNS_RESOLVER``: ``host:port`` of the dcos-py DNS server, from the agent's
  ``--dns-resolver``; absent when the agent has none (the host's resolv.conf applies).

They go into the base environment every task, task-group task, custom executor and
restarted health check starts from (`dcos.agent.core.model.LaunchSite.base_env`), so a
variable of the task's own ``command.environment`` still wins. The agent's own values replace
whatever its environment held under these names (an agent configured through ``DCOS_MASTER``
passes the master it really uses).

Called by `dcos.agent.shell.AgentShell` once at construction; `parse_dns_resolver` is the type
of the agent's ``--dns-resolver`` flag.
"""

from __future__ import annotations

import ipaddress
import os
import re
import sys
from collections.abc import Mapping

PYTHON = "DCOS_PYTHON"
MASTER = "DCOS_MASTER"
DNS_RESOLVER = "DCOS_DNS_RESOLVER"

_HOSTNAME = re.compile(r"^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
                       r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$")  # fmt: skip


def parse_dns_resolver(text: str) -> str:
    """``HOST:PORT`` of a DNS server (an IPv4 address or host name, ``[v6]:port`` for IPv6;
    port 1-65535), normalised (``[::1]:8053``); raises ValueError saying what is wrong.
    Called by the agent's flag parser for ``--dns-resolver``."""
    text = text.strip()
    if text.startswith("["):
        host, sep, port_text = text[1:].partition("]:")
        if not sep:
            raise ValueError("expected [IPv6]:PORT")
        try:
            host = str(ipaddress.IPv6Address(host))
        except ValueError:
            raise ValueError(f"{host!r} is not an IPv6 address") from None
        shown = f"[{host}]"
    else:
        host, sep, port_text = text.rpartition(":")
        if not sep or not host:
            raise ValueError("expected HOST:PORT")
        if ":" in host:
            raise ValueError("an IPv6 address goes in brackets: [v6]:PORT")
        if not _HOSTNAME.match(host):
            raise ValueError(f"{host!r} is neither an IP address nor a host name")
        shown = host
    if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
        raise ValueError(f"port {port_text!r} is not between 1 and 65535")
    return f"{shown}:{int(port_text)}"


def task_base_env(environ: Mapping[str, str], *, master: str, dns_resolver: str | None,
                  python: str | None = None) -> dict[str, str]:  # fmt: skip
    """`environ` (the agent's own environment) with the dcos-py task variables set from the
    agent's configuration: the base every task's environment starts from. `python` defaults
    to the agent's interpreter. Called once by the agent shell."""
    env = dict(environ)
    env[PYTHON] = os.path.abspath(python or sys.executable)
    env[MASTER] = master
    if dns_resolver:
        env[DNS_RESOLVER] = dns_resolver
    else:
        env.pop(DNS_RESOLVER, None)
    return env
