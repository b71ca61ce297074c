"""Control-plane benchmark: one master over real HTTP, 1,000 simulated agents, one SDK framework.

Process layout (three processes, uvloop in each): the master runs alone in a child process
(SQLite registry in a temporary work dir) so that what is measured is the master; the 1,000
agents (real `dcos.agent.agent.Agent` shells with a `SimContainerizer`: no processes) run in
a second child process, and the framework (`dcos.sdk.SchedulerDriver`) in this one. Each
simulator side then has a core of its own to spend, and the CPU report says which process
was saturated. Everything talks HTTP on loopback.

The framework holds the offers it gets and keeps at most ``--inflight`` tasks launched and not
yet ended: each ACCEPT launches up to ``--per-accept`` tasks on one offer (one LAUNCH). Every
task goes STAGING -> STARTING -> RUNNING -> FINISHED (it ends at once, or after
``--task-seconds``); the agents batch whatever updates are due into one UPDATE call, the
driver acknowledges each update (implicit acknowledgements). We report for a window of
``--seconds``:

- tasks/s through the master (TASK_FINISHED seen by the framework),
- launch-to-RUNNING (from the ACCEPT call to the framework seeing TASK_RUNNING) p50/p99 under
  that load, and unloaded (``--probes`` tasks launched one at a time after the window),
- messages the master handled per second: HTTP calls (scheduler and agent channel) plus
  events written on its streams (SUBSCRIBE streams of the framework and the agents),
- an aiohttp hello-world (POST, 202, server in a child process with uvloop, ``--concurrency``
  keep-alive clients) measured in the same run, and the ratio of the two,
- CPU used by each process in the window (which side was the bottleneck),
- under read load (``--readers``, 200 by default; 0 skips it): a second window of the same
  length while that many clients in a fourth process read ``/master/state`` in a loop (as a
  dashboard or a CLI would; gzip accepted, bodies not decoded): tasks/s in that window against
  the unloaded one (goal >= 0.7x) and the ``/master/state`` latency p50/p99 (goal p99 < 100 ms).

With ``--secure`` (issue 13) the whole run is done twice, security off then on (HTTPS with
mutual TLS everywhere, every request authenticated: the framework and the readers present a
certificate, the agents theirs; ACLs checked; the agents poll the policy), and the tasks/s of
both are printed with their ratio (goal: TLS + authentication cost at most 20 %).

Usage: .venv/bin/python benchmarks/control_plane.py [--quick] [--seconds S] [--readers N]
       [--profile master|agents|framework] [--secure]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import logging
import multiprocessing as mp
import os
import pstats
import shutil
import tempfile
import time
from collections import deque
from typing import Any

import _common  # noqa: F401  (puts the repo root on sys.path)
import _secure
from _common import CpuMeter, fmt_ms, hello_world_rate, percentiles, use_uvloop

from dcos.common.gc_tuning import tune_gc

log = logging.getLogger("bench")

GOAL_TASKS = 2000.0
GOAL_RATIO = 0.3
GOAL_P99 = 0.005
GOAL_READ_RATIO = 0.7
GOAL_READ_P99 = 0.1
AGENT_RESOURCES = "cpus:8;mem:8192;disk:8192;ports:[31000-31999]"
TASK_NEEDS = "cpus:0.1;mem:32"


# -- the master process -------------------------------------------------------------------


def master_process(conn: Any, work_dir: str, profile: str | None,
                   security: str | None = None) -> None:
    """Child process: a master with message counters; sends its port, serves until told.
    With `profile`, cProfile runs during the measurement window (``/bench/profile``) and
    its stats are written to that path. With `security` (a security directory) it serves
    HTTPS and authenticates every request."""
    use_uvloop()
    prof = cProfile.Profile() if profile else None
    asyncio.run(_master_main(conn, work_dir, prof, security))
    if prof is not None:
        prof.dump_stats(profile)  # type: ignore[arg-type]


async def _master_main(conn: Any, work_dir: str, prof: cProfile.Profile | None,
                       security: str | None = None) -> None:
    import socket

    from aiohttp import web

    from dcos.master.app import create_master
    from dcos.master.config import MasterConfig
    from dcos.master.http import agent_channel, scheduler_api, streams

    counters = {"calls": 0, "events": 0}
    original_send = streams.EventStream.send

    def counting_send(self: Any, event: Any) -> None:
        counters["events"] += 1
        original_send(self, event)

    streams.EventStream.send = counting_send  # type: ignore[method-assign]

    # calls are counted by wrapping the two API handlers before the routes are built (an
    # aiohttp middleware would add its own per-request cost to the master's figures)
    def counting(handler: Any) -> Any:
        async def wrapper(request: web.Request) -> web.StreamResponse:
            counters["calls"] += 1
            return await handler(request)

        return wrapper

    scheduler_api.handle = counting(scheduler_api.handle)  # type: ignore[assignment]
    agent_channel.handle = counting(agent_channel.handle)  # type: ignore[assignment]

    async def report(request: web.Request) -> web.Response:
        if prof is not None and request.query.get("profile") == "on":
            prof.enable()
        elif prof is not None and request.query.get("profile") == "off":
            prof.disable()
        return web.json_response(counters)

    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = MasterConfig(ip="127.0.0.1", port=port, work_dir=work_dir, log_level="WARNING",
                          security_dir=security)
    shell = create_master(config)
    shell.app.router.add_get("/bench/counters", report)
    runner = web.AppRunner(shell.app, handler_cancellation=True, access_log=None,
                           shutdown_timeout=1.0)  # fmt: skip
    await runner.setup()
    server_ssl = shell.security.server_ssl if shell.security is not None else None
    await web.SockSite(runner, sock, backlog=4096, ssl_context=server_ssl).start()
    tune_gc()  # as ``python -m dcos.master`` does once it serves
    conn.send(port)
    await asyncio.get_running_loop().run_in_executor(None, conn.recv)  # until told to stop
    await runner.cleanup()


# -- the framework --------------------------------------------------------------------------


class BenchScheduler:
    """Holds offers; keeps at most `inflight` tasks going and launches only whole batches of
    `per_accept` tasks per ACCEPT (flow control that keeps the batches full); times them."""

    def __init__(
        self, per_accept: int, inflight: int, command: Any = "true", needs: str = TASK_NEEDS
    ) -> None:
        from dcos.sdk import TaskNeeds

        self.command = command  # a shell string or an argv list (see dcos.sdk.task_info)
        self.needs = TaskNeeds.parse(needs)
        self.per_accept = per_accept
        self.max_inflight = inflight
        self.budget = 1 << 62  # tasks still to launch
        self.held: deque[Any] = deque()
        self.inflight = 0
        self.seq = 0
        self.t0: dict[str, float] = {}
        self.running: list[tuple[float, float]] = []  # (t0, latency)
        self.finished: list[float] = []  # times TASK_FINISHED was seen
        self.failed = 0
        self.accepts = 0
        self.declines = 0
        self.offers = 0
        self.offer_events = 0
        self.errors = 0
        self.changed = asyncio.Event()
        self._background: set[asyncio.Task[None]] = set()

    # Scheduler callbacks (duck-typed: the driver looks them up by name)
    async def resource_offers(self, driver: Any, offers: list[Any]) -> None:
        self.offer_events += 1
        self.offers += len(offers)
        self.held.extend(offers)
        self.pump(driver)

    async def status_update(self, driver: Any, status: Any) -> None:
        now = time.perf_counter()
        state = status.state
        if state == "TASK_RUNNING":
            t0 = self.t0.pop(status.task_id, None)
            if t0 is not None:
                self.running.append((t0, now - t0))
        elif status.terminal:
            self.inflight -= 1
            if state == "TASK_FINISHED":
                self.finished.append(now)
            else:
                self.failed += 1
            self.changed.set()
            self.pump(driver)

    def pump(self, driver: Any) -> None:
        """Launch on held offers while there is room for more tasks in flight."""
        from dcos.sdk import OfferPacker, task_info

        while (
            self.held and 0 < min(self.per_accept, self.budget) <= self.max_inflight - self.inflight
        ):
            offer = self.held.popleft()
            packer = OfferPacker(offer)
            tasks: list[dict[str, Any]] = []
            room = min(self.per_accept, self.max_inflight - self.inflight, self.budget)
            while len(tasks) < room:
                fit = packer.take(self.needs)
                if not fit.ok:
                    break
                self.seq += 1
                tid = f"t{self.seq}"
                tasks.append(
                    task_info(
                        name=tid,
                        task_id=tid,
                        agent_id=offer.agent_id,
                        resources=fit.resources,
                        command=self.command,
                    )
                )
            self.inflight += len(tasks)
            self.budget -= len(tasks)
            task = asyncio.ensure_future(self._launch(driver, offer, tasks))
            self._background.add(task)
            task.add_done_callback(self._background.discard)

    async def _launch(self, driver: Any, offer: Any, tasks: list[dict[str, Any]]) -> None:
        t0 = time.perf_counter()
        for t in tasks:
            self.t0[t["task_id"]["value"]] = t0
        if tasks:
            self.accepts += 1
        else:
            self.declines += 1
        try:
            await driver.launch([offer], tasks, refuse_seconds=0)
        except Exception as exc:  # noqa: BLE001 - counted and reported
            log.warning("ACCEPT failed: %s", exc)
            self.errors += 1
            self.inflight -= len(tasks)
            self.changed.set()


# -- the readers ----------------------------------------------------------------------------


def readers_process(conn: Any, port: int, n: int, path: str,
                    security: str | None = None) -> None:
    """Child process: `n` clients reading `path` in a loop between ``"start"`` and
    ``("stop", t0, t1)``; then sends back the latencies of the reads that started between
    t0 and t1 (``time.perf_counter``, the same clock in every process) and the counts."""
    use_uvloop()
    asyncio.run(_readers_main(conn, port, n, path, security))


async def _readers_main(conn: Any, port: int, n: int, path: str,
                        security: str | None = None) -> None:
    import aiohttp

    loop = asyncio.get_running_loop()
    url = f"{_secure.scheme(security)}://127.0.0.1:{port}{path}"
    lat: list[tuple[float, float]] = []
    counts = {"reads": 0, "bytes": 0, "errors": 0}
    sizes: list[int] = []
    stop = asyncio.Event()
    connector = aiohttp.TCPConnector(limit=0, ssl=_secure.client_ssl(security) or True)
    async with aiohttp.ClientSession(connector=connector, auto_decompress=False) as session:

        async def reader() -> None:
            while not stop.is_set():
                t = time.perf_counter()
                try:
                    async with session.get(url) as r:
                        body = await r.read()
                        ok = r.status == 200
                except aiohttp.ClientError:
                    ok, body = False, b""
                if not ok:
                    counts["errors"] += 1
                    await asyncio.sleep(0.01)
                    continue
                sizes.append(len(body))
                lat.append((t, time.perf_counter() - t))

        assert await loop.run_in_executor(None, conn.recv) == "start"
        tasks = [asyncio.ensure_future(reader()) for _ in range(n)]
        what, t0, t1 = await loop.run_in_executor(None, conn.recv)
        stop.set()
        await asyncio.wait(tasks, timeout=10)
    window = [d for t, d in lat if t0 <= t <= t1]
    counts["reads"] = len(window)
    counts["bytes"] = sum(s for (t, _), s in zip(lat, sizes, strict=True) if t0 <= t <= t1)
    conn.send((window, counts))


async def _read_window(
    args: argparse.Namespace, sched: BenchScheduler, readers: tuple[Any, int], pids: dict[str, int]
) -> dict[str, Any]:
    """A second window with the readers reading: tasks/s and the readers' latencies."""
    conn, pid = readers
    conn.send("start")
    await asyncio.sleep(args.warmup)
    meter = CpuMeter({**pids, "readers": pid})
    done0, t0 = len(sched.finished), time.perf_counter()
    meter.start()
    await asyncio.sleep(args.seconds)
    meter.stop()
    window = time.perf_counter() - t0
    tasks = len(sched.finished) - done0
    conn.send(("stop", t0, t0 + window))
    lat, counts = await asyncio.get_running_loop().run_in_executor(None, conn.recv)
    return {"tasks": tasks, "window": window, "lat": lat, "cpu": meter.describe(), **counts}


