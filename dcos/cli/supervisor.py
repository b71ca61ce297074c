"""Start, watch and stop the processes of a local cluster (`dcos-py up`).

A `Component` describes one process: its argv, where it logs and how to tell it is ready.
`startup_step` is the sans-IO core of start-up (which components to start next, whether all are
ready, or why start-up failed); `Supervisor` is the shell that spawns the processes, each in its
own session and process group (so a Ctrl-C at the terminal reaches only `dcos-py up`, and stopping
a group leaves no grandchild behind), records their pids and stops them.

Once all are ready, `Supervisor.watch` restarts a component that exits, with backoff, and gives
up on one in a crash loop (`dcos.cli.restarts`). Every component gets a parent-death signal
(`dcos.common.lifeline`): when `dcos-py up` dies, even by ``kill -9``, each component is sent
SIGTERM by the kernel and stops as on Ctrl-C (an agent kills its tasks, the load balancer its
HAProxy).

Called by: `dcos.cli.up` (a master, N agents, the webapp framework, DNS, the batch dispatcher
and the load balancer; in HA mode ZooKeeper, three masters and two webapp instances).
"""

from __future__ import annotations

import contextlib
import enum
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import orjson
import psutil

from dcos.cli.restarts import NEVER_RESTART, RestartPolicy, decide_restart
from dcos.common.files import atomic_write
from dcos.common.lifeline import die_with_parent

DEFAULT_GRACE_S = 5.0
POLL_S = 0.1


@dataclass(frozen=True)
class Component:
    """One process of the local cluster.

    `ready` is polled (it must not raise, and should answer within about a second) until it
    returns True. When `gate` is set, the components after this one start only once it and
    every component before it are ready (the master gates the agents; in HA mode ZooKeeper
    gates the masters, and the last master gates the agents once all three answer). A
    component that exits is restarted (see `dcos.cli.restarts`); a `critical` one in a crash
    loop takes the whole cluster down, a non-critical one is only reported and left stopped.
    `url` is what the operator is shown. A `stop_last` component is stopped only once all
    the others have exited (ZooKeeper: the masters close their sessions through it).
    """

    name: str
    argv: Sequence[str]
    log_path: Path
    ready: Callable[[], bool]
    ready_what: str = "ready"
    url: str | None = None
    gate: bool = False
    critical: bool = True
    env: Mapping[str, str] | None = None
    cwd: Path | None = None
    stop_last: bool = False


class Phase(enum.Enum):
    NOT_STARTED = "not started"
    STARTING = "starting"
    READY = "ready"
    EXITED = "exited"


@dataclass(frozen=True)
class ProcState:
    phase: Phase
    exit_code: int | None = None


@dataclass(frozen=True)
class Step:
    """What start-up should do now: start `start` (names), then keep waiting; or it is `done`;
    or it `failed` because of component `culprit` (`reason` is one line)."""

    start: tuple[str, ...] = ()
    done: bool = False
    failed: bool = False
    culprit: str | None = None
    reason: str = ""


def startup_step(
    components: Sequence[Component],
    states: Mapping[str, ProcState],
    now: float,
    deadline: float,
    timeout_s: float,
) -> Step:
    """Decide the next start-up step from each component's state (sans-IO; `up` calls it in
    its poll loop). Components start in order; none starts after a `gate` until the gate and
    every component before it are ready."""
    for c in components:
        st = states[c.name]
        if st.phase is Phase.EXITED:
            return Step(failed=True, culprit=c.name,
                        reason=f"{c.name} exited with code {st.exit_code} before it was {c.ready_what}")
    if all(states[c.name].phase is Phase.READY for c in components):
        return Step(done=True)
    if now >= deadline:
        late = next(c for c in components if states[c.name].phase is not Phase.READY)
        return Step(failed=True, culprit=late.name,
                    reason=f"{late.name} was not {late.ready_what} after {timeout_s:g} s")
    start: list[str] = []
    all_ready = True
    for c in components:
        phase = states[c.name].phase
        if phase is Phase.NOT_STARTED:
            start.append(c.name)
        all_ready = all_ready and phase is Phase.READY
        if c.gate and not all_ready:
            break
    return Step(start=tuple(start))


