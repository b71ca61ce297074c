"""Master failover benchmark: 3 masters on ZooKeeper, 10,000 agents, 2 frameworks; SIGKILL the leader.

Layout: a local ZooKeeper server (`dcos.testing.zookeeper.ZooKeeperServer`, Debian package,
in a temporary work dir), three real master processes (``python -m dcos.master --zk
zk://127.0.0.1:<port>/dcos --zk-session-timeout S``), 10,000 simulated agents in child
processes (`benchmarks/_sim_agents.py`: the internal SUBSCRIBE/stream protocol in msgpack; a
`dcos.state.detector.ZooKeeperDetector` per process tells them the leader; each re-registers
with the new leader with its agent id, its session secret and its running tasks, following
the leader as `dcos.agent.master_session` does: backoff while the dead leader is still
named, at once when the detector names the next one), and in this process two SDK frameworks
(`dcos.sdk.SchedulerDriver` with ``master="zk://..."``: they follow the leader on their own).
Each framework launches one task on each of half of the agents (every task runs until the
end), then holds every other offer it gets.

Then, three times: SIGKILL the leading master, measure, and restart the killed master (it
joins the election again as a standby; the cluster, its agents and tasks stay across the
three runs). Measured from the SIGKILL (``time.perf_counter``: CLOCK_MONOTONIC, the same
clock in every process):

- new leader: until the lowest ``json.info_`` znode is another master's AND that master
  answers an operator call as the leader (``GET_HEALTH`` 200, not 307/503);
- agents back: until 99 % and 100 % of the agents had REGISTERED from the new leader (also
  given from the moment the new leader answered);
- first offer: until a framework got its first offer from the new leader;
- tasks: every task still TASK_RUNNING in the new leader's GET_TASKS, still running on its
  agent, and no terminal update seen by either framework (none lost).

Goals printed next to them: a new leader within the ZooKeeper session timeout + 1 s; all
10,000 agents back within 5 s of it (Mesos 1.5 needed about 4.5 s to re-register 10,000
agents; Borg about 10 s to fail over). Figures are the median of the 3 runs (each shown).

The machine matters: every process shares its cores (on the 2-core machine this was
written on, the simulated agents cost about as much CPU per re-registration as the master,
so the figures are the master's and the simulator's together). ``--profile`` samples the new
leader with py-spy while the agents come back.

Usage: .venv/bin/python benchmarks/failover.py [--quick] [--agents N] [--runs R]
       [--session-timeout S] [--profile] [--keep] [-v]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import multiprocessing as mp
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from typing import Any

import _common
from _common import CpuMeter, median, use_uvloop

log = logging.getLogger("bench")

AGENT_RESOURCES = "cpus:8;mem:8192;disk:8192;ports:[31000-31999]"
TASK_NEEDS = "cpus:0.5;mem:64"
GOAL_LEADER_SLACK = 1.0  # new leader within the session timeout + this
GOAL_AGENTS = 5.0  # every agent back within this after the new leader
MESOS_AGENTS = 4.5  # Mesos 1.5: 10,000 agents re-registered
BORG_FAILOVER = 10.0


# -- the agents process -------------------------------------------------------------------


def agents_process(
    conn: Any, zk_url: str, first: int, n: int, session_timeout: float, verbose: bool
) -> None:
    """Child process: `n` simulated agents (numbered from `first`) following the leader
    through ZooKeeper; answers the benchmark's requests on `conn` (see `_agents_main`)."""
    use_uvloop()
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING,
                        format="%(asctime)s agents %(name)s: %(message)s")  # fmt: skip
    asyncio.run(_agents_main(conn, zk_url, first, n, session_timeout))


