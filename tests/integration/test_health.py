"""Integration: health checks run by real agents next to real tasks.

An HTTP check against a port nothing listens on gets its task killed (TASK_KILLED, healthy
false, the health reason and a message naming the check); a task serving HTTP on $PORT0
(python -m http.server) is reported healthy.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import pytest

from dcos.sdk import Offer, OfferPacker, SchedulerDriver, TaskNeeds, task_info
from dcos.testing import RecordingScheduler

pytestmark = pytest.mark.integration

Extra = Callable[[tuple[int, ...]], dict[str, Any]]  # chosen ports -> extra TaskInfo fields


class CustomTaskScheduler(RecordingScheduler):
    """Launches each queued task with one port and extra TaskInfo fields built from it
    (a ``health_check`` naming the port, a ``command`` dict with ``uris`` ...)."""

    def __init__(self, needs: str = "cpus:0.01;mem:16") -> None:
        super().__init__(needs)
        self.needs = TaskNeeds.parse(needs, ports=1)
        self.custom: list[tuple[str, str | dict[str, Any], Extra]] = []
        self.ports: dict[str, tuple[int, ...]] = {}

    def add(self, tid: str, command: str | dict[str, Any], extra: Extra | None = None) -> str:
        self.custom.append((tid, command, extra or (lambda ports: {})))
        return tid

    async def resource_offers(self, driver, offers: list[Offer]):
        for offer in offers:
            packer = OfferPacker(offer)
            tasks = []
            while self.custom and (fit := packer.take(self.needs)).ok:
                tid, command, extra = self.custom.pop(0)
                info = task_info(name=tid, task_id=tid, agent_id=offer.agent_id, resources=fit.resources, command=command)
                info.update(extra(fit.ports))
                self.ports[tid] = fit.ports
                tasks.append(info)
            if tasks:
                await driver.launch([offer], tasks, refuse_seconds=0.5)
            else:
                await driver.decline([offer], refuse_seconds=0.5)


async def start(cluster, sched) -> SchedulerDriver:
    driver = SchedulerDriver(sched, {"name": "health-itest"}, cluster.master,
                             failover_timeout=3600)  # fmt: skip
    sched.driver = driver
    await driver.start()
    await sched.wait(lambda: sched.registrations == 1, what="registration")
    return driver


def http_check(port: int, **kw: Any) -> dict[str, Any]:
    check = {"type": "HTTP", "http": {"port": port, "path": "/"}, "delay_seconds": 0,
             "interval_seconds": 0.2, "timeout_seconds": 1, "grace_period_seconds": 0.3,
             "consecutive_failures": 2}  # fmt: skip
    check.update(kw)
    return check


async def test_failing_http_check_kills_the_task(cluster):
    sched = CustomTaskScheduler()
    tid = sched.add("unhealthy", "sleep 60",
                    lambda ports: {"health_check": http_check(ports[0])})  # fmt: skip
    driver = await start(cluster, sched)
    try:
        await sched.wait_states([tid], "TASK_KILLED", timeout=30)
        port = sched.ports[tid][0]
        statuses = sched.statuses[tid]
        running_unhealthy = [s for s in statuses
                             if s.state == "TASK_RUNNING" and s.get("healthy") is False]  # fmt: skip
        assert running_unhealthy, [dict(s) for s in statuses]
        assert running_unhealthy[0].reason == "REASON_TASK_HEALTH_CHECK_STATUS_UPDATED"
        last = statuses[-1]
        assert last.get("healthy") is False
        assert last.reason == "REASON_TASK_HEALTH_CHECK_STATUS_UPDATED"
        assert last.message.startswith(f"Health check failed: HTTP GET 127.0.0.1:{port}/ failed:")
        assert last.message.endswith("(2 consecutive failures)")
    finally:
        await driver.stop()


async def test_http_server_task_reports_healthy(cluster):
    sched = CustomTaskScheduler()
    tid = sched.add(
        "healthy", f"exec {sys.executable} -m http.server $PORT0 --bind 127.0.0.1",
        lambda ports: {"health_check": http_check(ports[0], grace_period_seconds=20,
                                                  consecutive_failures=50)},
    )  # fmt: skip
    driver = await start(cluster, sched)
    try:
        await sched.wait(
            lambda: any(s.get("healthy") is True for s in sched.statuses[tid]), 30,
            "a healthy update",
        )
        healthy = next(s for s in sched.statuses[tid] if s.get("healthy") is True)
        assert healthy.state == "TASK_RUNNING"
        assert healthy.reason == "REASON_TASK_HEALTH_CHECK_STATUS_UPDATED"
        assert sched.state(tid) == "TASK_RUNNING"
        await driver.kill(tid)
        await sched.wait_states([tid], "TASK_KILLED")
        assert sched.statuses[tid][-1].get("healthy") is True  # killed by us, not by the check
    finally:
        await driver.stop()
