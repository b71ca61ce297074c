"""The DNS record table (sans-IO): built from the webapp's apps and tasks and the cluster's
addresses, then asked for A and SRV answers.

Names (domain `dcos`, framework `webapp`; Mesos-DNS's scheme):
- `<app>.webapp.dcos` A: the IP of each agent that runs a RUNNING task of the app (`<app>` is
  `names.app_label(app_id)`: `/shop/web` -> `web-shop`).
- `_<app>._tcp.webapp.dcos` SRV (and `_udp` for udp port definitions): one per task port, target
  `<agent>.agent.dcos` (which has an A record), port the task's host port; when the port
  definition has a name, also `_<name>._<app>._tcp.webapp.dcos`.
- Masters (as Mesos-DNS's `masterRecord`): `leader.dcos` A: the leading master;
  `_leader._tcp.dcos` and `_leader._udp.dcos` SRV: its port (target `leader.dcos`);
  `master.dcos` A: every master (the contenders in ZooKeeper; with a static `--master` that
  one); `master<N>.dcos` A: the N-th master (0-based, in election order) and
  `_master._tcp.dcos` / `_master._udp.dcos` SRV: each master's port with target
  `master<N>.dcos` (so masters sharing an IP, as on loopback, are told apart by port).
- `webapp.dcos` A: where the webapp framework runs (every instance when it runs several);
  `_webapp._tcp.dcos` SRV: each instance's API port.
- Aliases for old clients: `.mesos` is answered as `.dcos`, and the framework label `marathon`
  as `webapp` (`master.mesos`, `web-shop.marathon.mesos`).

Called by: `dcos.dns.service` (builds a new table after each resync and swaps it in),
`dcos.dns.server` and `dcos.dns.http_api` (lookups). Names are case-insensitive.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from dcos.dns.names import MAX_NAME, app_label, host_label, is_ip, normalize, sanitize_label

DEFAULT_DOMAIN = "dcos"
DEFAULT_FRAMEWORK = "webapp"
ALIAS_DOMAIN = "mesos"
ALIAS_FRAMEWORK = "marathon"
AGENT_SUBDOMAIN = "agent"

Json = Mapping[str, Any]


@dataclass(frozen=True, order=True)
class Srv:
    """One SRV answer: `target` (a name with an A record in the same table), `port`, and the
    target's `ip` (sent in the additional section)."""

    target: str
    port: int
    ip: str


Endpoint = tuple[str, int]  # (IPv4, port)


@dataclass(frozen=True)
class ClusterInfo:
    """Addresses the table needs besides the apps: the leading master (`master_ip`,
    `master_port`), every master (`masters`, election order; empty: just the leader), the
    webapp framework (`webapp_ip`/`webapp_port`, plus `webapps` when it runs as several
    instances), and each agent's IP and hostname by agent id (from `/master/slaves`)."""

    master_ip: str | None = None
    master_port: int | None = None
    webapp_ip: str | None = None
    webapp_port: int | None = None
    agent_ips: Mapping[str, str] = field(default_factory=dict)
    agent_hosts: Mapping[str, str] = field(default_factory=dict)
    masters: tuple[Endpoint, ...] = ()
    webapps: tuple[Endpoint, ...] = ()

    def with_masters(self, leader: Endpoint | None, masters: Iterable[Endpoint]) -> ClusterInfo:
        """This cluster with what the master detector says now, keeping the last good values
        (never empty records because of a failover): no leader (an election is under way, or
        ZooKeeper is unreachable) keeps the last leader, no contender keeps the last masters.
        A leader missing from `masters` is added to them. Called by the DNS service on every
        change the detector reports."""
        listed = tuple(m for m in masters if is_ip(m[0]))
        ip: str | None
        port: int | None
        if leader is not None and is_ip(leader[0]):
            ip, port = leader
        else:
            ip, port = self.master_ip, self.master_port
        if not listed:
            listed = self.masters
        if ip and port and (ip, port) not in listed:
            listed = (*listed, (ip, port))
        return replace(self, master_ip=ip, master_port=port, masters=listed)