# -- the run --------------------------------------------------------------------------------


def agents_process(
    conn: Any, port: int, n: int, work_dir: str, task_seconds: float, profile: str | None,
    security: str | None = None,
) -> None:
    """Child process: `n` simulated agents; sends the registration time once all are
    registered, then runs until told to stop (``"profile on"``/``"profile off"`` switch a
    cProfile whose stats go to `profile`)."""
    use_uvloop()
    prof = cProfile.Profile() if profile else None
    asyncio.run(_agents_main(conn, port, n, work_dir, task_seconds, prof, security))
    if prof is not None:
        prof.dump_stats(profile)  # type: ignore[arg-type]


async def _agents_main(
    conn: Any, port: int, n: int, work_dir: str, task_seconds: float, prof: Any,
    security: str | None = None,
) -> None:
    t = time.perf_counter()
    # one "user 'nobody' cannot reach the work dir" warning per simulated agent: not news
    logging.getLogger("dcos.agent.security").setLevel(logging.ERROR)
    agents, session = await start_agents(n, port, work_dir, task_seconds, security)
    tune_gc()  # as ``python -m dcos.agent`` does once it has started
    conn.send(time.perf_counter() - t)
    loop = asyncio.get_running_loop()
    while (msg := await loop.run_in_executor(None, conn.recv)) != "stop":
        if prof is not None:
            prof.enable() if msg == "profile on" else prof.disable()
    await asyncio.gather(*(a.stop() for a in agents))
    await session.close()


