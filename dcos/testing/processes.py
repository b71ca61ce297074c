"""Real dcos-py processes on loopback, for integration tests (and framework authors' tests).

`ProcessCluster` starts ``python -m dcos.master`` and ``python -m dcos.agent`` exactly as
``dcos-py up`` does (each in its own process group, logging to its work dir), and gives tests
the faults they need: SIGKILL or restart the master with its work dir kept, restart an agent
(its tasks keep running), pause (SIGSTOP via `signal`) and resume an agent to simulate a
network partition, stop everything. Each test stops only the processes it started::

    from dcos.testing.processes import QUICK_MASTER_FLAGS, ProcessCluster

    def test_something(tmp_path):
        cluster = ProcessCluster(tmp_path, agents=2, master_flags=QUICK_MASTER_FLAGS).start()
        try:
            ...  # point a SchedulerDriver at cluster.url
        finally:
            cluster.stop()

HA mode: ``ProcessCluster(tmp_path, masters=3, zk=zk_url)`` starts three masters with
``--zk`` (each on its own port and work dir, ``master-<i>``), the agents with
``--master zk://...``; `master` is then the zk URL, `url` the current leader's URL, and
`leader_index()`, `wait_leader()`, `kill_master(i)`, `start_master(i)` drive failovers::

    cluster = ProcessCluster(tmp_path, masters=3, zk=zk_url, agents=1).start()
    i = cluster.leader_index()
    cluster.kill_master(i)                   # SIGKILL the leader
    j = cluster.wait_leader(exclude={i})     # another one leads

Also: `free_port()` (a free TCP port on 127.0.0.1), `free_port_range(n)`, `pid_alive(pid)`
(exists and is not a zombie), `get_json(url)` (blocking GET),
`QUICK_MASTER_FLAGS` (allocate every 0.2 s, lose a silent agent after 3 pings of 0.5 s) and
`kill_sandbox_processes(root)`. Polling helpers are in `dcos.testing.waiting`.
"""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import psutil

from dcos.agent.isolators.cgroupfs import remove_agent_cgroups
from dcos.common.lifeline import die_with_parent
from dcos.testing.waiting import wait_until

__all__ = [
    "QUICK_MASTER_FLAGS",
    "ProcessCluster",
    "free_port",
    "free_port_range",
    "get_json",
    "kill_sandbox_processes",
    "pid_alive",
]


