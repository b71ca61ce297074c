"""Benchmark: packages on a real local cluster (`dcos-py up --agents 3` with the package service).

(a) Install-to-healthy of ``hello-world`` on a warm cluster (one install and uninstall first),
    goal < 3 s. Baseline, measured in the same run: the same rendered app (``POST
    /package/render``) POSTed straight to the webapp's ``/v2/apps`` and waited healthy the
    same way; the ratio is the package service's overhead.
(b) Install-to-healthy of ``dask`` with 2 workers, cold (the agents' fetcher caches emptied
    first: the wheel tars are fetched through the package service and unpacked again) and
    warm (cached); each also says when all its tasks were running (fetched and started).
    Baseline: the same rendered definition POSTed straight to the webapp, warm.
(c) ``POST /package/search`` latency over a repository of 500 generated packages, goal
    < 50 ms. Baselines: a GET of the same index file from a bare aiohttp server (one request's
    floor), and orjson's decode of that index.

It starts its own ``dcos-py up`` (quiet ports, a temporary work dir) and leaves nothing
running. The catalog index (packages-repo/build/index.json) is built first when missing.

    .venv/bin/python benchmarks/packages.py [--quick] [--only a|b|c] [--runs N]
"""

from __future__ import annotations

import argparse
import base64
import multiprocessing as mp
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from http.client import HTTPConnection
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import orjson
from _common import ROOT, fmt_ms, percentiles, use_uvloop

from dcos.packaging import mediatypes as mt  # noqa: E402
from tests.packages.conftest import (  # noqa: E402
    INDEX,
    CosmosError,
    PkgCluster,
    http,
    start_cluster,
    stop_cluster,
)

HELLO_GOAL_S = 3.0
SEARCH_GOAL_S = 0.05
POLL_S = 0.02


# -- waiting ------------------------------------------------------------------------------------


def ready(app: dict[str, Any]) -> bool:
    """All instances running (healthy when the app has health checks), no deployment."""
    want = app.get("instances", 0)
    if app.get("deployments") or app.get("tasksRunning", 0) < want:
        return False
    return not app.get("healthChecks") or app.get("tasksHealthy", 0) >= want


@dataclass
class Run:
    """One install: seconds to every instance healthy, seconds to every instance running
    (the fetch and the start are behind it; health checks follow), tasks replaced meanwhile
    (failed, or killed by a health check: what explains an outlier)."""

    healthy: float
    running: float
    replaced: int


def wait_ready(c: PkgCluster, app_or_group: str, t0: float, timeout: float) -> Run:
    """Poll the webapp every 20 ms until every app of `app_or_group` is `ready`; times
    counted from `t0` (a `time.perf_counter()`)."""
    deadline = time.perf_counter() + timeout
    seen: set[str] = set()
    running = float("nan")
    while True:
        apps = c.apps_of(app_or_group)
        now = time.perf_counter()
        seen.update(t["id"] for a in apps for t in a.get("tasks", []))
        want = sum(a.get("instances", 0) for a in apps)
        if apps and running != running and sum(a.get("tasksRunning", 0) for a in apps) >= want:
            running = now - t0
        if apps and all(ready(a) for a in apps):
            return Run(now - t0, running, len(seen) - want)
        if now > deadline:
            raise TimeoutError(f"{app_or_group} not healthy within {timeout:g} s")
        time.sleep(POLL_S)


def webapp(c: PkgCluster, method: str, path: str, body: Any = None) -> Any:
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    status, _, raw = http(method, c.webapp_url + path, body, headers)
    if status >= 300:
        raise RuntimeError(f"{method} {path}: {status} {raw[:300]!r}")
    return orjson.loads(raw) if raw else None


def is_group(definition: dict[str, Any]) -> bool:
    return "apps" in definition or "groups" in definition


# -- install timings ------------------------------------------------------------------------------


@dataclass
class Runs:
    """The runs of one figure."""

    runs: list[Run] = field(default_factory=list)

    def add(self, run: Run) -> None:
        self.runs.append(run)

    @property
    def median(self) -> float:
        return statistics.median(r.healthy for r in self.runs) if self.runs else float("nan")

    def describe(self) -> str:
        """``median 1.06 s (runs: 1.06, 1.10 [1 task(s) replaced]; all running after 0.31, 0.30 s)``."""
        runs = ", ".join(f"{r.healthy:.2f}" + (f" [{r.replaced} task(s) replaced]" if r.replaced else "")
                         for r in self.runs)  # fmt: skip
        running = ", ".join(f"{r.running:.2f}" for r in self.runs)
        return f"median {self.median:.2f} s (runs: {runs}; all running after {running} s)"