async def start_agents(
    n: int, port: int, work_dir: str, task_seconds: float, security: str | None = None
) -> tuple[list[Any], Any]:
    """Start `n` simulated agents sharing one client session (mutual TLS with the agents'
    certificate when `security` is given); wait until all registered."""
    import aiohttp

    from dcos.agent.agent import Agent
    from dcos.agent.config import AgentConfig
    from dcos.testing import SimContainerizer, always

    ssl = _secure.client_ssl(security, "agent") or True
    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0, ssl=ssl))
    agents = []
    for i in range(n):
        config = AgentConfig(
            master=f"{_secure.scheme(security)}://127.0.0.1:{port}", ip="127.0.0.1",
            port=20000 + i, hostname=f"sim-{i}",
            work_dir=os.path.join(work_dir, f"agent-{i}"), resources=AGENT_RESOURCES,
            serve_http=False, detect=False, status_update_retry=10.0,
            checkpoint=False, log_max_size=0,  # simulators: no disk writes, no log rotation
            security_dir=security,
        )  # fmt: skip
        agents.append(Agent(config, SimContainerizer(behaviour=always(task_seconds)),
                            session=session))  # fmt: skip
    await asyncio.gather(*(a.start() for a in agents))
    await asyncio.wait_for(asyncio.gather(*(a.registered.wait() for a in agents)), 120)
    return agents, session