def free_port() -> int:
    """A port nothing listens on at 127.0.0.1 (the OS picks it; it may be reused later).
    Called by tests that must name a port before starting a server or a process."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def free_port_range(count: int) -> int:
    """A base port such that ``base .. base+count-1`` are all free on 127.0.0.1 (for a
    process that takes consecutive ports, such as ``dcos-py up``'s agents)."""
    for _ in range(100):
        base = free_port()
        if base + count > 65535:
            continue
        socks: list[socket.socket] = []
        try:
            for port in range(base, base + count):
                sock = socket.socket()
                socks.append(sock)
                sock.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
        finally:
            for sock in socks:
                sock.close()
    raise RuntimeError("no free port range")


def pid_alive(pid: int) -> bool:
    """Whether process `pid` exists and is not a zombie (an exited child not yet reaped)."""
    try:
        return bool(psutil.Process(pid).status() != psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return False


def get_json(url: str, timeout: float = 2.0) -> Any:
    """GET `url` and decode its JSON body (blocking; for synchronous tests)."""
    with urllib.request.urlopen(url, timeout=timeout) as resp:
        return orjson.loads(resp.read())


# A master that allocates every 0.2 s and loses a silent agent after 3 pings of 0.5 s.
QUICK_MASTER_FLAGS = ["--allocation-interval", "0.2", "--agent-ping-timeout", "0.5",
                      "--max-agent-ping-timeouts", "3"]


@dataclass
class ProcessCluster:
    """A master (or, with `zk`, `masters` masters) and `agents` agents as real processes on
    loopback (see the module docstring).

    `work_dir` holds each daemon's work dir and log; `master_flags` and `agent_flags`
    (per agent index) are extra command-line flags; agent ``i`` offers `agent_resources`
    plus ports ``31000+1000*i ..``. `start` returns once every agent is registered; `stop`
    ends everything it started, task processes included. HA (`zk` given): master ``i``
    listens on ``master_ports[i]`` (``master_port`` is master 0's) with its ZooKeeper
    session timeout `zk_session_timeout`.
    """

    work_dir: Path
    agents: int = 2
    agent_resources: str = "cpus:4;mem:4096;disk:4096"
    master_flags: list[str] = field(default_factory=list)
    master_port: int = field(default_factory=free_port)
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    agent_ports: list[int] = field(default_factory=list)
    agent_flags: dict[int, list[str]] = field(default_factory=dict)  # extra flags per agent
    masters: int = 1
    zk: str | None = None
    zk_session_timeout: float = 3.0
    master_ports: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.masters > 1 and not self.zk:
            raise ValueError("several masters need a ZooKeeper URL (zk='zk://host:port/path')")
        if not self.master_ports:
            self.master_ports = [self.master_port] + [free_port() for _ in range(self.masters - 1)]
        self.master_port = self.master_ports[0]

    @property
    def ha(self) -> bool:
        """Whether the masters are elected through ZooKeeper (`zk` given)."""
        return bool(self.zk)

    @property
    def master(self) -> str:
        """What clients are given as ``--master``: the zk URL in HA mode, else host:port."""
        if self.zk:
            return self.zk
        return f"127.0.0.1:{self.master_port}"

    @property
    def url(self) -> str:
        """The master's URL; HA: the current leader's (master 0's while none is known)."""
        if not self.ha:
            return self.master_url(0)
        i = self.leader_index()
        return self.master_url(0 if i is None else i)

    def master_url(self, i: int) -> str:
        """``http://127.0.0.1:<port>`` of master `i`."""
        return f"http://127.0.0.1:{self.master_ports[i]}"

    def master_name(self, i: int) -> str:
        """Process (and log) name of master `i`: ``master``, or ``master-<i>`` in HA mode."""
        return f"master-{i}" if self.ha else "master"

    def _spawn(self, name: str, argv: list[str]) -> None:
        log = open(self.work_dir / f"{name}.out", "ab")
        # A master or agent stops when the test process dies (killed on a timeout, Ctrl-C),
        # not only through stop(); the signal follows the spawning thread, so only the main one.
        main = threading.current_thread() is threading.main_thread()
        self.procs[name] = subprocess.Popen(
            [sys.executable, *argv], stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True, preexec_fn=die_with_parent() if main else None,
        )
        log.close()

    def start_master(self, i: int = 0) -> None:
        """Spawn master `i` (the same port and work dir each time) and wait until its
        /health answers (in HA mode it may be a standby)."""
        name = self.master_name(i)
        ha_flags = []
        if self.zk:
            ha_flags = ["--zk", self.zk, "--zk-session-timeout", str(self.zk_session_timeout)]
        self._spawn(name, [
            "-m", "dcos.master", "--ip", "127.0.0.1", "--port", str(self.master_ports[i]),
            "--work-dir", str(self.work_dir / name), "--log-file", str(self.work_dir / f"{name}.log"),
            *ha_flags, *self.master_flags,
        ])  # fmt: skip
        self.wait_for(lambda: self._status("/health", i) == 200, f"{name} /health")

    def kill_master(self, i: int, sig: int = signal.SIGKILL) -> None:
        """Send `sig` to master `i` (SIGKILL: waits for it to exit)."""
        self.kill(self.master_name(i), sig)

    def master_alive(self, i: int) -> bool:
        p = self.procs.get(self.master_name(i))
        return p is not None and p.poll() is None

    def elected(self) -> list[int]:
        """The indexes of the live masters whose /metrics/snapshot says ``master/elected``
        1 (exactly one in a healthy cluster)."""
        out = []
        for i in range(self.masters):
            if not self.master_alive(i):
                continue
            try:
                snap = get_json(self.master_url(i) + "/metrics/snapshot", timeout=1.0)
            except (OSError, ValueError):
                continue
            if snap.get("master/elected") == 1:
                out.append(i)
        return out

    def leader_index(self) -> int | None:
        """The index of the one master that leads now; None while none (or, for an
        instant during a failover, more than one) says it is elected."""
        elected = self.elected()
        return elected[0] if len(elected) == 1 else None

    def redirect_target(self, i: int) -> str | None:
        """Where master `i`'s /master/redirect points (``//host:port``); None without one."""
        conn = http.client.HTTPConnection("127.0.0.1", self.master_ports[i], timeout=1.0)
        try:
            conn.request("GET", "/master/redirect")
            resp = conn.getresponse()
            resp.read()
            return resp.getheader("Location") if resp.status == 307 else None
        except OSError:
            return None
        finally:
            conn.close()

    def _masters_agree(self) -> bool:
        live = [i for i in range(self.masters) if self.master_alive(i)]
        targets = {self.redirect_target(i) for i in live}
        return len(targets) == 1 and None not in targets

    def wait_leader(self, timeout: float = 30.0, exclude: set[int] | None = None) -> int:
        """Wait until exactly one master leads (not one of `exclude`); its index."""
        found: list[int] = []

        def one() -> bool:
            i = self.leader_index()
            found[:] = [] if i is None or i in (exclude or set()) else [i]
            return bool(found)

        self.wait_for(one, "a leading master", timeout)
        return found[0]

    def start_agent(self, i: int) -> None:
        """Spawn agent `i` (a free port the first time, the same port and work dir after)."""
        while len(self.agent_ports) <= i:
            self.agent_ports.append(free_port())
        base = 31000 + i * 1000
        self._spawn(f"agent-{i}", [
            "-m", "dcos.agent", "--master", self.master, "--ip", "127.0.0.1",
            "--port", str(self.agent_ports[i]), "--work-dir", str(self.work_dir / f"agent-{i}"),
            "--resources", f"{self.agent_resources};ports:[{base}-{base + 999}]",
            "--status-update-retry", "1", "--log-file", str(self.work_dir / f"agent-{i}.log"),
            *self.agent_flags.get(i, []),
        ])

    def restart_agent(self, i: int, flags: list[str] | None = None) -> None:
        """SIGKILL agent `i` (its tasks keep running) and start it again on the same port and
        work dir, with `flags` replacing its extra flags when given (e.g. new attributes)."""
        self.kill(f"agent-{i}", signal.SIGKILL)
        if flags is not None:
            self.agent_flags[i] = flags
        self.start_agent(i)

    def start(self) -> ProcessCluster:
        """Start the master(s) and every agent; returns once a master leads (HA) and all
        agents are active."""
        self.work_dir.mkdir(parents=True, exist_ok=True)
        for i in range(self.masters):
            self.start_master(i)
        if self.ha:
            self.wait_leader()
            self.wait_for(self._masters_agree, "every master to know the leader")
        for i in range(self.agents):
            self.start_agent(i)
        self.wait_for(lambda: len(self.active_agents()) == self.agents, "agents registered")
        return self

    def _status(self, path: str, i: int = 0) -> int:
        try:
            with urllib.request.urlopen(self.master_url(i) + path, timeout=1.0) as resp:
                return resp.status
        except OSError:
            return 0

    def active_agents(self) -> list[dict]:
        """The master's active agents (``/master/slaves``), or [] while it does not answer."""
        try:
            body = get_json(self.url + "/master/slaves")
        except (OSError, ValueError):
            return []
        return [a for a in body["slaves"] if a.get("active")]

    def tasks(self) -> list[dict]:
        """``/master/tasks``' task list."""
        return get_json(self.url + "/master/tasks")["tasks"]

    def wait_for(self, cond: Callable[[], Any], what: str, timeout: float = 30.0) -> None:
        """`wait_until` `cond`, with the masters' log tails in the failure; fails at once if
        a master exited while a "master ..." condition is awaited (in HA mode: every
        master did)."""

        def ready() -> Any:
            if what.startswith("master") or what == "a leading master":
                started = [self.procs[n] for n in self._master_names() if n in self.procs]
                if started and all(p.poll() is not None for p in started):
                    raise AssertionError(
                        f"master exited with {started[-1].returncode}: {self._master_logs()}"
                    )
            return cond()

        wait_until(ready, what, timeout, diag=self._master_logs)

    def _master_names(self) -> list[str]:
        return [self.master_name(i) for i in range(self.masters)]

    def _master_logs(self) -> str:
        return "\n".join(
            f"--- {n}:\n{self.log_tail(n)}" if self.ha else self.log_tail(n)
            for n in self._master_names()
        )

    def log_tail(self, name: str, lines: int = 30) -> str:
        """The last `lines` lines of process `name`'s log (``master``, ``master-1``,
        ``agent-0`` ...)."""
        for path in (self.work_dir / f"{name}.log", self.work_dir / f"{name}.out"):
            if path.exists():
                return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
        return ""

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        """Send `sig` to process `name`'s group; waits for it to exit on SIGKILL/SIGTERM."""
        p = self.procs[name]
        try:
            os.killpg(p.pid, sig)
        except ProcessLookupError:
            pass
        if sig in (signal.SIGKILL, signal.SIGTERM):
            p.wait(timeout=20)

    def signal(self, name: str, sig: int) -> None:
        """Send `sig` to process `name` only (e.g. SIGSTOP / SIGCONT to partition an agent)."""
        os.kill(self.procs[name].pid, sig)

    def restart_master(self, i: int | None = None) -> None:
        """SIGKILL master `i` (default: the master; HA: the leader) and start it again on
        the same port and work dir."""
        if i is None:
            i = (self.leader_index() or 0) if self.ha else 0
        self.kill_master(i, signal.SIGKILL)
        self.start_master(i)

    def stop(self) -> None:
        """SIGUSR1 the agents (they kill their tasks: SIGTERM would leave them running for a
        next agent process), SIGTERM the master, then SIGKILL what is left, including any task
        process still running in a sandbox under `work_dir` (an agent killed and not restarted)."""
        for name, p in self.procs.items():
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGCONT)
                    p.send_signal(signal.SIGUSR1 if name.startswith("agent") else signal.SIGTERM)
                except ProcessLookupError:
                    pass
        for p in self.procs.values():
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        kill_sandbox_processes(self.work_dir)
        for port in self.agent_ports:  # the cgroups of agents SIGKILLed and not restarted
            for root in ("dcos-py", "dcos-py-test"):
                remove_agent_cgroups(root, f"agent-{port}")


def kill_sandbox_processes(root: Path) -> list[int]:
    """SIGKILL every process whose working directory is under `root` (task sandboxes).
    Called by `ProcessCluster.stop` and by tests that start tasks outside an agent."""
    prefix = str(root.resolve()) + os.sep
    killed = []
    for proc in psutil.process_iter():
        try:
            if (proc.cwd() + os.sep).startswith(prefix):
                proc.kill()
                killed.append(proc.pid)
        except (psutil.Error, OSError):
            continue
    return killed
