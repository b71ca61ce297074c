"""Webapp deployments on simulated time: the service's timers (tick loop, readiness poller)
run on a `SimClock(autojump=True)`, a fake driver plays the master and its agents (offers
every second, tasks that start, get healthy, fail or die on a kill after simulated delays),
so minutes of rolling upgrades and launch backoff run in milliseconds with no sleeps."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from dcos.common.clock import SimClock
from dcos.sdk import Offer, TaskStatus
from dcos.sdk.framework import FrameworkAction, Kill, Launch
from dcos.state import MemoryStateStore
from dcos.testing import make_offer
from frameworks.webapp.actions import Deploy
from frameworks.webapp.model.app import normalize
from frameworks.webapp.model.spec import AppSpec
from frameworks.webapp.scheduler import WebappService
from frameworks.webapp.store import WebappStore


def spec(**kw) -> AppSpec:
    app, errs = normalize({"id": "/web", "cmd": "serve", "cpus": 0.5, "mem": 32, **kw})
    assert not errs, errs
    return AppSpec.parse(app)


class FakeCluster:
    """The driver the service sends its actions to: tasks start `start_delay` simulated
    seconds after their launch (then `behaviour(task)` says "healthy", "unhealthy" or
    "fail"), die on a kill; offers come every second while the service wants them."""

    def __init__(self, svc: WebappService, clock: SimClock, agents: int = 3) -> None:
        self.svc, self.clock, self.agents = svc, clock, agents
        self.connected = True
        self.framework_id = "fw-1"
        self.launched: list[tuple[float, str, str]] = []  # (time, task id, cmd)
        self.killed: list[tuple[float, str]] = []
        self.behaviour: Callable[[dict], str] = lambda task: "healthy"
        self.start_delay = 2.0
        self.running: set[str] = set()
        self._bg: set[asyncio.Task] = set()
        self._n = 0

    def spawn(self, coro) -> None:
        t = asyncio.get_running_loop().create_task(coro)
        self._bg.add(t)
        t.add_done_callback(self._bg.discard)

    async def apply(self, actions: list[FrameworkAction]) -> list[None]:
        for a in actions:
            if isinstance(a, Launch):
                for task in a.tasks:
                    tid = task["task_id"]["value"]
                    self.launched.append((self.clock.time(), tid, task["command"]["value"]))
                    self.spawn(self._run(task))
            elif isinstance(a, Kill):
                self.killed.append((self.clock.time(), str(a.task_id)))
                self.spawn(self._update(str(a.task_id), "TASK_KILLED", delay=1.0))
        return [None] * len(actions)

    async def _run(self, task: dict) -> None:
        tid = task["task_id"]["value"]
        await self.clock.sleep(self.start_delay)
        how = self.behaviour(task)
        if how == "fail":
            await self._update(tid, "TASK_FAILED", message="exit 1")
            return
        self.running.add(tid)
        await self._update(tid, "TASK_RUNNING", healthy=how == "healthy" if task.get("health_check") else None)

    async def _update(self, tid: str, state: str, delay: float = 0.0, **kw) -> None:
        if delay:
            await self.clock.sleep(delay)
        if state != "TASK_RUNNING":
            self.running.discard(tid)
        st = {"task_id": {"value": tid}, "state": state, **{k: v for k, v in kw.items() if v is not None}}
        await self.svc.on_status(TaskStatus(st))

    async def offer_loop(self) -> None:
        while True:
            await self.clock.sleep(1.0)
            if self.svc.core.wants_offers:
                self._n += 1
                offers = [Offer(make_offer(offer_id=f"o{self._n}-{i}", agent_id=f"a{i}", hostname=f"h{i}",
                                           resources="cpus:4;mem:4096;ports:[31000-31099]"))
                          for i in range(self.agents)]
                await self.svc.on_offers(offers)

    async def stop(self, failover: bool = True) -> None:
        for t in list(self._bg):
            t.cancel()


async def until(clock: SimClock, cond: Callable[[], bool], limit: float = 600.0) -> float:
    """Wait (simulated time) until `cond()`; the simulated seconds it took."""
    start = clock.time()
    while not cond():
        assert clock.time() - start < limit, "condition not reached in simulated time"
        await clock.sleep(0.25)
    return clock.time() - start


async def service(clock: SimClock) -> tuple[WebappService, FakeCluster, asyncio.Task]:
    svc = WebappService(WebappStore(MemoryStateStore()), master="127.0.0.1:1", clock=clock)
    cluster = FakeCluster(svc, clock)
    svc.driver = cluster  # type: ignore[assignment]
    svc.start_timers()
    await svc.on_subscribed("fw-1")
    return svc, cluster, asyncio.get_running_loop().create_task(cluster.offer_loop())


def running_cmds(svc: WebappService) -> list[str]:
    app = svc.view.apps["/web"]
    return [i.config for i in svc.view.app_instances("/web") if i.running and i.config == app.config_version]


async def test_rolling_upgrade_keeps_healthy_capacity_on_simulated_time() -> None:
    clock = SimClock(autojump=True)
    svc, cluster, offers = await service(clock)
    hc = [{"protocol": "MESOS_HTTP", "intervalSeconds": 5, "gracePeriodSeconds": 0, "portIndex": 0}]
    us = {"minimumHealthCapacity": 0.5, "maximumOverCapacity": 0.0}
    await svc.deploy(Deploy({"/web": spec(instances=4, healthChecks=hc, upgradeStrategy=us)}))
    took = await until(clock, lambda: not svc.view.deployments)
    assert len(cluster.launched) == 4 and took < 10  # one offer round, 2 s to start
    healthy_low = []

    def healthy_now() -> int:
        n = sum(1 for i in svc.view.app_instances("/web") if i.running and i.healthy and not i.killing)
        healthy_low.append(n)
        return n

    d = await svc.deploy(Deploy({"/web": spec(instances=4, cmd="serve v2", healthChecks=hc, upgradeStrategy=us)}))
    took = await until(clock, lambda: healthy_now() >= 0 and d.id not in svc.view.deployments)
    assert min(healthy_low) >= 2  # minimumHealthCapacity 0.5 of 4, through the whole upgrade
    assert [c for _, _, c in cluster.launched].count("serve v2") == 4
    assert len(cluster.killed) == 4 and len(running_cmds(svc)) == 4
    assert 3 <= took < 60  # two waves of kill (1 s) + start (2 s) on the simulated clock
    offers.cancel()
    await svc.stop()


async def test_readiness_gates_the_upgrade_on_simulated_time() -> None:
    clock = SimClock(autojump=True)
    svc, cluster, offers = await service(clock)
    ready_after = 20.0

    async def check(inst, app):  # the HTTP readiness probe, answered from simulated time
        ok = inst.started_at is not None and clock.time() - inst.started_at >= ready_after
        return ok, {"name": app.readiness.name, "taskId": inst.task_id, "ready": ok, "lastResponse": None}

    svc._check_ready = check  # type: ignore[method-assign]
    ports = [{"port": 0, "name": "http"}]
    rc = [{"portName": "http", "intervalSeconds": 5}]
    await svc.deploy(Deploy({"/web": spec(instances=2, portDefinitions=ports, readinessChecks=rc)}))
    await until(clock, lambda: not svc.view.deployments)
    d = await svc.deploy(Deploy({"/web": spec(instances=2, cmd="serve v2", portDefinitions=ports,
                                              readinessChecks=rc)}))  # fmt: skip
    took = await until(clock, lambda: d.id not in svc.view.deployments)
    assert took >= ready_after  # old tasks went only once new ones were ready
    first_kill = min(t for t, _ in cluster.killed)
    first_v2 = min(t for t, _, c in cluster.launched if c == "serve v2")
    assert first_kill - first_v2 >= ready_after
    offers.cancel()
    await svc.stop()


async def test_launch_backoff_grows_on_simulated_time() -> None:
    clock = SimClock(autojump=True)
    svc, cluster, offers = await service(clock)
    cluster.behaviour = lambda task: "fail"
    await svc.deploy(Deploy({"/web": spec(instances=1, backoffSeconds=10, backoffFactor=2,
                                          maxLaunchDelaySeconds=40)}))  # fmt: skip
    await until(clock, lambda: len(cluster.launched) >= 5, limit=400)
    times = [t for t, _, _ in cluster.launched]
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    # each task fails 2 s after its launch; then the delay (10, 20, 40, 40 capped) and at
    # most one offer round (1 s) pass before the next launch
    for gap, delay in zip(gaps, (10, 20, 40, 40), strict=True):
        assert delay + 2 <= gap <= delay + 2 + 1.01, (gaps, delay)
    assert svc.view.state["/web"].last_failure["state"] == "TASK_FAILED"
    offers.cancel()
    await svc.stop()
