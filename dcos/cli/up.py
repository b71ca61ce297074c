"""`dcos-py up`: run a whole local cluster in the foreground until Ctrl-C or SIGTERM.

Called by: `dcos.cli.main` (the `up` command). `build_components` lists the processes (a master,
then N agents, then the webapp framework (Marathon-like, :8080), the DNS server (:8053, HTTP
:8123), the batch dispatcher (:7077), the package service (:7070, its default repository the checkout's
packages-repo/build/index.json when built) and the HAProxy load balancer (when haproxy is
installed), and last the gateway (:8000, `dcos.cli.up_gateway`: the web UI and every API behind
one URL, printed first in the summary)); agents get `--dns-resolver` (the DNS server) for their tasks and task ports
from 31000 (agent i: +i*1000; --task-ports moves them, for a second cluster),
`run_up` checks the ports, starts them through a `Supervisor`, prints where everything is,
waits, and stops them all cleanly. With `--ha` (or `--zk URL`) the cluster is highly available
(`dcos.cli.up_ha`): a local ZooKeeper (or the given ensemble), three masters, two webapp
instances, everything else finding the leaders through ZooKeeper; `up` prints which master
leads, and each change of leader. While the cluster runs, a component that exits is restarted
with backoff (1 s, 2 s, 4 s, ...; reported in the terminal); one that exits more than 5 times
within 2 minutes is given up on (a critical one -- master, agent, webapp -- stops the cluster).
If `dcos-py up` itself dies, its components get SIGTERM from the kernel and stop.
With `--secure` (`dcos.cli.up_secure`) every component gets ``--security-dir <work>/security``
and its ``--tls-name``, every URL is https, readiness checks verify the cluster CA and present
`up`'s own certificate, and the CLI is set up with the CA and an admin token.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import os
import shutil
import signal
import socket
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.table import Table

import dcos
from dcos.cli import clusters, http, up_gateway, up_ha, up_secure
from dcos.cli.errors import CliError
from dcos.cli.restarts import DEFAULT_RESTART
from dcos.cli.shares import (
    PORTS_BASE,
    PORTS_PER_AGENT,
    AgentShare,
    detect_machine,
    split_machine,
)
from dcos.cli.supervisor import Component, Event, Recovered, Step, Supervisor, tail_lines
from dcos.cli.up_ha import HaLayout, LeaderReporter, ha_layout, leading_master, master_argv
from dcos.state.zk_server import zookeeper_available

LOCAL_IP = "127.0.0.1"
STARTUP_TIMEOUT_S = 30.0
MAX_AGENTS = (65535 - PORTS_BASE + 1) // PORTS_PER_AGENT
PID_FILE = "pids.json"
PACKAGING_SUFFIX = "-packaging"  # HA: the package service's state under <masters' path>-packaging
LOCK_FILE = "up.lock"


@dataclass(frozen=True)
class UpOptions:
    agents: int = 3
    work_dir: Path = Path(".dcos-py")
    master_port: int = 5050
    agent_port: int = 5051
    startup_timeout_s: float = STARTUP_TIMEOUT_S
    webapp: bool = True
    webapp_port: int = 8080
    dns: bool = True
    dns_port: int = 8053
    dns_http_port: int = 8123
    lb: bool = True
    lb_http_port: int = 9080
    lb_stats_port: int = 9090
    batch: bool = True
    batch_port: int = 7077
    package: bool = True
    package_port: int = 7070
    task_ports: int | None = None  # first task port of agent 0 (None: shares.PORTS_BASE)
    haproxy: str | None = None  # None: look it up (PATH, /usr/sbin/haproxy)
    ha: bool = False  # three masters and two webapps on ZooKeeper (`dcos.cli.up_ha`)
    zk: str | None = None  # HA on this existing ensemble (implies `ha`); None: start one
    zk_port: int = up_ha.DEFAULT_ZK_PORT  # the local ZooKeeper's port (`ha` without `zk`)
    gateway: bool = True
    gateway_port: int = up_gateway.DEFAULT_GATEWAY_PORT
    secure: bool = False  # TLS, authentication and ACLs everywhere (`dcos.cli.up_secure`)

    @property
    def highly_available(self) -> bool:
        return self.ha or self.zk is not None

    @property
    def scheme(self) -> str:
        return "https" if self.secure else "http"

    def url(self, port: int) -> str:
        """A local component's base URL (https with `--secure`)."""
        return f"{self.scheme}://{LOCAL_IP}:{port}"

    def security(self, work: Path, name: str) -> list[str]:
        """The security flags of component `name` (none without `--secure`)."""
        return up_secure.component_args(work, name) if self.secure else []

    def layout(self) -> HaLayout | None:
        """Where the HA pieces go (None without `--ha`/`--zk`); `CliError` for a bad `--zk`."""
        if not self.highly_available:
            return None
        return ha_layout(self.zk, self.zk_port, self.master_port, self.webapp_port, self.scheme)