async def counters(session: Any, port: int, profile: str = "",
                   security: str | None = None) -> dict[str, int]:
    """The master's message counters; `profile` "on"/"off" switches its profiler."""
    url = f"{_secure.scheme(security)}://127.0.0.1:{port}/bench/counters?profile={profile}"
    async with session.get(url) as r:
        return await r.json()


async def simulate(
    args: argparse.Namespace,
    port: int,
    master_pid: int,
    agents: tuple[Any, int],
    readers: tuple[Any, int] | None = None,
) -> dict[str, Any]:
    """The framework side (this process); `agents` is (pipe, pid) of the agents process,
    `readers` that of the readers process (None: no read-load window)."""
    import aiohttp

    from dcos.sdk import SchedulerDriver

    out: dict[str, Any] = {}
    agents_conn, agents_pid = agents
    loop = asyncio.get_running_loop()
    out["register_s"] = await loop.run_in_executor(None, agents_conn.recv)
    log.info("%d agents registered", args.agents)
    sched = BenchScheduler(args.per_accept, args.inflight)
    security = args.security
    client_ssl = _secure.client_ssl(security)
    info = {"name": "bench", **({"user": "nobody"} if security else {})}  # ACLs: never root
    driver = SchedulerDriver(sched, info,  # type: ignore[arg-type]
                             f"{_secure.scheme(security)}://127.0.0.1:{port}",
                             max_connections=args.connections, ssl=client_ssl)  # fmt: skip
    await driver.start()
    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=client_ssl or True))
    await asyncio.sleep(args.warmup)
    meter = CpuMeter({"master": master_pid, "agents": agents_pid, "framework": os.getpid()})
    prof = cProfile.Profile() if args.profile == "framework" else None
    c0 = await counters(session, port, "on", security)
    agents_conn.send("profile on")
    done0, t0 = len(sched.finished), time.perf_counter()
    meter.start()
    if prof is not None:
        prof.enable()
    await asyncio.sleep(args.seconds)
    if prof is not None:
        prof.disable()
    meter.stop()
    agents_conn.send("profile off")
    log.info("window over: %d tasks finished", len(sched.finished) - done0)
    window = time.perf_counter() - t0
    c1 = await counters(session, port, "off", security)
    out["tasks"] = len(sched.finished) - done0
    out["window"] = window
    out["loaded_lat"] = [lat for (s, lat) in sched.running if t0 <= s <= t0 + window]
    out["calls"] = c1["calls"] - c0["calls"]
    out["events"] = c1["events"] - c0["events"]
    out["cpu"] = meter.describe()
    out["shares"] = dict(meter.share)
    out["framework"] = (
        f"{sched.accepts} ACCEPTs, {sched.declines} DECLINEs, {sched.offers} "
        f"offers in {sched.offer_events} OFFERS events, {len(sched.held)} held"
    )
    out["failed"] = sched.failed
    if readers is not None:
        log.info("read-load window: %d readers of /master/state", args.readers)
        pids = {"master": master_pid, "agents": agents_pid, "framework": os.getpid()}
        out["read"] = await _read_window(args, sched, readers, pids)
    # drain, then the unloaded latency probe: one task at a time
    sched.budget = 0
    deadline = time.perf_counter() + 10
    while sched.inflight > 0 and time.perf_counter() < deadline:
        sched.changed.clear()
        await asyncio.wait([asyncio.ensure_future(sched.changed.wait())], timeout=0.5)
    await asyncio.sleep(0.2)  # let freed resources come back as offers
    log.info("drained (%d in flight); probing", sched.inflight)
    sched.running.clear()
    sched.max_inflight, sched.per_accept = 1, 1
    sched.budget = args.probes
    sched.pump(driver)
    while sched.budget > 0 or sched.inflight > 0:
        sched.changed.clear()
        try:
            await asyncio.wait_for(sched.changed.wait(), 5)
        except TimeoutError:
            log.warning("probes stuck: %d in flight, %d offers held, %d to go", sched.inflight,
                        len(sched.held), sched.budget)  # fmt: skip
            break
    out["unloaded_lat"] = [lat for (_, lat) in sched.running]
    log.info("probes done (%d); stopping", len(out["unloaded_lat"]))
    await driver.stop()
    await session.close()
    log.info("driver stopped")
    if prof is not None:
        out["profile"] = prof
    return out