async def _agents_main(conn: Any, zk_url: str, first: int, n: int, session_timeout: float) -> None:
    """Requests (tuples on `conn`): ``("since", t, timeout)`` -> the first registration time
    of each agent after `t` (None: not back within `timeout`); ``("tasks",)`` -> (running
    tasks, unacked updates, registered agents); ``("stop",)``."""
    from _sim_agents import Fleet

    from dcos.common.gc_tuning import tune_gc
    from dcos.protocol.resources import Resources
    from dcos.state.detector import ZooKeeperDetector
    from dcos.state.zk import parse_zk_url

    detector = ZooKeeperDetector(parse_zk_url(zk_url), session_timeout=session_timeout)
    await detector.start()
    fleet = Fleet(n, detector, Resources.parse(AGENT_RESOURCES).to_dict(), first_index=first)
    t0 = time.perf_counter()
    await fleet.start(timeout=300)
    tune_gc()
    conn.send(time.perf_counter() - t0)
    loop = asyncio.get_running_loop()
    lag = asyncio.ensure_future(_loop_lag()) if log.isEnabledFor(logging.INFO) else None
    while True:
        req = await loop.run_in_executor(None, conn.recv)
        if req[0] == "stop":
            break
        if req[0] == "tasks":
            conn.send((fleet.running_tasks(), fleet.unacked_count(), fleet.registered_count()))
        elif req[0] == "since":
            conn.send(await _back_since(fleet, req[1], req[2]))
    if lag is not None:
        lag.cancel()
    await fleet.stop()
    await detector.close()


async def _loop_lag() -> None:
    """With -v: log when this process's event loop was held up for over 100 ms."""
    while True:
        t = time.perf_counter()
        await asyncio.sleep(0.01)
        late = time.perf_counter() - t - 0.01
        if late > 0.1:
            log.info("agents process: event loop held up %.0f ms", late * 1000)


async def _back_since(fleet: Any, t: float, timeout: float) -> list[float | None]:
    """Wait (up to `timeout`) until every agent registered after `t`; their first times."""
    first: dict[int, float] = {}
    seen = 0
    changed = asyncio.Event()
    fleet.on_change = changed.set
    deadline = time.perf_counter() + timeout
    try:
        while True:
            for when, index in fleet.registrations[seen:]:
                if when > t:
                    first.setdefault(index, when)
            seen = len(fleet.registrations)
            left = deadline - time.perf_counter()
            if len(first) >= len(fleet.agents) or left <= 0:
                break
            changed.clear()
            try:
                await asyncio.wait_for(changed.wait(), left)
            except TimeoutError:
                pass
    finally:
        fleet.on_change = None
    log.info("failed SUBSCRIBEs so far: %s", fleet.failures)
    return [first.get(a.index) for a in fleet.agents]


# -- the masters --------------------------------------------------------------------------


@dataclass
class Masters:
    """Three ``python -m dcos.master`` processes on one ZooKeeper URL."""

    zk_url: str
    work_dir: str
    session_timeout: float
    log_level: str = "WARNING"
    ports: list[int] = field(default_factory=list)
    procs: list[subprocess.Popen[bytes] | None] = field(default_factory=list)

    def start(self, i: int) -> None:
        from dcos.testing.processes import free_port

        while len(self.ports) <= i:
            self.ports.append(free_port())
            self.procs.append(None)
        work = os.path.join(self.work_dir, f"master-{i}")
        os.makedirs(work, exist_ok=True)
        argv = [sys.executable, "-m", "dcos.master", "--ip", "127.0.0.1",
                "--port", str(self.ports[i]), "--work-dir", work, "--zk", self.zk_url,
                "--zk-session-timeout", str(self.session_timeout), "--log-level", self.log_level,
                "--log-file", os.path.join(work, "master.log")]  # fmt: skip
        self.procs[i] = subprocess.Popen(argv, cwd=_common.ROOT, stdin=subprocess.DEVNULL,
                                         stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
                                         start_new_session=True)  # fmt: skip

    def index_of(self, port: int) -> int:
        return self.ports.index(port)

    def kill(self, i: int) -> None:
        proc = self.procs[i]
        if proc is not None:
            proc.send_signal(signal.SIGKILL)
            proc.wait()

    def stop(self) -> None:
        for proc in self.procs:
            if proc is not None and proc.poll() is None:
                proc.terminate()
        for proc in self.procs:
            if proc is None:
                continue
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def log_tail(self, i: int, lines: int = 20) -> str:
        try:
            with open(os.path.join(self.work_dir, f"master-{i}", "master.log"), "rb") as f:
                return b"\n".join(f.read().splitlines()[-lines:]).decode(errors="replace")
        except OSError:
            return "(no log)"