HAPROXY_HINT = ("load balancer not started: haproxy is not installed "
                "(install it with `apt-get install -y haproxy` or scripts/install-system-deps.sh)")


def find_haproxy(explicit: str | None = None) -> str | None:
    """The haproxy binary `up` would run: `explicit`, else PATH, else /usr/sbin/haproxy."""
    for candidate in (explicit,) if explicit else (shutil.which("haproxy"), "/usr/sbin/haproxy"):
        if candidate and os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


def http_ok(url: str) -> bool:
    """True once GET `url` answers 200 (readiness of the webapp, DNS and load balancer)."""
    return http.get_status(url) == 200


def master_ready(master_url: str) -> bool:
    """True once the master answers GET /health with 200."""
    return http.get_status(master_url + "/health") == 200


def agent_registered(master_url: str, agent_port: int) -> bool:
    """True once the master lists an active agent on `agent_port` in GET /master/slaves (a
    restarted agent's old entry is listed inactive until it registers again)."""
    try:
        body = http.get_json(master_url, "/master/slaves", timeout=1.0)
    except CliError:
        return False
    for agent in body.get("slaves", []) if isinstance(body, dict) else []:
        if not isinstance(agent, dict) or agent.get("active") is False:
            continue
        if agent.get("port") == agent_port or str(agent.get("pid", "")).endswith(f":{agent_port}"):
            return True
    return False


@dataclass(frozen=True)
class Wiring:
    """How the components find each other: the `--master` every client gets (host:port, or
    the zk:// URL in HA mode), the master URLs (one, or the HA masters'), the webapp
    instances' ports and, in HA mode, the webapp's `--zk` URL."""

    master_arg: str
    master_urls: list[str]
    webapp_ports: list[int]
    webapp_zk: str | None = None

    def leader(self) -> str | None:
        """The leading master's URL (the only master's without HA), None while none leads."""
        if len(self.master_urls) == 1:
            return self.master_urls[0]
        return leading_master(self.master_urls)


def wiring(opts: UpOptions) -> Wiring:
    layout = opts.layout()
    if layout is None:
        # `--secure`: the https URL (a bare host:port means http to the components)
        arg = opts.url(opts.master_port) if opts.secure else f"{LOCAL_IP}:{opts.master_port}"
        return Wiring(arg, [opts.url(opts.master_port)], [opts.webapp_port])
    return Wiring(str(layout.masters_zk), layout.master_urls, list(layout.webapp_ports),
                  str(layout.webapp_zk))


