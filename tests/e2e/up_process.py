"""`dcos-py up` as a real process for the end-to-end tests: start it, read its output lines,
wait for a line, and make sure nothing of it is left when a test ends."""

from __future__ import annotations

import contextlib
import os
import queue
import random
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import orjson
import psutil

from dcos.cli.up import port_in_use

START_TIMEOUT_S = 60


def cli() -> list[str]:
    script = Path(sys.executable).parent / "dcos-py"
    return [str(script)] if script.exists() else [sys.executable, "-m", "dcos.cli"]


class UpProcess:
    """One `dcos-py up` run; `family` keeps every descendant seen, to clean up after it."""

    def __init__(self, args: list[str], work: Path) -> None:
        env = {**os.environ, "COLUMNS": "200"}
        env.pop("DCOS_MASTER", None)
        self.work = work
        self.proc = subprocess.Popen([*cli(), "up", "--work-dir", str(work), *args],
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                     env=env)
        self.seen: list[str] = []
        self.family: dict[int, psutil.Process] = {}
        self._lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._lines.put(line)
        self._lines.put(None)

    def wait_for(self, text: str, timeout: float = START_TIMEOUT_S) -> str:
        """Consume output until a line contains `text` (that line); AssertionError (with the
        output so far) when the output ends or `timeout` passes first."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self._lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                line = None
            if line is None:
                raise AssertionError(f"no line with {text!r}; output:\n" + self.output())
            self.seen.append(line)
            self.note_family()
            if text in line:
                return line

    def output(self) -> str:
        return "".join(self.seen)

    def rest(self) -> str:
        """Everything it printed after the last `wait_for` (call once it has exited)."""
        tail: list[str] = []
        with contextlib.suppress(queue.Empty):
            while (line := self._lines.get(timeout=5)) is not None:
                tail.append(line)
        self.seen += tail
        return "".join(tail)

    def pids(self) -> dict[str, int]:
        """The components' pids from its pid file."""
        return dict(orjson.loads((self.work / "pids.json").read_bytes())["components"])

    def note_family(self) -> list[psutil.Process]:
        """Remember every live descendant now (haproxy, tasks, ...); the current ones."""
        now: list[psutil.Process] = []
        with contextlib.suppress(psutil.Error):
            now = psutil.Process(self.proc.pid).children(recursive=True)
        self.family.update((p.pid, p) for p in now)
        return now

    def alive(self) -> list[str]:
        """The remembered descendants still running (command lines)."""
        out = []
        for p in self.family.values():
            with contextlib.suppress(psutil.Error):
                if p.is_running() and p.status() != psutil.STATUS_ZOMBIE:
                    out.append(" ".join(p.cmdline()))
        return out

    def stop(self, timeout: float = 60) -> None:
        """SIGTERM `up` (it stops its components), wait for it, then kill whatever is left."""
        try:
            if self.proc.poll() is None:
                self.note_family()
                self.proc.terminate()
                self.proc.wait(timeout=timeout)
        finally:
            self.cleanup()

    def cleanup(self) -> None:
        """Kill whatever is left of this run (for a test's `finally`)."""
        if self.proc.poll() is None:
            self.note_family()
            self.proc.kill()
            self.proc.wait()
        for p in self.family.values():
            with contextlib.suppress(psutil.Error):
                p.kill()
        psutil.wait_procs(list(self.family.values()), timeout=5)


QUIET_PORTS = range(20000, 31000)  # below Linux's ephemeral range (32768+) and the task ports


def quiet_ports(count: int, in_a_row: int = 1) -> list[int]:
    """`count` free ports where no client connection takes its local port (an ephemeral
    port from `free_port` may be taken by any outgoing connection before the server binds
    it); the first `in_a_row` of them consecutive (an agent's ports follow each other)."""
    rng = random.Random()
    while True:
        base = rng.randrange(QUIET_PORTS.start, QUIET_PORTS.stop - in_a_row)
        chosen = list(range(base, base + in_a_row))
        while len(chosen) < count:
            port = rng.randrange(QUIET_PORTS.start, QUIET_PORTS.stop)
            if port not in chosen:
                chosen.append(port)
        if not any(port_in_use(p) for p in chosen):
            return chosen


@dataclass(frozen=True)
class UpPorts:
    """The ports of a whole `dcos-py up --agents N` on quiet ports (`up_ports`): agent i
    listens on ``agent + i``."""

    agents: int
    master: int
    agent: int
    webapp: int
    dns: int
    dns_http: int
    lb_http: int
    lb_stats: int
    batch: int
    package: int
    gateway: int

    def args(self) -> list[str]:
        """`up`'s flags for these ports (``--agents`` included)."""
        return ["--agents", str(self.agents), "--master-port", str(self.master),
                "--agent-port", str(self.agent), "--webapp-port", str(self.webapp),
                "--dns-port", str(self.dns), "--dns-http-port", str(self.dns_http),
                "--lb-http-port", str(self.lb_http), "--lb-stats-port", str(self.lb_stats),
                "--batch-port", str(self.batch), "--package-port", str(self.package),
                "--gateway-port", str(self.gateway)]  # fmt: skip

    @staticmethod
    def url(port: int) -> str:
        return f"http://127.0.0.1:{port}"


def up_ports(agents: int) -> UpPorts:
    """Quiet ports for every component of `dcos-py up --agents <agents>`, the agents' in a
    row. Called by the test clusters of tests/web, tests/packages, tests/compat and
    benchmarks/ui.py."""
    ports = quiet_ports(9 + agents, in_a_row=agents)
    master, webapp, dns, dns_http, lb_http, lb_stats, batch, package, gateway = ports[agents:]
    return UpPorts(agents, master, ports[0], webapp, dns, dns_http, lb_http, lb_stats, batch,
                   package, gateway)  # fmt: skip