async def answers_as_leader(session: Any, port: int) -> bool:
    """The master on `port` answers an operator call itself (not 307 to another, not 503)."""
    import aiohttp

    try:
        async with session.post(f"http://127.0.0.1:{port}/api/v1", json={"type": "GET_HEALTH"},
                                allow_redirects=False,
                                timeout=aiohttp.ClientTimeout(total=2)) as r:  # fmt: skip
            await r.read()
            return r.status == 200
    except (aiohttp.ClientError, OSError, TimeoutError):
        return False


# -- the frameworks -----------------------------------------------------------------------


class Holder:
    """A framework that launches one task per offer until `budget` tasks, then holds every
    offer; counts what it sees (first offer after `mark`, terminal updates)."""

    def __init__(self, name: str, budget: int) -> None:
        from dcos.sdk import TaskNeeds

        self.name = name
        self.needs = TaskNeeds.parse(TASK_NEEDS)
        self.budget = budget
        self.seq = 0
        self.running: set[str] = set()
        self.terminal: dict[str, str] = {}  # task id -> state
        self.offers = 0
        self.mark = float("inf")  # perf_counter of the SIGKILL
        self.first_offer: float | None = None  # first offer after `mark`
        self.changed = asyncio.Event()
        self._background: set[asyncio.Task[None]] = set()

    async def resource_offers(self, driver: Any, offers: list[Any]) -> None:
        from dcos.sdk import OfferPacker, task_info

        now = time.perf_counter()
        self.offers += len(offers)
        if now > self.mark and self.first_offer is None:
            self.first_offer = now
            self.changed.set()
        for offer in offers:
            if self.budget <= 0:
                continue  # held
            fit = OfferPacker(offer).take(self.needs)
            if not fit.ok:
                continue
            self.budget -= 1
            self.seq += 1
            tid = f"{self.name}-{self.seq}"
            task = task_info(name=tid, task_id=tid, agent_id=offer.agent_id,
                             resources=fit.resources, command="sleep 1000000")  # fmt: skip
            t = asyncio.ensure_future(driver.launch([offer], [task], refuse_seconds=3600))
            self._background.add(t)
            t.add_done_callback(self._background.discard)

    async def status_update(self, driver: Any, status: Any) -> None:
        if status.state == "TASK_RUNNING":
            self.running.add(status.task_id)
        elif status.terminal:
            self.running.discard(status.task_id)
            self.terminal[status.task_id] = status.state
        self.changed.set()


# -- one failover -------------------------------------------------------------------------


@dataclass
class Run:
    leader_s: float = float("nan")
    agents99_s: float = float("nan")
    agents100_s: float = float("nan")
    back: int = 0
    offer_s: float = float("nan")
    tasks_ok: bool = False
    tasks_note: str = ""
    cpu: str = ""  # CPU share of each process from the kill until every agent was back