def build_components(opts: UpOptions) -> list[Component]:
    """The processes of the local cluster, in start order: the master (which gates the rest;
    in HA mode ZooKeeper, unless `--zk`, then three masters), then the agents, each with its
    share of the machine and its own work dir, then the services."""
    work = opts.work_dir.resolve()
    wires = wiring(opts)
    layout = opts.layout()
    components: list[Component] = []
    if layout is None:
        master_log = work / "master" / "master.log"
        url = wires.master_urls[0]
        components.append(Component(
            name="master", argv=[*master_argv(opts.master_port, work / "master", master_log),
                                 *opts.security(work, "master")],
            log_path=master_log, ready=lambda: master_ready(url),
            ready_what="answering /health", url=url, gate=True,
        ))
    else:
        if layout.start_zk:
            components.append(up_ha.zookeeper_component(work, layout.zk_port))
        components += up_ha.master_components(layout, work, master_ready,
                                              opts.security(work, "master"))
    shares = split_machine(detect_machine(str(work)), opts.agents)
    for i, share in enumerate(task_port_shares(shares, opts.task_ports)):
        port = opts.agent_port + i
        agent_dir = work / f"agent-{i}"
        log = agent_dir / "agent.log"
        components.append(Component(
            name=f"agent-{i}",
            argv=[sys.executable, "-m", "dcos.agent", "--master", wires.master_arg,
                  "--ip", LOCAL_IP, "--port", str(port), "--work-dir", str(agent_dir),
                  "--resources", share.flag(), "--log-file", str(log),
                  "--kill-tasks-on-stop",  # Ctrl-C on `up` leaves no task behind
                  *dns_resolver_args(opts), *opts.security(work, "agent")],
            log_path=log,
            ready=lambda port=port: agent_registered_with_leader(wires, port),  # type: ignore[misc]
            ready_what="registered with the master",
            url=opts.url(port),
        ))
    return components + service_components(opts, work, wires)


def task_port_shares(shares: list[AgentShare], base: int | None) -> list[AgentShare]:
    """The agents' shares with their task port ranges moved to start at `base` (agent i: base +
    i*1000 ...; `--task-ports`) when given: two local clusters on one machine (tests run beside a
    developer's cluster) then never hand out the same task ports. `CliError` when they do not fit."""
    if base is None:
        return shares
    if not 1024 <= base <= 65536 - PORTS_PER_AGENT * len(shares):
        raise CliError(f"--task-ports {base}: the agents' task ports must lie in 1024-65535 "
                       f"({len(shares)} agent(s) x {PORTS_PER_AGENT} ports)")
    return [dataclasses.replace(s, ports=(base + i * PORTS_PER_AGENT,
                                          base + (i + 1) * PORTS_PER_AGENT - 1))
            for i, s in enumerate(shares)]


def dns_resolver_args(opts: UpOptions) -> list[str]:
    """`--dns-resolver 127.0.0.1:<dns port>` for the agents when `up` runs DNS (their tasks
    then get DCOS_DNS_RESOLVER and find each other's apps there)."""
    return ["--dns-resolver", f"{LOCAL_IP}:{opts.dns_port}"] if opts.dns else []


def agent_registered_with_leader(wires: Wiring, agent_port: int) -> bool:
    leader = wires.leader()
    return leader is not None and agent_registered(leader, agent_port)


def webapp_components(opts: UpOptions, work: Path, wires: Wiring) -> list[Component]:
    """The webapp framework: one instance `webapp`, or in HA mode `webapp-0`, `webapp-1`
    (each answers /ping; the leader is elected under the webapp's zk:// path)."""
    out: list[Component] = []
    for i, port in enumerate(wires.webapp_ports):
        name = "webapp" if wires.webapp_zk is None else f"webapp-{i}"
        url = opts.url(port)
        log = work / name / "webapp.log"
        argv = [sys.executable, "-m", "frameworks.webapp", "--master", wires.master_arg,
                "--ip", LOCAL_IP, "--port", str(port), "--work-dir", str(work / name),
                "--log-file", str(log), *opts.security(work, "webapp")]
        if wires.webapp_zk is not None:
            argv += ["--zk", wires.webapp_zk]
        out.append(Component(
            name=name, argv=argv, log_path=log, ready=lambda url=url: http_ok(url + "/ping"),  # type: ignore[misc]
            ready_what="answering /ping", url=url,
        ))
    return out