def tail_lines(path: Path, count: int = 20) -> list[str]:
    """The last `count` lines of a log file (none if it does not exist)."""
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 64 * 1024))
            data = f.read()
    except OSError:
        return []
    return data.decode("utf-8", "replace").splitlines()[-count:]


@dataclass
class _Running:
    component: Component
    popen: subprocess.Popen[bytes]
    ready: bool = False
    given_up: bool = False
    exits: list[float] = field(default_factory=list)  # monotonic times, for the crash-loop check
    restarts: int = 0
    restart_at: float | None = None  # a restart is due then (the process has exited)


@dataclass(frozen=True)
class Exited:
    """A component that exited while the cluster ran (`watch` reports it): it is restarted
    in `restart_in_s` seconds as restart number `restart`, or (`restart_in_s` None) it is not,
    because of `gave_up`."""

    name: str
    exit_code: int | None
    critical: bool
    restart_in_s: float | None = None
    restart: int = 0
    gave_up: str = ""


@dataclass(frozen=True)
class Recovered:
    """A restarted component that is ready again (`watch` reports it)."""

    name: str
    restart: int
    pid: int
    ready_what: str


Event = Exited | Recovered


@dataclass
class Supervisor:
    """Owns the processes of `components`; `pid_file` (JSON `{"supervisor": pid, "components":
    {name: pid}}`) is written while they run and removed after a clean `stop`. `restart` says
    when `watch` restarts a component that exited (default: never)."""

    components: Sequence[Component]
    pid_file: Path | None = None
    grace_s: float = DEFAULT_GRACE_S
    poll_s: float = POLL_S
    restart: RestartPolicy = NEVER_RESTART
    _running: dict[str, _Running] = field(default_factory=dict)

    @property
    def pids(self) -> dict[str, int]:
        return {name: r.popen.pid for name, r in self._running.items()}

    def _popen(self, c: Component) -> subprocess.Popen[bytes]:
        """Start `c` in its own session, logging to its log, with a parent-death signal."""
        c.log_path.parent.mkdir(parents=True, exist_ok=True)
        env = None if c.env is None else {**os.environ, **c.env}
        with open(c.log_path, "ab") as log:  # O_APPEND: safe to share with the child's own logger
            return subprocess.Popen(
                list(c.argv), stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True, close_fds=True, env=env, cwd=c.cwd,
                preexec_fn=die_with_parent(signal.SIGTERM),  # noqa: PLW1509 - only a prctl call
            )

    def _spawn(self, c: Component) -> None:
        self._running[c.name] = _Running(c, self._popen(c))
        self._write_pids()

    def _respawn(self, r: _Running) -> None:
        """Restart the exited process of `r` (its log says so first)."""
        with contextlib.suppress(OSError), open(r.component.log_path, "ab") as log:
            log.write(f"--- dcos-py up: restart {r.restarts} of {r.component.name} "
                      f"(exit code {r.popen.returncode}) ---\n".encode())
        r.popen = self._popen(r.component)
        r.ready = False
        self._write_pids()

    def _write_pids(self) -> None:
        if self.pid_file is None:
            return
        self.pid_file.parent.mkdir(parents=True, exist_ok=True)
        body = orjson.dumps({"supervisor": os.getpid(), "components": self.pids})
        atomic_write(self.pid_file, body, fsync=False)

    def _states(self) -> dict[str, ProcState]:
        states: dict[str, ProcState] = {}
        for c in self.components:
            r = self._running.get(c.name)
            if r is None:
                states[c.name] = ProcState(Phase.NOT_STARTED)
                continue
            code = r.popen.poll()
            if code is not None:
                states[c.name] = ProcState(Phase.EXITED, code)
                continue
            if not r.ready:
                r.ready = bool(c.ready())
            states[c.name] = ProcState(Phase.READY if r.ready else Phase.STARTING)
        return states

    def start(self, timeout_s: float, stop: threading.Event) -> Step:
        """Start the components in order and wait until all are ready, one fails, `timeout_s`
        passes, or `stop` is set (then the answer is a `failed` step with culprit None).
        The caller calls `stop()` in every case but success."""
        deadline = time.monotonic() + timeout_s
        by_name = {c.name: c for c in self.components}
        while True:
            step = startup_step(self.components, self._states(), time.monotonic(), deadline, timeout_s)
            for name in step.start:
                self._spawn(by_name[name])
            if step.done or step.failed:
                return step
            if stop.wait(self.poll_s):
                return Step(failed=True, reason="interrupted")

    def watch(self, stop: threading.Event, on_event: Callable[[Event], None]) -> Exited | None:
        """Block until `stop` is set (answer None) or a critical component is given up on
        (answer its exit). Every exit (with the restart it gets, or why none) and every
        restarted component's return to readiness is passed to `on_event`."""
        while not stop.wait(self.poll_s):
            for r in list(self._running.values()):
                fatal = self._check(r, time.monotonic(), on_event)
                if fatal is not None:
                    return fatal
        return None

    def _check(self, r: _Running, now: float, on_event: Callable[[Event], None]) -> Exited | None:
        """One look at one component for `watch`: restart it when due, report its exit or its
        readiness after a restart; a critical component given up on is the answer."""
        if r.given_up:
            return None
        if r.restart_at is not None:
            if now >= r.restart_at:
                r.restart_at = None
                self._respawn(r)
            return None
        code = r.popen.poll()
        if code is None:
            if r.restarts and not r.ready and r.component.ready():
                r.ready = True
                on_event(Recovered(r.component.name, r.restarts, r.popen.pid,
                                   r.component.ready_what))
            return None
        _signal_group(r.popen.pid, signal.SIGKILL)  # what it left in its group goes with it
        r.exits.append(now)
        decision = decide_restart(self.restart, r.exits, now)
        c = r.component
        if decision.delay_s is None:
            r.given_up = True
            event = Exited(c.name, code, c.critical, gave_up=decision.reason)
            if c.critical:
                return event
        else:
            r.restarts += 1
            r.restart_at = now + decision.delay_s
            event = Exited(c.name, code, c.critical, decision.delay_s, r.restarts)
        on_event(event)
        return None

    def stop(self) -> None:
        """Stop everything: the components that are not `stop_last` first, then those that
        are (each round: SIGTERM to each process group, last started first, wait up to
        `grace_s`, SIGKILL what is left, then end any descendant that left its group, such as
        a task in its own session). No restart follows. Idempotent."""
        for r in self._running.values():
            r.restart_at = None  # no restart after a stop
        running = list(reversed(self._running.values()))
        self._stop_round([r for r in running if not r.component.stop_last])
        self._stop_round([r for r in running if r.component.stop_last])
        if self.pid_file is not None:
            with contextlib.suppress(FileNotFoundError):
                self.pid_file.unlink()

    def _stop_round(self, running: list[_Running]) -> None:
        """SIGTERM, wait, SIGKILL for the process groups of `running` and their strays."""
        strays = _descendants(r.popen.pid for r in running)
        for r in running:
            _signal_group(r.popen.pid, signal.SIGTERM)
        deadline = time.monotonic() + self.grace_s
        for r in running:
            try:
                r.popen.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                _signal_group(r.popen.pid, signal.SIGKILL)
                r.popen.wait()
        for r in running:  # grandchildren still in a leader's group
            _signal_group(r.popen.pid, signal.SIGKILL)
        _end_processes(strays, grace_s=min(self.grace_s, 2.0))


def _signal_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def _descendants(pids: Iterable[int]) -> list[psutil.Process]:
    found: list[psutil.Process] = []
    for pid in pids:
        with contextlib.suppress(psutil.Error):
            found.extend(psutil.Process(pid).children(recursive=True))
    return found


def _end_processes(procs: list[psutil.Process], grace_s: float) -> None:
    """SIGTERM, wait, SIGKILL for processes that may or may not still live (psutil guards
    against a reused pid)."""
    alive = [p for p in procs if p.is_running()]
    for p in alive:
        with contextlib.suppress(psutil.Error):
            p.terminate()
    _, left = psutil.wait_procs(alive, timeout=grace_s)
    for p in left:
        with contextlib.suppress(psutil.Error):
            p.kill()
    psutil.wait_procs(left, timeout=grace_s)