async def failover(args: argparse.Namespace, masters: Masters, detector: Any, session: Any,
                   agents: AgentProcs, frameworks: list[Holder],
                   pids: dict[str, int]) -> Run:  # fmt: skip
    """Kill the leader, measure, restart it as a standby."""
    run = Run()
    old = detector.current()
    assert old is not None, "no leader before the kill"
    victim = masters.index_of(old.port)
    loop = asyncio.get_running_loop()
    for fw in frameworks:
        fw.first_offer = None
    procs = {f"master-{i}": p.pid for i, p in enumerate(masters.procs) if i != victim and p}
    meter = CpuMeter({**procs, **pids})
    meter.start()
    t_kill = time.perf_counter()
    for fw in frameworks:
        fw.mark = t_kill
    masters.kill(victim)
    log.info("killed master %d (port %d)", victim, old.port)
    back = loop.run_in_executor(None, agents.since, t_kill, args.agent_timeout)
    while True:  # the new leader: lowest znode another master's, answering as leader
        new = detector.current()
        if new is not None and new.port != old.port and await answers_as_leader(session, new.port):
            break
        if time.perf_counter() - t_kill > 60:
            raise RuntimeError("no new leader within 60 s:\n" + "\n".join(
                masters.log_tail(i) for i in range(3) if i != victim))  # fmt: skip
        await asyncio.sleep(0.01)
    t_leader = time.perf_counter()
    run.leader_s = t_leader - t_kill
    spy = start_spy(args, masters.procs[masters.index_of(new.port)])
    times = await back
    if spy is not None:
        print_spy(spy, "the new leader from its election until every agent was back")
    meter.stop()
    run.cpu = meter.describe()
    got = sorted(t - t_kill for t in times if t is not None)
    if log.isEnabledFor(logging.INFO):
        steps: dict[float, int] = {}
        for t in got:
            steps[round(t, 1)] = steps.get(round(t, 1), 0) + 1
        log.info("agents back per 0.1 s after the kill: %s", sorted(steps.items()))
    run.back = len(got)
    n = len(times)
    if len(got) >= int(0.99 * n + 0.999):
        run.agents99_s = got[int(0.99 * n + 0.999) - 1]
    if len(got) == n:
        run.agents100_s = got[-1]
    deadline = time.perf_counter() + 30
    while any(fw.first_offer is None for fw in frameworks) and time.perf_counter() < deadline:
        await asyncio.sleep(0.05)
    firsts = [fw.first_offer for fw in frameworks if fw.first_offer is not None]
    if firsts:
        run.offer_s = min(firsts) - t_kill
    run.tasks_ok, run.tasks_note = await check_tasks(session, new.port, agents, frameworks, args)
    masters.start(victim)  # back as a standby
    await wait_contenders(detector, 3, 30)
    return run


def start_spy(args: argparse.Namespace, proc: Any) -> tuple[Any, str] | None:
    """With ``--profile``: py-spy sampling `proc` (a master) until `print_spy`."""
    if not args.profile or proc is None:
        return None
    spy = shutil.which("py-spy", path=os.path.dirname(sys.executable)) or shutil.which("py-spy")
    if spy is None:
        print("--profile: py-spy is not installed (.venv/bin/pip install py-spy)")
        return None
    out = os.path.join(args.work_dir, f"spy-{proc.pid}-{time.monotonic_ns()}.txt")
    argv = [spy, "record", "-f", "raw", "-r", "200", "-o", out, "-p", str(proc.pid)]
    return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL), out


def print_spy(spy: tuple[Any, str], title: str, limit: int = 25) -> None:
    """Stop py-spy; the functions with the most samples: own, then dcos/ cumulative."""
    proc, path = spy
    proc.send_signal(signal.SIGINT)
    proc.wait(30)
    own: dict[str, int] = {}
    cum: dict[str, int] = {}
    try:
        with open(path) as f:
            for line in f:
                stack, _, n = line.rstrip().rpartition(" ")
                frames = stack.split(";")
                own[frames[-1]] = own.get(frames[-1], 0) + int(n)
                for frame in set(frames):
                    if "dcos/" in frame:
                        cum[frame] = cum.get(frame, 0) + int(n)
    except OSError as exc:
        print(f"--profile: no samples ({exc})")
        return
    for what, counts in (("own samples", own), ("dcos/ cumulative samples", cum)):
        print(f"\n--- profile: {title} (by {what}, 200 Hz) ---")
        for frame, samples in sorted(counts.items(), key=lambda kv: -kv[1])[:limit]:
            print(f"{samples:7d}  {frame}")