def print_profile(source: Any, title: str, limit: int = 25) -> None:
    """Top functions by own time, then our own (dcos/) functions by cumulative time."""
    for order, pattern, what in (
        ("tottime", "", "own time"),
        ("cumulative", "/dcos/", "cumulative, dcos/ only"),
    ):
        buf = io.StringIO()
        stats = pstats.Stats(source, stream=buf)
        stats.sort_stats(order).print_stats(pattern, limit) if pattern else stats.sort_stats(
            order
        ).print_stats(limit)
        lines = [ln for ln in buf.getvalue().splitlines() if ln.strip()]
        start = next((i for i, ln in enumerate(lines) if "ncalls" in ln), 0)
        print(f"\n--- profile: {title} (by {what}) ---")
        print("\n".join(lines[start : start + limit + 1]))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="3 s window, 50 probes")
    p.add_argument("--seconds", type=float, default=10.0, help="measurement window")
    p.add_argument("--warmup", type=float, default=1.0)
    p.add_argument("--agents", type=int, default=1000)
    p.add_argument("--per-accept", type=int, default=8, help="tasks per ACCEPT")
    p.add_argument("--inflight", type=int, default=256, help="most tasks launched, not ended")
    p.add_argument("--task-seconds", type=float, default=0.0, help="how long a task runs")
    p.add_argument("--connections", type=int, default=16, help="SDK driver connection pool")
    p.add_argument("--concurrency", type=int, default=16, help="hello-world clients")
    p.add_argument("--probes", type=int, default=200, help="unloaded launch-to-RUNNING probes")
    p.add_argument("--readers", type=int, default=200,
                   help="clients reading /master/state in the read-load window (0: none)")
    p.add_argument("--profile", choices=["master", "agents", "framework"],
                   help="cProfile one process during the window")  # fmt: skip
    p.add_argument("--secure", action="store_true",
                   help="run twice, security off then on (TLS + authentication), and compare")
    p.add_argument("-v", "--verbose", action="store_true", help="log progress (stderr)")
    args = p.parse_args()
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(asctime)s %(name)s: %(message)s")  # fmt: skip
    if args.quick:
        args.seconds, args.probes, args.warmup = 3.0, 50, 0.5
    use_uvloop()
    args.work_dir = tempfile.mkdtemp(prefix="dcos-bench-cp-")
    print(f"control-plane benchmark: {args.agents} simulated agents ({AGENT_RESOURCES}), "
          f"1 SDK framework, tasks {TASK_NEEDS} running {args.task_seconds:g} s, "
          f"{args.per_accept} tasks per ACCEPT, at most {args.inflight} in flight")  # fmt: skip
    print(
        "layout: 3 processes (uvloop each): master (SQLite registry) | agents | framework; "
        f"{os.cpu_count()} cores; HTTP on loopback"
    )
    profiles = {
        side: os.path.join(args.work_dir, f"{side}.prof") if args.profile == side else None
        for side in ("master", "agents")
    }
    try:
        args.security = None
        res = run_processes(args, profiles)
        hello, hello_cpu = hello_world_rate(min(args.seconds, 5.0), args.concurrency)
        report(args, res, hello, hello_cpu)
        for side, path in profiles.items():
            if path:
                print_profile(path, f"{side} process (window)")
        if "profile" in res:
            print_profile(res["profile"], "framework process (window)")
        if args.secure:
            secure_run(args, res, profiles)
    finally:
        shutil.rmtree(args.work_dir, ignore_errors=True)