def time_install(c: PkgCluster, name: str, options: dict[str, Any], timeout: float) -> Run:
    """From ``POST /package/install`` to every app of it healthy; then uninstalls it and
    waits until nothing of it is left (not timed). The app id comes from `options`."""
    t0 = time.perf_counter()
    installed = c.install(name, options=options)["appId"]
    try:
        return wait_ready(c, installed, t0, timeout)
    finally:
        c.uninstall(name, app_id=installed)
        c.assert_clean(installed, timeout=120)


def rendered(c: PkgCluster, name: str, options: dict[str, Any]) -> dict[str, Any]:
    """The definition install would create (``POST /package/render``)."""
    return dict(c.rpc("/package/render", {"packageName": name, "options": options})["marathonJson"])


def time_direct(c: PkgCluster, definition: dict[str, Any], timeout: float) -> Run:
    """The baseline: seconds from POSTing `definition` straight to the webapp (``/v2/apps`` or
    ``/v2/groups``) to all of it healthy; then deletes it and waits it gone (not timed)."""
    aid = definition["id"]
    path = "/v2/groups" if is_group(definition) else "/v2/apps"
    t0 = time.perf_counter()
    webapp(c, "POST", path, definition)
    try:
        return wait_ready(c, aid, t0, timeout)
    finally:
        webapp(c, "DELETE", f"{path}{aid}?force=true")
        c.assert_clean(aid, timeout=120)


def clear_fetch_caches(work: Path, dry_run: bool = False) -> int:
    """Empty every agent's fetcher cache under the cluster's work dir (cold fetches next);
    the number of cache dirs found (`dry_run`: only count them)."""
    caches = [p for pattern in ("*/fetcher-cache", "*/*/fetcher-cache") for p in work.glob(pattern)]
    for p in caches if not dry_run else ():
        shutil.rmtree(p, ignore_errors=True)
    return len(caches)


def hello(name: str) -> dict[str, Any]:
    return {"service": {"name": name}}


def bench_hello(c: PkgCluster, runs: int) -> dict[str, Runs]:
    out = {"package": Runs(), "direct": Runs()}
    time_install(c, "hello-world", hello("bench-hello-warmup"), 120)  # warm caches and the service
    for i in range(runs):
        definition = rendered(c, "hello-world", hello(f"bench-hello-direct-{i}"))
        out["direct"].add(time_direct(c, definition, 120))
        out["package"].add(time_install(c, "hello-world", hello(f"bench-hello-{i}"), 120))
    return out


def dask(name: str, workers: int) -> dict[str, Any]:
    return {"service": {"name": name}, "workers": {"count": workers}}


def bench_dask(c: PkgCluster, runs: int, workers: int) -> dict[str, Runs]:
    out = {"cold": Runs(), "warm": Runs(), "direct": Runs()}
    for i in range(runs):
        clear_fetch_caches(c.work)
        out["cold"].add(time_install(c, "dask", dask(f"bench-dask-cold-{i}", workers), 300))
        if not clear_fetch_caches(c.work, dry_run=True):
            raise RuntimeError(
                f"no agent fetcher cache under {c.work}: the cold runs would be warm"
            )
        out["warm"].add(time_install(c, "dask", dask(f"bench-dask-warm-{i}", workers), 300))
        definition = rendered(c, "dask", dask(f"bench-dask-direct-{i}", workers))
        out["direct"].add(time_direct(c, definition, 300))
    return out


# -- search ------------------------------------------------------------------------------------


WORDS = ("analytics cache queue stream graph search storage metrics proxy broker database "
         "scheduler notebook ml batch web api auth dns log").split()  # fmt: skip
TEMPLATE = '{"id": "{{service.name}}", "cmd": "sleep 3600", "cpus": 0.1, "mem": 32}'


