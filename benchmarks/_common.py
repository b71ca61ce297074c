"""Shared helpers of the control-plane and launch benchmarks (not a benchmark itself).

- `ROOT` is put on ``sys.path`` so ``.venv/bin/python benchmarks/<name>.py`` finds `dcos`.
- `percentiles`, `fmt_ms`: latency figures.
- `CpuMeter`: CPU seconds of a set of processes over a window (who was the bottleneck).
- `hello_world_rate`: the aiohttp hello-world baseline: a server in a child process (uvloop),
  `concurrency` keep-alive clients in this one, requests per second over `seconds`.
- `use_uvloop`: install uvloop as the event loop policy (every benchmark process calls it).
"""

from __future__ import annotations

import asyncio
import multiprocessing as mp
import os
import socket
import statistics
import sys
import time
from collections.abc import Sequence
from typing import Any

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

import psutil  # noqa: E402


def use_uvloop() -> None:
    import uvloop

    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())


def percentiles(values: Sequence[float], points: Sequence[float] = (50, 99)) -> list[float]:
    """Nearest-rank percentiles of `values` (NaN when empty)."""
    if not values:
        return [float("nan")] * len(points)
    data = sorted(values)
    out = []
    for p in points:
        k = max(0, min(len(data) - 1, int(round(p / 100 * len(data) + 0.5)) - 1))
        out.append(data[k])
    return out


def fmt_ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f} ms"


class CpuMeter:
    """CPU time (user + system) used by each of `pids` between `start` and `stop`."""

    def __init__(self, pids: dict[str, int]) -> None:
        self.procs = {name: psutil.Process(pid) for name, pid in pids.items()}
        self._t0 = 0.0
        self._c0: dict[str, float] = {}
        self.share: dict[str, float] = {}  # name -> fraction of one core

    def _cpu(self, p: psutil.Process) -> float:
        t = p.cpu_times()
        return t.user + t.system

    def start(self) -> None:
        self._t0 = time.perf_counter()
        self._c0 = {n: self._cpu(p) for n, p in self.procs.items()}

    def stop(self) -> dict[str, float]:
        wall = time.perf_counter() - self._t0
        self.share = {n: (self._cpu(p) - self._c0[n]) / wall for n, p in self.procs.items()}
        return self.share

    def describe(self) -> str:
        return ", ".join(f"{n} {100 * s:.0f}%" for n, s in self.share.items())


# -- the aiohttp hello-world baseline -------------------------------------------------------


def _hello_server(sock: socket.socket, ready: Any, stop: Any) -> None:
    use_uvloop()
    from aiohttp import web

    async def hello(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(status=202)

    async def main() -> None:
        app = web.Application()
        app.router.add_post("/", hello)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.SockSite(runner, sock).start()
        ready.set()
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, stop.wait)
        await runner.cleanup()

    asyncio.run(main())


async def _hello_clients(port: int, seconds: float, concurrency: int) -> int:
    import aiohttp

    url = f"http://127.0.0.1:{port}/"
    body = b'{"type":"ACKNOWLEDGE","framework_id":{"value":"f"}}'
    headers = {"Content-Type": "application/json"}
    count = 0
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as s:
        # warm the connections up
        for _ in range(concurrency):
            async with s.post(url, data=body, headers=headers) as r:
                await r.read()
        deadline = time.perf_counter() + seconds

        async def worker() -> None:
            nonlocal count
            while time.perf_counter() < deadline:
                async with s.post(url, data=body, headers=headers) as r:
                    await r.read()
                count += 1

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return count


def hello_world_rate(seconds: float, concurrency: int) -> tuple[float, dict[str, float]]:
    """(requests/s, CPU shares) of an aiohttp POST hello-world on loopback: server (uvloop)
    in a child process, `concurrency` keep-alive clients on this process's loop."""
    ctx = mp.get_context("spawn")
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(1024)
    port = sock.getsockname()[1]
    ready, stop = ctx.Event(), ctx.Event()
    proc = ctx.Process(target=_hello_server, args=(sock, ready, stop), daemon=True)
    proc.start()
    sock.close()
    try:
        if not ready.wait(30):
            raise RuntimeError("hello-world server did not start")
        meter = CpuMeter({"server": proc.pid or 0, "clients": os.getpid()})
        meter.start()
        t0 = time.perf_counter()
        n = asyncio.run(_hello_clients(port, seconds, concurrency))
        elapsed = time.perf_counter() - t0
        return n / elapsed, meter.stop()
    finally:
        stop.set()
        proc.join(5)
        if proc.is_alive():
            proc.kill()


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")