def _recv(conn: Any, timeout: float = 400.0) -> Any:
    """An agents process's answer; RuntimeError when it died or is silent for `timeout`."""
    deadline = time.perf_counter() + timeout
    while not conn.poll(0.5):
        if time.perf_counter() > deadline:
            raise RuntimeError(f"an agents process did not answer within {timeout:g} s")
    try:
        return conn.recv()
    except EOFError:
        raise RuntimeError("an agents process died (see its traceback above)") from None


class AgentProcs:
    """The simulated agents, split over `k` processes (each with its own fleet and detector,
    as the agents of different machines would be): requests go to all, answers are merged."""

    def __init__(self, zk_url: str, n: int, k: int, session_timeout: float,
                 verbose: bool) -> None:  # fmt: skip
        ctx = mp.get_context("spawn")
        self.procs: list[Any] = []
        self.conns: list[Any] = []
        for j in range(k):
            first, last = n * j // k, n * (j + 1) // k
            parent, child = ctx.Pipe()
            proc = ctx.Process(target=agents_process, daemon=True,
                               args=(child, zk_url, first, last - first, session_timeout,
                                     verbose))  # fmt: skip
            proc.start()
            child.close()  # the process holds it: its death is an EOF here
            self.procs.append(proc)
            self.conns.append(parent)

    def pids(self) -> dict[str, int]:
        return {f"agents-{j}": p.pid or 0 for j, p in enumerate(self.procs)}

    def ask(self, *req: Any) -> list[Any]:
        """Send `req` to every agents process; their answers (blocking: run it off the loop)."""
        for conn in self.conns:
            conn.send(req)
        return [_recv(conn) for conn in self.conns]

    def registered_s(self) -> float:
        """Seconds until every process had registered its agents (blocking)."""
        return max(_recv(conn) for conn in self.conns)

    def tasks(self) -> tuple[int, int, int]:
        """(running tasks, unacknowledged updates, registered agents) of all processes."""
        got = self.ask("tasks")
        return (sum(g[0] for g in got), sum(g[1] for g in got), sum(g[2] for g in got))

    def since(self, t: float, timeout: float) -> list[float | None]:
        return [when for got in self.ask("since", t, timeout) for when in got]

    def stop(self) -> None:
        for conn in self.conns:
            try:
                conn.send(("stop",))
            except OSError:
                pass
        for proc in self.procs:
            proc.join(10)
            if proc.is_alive():
                proc.kill()


async def check_tasks(session: Any, port: int, agents: AgentProcs, frameworks: list[Holder],
                      args: argparse.Namespace) -> tuple[bool, str]:  # fmt: skip
    """Every task launched is TASK_RUNNING in the new leader, on its agent and for its
    framework (no terminal update)."""
    async with session.post(f"http://127.0.0.1:{port}/api/v1", json={"type": "GET_TASKS"}) as r:
        body = await r.json(content_type=None)
    tasks = body["get_tasks"]
    states: dict[str, int] = {}
    for t in tasks.get("tasks", []):
        states[t["state"]] = states.get(t["state"], 0) + 1
    others = {k: len(v) for k, v in tasks.items() if k != "tasks" and v}
    running, unacked, registered = await asyncio.get_running_loop().run_in_executor(
        None, agents.tasks)  # fmt: skip
    lost = sum(len(fw.terminal) for fw in frameworks)
    total = args.tasks
    ok = states == {"TASK_RUNNING": total} and not others and running == total and not lost
    note = (f"master: {states} {others or ''}; agents run {running}; "
            f"terminal updates seen by the frameworks: {lost}")  # fmt: skip
    return ok, note


async def wait_contenders(detector: Any, n: int, timeout: float) -> None:
    deadline = time.perf_counter() + timeout
    while len(detector.masters()) < n:
        if time.perf_counter() > deadline:
            raise RuntimeError(f"fewer than {n} masters in the election after {timeout:.0f} s")
        await asyncio.sleep(0.05)


# -- the whole benchmark ------------------------------------------------------------------


