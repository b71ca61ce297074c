"""`dcos-py up`: run a whole local cluster in the foreground until Ctrl-C or SIGTERM.

Called by: `dcos.cli.main` (the `up` command). `build_components` lists the processes (a master,
then N agents, then the webapp framework (Marathon-like, :8080), the DNS server (:8053, HTTP
:8123) and the HAProxy load balancer (when haproxy is installed); later issues append theirs),
`run_up` checks the ports, starts them through a `Supervisor`, prints where everything is,
waits, and stops them all cleanly. While the cluster runs, a component that exits is restarted
with backoff (1 s, 2 s, 4 s, ...; reported in the terminal); one that exits more than 5 times
within 2 minutes is given up on (a critical one -- master, agent, webapp -- stops the cluster).
If `dcos-py up` itself dies, its components get SIGTERM from the kernel and stop.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import signal
import socket
import sys
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.table import Table

from dcos.cli import http
from dcos.cli.errors import CliError
from dcos.cli.restarts import DEFAULT_RESTART
from dcos.cli.shares import PORTS_BASE, PORTS_PER_AGENT, detect_machine, split_machine
from dcos.cli.supervisor import Component, Event, Recovered, Supervisor, tail_lines

LOCAL_IP = "127.0.0.1"
STARTUP_TIMEOUT_S = 30.0
MAX_AGENTS = (65535 - PORTS_BASE + 1) // PORTS_PER_AGENT
PID_FILE = "pids.json"
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
    haproxy: str | None = None  # None: look it up (PATH, /usr/sbin/haproxy)


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


def build_components(opts: UpOptions) -> list[Component]:
    """The processes of the local cluster, in start order: the master (which gates the rest),
    then the agents, each with its share of the machine and its own work dir."""
    work = opts.work_dir.resolve()
    master_url = f"http://{LOCAL_IP}:{opts.master_port}"
    master_log = work / "master" / "master.log"
    components = [
        Component(
            name="master",
            argv=[sys.executable, "-m", "dcos.master", "--ip", LOCAL_IP,
                  "--port", str(opts.master_port), "--work-dir", str(work / "master"),
                  "--log-file", str(master_log)],
            log_path=master_log,
            ready=lambda: master_ready(master_url),
            ready_what="answering /health",
            url=master_url,
            gate=True,
        )
    ]
    for i, share in enumerate(split_machine(detect_machine(str(work)), opts.agents)):
        port = opts.agent_port + i
        agent_dir = work / f"agent-{i}"
        log = agent_dir / "agent.log"
        components.append(Component(
            name=f"agent-{i}",
            argv=[sys.executable, "-m", "dcos.agent", "--master", f"{LOCAL_IP}:{opts.master_port}",
                  "--ip", LOCAL_IP, "--port", str(port), "--work-dir", str(agent_dir),
                  "--resources", share.flag(), "--log-file", str(log),
                  "--kill-tasks-on-stop"],  # Ctrl-C on `up` leaves no task behind
            log_path=log,
            ready=lambda port=port: agent_registered(master_url, port),  # type: ignore[misc]
            ready_what="registered with the master",
            url=f"http://{LOCAL_IP}:{port}",
        ))
    return components + service_components(opts, work)


def service_components(opts: UpOptions, work: Path) -> list[Component]:
    """The webapp framework, the DNS server and the load balancer (those enabled; the load
    balancer only when haproxy is installed). They start once the master is ready."""
    master = f"{LOCAL_IP}:{opts.master_port}"
    webapp_url = f"http://{LOCAL_IP}:{opts.webapp_port}"
    out: list[Component] = []
    if opts.webapp:
        log = work / "webapp" / "webapp.log"
        out.append(Component(
            name="webapp",
            argv=[sys.executable, "-m", "frameworks.webapp", "--master", master, "--ip", LOCAL_IP,
                  "--port", str(opts.webapp_port), "--work-dir", str(work / "webapp"),
                  "--log-file", str(log)],
            log_path=log, ready=lambda: http_ok(webapp_url + "/ping"),
            ready_what="answering /ping", url=webapp_url,
        ))
    if opts.dns:
        log = work / "dns" / "dns.log"
        dns_http = f"http://{LOCAL_IP}:{opts.dns_http_port}"
        out.append(Component(
            name="dns",
            argv=[sys.executable, "-m", "dcos.dns", "--master", master, "--webapp", webapp_url,
                  "--ip", LOCAL_IP, "--port", str(opts.dns_port),
                  "--http-port", str(opts.dns_http_port), "--log-file", str(log)],
            log_path=log, ready=lambda: http_ok(dns_http + "/health"),
            ready_what="serving records", url=f"dns://{LOCAL_IP}:{opts.dns_port} {dns_http}",
            critical=False,
        ))
    if opts.batch:
        log = work / "batch" / "dispatcher.log"
        batch_url = f"http://{LOCAL_IP}:{opts.batch_port}"
        out.append(Component(
            name="batch",
            argv=[sys.executable, "-m", "frameworks.batch.cluster.dispatcher", "--master", master,
                  "--ip", LOCAL_IP, "--port", str(opts.batch_port),
                  "--work-dir", str(work / "batch")],
            log_path=log, ready=lambda: http_ok(batch_url + "/health"),
            ready_what="accepting submissions", url=batch_url,
            critical=False,
        ))
    haproxy = find_haproxy(opts.haproxy) if opts.lb else None
    if haproxy is not None:
        log = work / "lb" / "lb.log"
        stats = f"http://{LOCAL_IP}:{opts.lb_stats_port}"
        out.append(Component(
            name="lb",
            argv=[sys.executable, "-m", "frameworks.webapp.lb", "--webapp", webapp_url,
                  "--group", "external", "--work-dir", str(work / "lb"), "--haproxy", haproxy,
                  "--http-port", str(opts.lb_http_port), "--stats-port", str(opts.lb_stats_port),
                  "--log-file", str(log)],
            log_path=log, ready=lambda: http_ok(stats + "/_haproxy_health_check"),
            ready_what="serving (HAProxy up)", url=f"{stats}/haproxy?stats",
            critical=False,
        ))
    return out


def service_ports(opts: UpOptions) -> list[tuple[int, str]]:
    """(port, what) for each enabled service component, for the in-use check."""
    ports: list[tuple[int, str]] = []
    if opts.webapp:
        ports.append((opts.webapp_port, "--webapp-port"))
    if opts.dns:
        ports += [(opts.dns_port, "--dns-port"), (opts.dns_http_port, "--dns-http-port")]
    if opts.batch:
        ports.append((opts.batch_port, "--batch-port"))
    if opts.lb and find_haproxy(opts.haproxy) is not None:
        ports += [(opts.lb_http_port, "--lb-http-port"), (opts.lb_stats_port, "--lb-stats-port")]
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
    """Refuse bad counts and ports already taken, before anything starts (`CliError`)."""
    if not 1 <= opts.agents <= MAX_AGENTS:
        raise CliError(f"--agents must be between 1 and {MAX_AGENTS}, got {opts.agents}")
    agent_ports = range(opts.agent_port, opts.agent_port + opts.agents)
    if opts.master_port in agent_ports:
        raise CliError(f"master port {opts.master_port} overlaps the agent ports "
                       f"{agent_ports.start}-{agent_ports.stop - 1}")
    for port in agent_ports:
        if not 0 < port < 65536:
            raise CliError(f"agent port {port} is out of range")
    if port_in_use(opts.master_port):
        raise CliError(f"port {opts.master_port} is already in use: is a master (or another "
                       "`dcos-py up`) running? Use --master-port to pick another.")
    for port in agent_ports:
        if port_in_use(port):
            raise CliError(f"agent port {port} is already in use; use --agent-port to pick another")
    taken = {opts.master_port, *agent_ports}
    for port, flag in service_ports(opts):
        if port in taken:
            raise CliError(f"{flag} {port} overlaps another component's port")
        taken.add(port)
        if port_in_use(port) or (flag == "--dns-port" and udp_port_in_use(port)):
            raise CliError(f"port {port} is already in use; use {flag} to pick another")


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


def run_up(opts: UpOptions, out: Console, err: Console) -> int:
    """Run the cluster until Ctrl-C/SIGTERM; the exit code (0 after a clean stop, 1 when a
    component failed). Raises `CliError` for a refusal before anything started."""
    check_options(opts)
    lock_fd = lock_work_dir(opts.work_dir)
    components = build_components(opts)
    sup = Supervisor(components, pid_file=opts.work_dir.resolve() / PID_FILE,
                     restart=DEFAULT_RESTART)
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set())
                for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        out.print(f"starting a master and {opts.agents} agent(s) in {opts.work_dir.resolve()} ...")
        if opts.lb and find_haproxy(opts.haproxy) is None:
            out.print(HAPROXY_HINT, markup=False, highlight=False)
        step = sup.start(opts.startup_timeout_s, stop)
        if step.failed:
            sup.stop()
            if step.culprit is None:  # interrupted while starting
                out.print("stopped before the cluster was ready")
                return 0
            for line in _failure_lines(components, step.culprit, step.reason):
                err.print(line, markup=False, highlight=False)
            return 1
        out.print(render_components(components, sup.pids))
        out.print(f"try: DCOS_MASTER={components[0].url} dcos-py node list")
        if opts.webapp:
            out.print(f"try: DCOS_WEBAPP=http://{LOCAL_IP}:{opts.webapp_port} dcos-py app list")
        out.print(f"dcos-py cluster ready: master {components[0].url} "
                  f"({opts.agents} agents). Press Ctrl-C to stop.")
        sys.stdout.flush()

        def report(event: Event) -> None:
            for line in event_lines(event, components):
                err.print(line, markup=False, highlight=False)

        died = sup.watch(stop, report)
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
        sup.stop()
        raise
    finally:
        for sig, handler in previous.items():
            with contextlib.suppress(ValueError, TypeError):
                signal.signal(sig, handler)
        os.close(lock_fd)