def secure_run(args: argparse.Namespace, plain: dict[str, Any],
               profiles: dict[str, str | None]) -> None:
    """The same run with security on (fresh work dir, a new security directory), its
    report, and the comparison with the run without."""
    base = args.work_dir
    args.work_dir = os.path.join(base, "secure")
    os.makedirs(args.work_dir)
    args.security = _secure.make_dir(args.work_dir)
    print("== security on: HTTPS + mutual TLS between every process, every request "
          "authenticated (certificates), ACLs checked, agents polling the policy")
    try:
        res = run_processes(args, profiles)
    finally:
        args.work_dir = base
    hello, hello_cpu = hello_world_rate(min(args.seconds, 5.0), args.concurrency)
    report(args, res, hello, hello_cpu)
    for side, path in profiles.items():
        if path:
            print_profile(path, f"{side} process (window, security on)")
    print(_secure.ratio_line("tasks through the master", plain["tasks"] / plain["window"],
                             res["tasks"] / res["window"]))
    if "read" in plain and "read" in res:
        rp, rs = plain["read"], res["read"]
        print(_secure.ratio_line("tasks/s under read load", rp["tasks"] / rp["window"],
                                 rs["tasks"] / rs["window"]))


def run_processes(args: argparse.Namespace, profiles: dict[str, str | None]) -> dict[str, Any]:
    """Start the master and agents processes, run the framework here, stop them."""
    ctx = mp.get_context("spawn")
    m_parent, m_child = ctx.Pipe()
    a_parent, a_child = ctx.Pipe()
    master = ctx.Process(target=master_process, daemon=True,
                         args=(m_child, os.path.join(args.work_dir, "master"),
                               profiles["master"], getattr(args, "security", None)))  # fmt: skip
    agents = readers = None
    r_parent, r_child = ctx.Pipe()
    try:
        master.start()
        port = m_parent.recv()
        agents = ctx.Process(target=agents_process, daemon=True,
                             args=(a_child, port, args.agents, args.work_dir, args.task_seconds,
                                   profiles["agents"], args.security))  # fmt: skip
        agents.start()
        if args.readers > 0:
            readers = ctx.Process(target=readers_process, daemon=True,
                                  args=(r_child, port, args.readers, "/master/state",
                                        args.security))  # fmt: skip
            readers.start()
        log.info("pids: master %s, agents %s, framework %s", master.pid, agents.pid, os.getpid())
        return asyncio.run(simulate(
            args, port, master.pid or 0, (a_parent, agents.pid or 0),
            (r_parent, readers.pid or 0) if readers is not None else None,
        ))  # fmt: skip
    finally:
        if readers is not None:
            readers.join(5)
            if readers.is_alive():
                readers.kill()
        if agents is not None:
            a_parent.send("stop")
            agents.join(20)
            if agents.is_alive():
                agents.kill()
        m_parent.send("stop")
        master.join(10)
        if master.is_alive():
            master.kill()