def generated_index(n: int) -> dict[str, Any]:
    """A Universe v4 index of `n` packages with a few words each to search for."""
    template = base64.b64encode(TEMPLATE.encode()).decode()
    config = {"type": "object", "properties": {"service": {"type": "object", "properties": {
        "name": {"type": "string", "default": "svc"}}}}}  # fmt: skip
    packages = []
    for i in range(n):
        words = [WORDS[(i * k) % len(WORDS)] for k in (1, 3, 7)]
        packages.append({
            "packagingVersion": "4.0", "name": f"bench-{words[0]}-{i:03d}", "version": f"1.{i % 10}.0",
            "releaseVersion": 0, "maintainer": "bench@example.com",
            "description": f"Generated package {i}: a {' '.join(words)} service for the search benchmark.",
            "tags": words, "framework": i % 5 == 0, "selected": i % 50 == 0,
            "upgradesFrom": [], "downgradesTo": [], "minDcosReleaseVersion": "1.10",
            "config": config, "marathon": {"v2AppMustacheTemplate": template},
        })  # fmt: skip
    packages.sort(key=lambda p: (p["name"], p["releaseVersion"]))
    return {"packages": packages}


def _static_server(sock: socket.socket, path: str, ready: Any, stop: Any) -> None:
    use_uvloop()
    import asyncio

    from aiohttp import web

    async def main() -> None:
        data = Path(path).read_bytes()

        async def index(request: web.Request) -> web.Response:
            return web.Response(body=data, content_type="application/json")

        app = web.Application()
        app.router.add_get("/index.json", index)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.SockSite(runner, sock).start()
        ready.set()
        await asyncio.get_running_loop().run_in_executor(None, stop.wait)
        await runner.cleanup()

    asyncio.run(main())


class Client:
    """One keep-alive HTTP connection; `time(method, path, body, headers)` -> seconds."""

    def __init__(self, base: str) -> None:
        u = urlsplit(base)
        self.conn = HTTPConnection(u.hostname or "127.0.0.1", u.port, timeout=30)

    def time(
        self, method: str, path: str, body: bytes | None, headers: dict[str, str]
    ) -> tuple[float, bytes]:
        t0 = time.perf_counter()
        self.conn.request(method, path, body=body, headers=headers)
        resp = self.conn.getresponse()
        raw = resp.read()
        elapsed = time.perf_counter() - t0
        if resp.status != 200:
            raise RuntimeError(f"{method} {path}: {resp.status} {raw[:300]!r}")
        return elapsed, raw

    def close(self) -> None:
        self.conn.close()


def bench_search(c: PkgCluster, n: int, rounds: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="bench-index-") as tmp:
        index_path = Path(tmp) / "index.json"
        raw_index = orjson.dumps(generated_index(n))
        index_path.write_bytes(raw_index)
        out["index_bytes"] = len(raw_index)
        decode = []
        for _ in range(rounds):
            t0 = time.perf_counter()
            orjson.loads(raw_index)
            decode.append(time.perf_counter() - t0)
        out["decode"] = decode
        out["static"] = static_gets(index_path, rounds)
        c.rpc(
            "/package/repository/add", {"name": "bench500", "uri": index_path.as_uri(), "index": 0}
        )
        try:
            out.update(search_times(c, rounds))
        finally:
            c.rpc("/package/repository/delete", {"name": "bench500"})
    return out


def static_gets(index_path: Path, rounds: int) -> list[float]:
    """GETs of the index file from a bare aiohttp server (uvloop) in a child process."""
    ctx = mp.get_context("spawn")
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    port = sock.getsockname()[1]
    ready, stop = ctx.Event(), ctx.Event()
    proc = ctx.Process(
        target=_static_server, args=(sock, str(index_path), ready, stop), daemon=True
    )
    proc.start()
    sock.close()
    try:
        if not ready.wait(30):
            raise RuntimeError("static server did not start")
        client = Client(f"http://127.0.0.1:{port}")
        client.time("GET", "/index.json", None, {})
        times = [client.time("GET", "/index.json", None, {})[0] for _ in range(rounds)]
        client.close()
        return times
    finally:
        stop.set()
        proc.join(5)
        if proc.is_alive():
            proc.kill()


def search_times(c: PkgCluster, rounds: int) -> dict[str, Any]:
    ep = mt.ENDPOINTS["/package/search"]
    headers = {"Content-Type": ep.request or mt.APPLICATION_JSON, "Accept": ",".join(ep.responses)}
    client = Client(c.package_url)
    out: dict[str, Any] = {}
    try:
        for label, query in (("all", ""), ("term", "graph"), ("none", "no-such-package-anywhere")):
            body = orjson.dumps({"query": query})
            _, raw = client.time("POST", "/package/search", body, headers)  # first: loads the index
            out[f"count_{label}"] = len(orjson.loads(raw).get("packages", []))
            out[label] = [
                client.time("POST", "/package/search", body, headers)[0] for _ in range(rounds)
            ]
    finally:
        client.close()
    return out


