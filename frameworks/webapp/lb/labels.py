"""Marathon-LB labels of one app, read and checked (sans-IO).

An app joins a load-balancer group with `HAPROXY_GROUP` (comma-separated groups; per port
`HAPROXY_{n}_GROUP` overrides it). Per service port `n`:
`HAPROXY_{n}_VHOST` (comma-separated host names, HTTP only), `HAPROXY_{n}_MODE` (`http`/`tcp`;
default `http` when a VHOST is set, else `tcp`), `HAPROXY_{n}_BALANCE` (HAProxy algorithm,
default `roundrobin`), `HAPROXY_{n}_PORT` (overrides the service port), `HAPROXY_{n}_ENABLED`
(`false` leaves the port out), `HAPROXY_{n}_PATH` (path prefix for the VHOST rule).

Called by: `frameworks.webapp.lb.config.generate` for each app. A bad label is an expected
outcome: `read_ports` returns a reason string, and the caller skips that app.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

BALANCE = frozenset({"roundrobin", "static-rr", "leastconn", "first", "source", "uri",
                     "random"})
MODES = frozenset({"http", "tcp"})
_PORT_LABEL = re.compile(r"^HAPROXY_(\d+)_([A-Z_]+)$")
_KNOWN_PORT_KEYS = frozenset({"VHOST", "MODE", "BALANCE", "PORT", "ENABLED", "GROUP", "PATH"})
_HOST = re.compile(r"^(\*\.)?[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$")
_PATH = re.compile(r"^/[A-Za-z0-9._~!$&'()*+,;=:@%/-]*$")


@dataclass(frozen=True)
class PortSpec:
    """How one service port of an app is load-balanced."""

    index: int
    service_port: int
    mode: str
    balance: str
    vhosts: tuple[str, ...] = ()
    path: str | None = None


def groups_of(labels: Mapping[str, str], index: int | None = None) -> set[str]:
    """The LB groups named by `HAPROXY_GROUP` (or `HAPROXY_{index}_GROUP` when set)."""
    value = labels.get(f"HAPROXY_{index}_GROUP") if index is not None else None
    if value is None:
        value = labels.get("HAPROXY_GROUP", "")
    return {g.strip() for g in str(value).split(",") if g.strip()}


def service_ports(app: Mapping[str, Any]) -> list[int]:
    """The app's service ports: `portDefinitions[].port`, else `ports` (0 = not assigned)."""
    defs = app.get("portDefinitions")
    if isinstance(defs, list) and defs:
        return [int(d.get("port") or 0) if isinstance(d, Mapping) else 0 for d in defs]
    ports = app.get("ports")
    if isinstance(ports, list):
        return [int(p) if isinstance(p, int) else 0 for p in ports]
    return []


def _bool(value: str) -> bool | None:
    low = value.strip().lower()
    if low in ("true", "yes", "1", "on"):
        return True
    if low in ("false", "no", "0", "off"):
        return False
    return None


def _port_spec(labels: Mapping[str, str], n: int, port: int) -> PortSpec | str | None:
    """One port's spec; a reason string when a label is bad; None when the port is disabled."""
    get = lambda key: labels.get(f"HAPROXY_{n}_{key}")  # noqa: E731
    enabled = get("ENABLED")
    if enabled is not None:
        flag = _bool(enabled)
        if flag is None:
            return f"HAPROXY_{n}_ENABLED={enabled!r} is not a boolean"
        if not flag:
            return None
    if get("PORT") is not None:
        raw = str(get("PORT")).strip()
        if not (raw.isascii() and raw.isdigit()) or not 0 < int(raw) < 65536:  # "¹".isdigit()
            return f"HAPROXY_{n}_PORT={raw!r} is not a port number"
        port = int(raw)
    if not 0 < port < 65536:
        return f"port {n} has no service port (portDefinitions[{n}].port is 0)"
    vhosts = tuple(h.strip().lower() for h in str(get("VHOST") or "").split(",") if h.strip())
    for host in vhosts:
        if not _HOST.match(host):
            return f"HAPROXY_{n}_VHOST has an invalid host name {host!r}"
    mode = str(get("MODE") or ("http" if vhosts else "tcp")).strip().lower()
    if mode not in MODES:
        return f"HAPROXY_{n}_MODE={mode!r} is not one of http, tcp"
    if vhosts and mode != "http":
        return f"HAPROXY_{n}_VHOST needs HAPROXY_{n}_MODE=http"
    balance = str(get("BALANCE") or "roundrobin").strip().lower()
    if balance not in BALANCE:
        return f"HAPROXY_{n}_BALANCE={balance!r} is not one of {', '.join(sorted(BALANCE))}"
    path = get("PATH")
    if path is not None and (not _PATH.match(str(path)) or not vhosts):
        return f"HAPROXY_{n}_PATH={path!r} needs a VHOST and must be a path starting with /"
    return PortSpec(n, port, mode, balance, vhosts, str(path) if path is not None else None)


def read_ports(app: Mapping[str, Any], group: str) -> tuple[list[PortSpec], str | None]:
    """The load-balanced ports of `app` for LB `group`, or ([], reason) when its labels are bad.
    An app outside the group answers ([], None)."""
    labels = {str(k): str(v) for k, v in (app.get("labels") or {}).items()}
    ports = service_ports(app)
    for key in labels:
        m = _PORT_LABEL.match(key)
        if m and m.group(2) in _KNOWN_PORT_KEYS and int(m.group(1)) >= len(ports):
            return [], f"label {key} names port {m.group(1)} but the app has {len(ports)} port(s)"
    specs: list[PortSpec] = []
    for n, port in enumerate(ports):
        if group not in groups_of(labels, n):
            continue
        spec = _port_spec(labels, n, port)
        if isinstance(spec, str):
            return [], spec
        if spec is not None:
            specs.append(spec)
    return specs, None


def unknown_labels(app: Mapping[str, Any]) -> list[str]:
    """HAPROXY_* labels this load balancer does not implement (logged, not fatal)."""
    out = []
    for key in (app.get("labels") or {}):
        m = _PORT_LABEL.match(str(key))
        if m and m.group(2) not in _KNOWN_PORT_KEYS:
            out.append(str(key))
        elif str(key).startswith("HAPROXY_") and not m and key != "HAPROXY_GROUP":
            out.append(str(key))
    return out