def report(args: argparse.Namespace, res: dict[str, Any], hello: float, hello_cpu: dict) -> None:
    rate = res["tasks"] / res["window"]
    msgs = (res["calls"] + res["events"]) / res["window"]
    lp50, lp99 = percentiles(res["loaded_lat"])
    up50, up99 = percentiles(res["unloaded_lat"])
    ratio = msgs / hello if hello else float("nan")

    def goal(ok: bool) -> str:
        return "MET" if ok else "NOT MET"

    print(f"registration: {args.agents} agents registered in {res['register_s']:.2f} s")
    print(f"framework (whole run until the window ended): {res['framework']}")
    print(f"window: {res['window']:.1f} s; CPU (share of one core): {res['cpu']}")
    print(
        f"tasks through the master: {res['tasks']} finished = {rate:,.0f} tasks/s "
        f"({res['failed']} failed)   goal >= {GOAL_TASKS:,.0f}: {goal(rate >= GOAL_TASKS)}"
    )
    shares = res["shares"]
    if rate > 0:
        per_task = ", ".join(f"{n} {1e3 * c / rate:.2f} ms" for n, c in shares.items())
        print(f"CPU per task: {per_task}")
        mcpu = shares["master"]
        busiest = max(shares, key=shares.get)
        verdict = (
            f"{busiest} saturated ({100 * shares[busiest]:.0f}% of a core)"
            if shares[busiest] >= 0.9
            else f"no process saturated (busiest: {busiest}); the {os.cpu_count()} cores "
            f"were shared by all three ({100 * sum(shares.values()):.0f}% in all)"
        )
        print(
            f"master capacity: about {rate / mcpu:,.0f} tasks/s per fully used master core; "
            f"{verdict}"
        )
    print(
        f"launch-to-RUNNING under load: p50 {fmt_ms(lp50)}, p99 {fmt_ms(lp99)} "
        f"({len(res['loaded_lat'])} tasks)"
    )
    print(
        f"launch-to-RUNNING unloaded (one task at a time, {len(res['unloaded_lat'])} probes): "
        f"p50 {fmt_ms(up50)}, p99 {fmt_ms(up99)}   goal p99 < {fmt_ms(GOAL_P99)}: "
        f"{goal(up99 < GOAL_P99)}"
    )
    print(
        f"master messages: {res['calls'] / res['window']:,.0f} calls/s + "
        f"{res['events'] / res['window']:,.0f} stream events/s = {msgs:,.0f} msgs/s"
    )
    print(
        f"hello world (aiohttp POST -> 202, uvloop, {args.concurrency} clients): "
        f"{hello:,.0f} requests/s (CPU: server {100 * hello_cpu['server']:.0f}%, "
        f"clients {100 * hello_cpu['clients']:.0f}%)"
    )
    print(
        f"ratio master msgs/s vs hello-world requests/s: {ratio:.2f}x   "
        f"goal >= {GOAL_RATIO}x: {goal(ratio >= GOAL_RATIO)}"
    )
    if "read" in res:
        report_reads(args, res["read"], rate, goal)


def report_reads(args: argparse.Namespace, rd: dict[str, Any], rate: float, goal: Any) -> None:
    """The read-load window against the unloaded one."""
    loaded = rd["tasks"] / rd["window"]
    ratio = loaded / rate if rate else float("nan")
    p50, p99 = percentiles(rd["lat"])
    print(f"read load: {args.readers} clients reading /master/state: {rd['reads']:,} reads "
          f"({rd['reads'] / rd['window']:,.0f}/s, {rd['bytes'] / rd['window'] / 1e6:,.1f} MB/s "
          f"on the wire, {rd['errors']} errors); CPU: {rd['cpu']}")  # fmt: skip
    print(
        f"tasks/s under read load: {loaded:,.0f} vs {rate:,.0f} unloaded = {ratio:.2f}x   "
        f"goal >= {GOAL_READ_RATIO}x: {goal(ratio >= GOAL_READ_RATIO)}"
    )
    print(
        f"/master/state under read load: p50 {fmt_ms(p50)}, p99 {fmt_ms(p99)}   "
        f"goal p99 < {fmt_ms(GOAL_READ_P99)}: {goal(p99 < GOAL_READ_P99)}"
    )


if __name__ == "__main__":
    main()