async def bench(
    args: argparse.Namespace,
    zk_url: str,
    masters: Masters,
    agents: AgentProcs,
    pids: dict[str, int],
) -> list[Run]:
    import aiohttp

    from dcos.sdk import SchedulerDriver
    from dcos.state.detector import ZooKeeperDetector
    from dcos.state.zk import parse_zk_url

    detector = ZooKeeperDetector(parse_zk_url(zk_url), session_timeout=args.session_timeout)
    await detector.start()
    session = aiohttp.ClientSession()
    loop = asyncio.get_running_loop()
    drivers = []
    try:
        t0 = time.perf_counter()
        reg_s = await loop.run_in_executor(None, agents.registered_s)
        print(f"setup: {args.agents:,} agents registered in {reg_s:.1f} s")
        half = args.tasks // 2
        frameworks = [Holder("a", half), Holder("b", args.tasks - half)]
        for fw in frameworks:
            d = SchedulerDriver(fw, {"name": f"bench-{fw.name}", "roles": ["*"]}, zk_url,
                                failover_timeout=3600.0)  # fmt: skip
            await d.start()
            drivers.append(d)
        t1 = time.perf_counter()
        while sum(len(fw.running) for fw in frameworks) < args.tasks:
            if time.perf_counter() - t1 > 120:
                raise RuntimeError(f"only {sum(len(fw.running) for fw in frameworks)} of "
                                   f"{args.tasks} tasks running after 120 s")  # fmt: skip
            await asyncio.sleep(0.1)
        while (await loop.run_in_executor(None, agents.tasks))[1]:
            await asyncio.sleep(0.1)  # every update acknowledged
        print(
            f"setup: {args.tasks:,} tasks running in {time.perf_counter() - t1:.1f} s "
            f"(whole setup {time.perf_counter() - t0:.1f} s)"
        )
        await wait_contenders(detector, 3, 30)
        runs = []
        for i in range(args.runs):
            await asyncio.sleep(args.settle)
            run = await failover(args, masters, detector, session, agents, frameworks, pids)
            runs.append(run)
            print(f"run {i + 1}: new leader {run.leader_s:.2f} s; agents back: 99% "
                  f"{run.agents99_s:.2f} s, 100% {run.agents100_s:.2f} s "
                  f"(+{run.agents100_s - run.leader_s:.2f} s after the new leader) "
                  f"({run.back:,}/{args.agents:,}); first offer {run.offer_s:.2f} s; "
                  f"tasks {'all running' if run.tasks_ok else 'NOT ALL RUNNING'} "
                  f"({run.tasks_note}); CPU until all back: {run.cpu}")  # fmt: skip
        return runs
    finally:
        for d in drivers:
            await d.stop(failover=True)
        await session.close()
        await detector.close()