# -- main --------------------------------------------------------------------------------------


def ensure_index() -> None:
    """Build the catalog's index (packages-repo/build/index.json) when it is missing, as
    `make repo` does."""
    if INDEX.exists():
        return
    print(f"   building {INDEX.relative_to(ROOT)} (make repo)")
    subprocess.run(
        [sys.executable, "-m", "dcos.cli", "package", "build", "packages-repo"],
        check=True,
        cwd=ROOT,
    )


def report_hello(res: dict[str, Runs]) -> None:
    pkg, direct = res["package"], res["direct"]
    print(f"   package install to healthy: {pkg.describe()}")
    print(f"   baseline, the rendered app POSTed to /v2/apps: {direct.describe()}")
    print(f"   ratio {pkg.median / direct.median:.2f}x the direct POST; goal < {HELLO_GOAL_S:g} s: "
          f"{'met' if pkg.median < HELLO_GOAL_S else 'MISSED'}")  # fmt: skip


def report_dask(res: dict[str, Runs]) -> None:
    cold, warm, direct = res["cold"], res["warm"], res["direct"]
    print(f"   cold (fetcher caches emptied): {cold.describe()}")
    print(f"   warm (cached): {warm.describe()}")
    print(f"   baseline, the rendered definition POSTed to the webapp (warm): {direct.describe()}")
    print(f"   ratios: cold {cold.median / warm.median:.2f}x warm; "
          f"warm {warm.median / direct.median:.2f}x the direct POST")  # fmt: skip


def report_search(res: dict[str, Any], n: int) -> None:
    static_p50 = percentiles(res["static"], (50,))[0]
    print(f"   index of {n} packages: {res['index_bytes'] / 1e3:.0f} kB; orjson decode p50 "
          f"{fmt_ms(percentiles(res['decode'], (50,))[0])}; static GET of it p50 {fmt_ms(static_p50)}")  # fmt: skip
    for label, desc in (("all", 'query ""'), ("term", 'query "graph"'), ("none", "no match")):
        p50, p99 = percentiles(res[label], (50, 99))
        print(f"   search {desc} ({res[f'count_{label}']} results): p50 {fmt_ms(p50)}, p99 {fmt_ms(p99)}; "
              f"ratio {p50 / static_p50:.2f}x the static GET")  # fmt: skip
    worst = max(percentiles(res[k], (50,))[0] for k in ("all", "term", "none"))
    print(
        f"   goal p50 < {SEARCH_GOAL_S * 1000:.0f} ms: {'met' if worst < SEARCH_GOAL_S else 'MISSED'}"
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="a short run (fewer runs and rounds)")
    p.add_argument("--only", choices=["a", "b", "c"], default=None)
    p.add_argument(
        "--runs", type=int, default=None, help="install runs per figure (default 3, quick 1)"
    )
    args = p.parse_args()
    runs = args.runs or (1 if args.quick else 3)
    rounds = 20 if args.quick else 100
    n_packages = 500
    if args.only in (None, "a", "b"):
        ensure_index()
    with tempfile.TemporaryDirectory(prefix="bench-packages-") as tmp:
        t0 = time.perf_counter()
        c = start_cluster(Path(tmp) / "cluster")
        try:
            print(f"   cluster up (3 agents, package service) in {time.perf_counter() - t0:.1f} s; "
                  f"{load()}")  # fmt: skip
            if args.only in (None, "a"):
                print(f"(a) hello-world: install to healthy on a warm cluster, {runs} run(s)")
                report_hello(bench_hello(c, runs))
            if args.only in (None, "b"):
                workers = 2
                print(
                    f"(b) dask with {workers} workers: install to healthy, cold, warm and direct, {runs} run(s) each"
                )
                report_dask(bench_dask(c, runs, workers))
            if args.only in (None, "c"):
                print(
                    f"(c) package search over {n_packages} generated packages, {rounds} requests each"
                )
                report_search(bench_search(c, n_packages, rounds), n_packages)
            print(f"   {load()} at the end")
        except CosmosError as e:
            raise SystemExit(f"package service error: {e}") from e
        finally:
            stop_cluster(c)


def load() -> str:
    """The machine's load (the figures above move with it on 2 cores)."""
    one, five, _ = os.getloadavg()
    return f"load average {one:.1f} (1 min), {five:.1f} (5 min) on {os.cpu_count()} cores"


if __name__ == "__main__":
    main()
