"""What runs on each host of an installed cluster: the ports a role needs and the services
(`ServiceSpec`: name, argv, environment, start order, log) a host runs, by role.

Called by: `dcos.installer.genconf` (for each host: `services`, whose specs
`dcos.installer.units` renders into ``hosts/<address>/etc/supervisord.conf`` and
``systemd/*.service``), `dcos.installer.preflight` (`ports` / `PORTS`: the ports that must be
free before deploy) and the deploy and upgrade steps (`SERVICE_NAMES`, the program names they
start, stop and restart). Pure: nothing here touches a file or a host.

The argv are modelled on how `dcos-py up` starts each component locally (`dcos.cli.up`,
`up_ha`, `up_secure`, `up_gateway`), with these differences: every server binds its host's own
address; the masters, webapps, package services and DNS servers of the master hosts find one
another through ZooKeeper (``zk://<ensemble>/dcos``, ``/dcos-webapp``, ``/dcos-packaging``), the
ensemble on the masters (`zookeeper`, ``python -m dcos.state.zk_server``) or an external one;
no ``--log-file`` (the service manager writes stdout/stderr to ``<work_dir>/logs/<name>.log``);
the agent keeps its tasks when it stops (no ``--kill-tasks-on-stop``: the next agent process
recovers them). With security on (the default) each component gets ``--security-dir
/etc/dcos-py/security --tls-name <its certificate>`` (master, webapp, package, dns, gateway;
``agent-<address>`` for an agent; lb), every URL is https and masters and agents run tasks
that name no user as ``nobody``. The batch dispatcher is not a host service: on a cluster it
runs as an app.

Public agents offer their resources to role ``slave_public`` (Mesos' text form
``cpus(slave_public):4``: the whole agent is statically reserved to it) and carry the attribute
``public_ip:true``; they also run the load balancer (HAProxy, `frameworks.webapp.lb`). The
webapp subscribes with that role (apps reach public agents with ``acceptedResourceRoles:
["slave_public"]``; apps without it accept ``*`` only).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from dcos.installer.config import ETC_DIR, ClusterConfig, HostSpec, Role, host_port_text

SECURITY_DIR = ETC_DIR / "security"
ZOO_CFG = ETC_DIR / "zookeeper" / "zoo.cfg"
ZK_HEAP_MB = 256  # three ZooKeepers share a 2-core test machine with everything else

MASTER_PORT = 5050
AGENT_PORT = 5051
WEBAPP_PORT = 8080
PACKAGE_PORT = 7070
DNS_PORT = 53
DNS_HTTP_PORT = 8123
GATEWAY_PORT = 443
GATEWAY_PLAIN_PORT = 80  # security off
ZK_CLIENT_PORT, ZK_QUORUM_PORT, ZK_ELECTION_PORT = 2181, 2888, 3888
LB_HTTP_PORT = 9080
LB_STATS_PORT = 9090
TASK_PORTS = (31000, 32000)

PUBLIC_ROLE = "slave_public"
PUBLIC_ATTRIBUTE = ("public_ip", "true")
DEFAULT_TASK_USER = "nobody"
ZK_PATH, WEBAPP_ZK_PATH, PACKAGE_ZK_PATH = "/dcos", "/dcos-webapp", "/dcos-packaging"
LB_GROUP = "external"

PRIORITY = {"zookeeper": 10, "master": 20, "webapp": 30, "package": 30, "dns": 30,
            "gateway": 30, "agent": 40, "lb": 50}
SERVICE_NAMES: dict[Role, tuple[str, ...]] = {
    "master": ("zookeeper", "master", "webapp", "package", "dns", "gateway"),
    "agent": ("agent",),
    "public_agent": ("agent", "lb"),
}
_ZK_PORTS = [(ZK_CLIENT_PORT, "zookeeper"), (ZK_QUORUM_PORT, "zookeeper quorum"),
             (ZK_ELECTION_PORT, "zookeeper election")]

# (port, what) each role needs free, for the default config (security on, ZooKeeper on the
# masters); `ports` gives them for a given config. DNS (53) takes UDP and TCP.
PORTS: dict[Role, list[tuple[int, str]]] = {
    "master": [(MASTER_PORT, "master"), (WEBAPP_PORT, "webapp"), (PACKAGE_PORT, "package"),
               (DNS_PORT, "dns"), (DNS_HTTP_PORT, "dns http"), (GATEWAY_PORT, "gateway"),
               *_ZK_PORTS],
    "agent": [(AGENT_PORT, "agent")],
    "public_agent": [(AGENT_PORT, "agent"), (LB_HTTP_PORT, "lb http"),
                     (LB_STATS_PORT, "lb stats")],
}

# Outside of tasks' reach of a host's own PATH: the same under systemd and supervisord.
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


@dataclass(frozen=True)
class ServiceSpec:
    """One long-running process of a host. `argv` is absolute (the host's venv python);
    `priority` orders starts (zookeeper 10, master 20, services 30, agent 40, lb 50) and
    `log` is where the service manager appends its stdout and stderr. `kill_tasks_on_stop`
    is True when stopping the service stops its whole process group (supervisord's
    ``stopasgroup``/``killasgroup``, systemd's default ``KillMode``); never for the agent,
    whose tasks must outlive it (the next agent process recovers them)."""

    name: str
    argv: tuple[str, ...]
    env: Mapping[str, str]
    priority: int
    log: PurePosixPath
    kill_tasks_on_stop: bool = True
    stop_wait_s: int = 20

    @property
    def unit_name(self) -> str:
        """The systemd unit (and its file name): ``dcos-py-<name>.service``."""
        return f"dcos-py-{self.name}.service"


@dataclass(frozen=True)
class _Wiring:
    """The URLs and flags every service of the cluster shares (one place, one scheme); made
    by `services` for one call and handed to each service's builder."""

    cfg: ClusterConfig
    cluster_id: str
    scheme: str = field(init=False)

    def __post_init__(self) -> None:
        """https everywhere when security is on."""
        object.__setattr__(self, "scheme", "https" if self.cfg.security.enabled else "http")

    @property
    def python(self) -> str:
        """The host's venv interpreter, every argv's first word."""
        return str(self.cfg.install_dir / "venv" / "bin" / "python")

    def url(self, address: str, port: int) -> str:
        """``http(s)://address:port`` (IPv6 bracketed)."""
        return f"{self.scheme}://{host_port_text(address)}:{port}"

    def zk(self, path: str) -> str:
        """``zk://<ensemble>/<path>`` (the masters' or the external one)."""
        return self.cfg.zk_url(path)

    def webapp_urls(self) -> str:
        """Every master's webapp URL, comma-separated (package, DNS, lb ``--webapp``)."""
        return ",".join(self.url(m, WEBAPP_PORT) for m in self.cfg.masters)

    def security(self, tls_name: str) -> list[str]:
        """``--security-dir /etc/dcos-py/security --tls-name <name>``; none when off."""
        if not self.cfg.security.enabled:
            return []
        return ["--security-dir", str(SECURITY_DIR), "--tls-name", tls_name]

    def task_user(self) -> list[str]:
        """``--default-task-user nobody`` (masters, agents) when security is on."""
        return ["--default-task-user", DEFAULT_TASK_USER] if self.cfg.security.enabled else []

    def state(self, name: str) -> str:
        """A component's state dir: ``<work_dir>/<name>``."""
        return str(self.cfg.work_dir / name)

    def spec(self, name: str, module: str, args: list[str], *, kill_group: bool = True,
             stop_wait_s: int = 20) -> ServiceSpec:
        """The spec of `name`: ``<venv python> -m <module> <args>``, its log and priority."""
        return ServiceSpec(
            name=name, argv=(self.python, "-m", module, *args),
            env={"PATH": PATH, "PYTHONUNBUFFERED": "1"}, priority=PRIORITY[name],
            log=self.cfg.work_dir / "logs" / f"{name}.log", kill_tasks_on_stop=kill_group,
            stop_wait_s=stop_wait_s)


def cert_names(role: Role, address: str) -> list[str]:
    """The certificate names (each a component's ``--tls-name``) a host of `role` needs:
    what `dcos.installer.genconf` puts into its ``security/`` directory."""
    if role == "master":
        return ["master", "webapp", "package", "dns", "gateway"]
    agent = [agent_tls_name(address)]
    return agent + ["lb"] if role == "public_agent" else agent


def agent_tls_name(address: str) -> str:
    """An agent host's certificate name: ``agent-<address>`` (kind agent)."""
    return f"agent-{address}"


def gateway_port(cfg: ClusterConfig) -> int:
    """443 with security on, 80 without."""
    return GATEWAY_PORT if cfg.security.enabled else GATEWAY_PLAIN_PORT


def ports(cfg: ClusterConfig, role: Role) -> list[tuple[int, str]]:
    """(port, what) that a host of `role` needs free under `cfg`: `PORTS`, with the gateway
    on 80 when security is off and no ZooKeeper ports when the ensemble is external.
    Called by preflight's ``ports`` check."""
    out = []
    for port, what in PORTS[role]:
        if what.startswith("zookeeper") and not cfg.zk_on_masters:
            continue
        out.append((gateway_port(cfg) if what == "gateway" else port, what))
    return out


def services(cfg: ClusterConfig, host: HostSpec, *, cluster_id: str,
             repo: bool = True) -> list[ServiceSpec]:
    """The services `host` runs, in start order. `cluster_id` goes to the gateway
    (``/metadata``); `repo` says whether the bundle carries the package repository (then
    unpacked at ``<install_dir>/repo``, the package service's default repository).
    Called by `dcos.installer.genconf` for each host, before rendering its units."""
    w = _Wiring(cfg, cluster_id)
    if host.role == "master":
        out = [_master(w, host), _webapp(w, host), _package(w, host, repo), _dns(w, host),
               _gateway(w, host)]
        if cfg.zk_on_masters:
            out.insert(0, _zookeeper(w))
        return out
    out = [_agent(w, host)]
    if host.role == "public_agent":
        out.append(_lb(w, host))
    return out


def _zookeeper(w: _Wiring) -> ServiceSpec:
    """The launcher execs java on the host (`dcos.state.zk_server.main`): its own java and
    jars, the data dirs and myid made from ``/etc/dcos-py/zookeeper``."""
    return w.spec("zookeeper", "dcos.state.zk_server",
                  ["--config", str(ZOO_CFG), "--heap-mb", str(ZK_HEAP_MB)])


def _master(w: _Wiring, host: HostSpec) -> ServiceSpec:
    """A master host's master (`services`): elects through ``zk://<ens>/dcos``."""
    return w.spec("master", "dcos.master", [
        "--ip", host.address, "--port", str(MASTER_PORT), "--work-dir", w.state("master"),
        "--zk", w.zk(ZK_PATH), "--cluster", w.cfg.cluster_name,
        *w.security("master"), *w.task_user()])


def _webapp(w: _Wiring, host: HostSpec) -> ServiceSpec:
    """A master host's webapp instance (`services`): one leader among the masters'. As
    Marathon on DC/OS it subscribes with role ``slave_public`` (it gets unreserved resources
    and the public agents' ones), and apps without ``acceptedResourceRoles`` accept ``*``
    only (they stay off public agents). Always, public agents or not: ``node add`` may add
    public agents later without touching the masters' units."""
    return w.spec("webapp", "frameworks.webapp", [
        "--master", w.zk(ZK_PATH), "--ip", host.address, "--port", str(WEBAPP_PORT),
        "--work-dir", w.state("webapp"), "--zk", w.zk(WEBAPP_ZK_PATH),
        "--role", PUBLIC_ROLE, "--default-accepted-resource-roles", "*",
        *w.security("webapp")])


def _package(w: _Wiring, host: HostSpec, repo: bool) -> ServiceSpec:
    """A master host's package service (`services`): repository list shared in ZooKeeper."""
    args = ["--master", w.zk(ZK_PATH), "--webapp", w.webapp_urls(), "--ip", host.address,
            "--port", str(PACKAGE_PORT), "--work-dir", w.state("package"),
            "--zk", w.zk(PACKAGE_ZK_PATH), "--advertise-url", w.url(host.address, PACKAGE_PORT)]
    if repo:
        index = w.cfg.install_dir / "repo" / "index.json"
        args += ["--default-repo", f"Universe=file://{index}"]
    if w.cfg.security.enabled:
        args += [*w.security("package"), "--gateway-name", "gateway"]
    return w.spec("package", "dcos.packaging", args)


def _dns(w: _Wiring, host: HostSpec) -> ServiceSpec:
    """A master host's DNS server (`services`): port 53 of the master, HTTP API 8123."""
    args = ["--master", w.zk(ZK_PATH), "--webapp", w.webapp_urls(), "--ip", host.address,
            "--port", str(DNS_PORT), "--http-port", str(DNS_HTTP_PORT), *w.security("dns")]
    if w.cfg.resolvers:  # names outside .dcos go upstream (none: REFUSED)
        args += ["--resolvers", ",".join(w.cfg.resolvers)]
    return w.spec("dns", "dcos.dns", args)


def _gateway(w: _Wiring, host: HostSpec) -> ServiceSpec:
    """A master host's gateway (`services`): every master, its own host's package and DNS."""
    args = ["--ip", host.address, "--port", str(gateway_port(w.cfg))]
    for master in w.cfg.masters:
        args += ["--master", w.url(master, MASTER_PORT)]
    args += ["--package", w.url(host.address, PACKAGE_PORT),
             "--dns-http", w.url(host.address, DNS_HTTP_PORT),
             "--cluster-id", w.cluster_id, "--cluster-name", w.cfg.cluster_name,
             *w.security("gateway")]
    return w.spec("gateway", "dcos.gateway", args)


def _agent(w: _Wiring, host: HostSpec) -> ServiceSpec:
    """An agent or public agent host's agent (`services`); tasks resolve through the first
    master's DNS server. Its hostname is its address (as DC/OS agents: the host name may be
    unresolvable, or shared by hosts, which would defeat hostname:UNIQUE constraints)."""
    args = ["--master", w.zk(ZK_PATH), "--ip", host.address, "--hostname", host.address,
            "--port", str(AGENT_PORT), "--work-dir", w.state("agent"),
            "--dns-resolver", f"{host_port_text(w.cfg.masters[0])}:{DNS_PORT}"]
    public = host.role == "public_agent"
    resources = resources_text(host.resources, PUBLIC_ROLE if public else None)
    if resources:
        args += ["--resources", resources]
    attributes = attributes_text(host.attributes, public)
    if attributes:
        args += ["--attributes", attributes]
    args += [*w.security(agent_tls_name(host.address)), *w.task_user()]
    return w.spec("agent", "dcos.agent", args, kill_group=False, stop_wait_s=30)


def _lb(w: _Wiring, host: HostSpec) -> ServiceSpec:
    """A public agent's load balancer (`services`): apps of HAPROXY_GROUP external."""
    return w.spec("lb", "frameworks.webapp.lb", [
        "--webapp", w.webapp_urls(), "--group", LB_GROUP, "--work-dir", w.state("lb"),
        "--bind-address", host.address, "--http-port", str(LB_HTTP_PORT),
        "--stats-port", str(LB_STATS_PORT), *w.security("lb")])


def resources_text(resources: Mapping[str, float] | None, role: str | None) -> str | None:
    """An agent's ``--resources``: the configured scalars and the task ports
    ``ports:[31000-32000]``, each as ``name(role):value`` when `role` is given (public
    agents). None for a private agent without configured resources (the agent detects the
    machine's, with the same task ports); a public agent always names its task ports, so its
    reservation shows even when the rest is detected."""
    if resources is None and role is None:
        return None
    tag = f"({role})" if role else ""
    parts = [f"{name}{tag}:{_number(value)}" for name, value in sorted((resources or {}).items())]
    parts.append(f"ports{tag}:[{TASK_PORTS[0]}-{TASK_PORTS[1]}]")
    return ";".join(parts)


def attributes_text(attributes: Mapping[str, str], public: bool) -> str | None:
    """An agent's ``--attributes`` (``rack:r1;zone:a``), with ``public_ip:true`` on a public
    agent; None when there are none."""
    items = dict(attributes)
    if public:
        items[PUBLIC_ATTRIBUTE[0]] = PUBLIC_ATTRIBUTE[1]
    return ";".join(f"{k}:{v}" for k, v in sorted(items.items())) or None


def _number(value: float) -> str:
    """4.0 -> "4", 0.5 -> "0.5" (`resources_text`)."""
    return str(int(value)) if float(value).is_integer() else repr(float(value))
