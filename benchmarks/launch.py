"""Launch benchmark: real ``/bin/true`` tasks per second through one agent, against raw spawning.

Measured in the same run, each for ``--seconds`` with ``--concurrency`` launches in flight:

1. raw ``asyncio.create_subprocess_exec('/bin/true')`` on uvloop and on the default asyncio
   loop, the agent's old spawn path (``subprocess.Popen`` + a pidfd reader, on both loops:
   why uvloop was slower here), and a serial ``os.posix_spawn`` + ``waitpid`` loop: the
   baseline is the fastest raw loop.
2. the agent's `ProcessContainerizer` driven directly (``launch`` + ``wait`` of configs built
   by the command executor's `build_config`), on uvloop (what ``python -m dcos.agent`` runs)
   and on the default loop: each task is spawned, reaped and journaled by the agent's task
   launcher process (`dcos.agent.launcher`), as in the agent; and once more with cgroup
   isolation (``cgroups/cpu,cgroups/mem,cgroups/pids``, where this host can: root and
   writable cgroups): the launcher creates each task's cgroups, sets their limits, spawns the
   task inside them and removes them after it ends. Goals: 0.8x raw, 0.5x with cgroups.
3. end to end: a master (child process), one real agent (``python -m dcos.agent``, its own
   process, default isolation: cgroups when root) and an SDK framework (this process)
   launching the tasks (argv ``/bin/true``, no shell), ``--per-accept`` per ACCEPT, at most
   ``--concurrency`` in flight; tasks/s are TASK_FINISHED seen by the framework (goal 0.5x
   raw); the CPU each process (the agent's launcher included) spent per task (goal: agent <
   0.8 ms); launch-to-RUNNING from the ACCEPT call to the framework seeing TASK_RUNNING,
   under that load and unloaded (one at a time, ``--probes``; goal p99 < 5 ms).

With ``--secure`` (issue 13) the end-to-end measurement runs twice, security off then on:
HTTPS with mutual TLS between framework, master and agent, every call authenticated, the
``run_tasks`` ACL checked at each launch, and the tasks run as the unprivileged default task
user (``nobody``: sandbox chowned, ``setpriv``); both figures are printed with their ratio
(goal: TLS + authentication cost at most 20 % of tasks/s).

Usage: .venv/bin/python benchmarks/launch.py [--quick] [--secure]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import shutil
import subprocess
import sys
import tempfile
import time
from typing import Any

import _common
import _secure
from _common import CpuMeter, fmt_ms, percentiles, use_uvloop

GOAL_RATIO = 0.8
CGROUPS_GOAL_RATIO = 0.5
E2E_GOAL_RATIO = 0.5
UNLOADED_P99_GOAL = 0.005
AGENT_CPU_GOAL_MS = 0.8
CGROUPS = "cgroups/cpu,cgroups/mem,cgroups/pids"
COMMAND = "/bin/true"


# -- 1. raw ----------------------------------------------------------------------------------


async def raw_asyncio(seconds: float, concurrency: int) -> tuple[float, list[float]]:
    """(spawns/s, spawn-to-exit latencies) of create_subprocess_exec('/bin/true')."""
    lat: list[float] = []
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        while time.perf_counter() < deadline:
            t0 = time.perf_counter()
            proc = await asyncio.create_subprocess_exec(COMMAND, stdin=subprocess.DEVNULL)
            await proc.wait()
            lat.append(time.perf_counter() - t0)

    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return len(lat) / (time.perf_counter() - t0), lat


async def popen_pidfd(seconds: float, concurrency: int) -> float:
    """Spawns/s of the old agent-side path: ``subprocess.Popen`` (vfork) in the loop's thread,
    the end awaited through a pidfd reader, then ``waitpid`` (why uvloop was slower here)."""
    loop = asyncio.get_running_loop()
    n = 0
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal n
        while time.perf_counter() < deadline:
            proc = subprocess.Popen([COMMAND], stdin=subprocess.DEVNULL, start_new_session=True)
            fd = os.pidfd_open(proc.pid)
            gone = loop.create_future()
            loop.add_reader(fd, gone.set_result, None)
            try:
                await gone
            finally:
                loop.remove_reader(fd)
                os.close(fd)
            proc.wait()
            n += 1

    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return n / (time.perf_counter() - t0)


def raw_posix_spawn(seconds: float) -> float:
    """Spawns/s of a serial os.posix_spawn + waitpid loop."""
    n = 0
    env = dict(os.environ)
    deadline = time.perf_counter() + seconds
    t0 = time.perf_counter()
    while time.perf_counter() < deadline:
        pid = os.posix_spawn(COMMAND, [COMMAND], env)
        os.waitpid(pid, 0)
        n += 1
    return n / (time.perf_counter() - t0)


# -- 2. the containerizer directly ---------------------------------------------------------


def cgroups_isolators() -> list[Any] | None:
    """The cgroups isolators of `CGROUPS` under a benchmark root; None where this host cannot
    enforce all three controllers (not root, or no writable hierarchy)."""
    from dcos.agent.isolators.select import build_isolators

    choice = build_isolators(CGROUPS, cgroups_root="dcos-py-bench",
                             agent_key=f"launch-{os.getpid()}")  # fmt: skip
    names = set(choice.names.split(","))
    if not {"cgroups/cpu", "cgroups/mem", "cgroups/pids"} <= names:
        return None
    return list(choice.isolators)


async def containerizer_direct(
    seconds: float, concurrency: int, work_dir: str, isolators: list[Any] | None = None,
    per_task: dict[str, float] | None = None,
) -> tuple[float, list[float]]:
    """(tasks/s, launch latencies) of ProcessContainerizer.launch + wait of command tasks
    (with `isolators`: those, e.g. cgroups; else the default posix one); `per_task` gets the
    CPU ms per task of this process and of the launcher."""
    per_task = per_task if per_task is not None else {}
    from dcos.agent.command_executor import build_config
    from dcos.agent.containerizer.process import ProcessContainerizer
    from dcos.protocol.ids import AgentID, FrameworkID, new_container_id
    from dcos.testing import make_task_info

    # runtime records and exit statuses kept for recovery, as the agent keeps them
    containerizer = ProcessContainerizer(isolators, meta_dir=os.path.join(work_dir, "meta"))
    await containerizer.recover(None)
    import psutil

    me = psutil.Process()
    launcher = psutil.Process((await containerizer.launcher()).pid)
    cpu0 = {"agent": sum(me.cpu_times()[:2]), "launcher": sum(launcher.cpu_times()[:2])}
    lat: list[float] = []
    done = 0
    seq = 0
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal done, seq
        while time.perf_counter() < deadline:
            seq += 1
            task = make_task_info(f"t{seq}", agent_id="a1", command=[COMMAND])
            cid = new_container_id()
            t0 = time.perf_counter()
            config = build_config(task, framework_id=FrameworkID("f1"), agent_id=AgentID("a1"),
                                  container_id=cid, work_dir=work_dir,
                                  agent_endpoint="127.0.0.1:5051", hostname="127.0.0.1")  # fmt: skip
            result = await containerizer.launch(cid, config)
            lat.append(time.perf_counter() - t0)
            if not result.ok:
                raise RuntimeError(result.error)
            await containerizer.wait(cid)
            done += 1

    t0 = time.perf_counter()
    try:
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - t0
        cpu = {"agent": sum(me.cpu_times()[:2]), "launcher": sum(launcher.cpu_times()[:2])}
    finally:
        await containerizer.close()  # drops the benchmark's cgroup roots
    # CPU ms per task of this process (the agent's side) and of the launcher
    per_task.update({k: 1000 * (cpu[k] - cpu0[k]) / max(1, done) for k in cpu})
    return done / elapsed, lat


# -- 3. end to end ---------------------------------------------------------------------------


def agent_isolation(port: int, security: str | None = None) -> str:
    """The isolation the end-to-end agent says it enforces (its /state), or "unknown"."""
    import json
    import urllib.request

    url = f"{_secure.scheme(security)}://127.0.0.1:{port}/state"
    try:
        with urllib.request.urlopen(url, timeout=5,
                                    context=_secure.client_ssl(security)) as resp:
            return str(json.loads(resp.read()).get("isolation") or "unknown")
    except (OSError, ValueError):
        return "unknown"


async def end_to_end(args: argparse.Namespace, master_port: int, agent_pid: int,
                     master_pid: int) -> dict[str, Any]:  # fmt: skip
    from control_plane import BenchScheduler

    from dcos.sdk import SchedulerDriver

    sched = BenchScheduler(args.per_accept, args.e2e_inflight, command=[COMMAND])
    security = args.security
    info = {"name": "launch-bench", **({"user": "nobody"} if security else {})}
    driver = SchedulerDriver(sched, info,  # type: ignore[arg-type]
                             f"{_secure.scheme(security)}://127.0.0.1:{master_port}",
                             ssl=_secure.client_ssl(security))
    await driver.start()
    await asyncio.sleep(args.warmup)
    pids = {"master": master_pid, "agent": agent_pid, "framework": os.getpid()}
    launcher = None
    for _ in range(100):  # the agent starts its launcher as it starts
        launcher = launcher_pid(os.path.join(args.work_dir, "agent"))
        if launcher is not None and sched.finished:
            break
        await asyncio.sleep(0.1)
    if launcher is not None:
        pids["launcher"] = launcher
    meter = CpuMeter(pids)
    meter.start()
    done0, t0 = len(sched.finished), time.perf_counter()
    await asyncio.sleep(args.seconds)
    window = time.perf_counter() - t0
    meter.stop()
    tasks = len(sched.finished) - done0
    out: dict[str, Any] = {
        "rate": tasks / window,
        "loaded": [lat for (s, lat) in sched.running if t0 <= s <= t0 + window],
        "failed": sched.failed,
        "cpu": meter.describe(),
        # CPU seconds per finished task, in ms, of each process
        "per_task": {n: 1000 * share * window / max(1, tasks) for n, share in meter.share.items()},
    }
    sched.budget = 0
    while sched.inflight > 0:
        sched.changed.clear()
        await asyncio.wait_for(sched.changed.wait(), 10)
    await asyncio.sleep(0.2)
    sched.running.clear()
    sched.max_inflight, sched.per_accept, sched.budget = 1, 1, args.probes
    sched.pump(driver)
    while sched.budget > 0 or sched.inflight > 0:
        sched.changed.clear()
        await asyncio.wait_for(sched.changed.wait(), 10)
    out["unloaded"] = [lat for (_, lat) in sched.running]
    await driver.stop()
    return out


def launcher_pid(agent_work_dir: str) -> int | None:
    """The pid of the task launcher serving the agent with `agent_work_dir` (None if none)."""
    from dcos.agent.launcher import running_pid

    return running_pid(os.path.join(os.path.abspath(agent_work_dir), "meta", "containers"))


def run_end_to_end(args: argparse.Namespace) -> dict[str, Any]:
    from control_plane import master_process

    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe()
    security = args.security
    master = ctx.Process(target=master_process, daemon=True,
                         args=(child, os.path.join(args.work_dir, "master"), None,
                               security))  # fmt: skip
    master.start()
    agent = None
    try:
        port = parent.recv()
        import socket

        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            agent_port = sock.getsockname()[1]
        secure_flags = ["--security-dir", security, "--tls-name", "agent"] if security else []
        agent = subprocess.Popen(
            [sys.executable, "-m", "dcos.agent",
             "--master", f"{_secure.scheme(security)}://127.0.0.1:{port}",
             "--port", str(agent_port),
             "--work-dir", os.path.join(args.work_dir, "agent"), "--log-level", "WARNING",
             "--resources", "cpus:64;mem:65536;disk:65536;ports:[31000-31999]",
             *secure_flags, *args.agent_flag],
            cwd=_common.ROOT,
        )  # fmt: skip
        out = asyncio.run(end_to_end(args, port, agent.pid, master.pid or 0))
        out["isolation"] = agent_isolation(agent_port, security)
        return out
    finally:
        if agent is not None:
            agent.terminate()
            agent.wait(10)
        parent.send("stop")
        master.join(10)
        if master.is_alive():
            master.kill()


# -- report ----------------------------------------------------------------------------------


def run_on(kind: str, coro: Any) -> Any:
    """Run `coro` on a fresh event loop of `kind` ("uvloop" or "asyncio")."""
    if kind == "uvloop":
        import uvloop

        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            return runner.run(coro)
    with asyncio.Runner(loop_factory=asyncio.new_event_loop) as runner:
        return runner.run(coro)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="2 s per measurement, 30 probes")
    p.add_argument("--seconds", type=float, default=5.0, help="each measurement's length")
    p.add_argument("--warmup", type=float, default=1.0)
    p.add_argument("--concurrency", type=int, default=8, help="launches in flight")
    p.add_argument("--per-accept", type=int, default=16, help="tasks per ACCEPT (end to end)")
    p.add_argument(
        "--e2e-inflight",
        type=int,
        default=64,
        help="most tasks launched and not ended (end to end)",
    )
    p.add_argument("--probes", type=int, default=100, help="unloaded launch-to-RUNNING probes")
    p.add_argument("--skip-e2e", action="store_true", help="raw and containerizer only")
    p.add_argument("--skip-direct", action="store_true", help="raw and end to end only")
    p.add_argument("--secure", action="store_true",
                   help="end to end twice, security off then on (TLS + authentication, tasks "
                   "as nobody), and compare")
    p.add_argument(
        "--agent-flag",
        action="append",
        default=[],
        help="extra flag for python -m dcos.agent (e.g. --agent-flag=--no-checkpoint)",
    )
    args = p.parse_args()
    if args.quick:
        args.seconds, args.probes, args.warmup = 2.0, 30, 0.5
    args.per_accept = min(args.per_accept, args.e2e_inflight)
    use_uvloop()
    args.work_dir = tempfile.mkdtemp(prefix="dcos-bench-launch-")
    args.security = None
    c = args.concurrency
    print(f"launch benchmark: {COMMAND} tasks, {c} in flight, {args.seconds:g} s per "
          f"measurement; {os.cpu_count()} cores")  # fmt: skip
    try:
        raw_rates = {}
        for kind in ("uvloop", "asyncio"):
            rate, lat = run_on(kind, raw_asyncio(args.seconds, c))
            raw_rates[kind] = rate
            print(f"raw create_subprocess_exec on {kind} ({c} in flight): {rate:,.0f}/s "
                  f"(spawn-to-exit p50 {fmt_ms(percentiles(lat)[0])})")  # fmt: skip
        for kind in ("uvloop", "asyncio"):
            rate = run_on(kind, popen_pidfd(args.seconds, c))
            print(f"old agent-side spawn path (Popen + pidfd reader) on {kind} ({c} in flight): "
                  f"{rate:,.0f}/s")  # fmt: skip
        spawn_rate = raw_posix_spawn(args.seconds)
        print(f"raw posix_spawn + waitpid (serial): {spawn_rate:,.0f}/s")
        raw = max(spawn_rate, *raw_rates.values())
        print(f"baseline (the fastest raw loop): {raw:,.0f}/s")
        for kind in () if args.skip_direct else ("uvloop", "asyncio"):
            work = os.path.join(args.work_dir, f"direct-{kind}")
            cpu: dict[str, float] = {}
            cz_rate, cz_lat = run_on(kind, containerizer_direct(args.seconds, c, work, None, cpu))
            p50, p99 = percentiles(cz_lat)
            ok = "MET" if cz_rate / raw >= GOAL_RATIO else "NOT MET"
            print(f"agent ProcessContainerizer directly on {kind} (build_config + launch + "
                  f"wait, {c} in flight): {cz_rate:,.0f} tasks/s = {cz_rate / raw:.2f}x raw, "
                  f"{cz_rate / raw_rates[kind]:.2f}x raw on the same loop (launch call p50 "
                  f"{fmt_ms(p50)}, p99 {fmt_ms(p99)}; CPU per task: agent side "
                  f"{cpu.get('agent', 0):.2f} ms, launcher {cpu.get('launcher', 0):.2f} ms)   "
                  f"goal >= {GOAL_RATIO}x raw: {ok}")  # fmt: skip
        isolators = None if args.skip_direct else cgroups_isolators()
        if isolators is None and not args.skip_direct:
            print(f"agent ProcessContainerizer with {CGROUPS}: skipped (this host cannot "
                  "enforce them: needs root and writable cgroups)")  # fmt: skip
        elif isolators is not None:
            work = os.path.join(args.work_dir, "direct-cgroups")
            cpu = {}
            cz_rate, cz_lat = run_on("uvloop", containerizer_direct(args.seconds, c, work,
                                                                    isolators, cpu))  # fmt: skip
            p50, p99 = percentiles(cz_lat)
            ok = "MET" if cz_rate / raw >= CGROUPS_GOAL_RATIO else "NOT MET"
            print(f"agent ProcessContainerizer with {CGROUPS} directly on uvloop ({c} in "
                  f"flight): {cz_rate:,.0f} tasks/s = {cz_rate / raw:.2f}x raw, "
                  f"{cz_rate / raw_rates['uvloop']:.2f}x raw on the same loop (launch call p50 "
                  f"{fmt_ms(p50)}, p99 {fmt_ms(p99)}; CPU per task: agent side "
                  f"{cpu.get('agent', 0):.2f} ms, launcher {cpu.get('launcher', 0):.2f} ms)   "
                  f"goal >= {CGROUPS_GOAL_RATIO}x raw: {ok}")  # fmt: skip
        if not args.skip_e2e:
            res = run_end_to_end(args)
            report_e2e(args, res, raw, "")
            if args.secure:
                base = args.work_dir
                args.work_dir = os.path.join(base, "secure")
                os.makedirs(args.work_dir)
                args.security = _secure.make_dir(args.work_dir)
                try:
                    sec = run_end_to_end(args)
                finally:
                    args.work_dir = base
                report_e2e(args, sec, raw, " with security on (HTTPS + mutual TLS, "
                           "authenticated calls, run_tasks ACL, tasks as nobody)")
                print(_secure.ratio_line("end to end", res["rate"], sec["rate"]))
    finally:
        shutil.rmtree(args.work_dir, ignore_errors=True)


def report_e2e(args: argparse.Namespace, res: dict[str, Any], raw: float, what: str) -> None:
    """The end-to-end figures of one run (`what` says how it differs)."""
    lp50, lp99 = percentiles(res["loaded"])
    up50, up99 = percentiles(res["unloaded"])
    flags = " " + " ".join(args.agent_flag) if args.agent_flag else ""
    print(f"end to end{what} (master process + agent process{flags}, isolation "
          f"{res['isolation']}, + SDK framework, "
          f"{args.per_accept} tasks per ACCEPT, at most {args.e2e_inflight} in flight): "
          f"{res['rate']:,.0f} tasks/s = {res['rate'] / raw:.2f}x raw   goal >= "
          f"{E2E_GOAL_RATIO}x: "
          f"{'MET' if res['rate'] / raw >= E2E_GOAL_RATIO else 'NOT MET'} "
          f"({res['failed']} failed; CPU share of one core: {res['cpu']})")  # fmt: skip
    per_task = res["per_task"]
    agent_ms = per_task.get("agent", float("nan"))
    print(f"  agent CPU per task: {agent_ms:.2f} ms   goal < {AGENT_CPU_GOAL_MS} ms: "
          f"{'MET' if agent_ms < AGENT_CPU_GOAL_MS else 'NOT MET'} (per task, ms: "
          + ", ".join(f"{n} {v:.2f}" for n, v in per_task.items()) + ")")  # fmt: skip
    print(f"  launch-to-RUNNING under load: p50 {fmt_ms(lp50)}, p99 {fmt_ms(lp99)} "
          f"({len(res['loaded'])} tasks)")  # fmt: skip
    print(f"  launch-to-RUNNING unloaded (one at a time, {len(res['unloaded'])} probes):"
          f" p50 {fmt_ms(up50)}, p99 {fmt_ms(up99)}   goal p99 < "
          f"{UNLOADED_P99_GOAL * 1000:g} ms: "
          f"{'MET' if up99 < UNLOADED_P99_GOAL else 'NOT MET'}")  # fmt: skip


if __name__ == "__main__":
    main()