@dataclass
class RecordTable:
    """A-record and SRV-record sets by lowercase name without trailing dot."""

    domain: str = DEFAULT_DOMAIN
    framework: str = DEFAULT_FRAMEWORK
    a: dict[str, tuple[str, ...]] = field(default_factory=dict)
    srv: dict[str, tuple[Srv, ...]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    interior: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        if not self.interior:
            self.interior = frozenset(_parents([*self.a, *self.srv], self.domain))

    def canonical(self, name: str) -> str:
        """The table key for a query name: lowercased, trailing dot dropped, `.mesos` read as
        this domain and the `marathon` framework label as this framework's."""
        key = normalize(name)
        labels = key.split(".")
        if labels[-1] == ALIAS_DOMAIN and self.domain != ALIAS_DOMAIN:
            labels[-1:] = self.domain.split(".")
            key = ".".join(labels)
        fw_suffix = f".{ALIAS_FRAMEWORK}.{self.domain}"
        if key.endswith(fw_suffix) and self.framework != ALIAS_FRAMEWORK:
            key = key[: -len(fw_suffix)] + f".{self.framework}.{self.domain}"
        elif key == f"{ALIAS_FRAMEWORK}.{self.domain}":
            key = f"{self.framework}.{self.domain}"
        return key

    def in_zone(self, name: str) -> bool:
        """True when `name` is this table's domain or under it (after aliasing)."""
        key = self.canonical(name)
        return key == self.domain or key.endswith("." + self.domain)

    def lookup_a(self, name: str) -> tuple[str, ...]:
        return self.a.get(self.canonical(name), ())

    def lookup_srv(self, name: str) -> tuple[Srv, ...]:
        return self.srv.get(self.canonical(name), ())

    def exists(self, name: str) -> bool:
        """True when the name has records of some type, is the zone apex, or is an interior
        name of one that does (`webapp.dcos` under `web.webapp.dcos`): NOERROR, not NXDOMAIN."""
        key = self.canonical(name)
        return key == self.domain or key in self.a or key in self.srv or key in self.interior

    def hosts(self, name: str) -> list[dict[str, str]]:
        """Mesos-DNS `/v1/hosts/{host}` rows: `[{"host": "<name>.", "ip"}]`."""
        fqdn = normalize(name) + "."
        return [{"host": fqdn, "ip": ip} for ip in self.lookup_a(name)]

    def services(self, name: str) -> list[dict[str, str]]:
        """Mesos-DNS `/v1/services/{service}` rows: service, host (with dot), ip, port (str)."""
        service = normalize(name)
        return [{"service": service, "host": s.target + ".", "ip": s.ip, "port": str(s.port)}
                for s in self.lookup_srv(name)]


def _parents(names: Iterable[str], domain: str) -> set[str]:
    """Every proper ancestor of `names` down to (not including) `domain`."""
    out: set[str] = set()
    for name in names:
        while "." in name:
            name = name.split(".", 1)[1]
            if name == domain or name in out:
                break
            out.add(name)
    return out


@dataclass
class _Builder:
    domain: str
    framework: str
    a: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    srv: dict[str, set[Srv]] = field(default_factory=lambda: defaultdict(set))
    problems: list[str] = field(default_factory=list)

    def add_a(self, name: str, ip: str) -> None:
        if len(name) <= MAX_NAME:
            self.a[name].add(ip)

    def add_srv(self, name: str, srv: Srv) -> None:
        if len(name) <= MAX_NAME:
            self.srv[name].add(srv)

    def table(self) -> RecordTable:
        return RecordTable(
            domain=self.domain, framework=self.framework,
            a={n: tuple(sorted(ips)) for n, ips in self.a.items() if ips},
            srv={n: tuple(sorted(s)) for n, s in self.srv.items() if s},
            problems=self.problems,
        )


def task_is_running(task: Json) -> bool:
    """A task counts once it runs: `state` TASK_RUNNING, or (no state field) a `startedAt`."""
    state = task.get("state")
    if state is not None:
        return state == "TASK_RUNNING"
    return bool(task.get("startedAt"))


def task_ip(task: Json, cluster: ClusterInfo) -> str | None:
    """The IPv4 address to publish for a task: its agent's IP (by `slaveId`), else its `host`
    when that is an IP literal, else its first IPv4 `ipAddresses` entry; None when unknown."""
    agent_ip = cluster.agent_ips.get(str(task.get("slaveId", "")))
    if agent_ip and is_ip(agent_ip):
        return agent_ip
    host = str(task.get("host") or "")
    if is_ip(host):
        return host
    for entry in task.get("ipAddresses") or []:
        ip = entry.get("ipAddress") if isinstance(entry, Mapping) else None
        if isinstance(ip, str) and is_ip(ip):
            return ip
    return None


def _port_specs(app: Json) -> list[tuple[tuple[str, ...], str | None]]:
    """Per port index: the protocols (`tcp`, `udp`) and the port's name, from the app's
    `portDefinitions` (Marathon's `"udp,tcp"` form included); tcp when unspecified."""
    specs: list[tuple[tuple[str, ...], str | None]] = []
    for pd in app.get("portDefinitions") or []:
        if not isinstance(pd, Mapping):
            specs.append((("tcp",), None))
            continue
        protos = tuple(p.strip().lower() for p in str(pd.get("protocol") or "tcp").split(",")
                       if p.strip().lower() in ("tcp", "udp")) or ("tcp",)
        name = pd.get("name")
        specs.append((protos, sanitize_label(name) if isinstance(name, str) and name else None))
    return specs


def _add_app(b: _Builder, app: Json, cluster: ClusterInfo) -> None:
    app_id = str(app.get("id") or "")
    label = app_label(app_id)
    if not label:
        b.problems.append(f"app {app_id!r}: no usable DNS label")
        return
    fw = f"{b.framework}.{b.domain}"
    specs = _port_specs(app)
    for task in app.get("tasks") or []:
        if not isinstance(task, Mapping) or not task_is_running(task):
            continue
        ip = task_ip(task, cluster)
        if ip is None:
            b.problems.append(f"task {task.get('id')}: no IPv4 address for host {task.get('host')!r}")
            continue
        b.add_a(f"{label}.{fw}", ip)
        host = cluster.agent_hosts.get(str(task.get("slaveId", ""))) or str(task.get("host") or ip)
        target = f"{host_label(host) or host_label(ip)}.{AGENT_SUBDOMAIN}.{b.domain}"
        b.add_a(target, ip)
        for i, port in enumerate(task.get("ports") or []):
            if not isinstance(port, int) or not 0 < port < 65536:
                continue
            protos, name = specs[i] if i < len(specs) else (("tcp",), None)
            for proto in protos:
                b.add_srv(f"_{label}._{proto}.{fw}", Srv(target, port, ip))
                if name:
                    b.add_srv(f"_{name}._{label}._{proto}.{fw}", Srv(target, port, ip))


def build_table(
    apps: Iterable[Json],
    cluster: ClusterInfo,
    domain: str = DEFAULT_DOMAIN,
    framework: str = DEFAULT_FRAMEWORK,
) -> RecordTable:
    """The record table for `apps` (Marathon app JSON with embedded `tasks`, as from
    `GET /v2/apps?embed=apps.tasks`) and `cluster`. Pure; bad entries are skipped and listed in
    `problems`, never raised."""
    domain, framework = normalize(domain), sanitize_label(framework) or DEFAULT_FRAMEWORK
    b = _Builder(domain, framework)
    _add_masters(b, cluster)
    webapps = list(cluster.webapps)
    if cluster.webapp_ip and (cluster.webapp_ip, cluster.webapp_port or 0) not in webapps:
        webapps.insert(0, (cluster.webapp_ip, cluster.webapp_port or 0))
    for ip, port in webapps:
        if not is_ip(ip):
            continue
        b.add_a(f"{framework}.{domain}", ip)
        if port:
            b.add_srv(f"_{framework}._tcp.{domain}", Srv(f"{framework}.{domain}", port, ip))
    for app in apps:
        if isinstance(app, Mapping):
            _add_app(b, app, cluster)
    return b.table()


def _add_masters(b: _Builder, cluster: ClusterInfo) -> None:
    """The master records of Mesos-DNS (see the module docstring): leader, master, masterN."""
    d = b.domain
    leader = cluster.master_ip if cluster.master_ip and is_ip(cluster.master_ip) else None
    if leader:
        b.add_a(f"leader.{d}", leader)
        b.add_a(f"master.{d}", leader)
        if cluster.master_port:
            for proto in ("tcp", "udp"):
                b.add_srv(f"_leader._{proto}.{d}", Srv(f"leader.{d}", cluster.master_port, leader))
    for n, (ip, port) in enumerate(m for m in cluster.masters if is_ip(m[0])):
        b.add_a(f"master.{d}", ip)
        b.add_a(f"master{n}.{d}", ip)
        if port:
            for proto in ("tcp", "udp"):
                b.add_srv(f"_master._{proto}.{d}", Srv(f"master{n}.{d}", port, ip))


def agents_from_master(body: Any) -> tuple[dict[str, str], dict[str, str]]:
    """(agent id -> IP, agent id -> hostname) from a `/master/slaves` or `/master/state` body
    (the IP is read from the agent's `pid`, `slave(1)@IP:PORT`)."""
    ips: dict[str, str] = {}
    hosts: dict[str, str] = {}
    agents = body.get("slaves") if isinstance(body, Mapping) else None
    for agent in agents or []:
        if not isinstance(agent, Mapping) or not agent.get("id"):
            continue
        aid = str(agent["id"])
        pid = str(agent.get("pid") or "")
        ip = pid.rpartition("@")[2].rpartition(":")[0]
        if is_ip(ip):
            ips[aid] = ip
        elif is_ip(str(agent.get("hostname") or "")):
            ips[aid] = str(agent["hostname"])
        if agent.get("hostname"):
            hosts[aid] = str(agent["hostname"])
    return ips, hosts


def leader_from_state(body: Any) -> tuple[str, int] | None:
    """(ip, port) of the leading master from a `/master/state` body (`leader_info.address`, else
    the `leader` pid `master@IP:PORT`); None when absent."""
    if not isinstance(body, Mapping):
        return None
    info = body.get("leader_info")
    address = info.get("address") if isinstance(info, Mapping) else None
    if isinstance(address, Mapping) and is_ip(str(address.get("ip"))) and address.get("port"):
        return str(address["ip"]), int(address["port"])
    pid = str(body.get("leader") or "")
    host, _, port = pid.rpartition("@")[2].rpartition(":")
    if is_ip(host) and port.isdigit():
        return host, int(port)
    return None