def report(args: argparse.Namespace, runs: list[Run]) -> None:
    def goal(ok: bool) -> str:
        return "MET" if ok else "NOT MET"

    def med(values: list[float]) -> float:
        return median([v for v in values])

    leader = med([r.leader_s for r in runs])
    a99 = med([r.agents99_s for r in runs])
    a100 = med([r.agents100_s for r in runs])
    after = med([r.agents100_s - r.leader_s for r in runs])
    offer = med([r.offer_s for r in runs])
    limit = args.session_timeout + GOAL_LEADER_SLACK
    print(f"\nmedian of {len(runs)} failovers (from the SIGKILL of the leader):")
    print(f"new leader: {leader:.2f} s   goal <= session timeout {args.session_timeout:g} s "
          f"+ {GOAL_LEADER_SLACK:g} s = {limit:g} s: {goal(leader <= limit)}")  # fmt: skip
    print(f"agents re-registered: 99% {a99:.2f} s, 100% {a100:.2f} s "
          f"= {after:.2f} s after the new leader answered")  # fmt: skip
    print(f"  goal: all {args.agents:,} back within {GOAL_AGENTS:g} s of the new leader: "
          f"{goal(after <= GOAL_AGENTS)}; anchors: Mesos 1.5 ~{MESOS_AGENTS:g} s for 10,000 "
          f"agents ({after / MESOS_AGENTS:.2f}x), Borg ~{BORG_FAILOVER:g} s to fail over "
          f"(whole failover here {a100:.2f} s = {a100 / BORG_FAILOVER:.2f}x)")  # fmt: skip
    print(f"first offer from the new leader: {offer:.2f} s "
          f"({offer - leader:+.2f} s from its first answer to our probe)")  # fmt: skip
    ok = all(r.tasks_ok for r in runs)
    print(
        f"tasks: {args.tasks:,} running before; after every failover "
        f"{'all still running, none lost' if ok else 'SOME LOST OR NOT RUNNING'}: {goal(ok)}"
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="smoke run: 500 agents, 500 tasks")
    p.add_argument("--agents", type=int, default=10_000)
    p.add_argument("--tasks", type=int, default=None, help="tasks in all (default: = agents)")
    p.add_argument("--runs", type=int, default=3, help="failovers (the median is reported)")
    p.add_argument("--session-timeout", type=float, default=3.0, help="ZooKeeper session (s)")
    p.add_argument("--agent-timeout", type=float, default=60.0,
                   help="how long to wait for every agent to come back")  # fmt: skip
    p.add_argument("--settle", type=float, default=1.0, help="quiet seconds before each kill")
    p.add_argument("--agent-procs", type=int, default=max(1, min(4, (os.cpu_count() or 2) // 4)),
                   help="processes the agents run in (default: a quarter of the cores, 1-4; "
                        "on 2 cores a second one slowed the master down)")  # fmt: skip
    p.add_argument("--keep", action="store_true", help="keep the work dir (master logs)")
    p.add_argument("--profile", action="store_true",
                   help="py-spy the new leader while the agents come back")  # fmt: skip
    p.add_argument("-v", "--verbose", action="store_true", help="log progress")
    args = p.parse_args()
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(asctime)s %(name)s: %(message)s")  # fmt: skip
    if args.quick:
        args.agents = min(args.agents, 500)
    if args.tasks is None:
        args.tasks = args.agents
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if hard < args.agents + 1000:
        sys.exit(f"failover benchmark: needs {args.agents + 1000} open files, the limit is {hard}")
    use_uvloop()
    from dcos.testing.zookeeper import ZooKeeperServer

    work = args.work_dir = tempfile.mkdtemp(prefix="dcos-bench-failover-")
    print(
        f"failover benchmark: 3 masters (--zk, ZooKeeper session timeout "
        f"{args.session_timeout:g} s) on a local ZooKeeper, {args.agents:,} simulated agents "
        f"({AGENT_RESOURCES}) in {args.agent_procs} processes, 2 SDK frameworks with "
        f"{args.tasks:,} running "
        f"tasks; {args.runs} failovers: SIGKILL the leader, restart it as a standby"
    )
    print(
        f"layout: ZooKeeper JVM | 3 masters | {args.agent_procs} agents processes | "
        f"frameworks + measurement; "
        f"{os.cpu_count()} cores"
    )
    zk = ZooKeeperServer(os.path.join(work, "zk"))
    masters: Masters | None = None
    agents: AgentProcs | None = None
    try:
        zk.start()
        zk_url = zk.url("/dcos")
        masters = Masters(zk_url, work, args.session_timeout)
        for i in range(3):
            masters.start(i)
        agents = AgentProcs(zk_url, args.agents, args.agent_procs, args.session_timeout,
                            args.verbose)  # fmt: skip
        pids = {**agents.pids(), "frameworks": os.getpid(),
                "zookeeper": zk.proc.pid if zk.proc else 0}  # fmt: skip
        runs = asyncio.run(bench(args, zk_url, masters, agents, pids))
        report(args, runs)
    finally:
        if agents is not None:
            agents.stop()
        if masters is not None:
            masters.stop()
        zk.stop()
        if args.keep:
            print(f"work dir kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
