"""The supervisor: start-up decisions (sans-IO) and real process start/stop with no leftovers."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import orjson
import pytest

from dcos.cli.restarts import NEVER_RESTART, RestartDecision, RestartPolicy, decide_restart
from dcos.cli.supervisor import (
    Component,
    Event,
    Exited,
    Phase,
    ProcState,
    Recovered,
    Step,
    Supervisor,
    startup_step,
    tail_lines,
)
from dcos.common import lifeline
from dcos.testing import pid_alive, wait_until

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


def kill_orphans(tmp: Path, *names: str) -> None:
    """SIGKILL what the FAMILY processes `names` started in their own sessions: once their
    parent was killed with SIGKILL they are init's, out of the supervisor's reach."""
    for name in names:
        with contextlib.suppress(ProcessLookupError):
            os.kill(recorded_pids(tmp, name)[2], signal.SIGKILL)


def test_watch_reports_non_critical_exit_and_returns_critical_one(tmp_path: Path) -> None:
    sup = Supervisor([family(tmp_path, "core"), family(tmp_path, "extra", critical=False)])
    try:
        assert sup.start(30, threading.Event()).done
        reported: list[Event] = []

        def on_exit(event: Event) -> None:
            reported.append(event)
            os.kill(sup.pids["core"], signal.SIGKILL)

        os.kill(sup.pids["extra"], signal.SIGKILL)
        died = sup.watch(threading.Event(), on_exit)
    finally:
        sup.stop()
        kill_orphans(tmp_path, "core", "extra")
    assert reported == [Exited("extra", -9, False, gave_up="restarts are off")]
    assert died == Exited("core", -9, True, gave_up="restarts are off")
    # The killed components' own-group children went with them.
    assert not pid_alive(recorded_pids(tmp_path, "extra")[1])


def test_restart_backoff_grows_and_a_crash_loop_is_given_up() -> None:
    policy = RestartPolicy(initial_s=1, factor=2, max_delay_s=5, max_restarts=4, window_s=60)
    exits: list[float] = []
    delays = []
    for now in (100, 101, 103, 107, 112):
        exits.append(now)
        delays.append(decide_restart(policy, exits, now).delay_s)
    assert delays[:4] == [1, 2, 4, 5]  # capped at max_delay_s
    assert delays[4] is None
    assert decide_restart(policy, exits, 112).reason == "it exited 5 times within 60 s (crash loop)"
    # Long after the last crash the count (and the delay) starts again.
    assert decide_restart(policy, [*exits, 500], 500) == RestartDecision(1)
    assert decide_restart(NEVER_RESTART, [1], 1) == RestartDecision(None, "restarts are off")


COUNTER = r"""
import os, signal, sys
path = sys.argv[1]
n = int(open(path).read()) + 1 if os.path.exists(path) else 1
open(path, "w").write(str(n))
print("run", n, flush=True)
open(path + ".pid", "w").write(str(os.getpid()))
signal.pause()
"""


def test_a_killed_component_is_restarted_with_backoff_and_reported_ready(tmp_path: Path) -> None:
    runs, pid = tmp_path / "runs", tmp_path / "runs.pid"

    def ready() -> bool:  # the current process has counted its run
        return pid.exists() and pid.read_text() == str(sup.pids["agent-0"])

    comp = Component(name="agent-0", argv=[sys.executable, "-c", COUNTER, str(runs)],
                     log_path=tmp_path / "agent.log", ready=ready,
                     ready_what="registered with the master")
    sup = Supervisor([comp], pid_file=tmp_path / "pids.json",
                     restart=RestartPolicy(initial_s=0.2, max_restarts=2, window_s=60), poll_s=0.02)
    stop = threading.Event()
    events: list[Event] = []

    def on_event(event: Event) -> None:
        events.append(event)
        if isinstance(event, Recovered) and event.restart == 1:
            os.kill(event.pid, signal.SIGKILL)  # crash again: the delay doubles
        elif isinstance(event, Recovered) or event.restart_in_s is None:
            stop.set()

    try:
        assert sup.start(30, threading.Event()).done
        first = sup.pids["agent-0"]
        os.kill(first, signal.SIGKILL)
        assert sup.watch(stop, on_event) is None
        last = sup.pids["agent-0"]
        assert orjson.loads((tmp_path / "pids.json").read_bytes())["components"] == sup.pids
    finally:
        sup.stop()
    assert [type(e).__name__ for e in events] == ["Exited", "Recovered", "Exited", "Recovered"]
    assert events[0] == Exited("agent-0", -9, True, restart_in_s=0.2, restart=1)
    assert events[2] == Exited("agent-0", -9, True, restart_in_s=0.4, restart=2)
    assert events[3] == Recovered("agent-0", 2, last, "registered with the master")
    assert last != first and runs.read_text() == "3" and not pid_alive(last)
    log = tail_lines(tmp_path / "agent.log")
    assert log[0] == "run 1" and "restart 1 of agent-0 (exit code -9)" in log[1]
    assert log[-1] == "run 3"


def test_a_crash_loop_of_a_critical_component_ends_watch(tmp_path: Path) -> None:
    crash = Component(name="master", argv=[sys.executable, "-c", "raise SystemExit(7)"],
                      log_path=tmp_path / "m.log", ready=lambda: False)
    sup = Supervisor([crash], restart=RestartPolicy(initial_s=0.01, max_restarts=2), poll_s=0.01)
    sup._spawn(crash)  # as start() would have, had it become ready
    events: list[Event] = []
    try:
        died = sup.watch(threading.Event(), events.append)
    finally:
        sup.stop()
    assert [e.restart for e in events if isinstance(e, Exited)] == [1, 2]
    assert died == Exited("master", 7, True,
                          gave_up="it exited 3 times within 120 s (crash loop)")


DIES_WITH_PARENT = r"""
import signal, subprocess, sys
from dcos.common.lifeline import die_with_parent
child = subprocess.Popen([sys.executable, "-c", sys.argv[1]], preexec_fn=die_with_parent())
print(child.pid, flush=True)
signal.pause()
"""
TERM_LOGGER = r"""
import signal, sys, time
signal.signal(signal.SIGTERM, lambda *_: (print("SIGTERM", flush=True), sys.exit(0)))
print("ready", flush=True)
signal.pause()
"""


@pytest.mark.skipif(not lifeline.supported(), reason="no prctl(PR_SET_PDEATHSIG) here")
def test_a_child_gets_sigterm_when_its_parent_is_killed(tmp_path: Path) -> None:
    log = tmp_path / "child.log"
    with open(log, "wb") as out:
        parent = subprocess.Popen(
            [sys.executable, "-c", DIES_WITH_PARENT, TERM_LOGGER],
            stdout=subprocess.PIPE, stderr=out, text=True)
    try:
        assert parent.stdout is not None
        first_two = {parent.stdout.readline().strip() for _ in range(2)}  # its pid, "ready"
        assert "ready" in first_two, first_two
        child = int((first_two - {"ready"}).pop())
        parent.kill()
        parent.wait()
        wait_until(lambda: not pid_alive(child), "the child to stop with its parent", timeout=10)
        assert "SIGTERM" in parent.stdout.read()  # it was told, and stopped as on SIGTERM
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()


def test_tail_of_missing_log_is_empty(tmp_path: Path) -> None:
    assert tail_lines(tmp_path / "nope.log") == []


HA_CLUSTER = [comp("zookeeper", gate=True), comp("master-0"), comp("master-1"),
              comp("master-2", gate=True), comp("agent-0")]


def ha_states(**phases: Phase) -> dict[str, ProcState]:
    out = {c.name: ProcState(Phase.NOT_STARTED) for c in HA_CLUSTER}
    out.update({k.replace("_", "-"): ProcState(v) for k, v in phases.items()})
    return out


def test_a_gate_waits_for_every_component_before_it() -> None:
    assert startup_step(HA_CLUSTER, ha_states(), 0, NEVER, 30) == Step(start=("zookeeper",))
    step = startup_step(HA_CLUSTER, ha_states(zookeeper=Phase.READY), 0, NEVER, 30)
    assert step == Step(start=("master-0", "master-1", "master-2"))
    # master-2 (the gate) is ready but master-0 is not: the agents wait.
    waiting = ha_states(zookeeper=Phase.READY, master_0=Phase.STARTING, master_1=Phase.READY,
                        master_2=Phase.READY)
    assert startup_step(HA_CLUSTER, waiting, 0, NEVER, 30) == Step()
    all_masters = ha_states(zookeeper=Phase.READY, master_0=Phase.READY, master_1=Phase.READY,
                            master_2=Phase.READY)
    assert startup_step(HA_CLUSTER, all_masters, 0, NEVER, 30) == Step(start=("agent-0",))


# Records, when it gets SIGTERM, whether the process named in argv[2] (a pid file) still ran.
OBSERVER = r"""
import os, signal, sys, time
def on_term(*_):
    other = int(open(sys.argv[2]).read().split()[0])
    try:
        os.kill(other, 0)
        alive = "alive"
    except ProcessLookupError:
        alive = "gone"
    open(sys.argv[1], "w").write(alive)
    sys.exit(0)
signal.signal(signal.SIGTERM, on_term)
open(sys.argv[1] + ".ready", "w").close()
signal.pause()
"""


def test_a_stop_last_component_is_stopped_after_the_others_exited(tmp_path: Path) -> None:
    seen = tmp_path / "seen"
    zk = Component(name="zookeeper", argv=[sys.executable, "-c", OBSERVER, str(seen),
                                           str(tmp_path / "b.pids")],
                   log_path=tmp_path / "zk.log", ready=(tmp_path / "seen.ready").exists,
                   gate=True, stop_last=True)
    sup = Supervisor([zk, family(tmp_path, "b")], grace_s=5)
    assert sup.start(30, threading.Event()).done
    member = recorded_pids(tmp_path, "b")[0]
    sup.stop()
    # ZooKeeper was asked to stop only once the other component had exited.
    assert seen.read_text() == "gone"
    assert not pid_alive(member) and not pid_alive(sup.pids["zookeeper"])