def service_components(opts: UpOptions, work: Path, wires: Wiring) -> list[Component]:
    """The webapp framework, the DNS server, the batch dispatcher, the package service, the
    load balancer and the gateway (those enabled; the load balancer only when haproxy is
    installed). They start once the master is ready; DNS, the package service and the load
    balancer get every webapp instance's URL; the gateway, last, every master's URL and those
    of the package service and the DNS HTTP API."""
    master = wires.master_arg
    webapp_urls = ",".join(opts.url(p) for p in wires.webapp_ports)
    out: list[Component] = webapp_components(opts, work, wires) if opts.webapp else []
    if opts.dns:
        log = work / "dns" / "dns.log"
        dns_http = opts.url(opts.dns_http_port)
        out.append(Component(
            name="dns",
            argv=[sys.executable, "-m", "dcos.dns", "--master", master, "--webapp", webapp_urls,
                  "--ip", LOCAL_IP, "--port", str(opts.dns_port),
                  "--http-port", str(opts.dns_http_port), "--log-file", str(log),
                  *opts.security(work, "dns")],
            log_path=log, ready=lambda: http_ok(dns_http + "/health"),
            ready_what="serving records", url=f"dns://{LOCAL_IP}:{opts.dns_port} {dns_http}",
            critical=False,
        ))
    if opts.batch:
        log = work / "batch" / "dispatcher.log"
        batch_url = opts.url(opts.batch_port)
        out.append(Component(
            name="batch",
            argv=[sys.executable, "-m", "frameworks.batch.cluster.dispatcher", "--master", master,
                  "--ip", LOCAL_IP, "--port", str(opts.batch_port),
                  "--work-dir", str(work / "batch"), *opts.security(work, "batch")],
            log_path=log, ready=lambda: http_ok(batch_url + "/health"),
            ready_what="accepting submissions", url=batch_url,
            critical=False,
        ))
    if opts.package:
        out.append(package_component(opts, work, wires, webapp_urls))
    haproxy = find_haproxy(opts.haproxy) if opts.lb else None
    if haproxy is not None:
        log = work / "lb" / "lb.log"
        stats = f"http://{LOCAL_IP}:{opts.lb_stats_port}"
        out.append(Component(
            name="lb",
            argv=[sys.executable, "-m", "frameworks.webapp.lb", "--webapp", webapp_urls,
                  "--group", "external", "--work-dir", str(work / "lb"), "--haproxy", haproxy,
                  "--http-port", str(opts.lb_http_port), "--stats-port", str(opts.lb_stats_port),
                  "--log-file", str(log), *opts.security(work, "lb")],
            log_path=log, ready=lambda: http_ok(stats + "/_haproxy_health_check"),
            ready_what="serving (HAProxy up)", url=f"{stats}/haproxy?stats",
            critical=False,
        ))
    if opts.gateway:
        out.append(up_gateway.gateway_component(
            work, opts.gateway_port, wires.master_urls,
            opts.url(opts.package_port) if opts.package else None,
            opts.url(opts.dns_http_port) if opts.dns else None,
            scheme=opts.scheme, extra=opts.security(work, "gateway")))
    return out


def default_index() -> Path:
    """The checkout's built catalog index (`dcos-py package build packages-repo/`)."""
    return Path(dcos.__file__).resolve().parents[1] / "packages-repo" / "build" / "index.json"


PACKAGES_HINT = ("package service: no default repository ({index} is missing); build it with "
                 "`dcos-py package build packages-repo/` (or `make repo`), then restart `up` or "
                 "add it with `dcos-py package repo add Universe file://{index}`")


def package_component(opts: UpOptions, work: Path, wires: Wiring,
                      webapp_urls: str) -> Component:
    """The package service (Cosmos API): the checkout's catalog as its default repository
    when built; state in ZooKeeper next to the masters' in HA mode, else in its work dir."""
    log = work / "package" / "package.log"
    url = opts.url(opts.package_port)
    argv = [sys.executable, "-m", "dcos.packaging", "--master", wires.master_arg,
            "--webapp", webapp_urls, "--ip", LOCAL_IP, "--port", str(opts.package_port),
            "--work-dir", str(work / "package"), "--log-file", str(log),
            *opts.security(work, "package")]
    index = default_index()
    if index.exists():
        argv += ["--default-repo", f"Universe={index.as_uri()}"]
    layout = opts.layout()
    if layout is not None:
        argv += ["--zk", str(layout.masters_zk.sibling(PACKAGING_SUFFIX))]
    return Component(name="package", argv=argv, log_path=log,
                     ready=lambda: http_ok(url + "/health"), ready_what="serving packages",
                     url=url, critical=False)


