"""Flood benchmark: correct clients of a secure master and webapp, with and without a flood of bad requests.

Issue 13's goal: a flood of bad requests does not slow correct clients by more than 2x.

Process layout: a master with security on (HTTPS, every request authenticated; a child
process, as in `control_plane.py`), the webapp framework (``python -m frameworks.webapp``
with its own certificate, registered with that master), a flood process, and the correct
clients in this one. Two windows of ``--seconds`` each:

1. quiet: ``--clients`` correct clients (mutual TLS with a component certificate, keep-alive)
   call the master (``POST /api/v1 {"type": "GET_HEALTH"}``) and the webapp
   (``GET /v2/apps``) in a loop: requests/s and latency p50/p99 of each;
2. flooded: the same, while ``--flooders`` connections of the flood process send bad
   requests as fast as ``--flood-rate`` allows, round robin over: garbage bodies on an
   authenticated connection (400/422), a forged token (401), no credentials at all (401),
   bodies over the 1 MiB limit (413) and fresh TLS handshakes per request (401).

Printed: both windows' figures, the flood's rate and status codes, the master's CPU, and the
ratios (flooded vs quiet: throughput and p99; goal: at most 2x slower).

Usage: .venv/bin/python benchmarks/flood.py [--quick] [--seconds S] [--flood-rate N]
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
from collections import Counter
from pathlib import Path
from typing import Any

import _common
import _secure
from _common import CpuMeter, fmt_ms, percentiles, use_uvloop

GOAL_SLOWDOWN = 2.0
OVERSIZED = 2 * 1024 * 1024  # over the public APIs' 1 MiB limit


# -- the flood process ----------------------------------------------------------------------


def flood_process(conn: Any, targets: dict[str, str], security: str, flooders: int,
                  rate: float, kinds: list[int] | None = None) -> None:
    """Child process: waits for "start", floods until "stop", sends back the status counts
    and the number of requests sent. `kinds`: indexes into `_bad_requests` (None: all)."""
    use_uvloop()
    asyncio.run(_flood_main(conn, targets, security, flooders, rate, kinds))


def _bad_requests(targets: dict[str, str]) -> list[tuple[str, str, str, dict[str, str], bytes]]:
    """(session kind, method, url, headers, body) of each kind of bad request."""
    master, webapp = targets["master"], targets["webapp"]
    garbage = os.urandom(512)
    big = b"x" * OVERSIZED
    return [
        ("cert", "POST", master + "/api/v1/scheduler", {"Content-Type": "application/json"},
         garbage),
        ("cert", "POST", webapp + "/v2/apps", {"Content-Type": "application/json"}, garbage),
        ("anon", "GET", master + "/master/state", {"Authorization": "token=forged.jwt.x"}, b""),
        ("anon", "GET", webapp + "/v2/apps", {"Authorization": "Bearer garbage"}, b""),
        ("anon", "POST", master + "/api/v1", {"Content-Type": "application/json"},
         b'{"type": "GET_STATE"}'),
        ("cert", "POST", master + "/api/v1", {"Content-Type": "application/json"}, big),
        ("anon", "POST", webapp + "/v2/apps", {"Content-Type": "application/json"}, big),
        ("fresh", "GET", master + "/master/state", {}, b""),
    ]


async def _flood_main(conn: Any, targets: dict[str, str], security: str, flooders: int,
                      rate: float, only: list[int] | None = None) -> None:
    import aiohttp

    loop = asyncio.get_running_loop()
    anon_ssl = _secure.client_ssl(security)
    assert anon_ssl is not None
    from dcos.security.layout import SecurityDir
    from dcos.security.tls import ca_client_context

    no_cert = ca_client_context(SecurityDir(Path(security)).ca_cert)
    sessions = {
        "cert": aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0, ssl=anon_ssl)),
        "anon": aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0, ssl=no_cert)),
        "fresh": aiohttp.ClientSession(connector=aiohttp.TCPConnector(
            limit=0, ssl=no_cert, force_close=True)),
    }
    kinds = _bad_requests(targets)
    if only:
        kinds = [kinds[i] for i in only]
    statuses: Counter[str] = Counter()
    sent = 0
    stop = asyncio.Event()
    interval = flooders / rate if rate > 0 else 0.0

    async def flooder(i: int) -> None:
        nonlocal sent
        n = i
        while not stop.is_set():
            t = time.perf_counter()
            kind, method, url, headers, body = kinds[n % len(kinds)]
            n += 1
            try:
                async with sessions[kind].request(method, url, headers=headers, data=body or None,
                                                  timeout=aiohttp.ClientTimeout(total=10)) as r:
                    await r.read()
                    statuses[str(r.status)] += 1
            except (aiohttp.ClientError, TimeoutError, OSError) as exc:
                statuses[type(exc).__name__] += 1
            sent += 1
            if interval:
                await asyncio.sleep(max(0.0, interval - (time.perf_counter() - t)))

    assert await loop.run_in_executor(None, conn.recv) == "start"
    t0 = time.perf_counter()
    tasks = [asyncio.ensure_future(flooder(i)) for i in range(flooders)]
    await loop.run_in_executor(None, conn.recv)  # "stop"
    stop.set()
    await asyncio.wait(tasks, timeout=15)
    window = time.perf_counter() - t0
    for s in sessions.values():
        await s.close()
    conn.send((dict(statuses), sent / window))


# -- the correct clients --------------------------------------------------------------------


async def correct_clients(targets: dict[str, str], security: str, clients: int,
                          seconds: float) -> dict[str, dict[str, Any]]:
    """`clients` keep-alive clients per target for `seconds`: requests/s and latencies."""
    import aiohttp

    ssl = _secure.client_ssl(security)
    calls = {
        "master": ("POST", targets["master"] + "/api/v1", b'{"type": "GET_HEALTH"}'),
        "webapp": ("GET", targets["webapp"] + "/v2/apps", b""),
    }
    out: dict[str, dict[str, Any]] = {}
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0, ssl=ssl)) as s:
        for name, (method, url, body) in calls.items():
            lat: list[float] = []
            errors: list[int] = []
            deadline = time.perf_counter() + seconds

            async def client(method: str, url: str, body: bytes, deadline: float,
                             lat: list[float], errors: list[int]) -> None:
                while time.perf_counter() < deadline:
                    t = time.perf_counter()
                    try:
                        async with s.request(method, url, data=body or None, headers={
                                "Content-Type": "application/json"},
                                timeout=aiohttp.ClientTimeout(total=10)) as r:
                            await r.read()
                            ok = r.status == 200
                    except (aiohttp.ClientError, TimeoutError):
                        ok = False
                    if ok:
                        lat.append(time.perf_counter() - t)
                    else:
                        errors.append(1)

            t0 = time.perf_counter()
            await asyncio.gather(*(client(method, url, body, deadline, lat, errors)
                                   for _ in range(clients)))
            out[name] = {"rate": len(lat) / (time.perf_counter() - t0), "lat": lat,
                         "errors": len(errors)}
    return out


# -- the run --------------------------------------------------------------------------------


def start_webapp(work: str, master_url: str, security: str) -> tuple[subprocess.Popen[bytes], str]:
    """The webapp framework (its own certificate) on a free port; waits for /ping."""
    import socket
    import urllib.request

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"https://127.0.0.1:{port}"
    proc = subprocess.Popen(
        [sys.executable, "-m", "frameworks.webapp", "--master", master_url, "--ip", "127.0.0.1",
         "--port", str(port), "--work-dir", os.path.join(work, "webapp"),
         "--log-file", os.path.join(work, "webapp.log"), "--security-dir", security,
         "--tls-name", "webapp"],
        cwd=_common.ROOT)  # fmt: skip
    ctx = _secure.client_ssl(security)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url + "/ping", timeout=1, context=ctx):
                return proc, url
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit(f"the webapp did not answer /ping within 30 s (see {work}/webapp.log)")


def report(name: str, quiet: dict[str, Any], flooded: dict[str, Any]) -> None:
    q50, q99 = percentiles(quiet["lat"])
    f50, f99 = percentiles(flooded["lat"])
    slow_rate = quiet["rate"] / flooded["rate"] if flooded["rate"] else float("inf")
    slow_p99 = f99 / q99 if q99 else float("nan")
    worst = max(slow_rate, slow_p99)
    met = "MET" if worst <= GOAL_SLOWDOWN else "NOT MET"
    print(f"{name}: quiet {quiet['rate']:,.0f} req/s (p50 {fmt_ms(q50)}, p99 {fmt_ms(q99)}, "
          f"{quiet['errors']} errors); flooded {flooded['rate']:,.0f} req/s (p50 {fmt_ms(f50)}, "
          f"p99 {fmt_ms(f99)}, {flooded['errors']} errors)")
    print(f"  slowdown under the flood: throughput {slow_rate:.2f}x, p99 {slow_p99:.2f}x   "
          f"goal <= {GOAL_SLOWDOWN:g}x: {met}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="2 s windows")
    p.add_argument("--seconds", type=float, default=5.0, help="each window's length")
    p.add_argument("--clients", type=int, default=8, help="correct clients per target")
    p.add_argument("--flooders", type=int, default=64, help="flood connections")
    p.add_argument("--flood-rate", type=float, default=2000.0,
                   help="bad requests per second in all (0: as fast as they go)")
    p.add_argument("--kinds", default="",
                   help="only these kinds of bad request (comma-separated indexes 0-7: "
                   "garbage master, garbage webapp, forged token, bad bearer, anonymous, "
                   "oversized master, oversized webapp, fresh handshakes)")
    args = p.parse_args()
    if args.quick:
        args.seconds = 2.0
    kinds = [int(k) for k in args.kinds.split(",") if k.strip()] or None
    use_uvloop()
    from control_plane import master_process

    work = tempfile.mkdtemp(prefix="dcos-bench-flood-")
    security = _secure.make_dir(work)
    ctx = mp.get_context("spawn")
    m_parent, m_child = ctx.Pipe()
    f_parent, f_child = ctx.Pipe()
    master = ctx.Process(target=master_process, daemon=True,
                         args=(m_child, os.path.join(work, "master"), None, security))
    webapp = flood = None
    print(f"flood benchmark: security on; {args.clients} correct clients per target, "
          f"{args.flooders} flood connections at up to {args.flood_rate:,.0f} bad requests/s; "
          f"{args.seconds:g} s windows; {os.cpu_count()} cores")
    try:
        master.start()
        port = m_parent.recv()
        master_url = f"https://127.0.0.1:{port}"
        webapp, webapp_url = start_webapp(work, master_url, security)
        targets = {"master": master_url, "webapp": webapp_url}
        flood = ctx.Process(target=flood_process, daemon=True,
                            args=(f_child, targets, security, args.flooders, args.flood_rate,
                                  kinds))
        flood.start()
        quiet = asyncio.run(correct_clients(targets, security, args.clients, args.seconds))
        meter = CpuMeter({"master": master.pid or 0, "webapp": webapp.pid,
                          "flood": flood.pid or 0})
        f_parent.send("start")
        time.sleep(0.5)
        meter.start()
        flooded = asyncio.run(correct_clients(targets, security, args.clients, args.seconds))
        meter.stop()
        f_parent.send("stop")
        statuses, flood_rate = f_parent.recv()
        print(f"flood: {flood_rate:,.0f} bad requests/s; answers: "
              + ", ".join(f"{k} x{v}" for k, v in sorted(statuses.items())))
        print(f"CPU during the flooded windows (share of one core): {meter.describe()}")
        for name in ("master", "webapp"):
            report(name, quiet[name], flooded[name])
    finally:
        if flood is not None and flood.is_alive():
            flood.kill()
        if webapp is not None:
            webapp.terminate()
            webapp.wait(10)
        m_parent.send("stop")
        master.join(10)
        if master.is_alive():
            master.kill()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
