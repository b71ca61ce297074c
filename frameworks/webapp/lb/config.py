"""HAProxy configuration from the webapp's apps (sans-IO): apps in, config text out.

For every app in the LB group (`labels.read_ports`), each load-balanced service port gets a
frontend on that port and a backend with one server per running, healthy task (all
`healthCheckResults` alive when the app has health checks); ports with `HAPROXY_{n}_VHOST` are
also routed from the shared HTTP frontend (`http_port`) by Host header (and path prefix).

Backends retry a failed connection on another server (`option redispatch`, `retries`); HTTP
backends also retry idempotent requests that got no response (`retry-on`), so a task that dies
between its kill and the next reload costs no failed request.

Called by: `frameworks.webapp.lb.service` after each resync (and with a single app to find the
culprit when `haproxy -c` rejects a whole config). Pure and deterministic: apps sorted by id,
tasks by host and port, so an unchanged cluster gives byte-identical text (no reload).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from frameworks.webapp.lb.labels import PortSpec, read_ports, unknown_labels

_NAME = re.compile(r"[^A-Za-z0-9_.-]+")
_HOSTNAME = re.compile(r"^[A-Za-z0-9_.:-]{1,253}$")  # a name or address, nothing HAProxy parses


@dataclass(frozen=True)
class LbOptions:
    """What the LB process was started with."""

    group: str = "external"
    bind_address: str = "127.0.0.1"
    http_port: int | None = 80
    stats_port: int | None = 9090
    socket_path: str = "haproxy.sock"
    maxconn: int = 4096
    connect_timeout_s: int = 2
    retries: int = 3


@dataclass(frozen=True)
class Server:
    """A backend server; `enabled` False puts it in maintenance (`disabled`): a running task
    whose health checks have not passed yet. `draining`: its task is being killed
    (TASK_KILLING: the webapp waits before it sends the kill), so it gets no new connection
    while the open ones finish. The load balancer changes these states through HAProxy's runtime
    API at once, without a reload (`frameworks.webapp.lb.runtime`)."""

    name: str
    host: str
    port: int
    enabled: bool = True
    draining: bool = False

    @property
    def state(self) -> str:
        """The runtime API's name of the state: ``ready``, ``maint`` or ``drain``."""
        return "drain" if self.draining else "ready" if self.enabled else "maint"


@dataclass(frozen=True)
class Service:
    """One load-balanced (app, port): its frontend/backend name and its servers."""

    app_id: str
    name: str
    spec: PortSpec
    servers: tuple[Server, ...]
    health_checked: bool


@dataclass
class Generated:
    text: str
    services: list[Service] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)  # app id -> reason
    warnings: list[str] = field(default_factory=list)


def task_is_healthy(task: Mapping[str, Any], checks: int) -> bool:
    """Running, and, when the app has `checks` health checks, a result for each, all alive."""
    if task.get("state", "TASK_RUNNING") != "TASK_RUNNING":
        return False
    if not task.get("startedAt") and "state" not in task:
        return False
    if checks == 0:
        return True
    results = task.get("healthCheckResults") or []
    return len(results) >= checks and all(
        isinstance(r, Mapping) and r.get("alive") is True for r in results)


_RANK = {"drain": 0, "maint": 1, "ready": 2}  # two tasks on one address: the livelier wins


def _servers(app: Mapping[str, Any], index: int) -> tuple[Server, ...]:
    """One server per running task (healthy ones enabled, the others in maintenance) and per
    task being killed (draining)."""
    checks = len(app.get("healthChecks") or [])
    found: dict[tuple[str, int], str] = {}
    for task in app.get("tasks") or []:
        if not isinstance(task, Mapping):
            continue
        if task.get("state") == "TASK_KILLING":
            state = "drain"
        elif task_is_healthy(task, 0):
            state = "ready" if task_is_healthy(task, checks) else "maint"
        else:
            continue
        ports = task.get("ports") or []
        host = str(task.get("host") or "")
        if index < len(ports) and isinstance(ports[index], int) and 0 < ports[index] < 65536 \
                and host and _HOSTNAME.match(host):
            key = (host, ports[index])
            if _RANK[state] >= _RANK[found.get(key, "drain")]:
                found[key] = state
    return tuple(Server(_NAME.sub("_", f"{h}_{p}"), h, p, found[(h, p)] == "ready",
                        found[(h, p)] == "drain") for h, p in sorted(found))


def _service_name(app_id: str, port: int) -> str:
    return _NAME.sub("_", app_id.strip("/").replace("/", "_")) + f"_{port}"


