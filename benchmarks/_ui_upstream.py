"""The upstream of the UI benchmark's large state (not a benchmark itself): 1,000 apps and
10,000 tasks, more than a real cluster of processes holds on a 2-core machine.

The components are the real ones, in one child process on one event loop: the master
(`dcos.testing.InProcessCluster`: real master and agents over loopback HTTP, tasks simulated by
the agents' `SimContainerizer`, so no processes) and the webapp framework (`WebappService` with
its real HTTP API, `frameworks.webapp.api.server.build_app`), which deploys the apps through the
master as it would on a real cluster. So every answer the UI reads through the gateway
(``/v2/apps?embed=apps.tasks``, ``/v2/deployments``, ``/v2/queue``, ``/v2/events``, the
master's ``/master/state``, ``/master/redirect`` and operator ``SUBSCRIBE``) has exactly the
shape and content a real cluster's would: nothing is rendered by hand.

Called by `benchmarks/ui.py`: ``start(apps, per_app, agents) -> Upstream`` runs it in a spawned
process and returns once every task is running; ``.master_url``, ``.webapp_url``, ``.deploy_s``,
``.stop()``.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing as mp
import time
from dataclasses import dataclass
from typing import Any

from _common import use_uvloop

DEPLOY_TIMEOUT_S = 600.0
GROUP_SIZE = 50  # apps per POST /v2/groups
TASKS_PER_AGENT = 250


def app_definitions(apps: int, per_app: int) -> list[dict[str, Any]]:
    """`apps` apps of `per_app` instances each, in groups of `GROUP_SIZE` (``/bench/g03/app-0150``)."""
    return [
        {"id": f"/bench/g{i // GROUP_SIZE:02d}/app-{i:04d}", "cmd": "sleep 3600", "cpus": 0.001,
         "mem": 1, "instances": per_app, "labels": {"team": f"team-{i % 7}"}}
        for i in range(apps)
    ]  # fmt: skip


async def _serve(apps: int, per_app: int, agents: int, conn: Any) -> None:
    import aiohttp
    from aiohttp import web

    from dcos.state import MemoryStateStore
    from dcos.testing import InProcessCluster, always
    from frameworks.webapp.api.server import build_app
    from frameworks.webapp.scheduler import WebappService
    from frameworks.webapp.store import WebappStore

    cpus = max(8, apps * per_app * 0.001 / agents * 2)
    async with InProcessCluster(
        agents=agents, agent_http=False, behaviour=always(None),
        agent_resources=f"cpus:{cpus:g};mem:{max(65536, apps * per_app // agents * 2)};disk:1000;"
                        "ports:[31000-34999]",
        master_options={"allocation_interval": 0.02},
    ) as cluster:  # fmt: skip
        svc = WebappService(WebappStore(MemoryStateStore()), master=cluster.url, tick_interval=0.5)
        runner = web.AppRunner(build_app(svc), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        svc.http_port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        webapp_url = f"http://127.0.0.1:{svc.http_port}"
        await svc.start()
        t0 = time.perf_counter()
        defs = app_definitions(apps, per_app)
        async with aiohttp.ClientSession() as s:
            for g in range(0, len(defs), GROUP_SIZE):
                group = {"id": defs[g]["id"].rsplit("/", 1)[0], "apps": defs[g : g + GROUP_SIZE]}
                async with s.post(webapp_url + "/v2/groups", json=group) as r:
                    if r.status >= 300:
                        raise RuntimeError(f"POST /v2/groups: {r.status} {await r.text()}")
            deadline = time.perf_counter() + DEPLOY_TIMEOUT_S
            while True:
                running = sum(len(v) for v in svc.core.instances.values()
                              if all(i.running for i in v.values()))  # fmt: skip
                if not svc.core.deployments and running >= apps * per_app:
                    break
                if time.perf_counter() > deadline:
                    raise TimeoutError(f"{running} of {apps * per_app} tasks running")
                await asyncio.sleep(0.2)
        conn.send({"master_url": cluster.url, "webapp_url": webapp_url,
                   "deploy_s": time.perf_counter() - t0})  # fmt: skip
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, conn.recv)  # until told to stop
        await svc.stop(failover=False)
        await runner.cleanup()


def _main(apps: int, per_app: int, agents: int, conn: Any) -> None:
    use_uvloop()
    logging.basicConfig(level=logging.WARNING)
    try:
        asyncio.run(_serve(apps, per_app, agents, conn))
    except BaseException as e:
        conn.send({"error": repr(e)})
        raise


@dataclass
class Upstream:
    proc: Any
    conn: Any
    master_url: str
    webapp_url: str
    deploy_s: float
    agents: int

    def stop(self) -> None:
        try:
            self.conn.send("stop")
        except OSError:
            pass
        self.proc.join(60)
        if self.proc.is_alive():
            self.proc.kill()
            self.proc.join()


def start(apps: int, per_app: int, agents: int | None = None) -> Upstream:
    """Run the upstream (see the module docstring); `agents` defaults to one per 250 tasks
    (the deploy slows down sharply with many more tasks per agent: 10,000 tasks on 20 agents
    take minutes, on 40 agents under 20 s)."""
    if agents is None:
        agents = max(4, apps * per_app // TASKS_PER_AGENT)
    ctx = mp.get_context("spawn")
    mine, theirs = ctx.Pipe()
    proc = ctx.Process(target=_main, args=(apps, per_app, agents, theirs), daemon=True)
    proc.start()
    deadline = time.monotonic() + DEPLOY_TIMEOUT_S + 60
    while not mine.poll(0.5):
        if not proc.is_alive() or time.monotonic() > deadline:
            proc.kill()
            proc.join()
            raise RuntimeError(f"the upstream did not start (exit code {proc.exitcode})")
    msg = mine.recv()
    if "error" in msg:
        proc.join(5)
        raise RuntimeError(f"the upstream failed: {msg['error']}")
    return Upstream(proc, mine, msg["master_url"], msg["webapp_url"], msg["deploy_s"], agents)
