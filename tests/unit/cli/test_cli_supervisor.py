"""The supervisor: start-up decisions (sans-IO) and real process start/stop with no leftovers."""

from __future__ import annotations

import os
import signal
import sys
import threading
from pathlib import Path

import orjson

from dcos.cli.supervisor import (
    Component,
    Exited,
    Phase,
    ProcState,
    Step,
    Supervisor,
    startup_step,
    tail_lines,
)
from dcos.testing import pid_alive

NEVER = 1e18


def comp(name: str, gate: bool = False, what: str = "ready") -> Component:
    return Component(name=name, argv=["true"], log_path=Path("/nonexistent"),
                     ready=lambda: False, ready_what=what, gate=gate)


CLUSTER = [comp("master", gate=True, what="answering /health"),
           comp("agent-0", what="registered with the master"), comp("agent-1")]


def states(**phases: Phase) -> dict[str, ProcState]:
    out = {c.name: ProcState(Phase.NOT_STARTED) for c in CLUSTER}
    out.update({k.replace("_", "-"): ProcState(v) for k, v in phases.items()})
    return out


def test_gate_starts_alone_first() -> None:
    assert startup_step(CLUSTER, states(), 0, NEVER, 30) == Step(start=("master",))


def test_nothing_starts_while_gate_not_ready() -> None:
    assert startup_step(CLUSTER, states(master=Phase.STARTING), 0, NEVER, 30) == Step()


def test_rest_start_together_once_gate_ready() -> None:
    step = startup_step(CLUSTER, states(master=Phase.READY), 0, NEVER, 30)
    assert step == Step(start=("agent-0", "agent-1"))


def test_done_when_all_ready() -> None:
    all_ready = states(master=Phase.READY, agent_0=Phase.READY, agent_1=Phase.READY)
    assert startup_step(CLUSTER, all_ready, 0, NEVER, 30).done


def test_exit_before_ready_fails_naming_the_component() -> None:
    st = states(master=Phase.READY, agent_0=Phase.STARTING)
    st["agent-1"] = ProcState(Phase.EXITED, 2)
    step = startup_step(CLUSTER, st, 0, NEVER, 30)
    assert step.failed and step.culprit == "agent-1"
    assert step.reason == "agent-1 exited with code 2 before it was ready"


def test_deadline_fails_naming_the_first_late_component() -> None:
    st = states(master=Phase.READY, agent_0=Phase.STARTING, agent_1=Phase.READY)
    step = startup_step(CLUSTER, st, now=31, deadline=30, timeout_s=30)
    assert step.failed and step.culprit == "agent-0"
    assert step.reason == "agent-0 was not registered with the master after 30 s"


# A process that starts a grandchild in its own group and one in a new session (as an agent's
# task would be), writes their pids, then waits. With IGNORE it survives SIGTERM.
FAMILY = r"""
import os, signal, subprocess, sys
if sys.argv[2] == "IGNORE":
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
sleeper = [sys.executable, "-c", "import signal; signal.pause()"]
same_group = subprocess.Popen(sleeper)
own_session = subprocess.Popen(sleeper, start_new_session=True)
print("started", flush=True)
open(sys.argv[1] + ".tmp", "w").write(f"{os.getpid()} {same_group.pid} {own_session.pid}")
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
signal.pause() if sys.argv[2] != "IGNORE" else [signal.pause() for _ in iter(int, 1)]
"""


def family(tmp: Path, name: str, mode: str = "TERM", critical: bool = True) -> Component:
    pids = tmp / f"{name}.pids"
    return Component(name=name, argv=[sys.executable, "-c", FAMILY, str(pids), mode],
                     log_path=tmp / name / f"{name}.log", ready=pids.exists, critical=critical)


def recorded_pids(tmp: Path, name: str) -> list[int]:
    return [int(p) for p in (tmp / f"{name}.pids").read_text().split()]


def test_start_then_stop_leaves_no_process(tmp_path: Path) -> None:
    sup = Supervisor([family(tmp_path, "a"), family(tmp_path, "b", mode="IGNORE")],
                     pid_file=tmp_path / "pids.json", grace_s=0.5)
    step = sup.start(30, threading.Event())
    assert step.done, step
    pid_file = orjson.loads((tmp_path / "pids.json").read_bytes())
    assert pid_file["supervisor"] == os.getpid() and pid_file["components"] == sup.pids
    everyone = recorded_pids(tmp_path, "a") + recorded_pids(tmp_path, "b")
    assert all(pid_alive(p) for p in everyone)
    sup.stop()
    assert [p for p in everyone if pid_alive(p)] == []
    assert not (tmp_path / "pids.json").exists()
    assert tail_lines(tmp_path / "a" / "a.log") == ["started"]


def test_exit_during_start_is_a_failed_step(tmp_path: Path) -> None:
    crash = Component(name="m", argv=[sys.executable, "-c", "print('boom'); raise SystemExit(3)"],
                      log_path=tmp_path / "m.log", ready=lambda: False)
    sup = Supervisor([crash])
    step = sup.start(30, threading.Event())
    assert step.failed and step.culprit == "m" and "code 3" in step.reason
    assert tail_lines(tmp_path / "m.log") == ["boom"]
    sup.stop()


def test_timeout_during_start_is_a_failed_step(tmp_path: Path) -> None:
    slow = Component(name="slow", argv=[sys.executable, "-c", "import signal; signal.pause()"],
                     log_path=tmp_path / "slow.log", ready=lambda: False)
    sup = Supervisor([slow])
    step = sup.start(0.2, threading.Event())
    sup.stop()
    assert step.failed and step.reason == "slow was not ready after 0.2 s"


def test_stop_event_interrupts_start(tmp_path: Path) -> None:
    stop = threading.Event()
    stop.set()
    never = Component(name="n", argv=[sys.executable, "-c", "import signal; signal.pause()"],
                      log_path=tmp_path / "n.log", ready=lambda: False)
    sup = Supervisor([never])
    step = sup.start(30, stop)
    sup.stop()
    assert step.failed and step.culprit is None and step.reason == "interrupted"


def test_watch_reports_non_critical_exit_and_returns_critical_one(tmp_path: Path) -> None:
    sup = Supervisor([family(tmp_path, "core"), family(tmp_path, "extra", critical=False)])
    assert sup.start(30, threading.Event()).done
    reported: list[Exited] = []

    def on_exit(event: Exited) -> None:
        reported.append(event)
        os.kill(sup.pids["core"], signal.SIGKILL)

    os.kill(sup.pids["extra"], signal.SIGKILL)
    died = sup.watch(threading.Event(), on_exit)
    sup.stop()
    assert reported == [Exited("extra", -9, False)]
    assert died == Exited("core", -9, True)


def test_tail_of_missing_log_is_empty(tmp_path: Path) -> None:
    assert tail_lines(tmp_path / "nope.log") == []