def collect(apps: Iterable[Mapping[str, Any]], opts: LbOptions) -> Generated:
    """The services to balance, and the apps skipped with their reason (bad labels, a service
    port already taken by another app or by the LB itself)."""
    out = Generated(text="")
    taken: dict[int, str] = {p: "the load balancer" for p in (opts.http_port, opts.stats_port)
                             if p}
    for app in sorted((a for a in apps if isinstance(a, Mapping)), key=lambda a: str(a.get("id"))):
        app_id = str(app.get("id") or "")
        specs, reason = read_ports(app, opts.group)
        if reason is None:
            clash = [(s.service_port, taken[s.service_port]) for s in specs
                     if s.service_port in taken]
            if clash:
                port, owner = clash[0]
                reason = f"service port {port} is already used by {owner}"
        if reason is not None:
            out.skipped[app_id] = reason
            continue
        if specs:
            out.warnings.extend(f"app {app_id}: label {k} is not supported (ignored)"
                                for k in unknown_labels(app))
        checked = bool(app.get("healthChecks"))
        for spec in specs:
            taken[spec.service_port] = app_id
            out.services.append(Service(app_id, _service_name(app_id, spec.service_port), spec,
                                        _servers(app, spec.index), checked))
    return out


def _global(opts: LbOptions) -> list[str]:
    lines = [
        "global",
        f"    maxconn {opts.maxconn}",
        f"    stats socket {opts.socket_path} mode 600 level admin expose-fd listeners",
        "    hard-stop-after 15s",
        "    log stderr format raw local0 info",
        "",
        "defaults",
        "    mode tcp",
        f"    timeout connect {opts.connect_timeout_s}s",
        "    timeout client 60s",
        "    timeout server 60s",
        "    timeout http-request 15s",
        "    timeout http-keep-alive 5s",
        "    timeout queue 10s",
        f"    retries {opts.retries}",
        "    option redispatch 1",
        "    option dontlognull",
        "    option dontlog-normal",  # only failed or abnormal sessions are logged
        "    log global",
        "",
    ]
    if opts.stats_port:
        lines += [
            "listen stats",
            f"    bind {opts.bind_address}:{opts.stats_port}",
            "    mode http",
            "    stats enable",
            "    stats uri /haproxy?stats",
            "    monitor-uri /_haproxy_health_check",
            "",
        ]
    return lines


def _http_frontend(services: list[Service], opts: LbOptions) -> list[str]:
    if not opts.http_port:
        return []
    lines = ["frontend webapp_http_in", f"    bind {opts.bind_address}:{opts.http_port}",
             "    mode http", "    option forwardfor"]
    routed = [s for s in services if s.spec.vhosts]
    # more specific first: rules with a path prefix before host-only ones
    for s in sorted(routed, key=lambda s: (s.spec.path is None, -len(s.spec.path or ""), s.name)):
        lines.append(f"    acl host_{s.name} req.hdr(host),field(1,:) -i {' '.join(s.spec.vhosts)}")
        cond = f"host_{s.name}"
        if s.spec.path:
            lines.append(f"    acl path_{s.name} path_beg {s.spec.path}")
            cond += f" path_{s.name}"
        lines.append(f"    use_backend {s.name} if {cond}")
    return lines + [""]


def _service(s: Service, opts: LbOptions) -> list[str]:
    http = s.spec.mode == "http"
    lines = [f"frontend {s.name}", f"    bind {opts.bind_address}:{s.spec.service_port}",
             f"    mode {s.spec.mode}"]
    if http:
        lines += ["    option forwardfor", "    option httplog"]
    else:
        lines.append("    option tcplog")
    lines += [f"    use_backend {s.name}", "", f"backend {s.name}", f"    mode {s.spec.mode}",
              f"    balance {s.spec.balance}"]
    if http:
        lines += ["    retry-on all-retryable-errors",
                  "    http-request disable-l7-retry unless METH_GET || METH_HEAD"]
    check = f" {check_options()}" if s.health_checked else ""
    lines += [f"    server {srv.name} {srv.host}:{srv.port}{check}"
              + ("" if srv.state == "ready" else DISABLED) for srv in s.servers]
    return lines + [""]


DISABLED = " disabled"


def check_options() -> str:
    """HAProxy's own checks of a server of a health-checked app (a safety net: the webapp's
    checks decide which tasks are servers): a connection error marks it down at once."""
    return "check inter 1s fall 2 rise 1 observe layer4 error-limit 1 on-error mark-down"


def structure(text: str) -> str:
    """The config without its server lines: two configs with the same structure differ only in
    their servers, which the runtime API can add, remove and change without a reload."""
    return "\n".join(line for line in text.splitlines() if not line.startswith("    server "))


def server_states(services: Iterable[Service]) -> dict[tuple[str, str], str]:
    """(backend, server) -> state (``ready``, ``maint``, ``drain``), for every server."""
    return {(s.name, srv.name): srv.state for s in services for srv in s.servers}


def render(services: list[Service], opts: LbOptions) -> str:
    """The config text for `services` (deterministic)."""
    lines = ["# generated by frameworks.webapp.lb; do not edit", *_global(opts)]
    lines += _http_frontend(services, opts)
    for s in services:
        lines += _service(s, opts)
    return "\n".join(lines).rstrip("\n") + "\n"


def generate(apps: Iterable[Mapping[str, Any]], opts: LbOptions,
             exclude: Iterable[str] = ()) -> Generated:
    """Collect and render; apps whose id is in `exclude` are skipped (the caller gives their
    reason: HAProxy rejected their part of the config)."""
    excluded = set(exclude)
    gen = collect([a for a in apps if str(a.get("id")) not in excluded], opts)
    gen.text = render(gen.services, opts)
    return gen