def service_ports(opts: UpOptions) -> list[tuple[int, str]]:
    """(port, what) for each enabled service component, for the in-use check."""
    ports: list[tuple[int, str]] = []
    if opts.webapp:
        ports.append((opts.webapp_port, "--webapp-port"))
        if opts.highly_available:
            ports.append((opts.webapp_port + 1, "--webapp-port (+1: the second webapp)"))
    if opts.dns:
        ports += [(opts.dns_port, "--dns-port"), (opts.dns_http_port, "--dns-http-port")]
    if opts.batch:
        ports.append((opts.batch_port, "--batch-port"))
    if opts.package:
        ports.append((opts.package_port, "--package-port"))
    if opts.lb and find_haproxy(opts.haproxy) is not None:
        ports += [(opts.lb_http_port, "--lb-http-port"), (opts.lb_stats_port, "--lb-stats-port")]
    if opts.gateway:
        ports.append((opts.gateway_port, "--gateway-port"))
    return ports


def udp_port_in_use(port: int, host: str = LOCAL_IP) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.bind((host, port))
        except OSError:
            return True
    return False


def port_in_use(port: int, host: str = LOCAL_IP) -> bool:
    """True when something already listens on host:port: we bind and listen as the servers
    will, with SO_REUSEADDR (aiohttp's and asyncio's default on Linux, HAProxy's too), so the
    connections of a cluster that just stopped, left in TIME_WAIT, do not count as "in use"."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
            s.listen(1)
        except OSError:
            return True
    return False


def check_options(opts: UpOptions) -> None:
    """Refuse bad counts, a bad `--zk`, a missing ZooKeeper and ports already taken, before
    anything starts (`CliError`)."""
    if not 1 <= opts.agents <= MAX_AGENTS:
        raise CliError(f"--agents must be between 1 and {MAX_AGENTS}, got {opts.agents}")
    layout = opts.layout()
    agent_ports = range(opts.agent_port, opts.agent_port + opts.agents)
    masters = [opts.master_port] if layout is None else list(layout.master_ports)
    for port in masters:
        if port in agent_ports:
            raise CliError(f"master port {port} overlaps the agent ports "
                           f"{agent_ports.start}-{agent_ports.stop - 1}")
    for what, port in [*(("master", p) for p in masters), *(("agent", p) for p in agent_ports)]:
        if not 0 < port < 65536:
            raise CliError(f"{what} port {port} is out of range")
    for i, port in enumerate(masters):
        if port_in_use(port):
            which = "" if i == 0 else f" (master-{i}: --master-port + {i * up_ha.MASTER_PORT_STEP})"
            raise CliError(f"port {port}{which} is already in use: is a master (or another "
                           "`dcos-py up`) running? Use --master-port to pick another.")
    for port in agent_ports:
        if port_in_use(port):
            raise CliError(f"agent port {port} is already in use; use --agent-port to pick another")
    extra = service_ports(opts)
    if layout is not None and layout.start_zk:
        extra.insert(0, (layout.zk_port, "--zk-port"))
    taken = {*masters, *agent_ports}
    for port, flag in extra:
        if port in taken:
            raise CliError(f"{flag} {port} overlaps another component's port")
        taken.add(port)
        if port_in_use(port) or (flag == "--dns-port" and udp_port_in_use(port)):
            raise CliError(f"port {port} is already in use; use {flag.split()[0]} to pick another")
    if layout is not None:
        check_zookeeper(layout)


def check_zookeeper(layout: HaLayout) -> None:
    """HA mode: refuse when ZooKeeper is not installed (`up` would start it) or the `--zk`
    ensemble does not answer."""
    if not layout.start_zk:
        up_ha.check_ensemble(layout.masters_zk)
    elif not zookeeper_available():
        raise CliError("--ha needs ZooKeeper: install the Debian package `zookeeper` (and java: "
                       "`apt-get install -y zookeeper`, or scripts/install-system-deps.sh as "
                       "root), or use an existing ensemble with --zk zk://host:2181/dcos")


def lock_work_dir(work_dir: Path) -> int:
    """Hold an exclusive lock on `work_dir` for this process's lifetime (the fd; the kernel
    drops it when we exit); `CliError` when another `dcos-py up` holds it."""
    work_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(work_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        raise CliError(f"work dir {work_dir} is in use by another `dcos-py up`; stop it or use "
                       "--work-dir") from None
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())
    return fd


def render_components(components: Sequence[Component], pids: dict[str, int]) -> Table:
    table = Table(title="dcos-py local cluster")
    for column in ("component", "url", "pid", "log"):
        table.add_column(column, overflow="fold")
    for c in components:
        table.add_row(c.name, c.url or "-", str(pids.get(c.name, "-")), str(c.log_path))
    return table


def _failure_lines(components: Sequence[Component], culprit: str | None,
                   reason: str) -> list[str]:
    lines = [f"dcos-py up: {reason}"]
    for c in components:
        if c.name == culprit:
            tail = tail_lines(c.log_path, 20)
            lines.append(f"last lines of {c.log_path}:" if tail else f"({c.log_path} is empty)")
            lines.extend("  " + line for line in tail)
    return lines


def event_lines(event: Event, components: Sequence[Component]) -> list[str]:
    """What the terminal shows when a component exits (restarted, or given up on with the
    end of its log) or is ready again after a restart; called by `run_up` for each event."""
    if isinstance(event, Recovered):
        return [f"dcos-py up: {event.name} is {event.ready_what} again "
                f"(restart {event.restart}, pid {event.pid})"]
    head = f"{event.name} exited with code {event.exit_code}"
    if event.restart_in_s is not None:
        return [f"dcos-py up: {head}; restarting in {event.restart_in_s:g} s "
                f"(restart {event.restart})"]
    return _failure_lines(components, event.name, f"{head}; not restarted: {event.gave_up}")


def start_cluster(sup: Supervisor, wires: Wiring, stop: threading.Event,
                  timeout_s: float) -> str | Step:
    """Start every component and wait for a leading master (each within `timeout_s`): the
    leader's URL, or the failed `Step` (reason "interrupted", no culprit, when `stop` was set;
    no culprit either when every component is ready but no master leads)."""
    step = sup.start(timeout_s, stop)
    if step.failed:
        return step
    deadline = time.monotonic() + timeout_s
    while (leader := wires.leader()) is None:
        if stop.wait(0.2):
            return Step(failed=True, reason="interrupted")
        if time.monotonic() >= deadline:
            return Step(failed=True, reason=f"no master leads after {timeout_s:g} s")
    return leader


def announce(opts: UpOptions, components: Sequence[Component], pids: dict[str, int],
             wires: Wiring, leader: str | None, out: Console) -> None:
    """Print the gateway's URL (first, when it runs), the table of components, what to try,
    and the "cluster ready" line (in HA mode with the zk:// URL and which master leads)."""
    if opts.gateway:
        out.print(up_gateway.web_ui_line(opts.gateway_port, opts.scheme), markup=False,
                  highlight=False)
    out.print(render_components(components, pids))
    names = {c.url: c.name for c in components if c.url}
    if len(wires.master_urls) == 1:
        where = f"master {wires.master_urls[0]}"
    else:
        lead = f"{names.get(leader, '?')} ({leader}) leads" if leader else "no master leads yet"
        where = f"{len(wires.master_urls)} masters at {wires.master_arg}, {lead}"
    if opts.secure:
        out.print(f"try: dcos-py node list (cluster {up_secure.cluster_name(opts.master_port)}:"
                  " https, the cluster CA and an admin token)", markup=False, highlight=False)
    else:
        master = wires.master_urls[0] if len(wires.master_urls) == 1 else wires.master_arg
        out.print(f"try: DCOS_MASTER={master} dcos-py node list")
    if opts.webapp and not opts.secure:
        out.print(f"try: DCOS_WEBAPP=http://{LOCAL_IP}:{opts.webapp_port} dcos-py app list")
    if opts.package:
        if opts.secure:
            pass  # the saved cluster names the package service
        elif default_index().exists():
            out.print(f"try: DCOS_PACKAGE_SERVICE=http://{LOCAL_IP}:{opts.package_port} "
                      "dcos-py package search")
        else:
            out.print(PACKAGES_HINT.format(index=default_index()), markup=False,
                      highlight=False)
    out.print(f"dcos-py cluster ready: {where} ({opts.agents} agents). Press Ctrl-C to stop.")
    sys.stdout.flush()


def run_up(opts: UpOptions, out: Console, err: Console) -> int:
    """Run the cluster until Ctrl-C/SIGTERM; the exit code (0 after a clean stop, 1 when a
    component failed). Raises `CliError` for a refusal before anything started."""
    check_options(opts)
    lock_fd = lock_work_dir(opts.work_dir)
    try:
        prepared = up_secure.prepare(opts.work_dir.resolve()) if opts.secure else None
        http.use_transport(up_secure.SecureTransport(prepared.root).current if prepared
                           else http.Transport())
    except BaseException:
        os.close(lock_fd)
        raise
    components = build_components(opts)
    wires = wiring(opts)
    sup = Supervisor(components, pid_file=opts.work_dir.resolve() / PID_FILE,
                     restart=DEFAULT_RESTART)
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set())
                for sig in (signal.SIGINT, signal.SIGTERM)}
    reporter: LeaderReporter | None = None
    try:
        out.print(f"starting {starting_what(opts)} in {opts.work_dir.resolve()} ...")
        if opts.lb and find_haproxy(opts.haproxy) is None:
            out.print(HAPROXY_HINT, markup=False, highlight=False)
        leader = start_cluster(sup, wires, stop, opts.startup_timeout_s)
        if not isinstance(leader, str):
            sup.stop()
            if leader.culprit is None and leader.reason == "interrupted":
                out.print("stopped before the cluster was ready")
                return 0
            for line in _failure_lines(components, leader.culprit, leader.reason):
                err.print(line, markup=False, highlight=False)
            return 1
        announce(opts, components, sup.pids, wires, leader, out)

        def say(line: str) -> None:
            err.print(line, markup=False, highlight=False)

        if prepared is not None:
            up_secure.finish(leader, cli_cluster(opts, wires), prepared,
                             lambda line: out.print(line, markup=False, highlight=False))
            sys.stdout.flush()

        def report(event: Event) -> None:
            for line in event_lines(event, components):
                say(line)

        if len(wires.master_urls) > 1:
            reporter = LeaderReporter(wires.master_urls, {c.url or "": c.name for c in components},
                                      leader, say)
            reporter.start()
        died = sup.watch(stop, report)
        if reporter is not None:
            reporter.stop()
        out.print("stopping the cluster ...")
        sup.stop()
        if died is not None:
            reason = (f"{died.name} exited with code {died.exit_code}; {died.gave_up}; "
                      "cluster stopped")
            for line in _failure_lines(components, died.name, reason):
                err.print(line, markup=False, highlight=False)
            return 1
        out.print("cluster stopped")
        return 0
    except BaseException:
        if reporter is not None:
            reporter.stop()
        sup.stop()
        raise
    finally:
        for sig, handler in previous.items():
            with contextlib.suppress(ValueError, TypeError):
                signal.signal(sig, handler)
        http.use_transport(None)
        os.close(lock_fd)


def cli_cluster(opts: UpOptions, wires: Wiring) -> clusters.Cluster:
    """The cluster `up --secure` saves for the CLI (`up_secure.setup_cli`): https URLs;
    the zk:// URL as its master in HA mode."""
    master = wires.master_arg if len(wires.master_urls) > 1 else wires.master_urls[0]
    return clusters.Cluster(
        name=up_secure.cluster_name(opts.master_port), master=master,
        webapp=opts.url(opts.webapp_port), package=opts.url(opts.package_port),
        dispatcher=opts.url(opts.batch_port) if opts.batch else None)


def starting_what(opts: UpOptions) -> str:
    """What the first line says `up` starts: a master and N agents, or in HA mode ZooKeeper
    (unless `--zk`), three masters and N agents."""
    if not opts.highly_available:
        return f"a master and {opts.agents} agent(s)"
    zk = "ZooKeeper, " if opts.zk is None else ""
    return f"{zk}{up_ha.HA_MASTERS} masters and {opts.agents} agent(s)"
