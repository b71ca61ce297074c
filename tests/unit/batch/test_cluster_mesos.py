"""The driver's Mesos side without a master: offers become the SDK's framework actions
(one Launch per executor with the resources taken from its offer, one Decline of the rest
with the long filter, Suppress once nothing more is wanted), REVIVE when work comes back, KILL
of a lingering executor, and the executors it knows reconciled after a re-subscription."""

from __future__ import annotations

from typing import Any

from dcos.common.clock import SimClock
from dcos.sdk import Decline, Kill, Launch, Offer, Reconcile, Revive, Suppress
from dcos.testing import make_offer
from frameworks.batch.cluster.conf import ClusterConf
from frameworks.batch.cluster.executor_policy import ExecutorPolicy
from frameworks.batch.cluster.mesos import MesosSide


class FakeDriver:
    framework_id = "fw-1"

    def __init__(self) -> None:
        self.applied: list[Any] = []

    async def apply(self, actions: Any) -> list[None]:
        actions = list(actions)
        self.applied.extend(actions)
        return [None] * len(actions)

    def apply_soon(self, actions: Any) -> None:
        self.applied.extend(actions)


class Host:
    def __init__(self) -> None:
        self.demand = 0
        self.gone: list[tuple[str, str]] = []

    def outstanding(self) -> int:
        return self.demand

    def executor_gone(self, eid: str, reason: str) -> None:
        self.gone.append((eid, reason))


def side(**conf: str) -> tuple[MesosSide, FakeDriver, Host]:
    c = ClusterConf.parse({"spark.executor.instances": "1", **conf}, environ={})
    host = Host()
    m = MesosSide(host, ExecutorPolicy(c.spec, "app"), c, app_name="t", app_id="app",
                  master="http://127.0.0.1:5050", webui_url="http://d:1/",
                  driver_address="d:7", clock=SimClock())  # fmt: skip
    drv = FakeDriver()
    m.driver = drv  # type: ignore[assignment]
    return m, drv, host


def offer(oid: str, agent: str, cpus: float) -> Offer:
    return Offer(make_offer(oid, agent_id=agent, hostname=agent, resources=f"cpus:{cpus};mem:2048"))


async def test_offers_become_one_launch_one_decline_and_a_suppress() -> None:
    m, drv, _ = side()
    await m.resource_offers(drv, [offer("o1", "a1", 0.6), offer("o2", "a2", 4)])  # type: ignore[arg-type]
    launch, decline, suppress = drv.applied
    assert isinstance(launch, Launch) and list(launch.offer_ids) == ["o2"]  # largest first
    [task] = launch.tasks
    assert {r["name"]: r["scalar"]["value"] for r in task["resources"]} == {"cpus": 1, "mem": 512}
    argv = task["command"]["arguments"]
    assert argv[argv.index("--driver") + 1] == "d:7" and task["task_id"]["value"] == "app-exec-1"
    assert decline == Decline(["o1"], 120.0)
    assert suppress == Suppress()
    assert m.framework_id == "fw-1"


async def test_too_small_offers_are_declined_with_the_reason_kept() -> None:
    m, drv, _ = side(**{"spark.executor.cores": "2"})
    await m.resource_offers(drv, [offer("o1", "a1", 1)])  # type: ignore[arg-type]
    assert drv.applied == [Decline(["o1"], 120.0)]  # still wants one: no Suppress
    assert m.last_problem == "offer from a1: insufficient cpus: need 2"


async def test_revive_on_demand_kill_and_reconcile_after_resubscribing() -> None:
    m, drv, host = side(**{"spark.dynamicAllocation.enabled": "true"})
    await m.resource_offers(drv, [offer("o1", "a1", 1)])  # type: ignore[arg-type]
    assert isinstance(drv.applied[-1], Suppress)
    eid = drv.applied[0].tasks[0]["task_id"]["value"]
    m.more_wanted()
    assert isinstance(drv.applied[-1], Suppress)  # has its executor: nothing to revive
    m.policy.lost(eid, "gone")
    host.demand = 3
    m.more_wanted()
    assert drv.applied[-1] == Revive()
    m.kill("x-1", "a9")
    assert drv.applied[-1] == Kill("x-1", "a9")
    drv.applied.clear()
    await m.resource_offers(drv, [offer("o2", "a2", 1)])  # type: ignore[arg-type]
    new = drv.applied[0].tasks[0]["task_id"]["value"]
    drv.applied.clear()
    await m.reregistered(drv, {})  # type: ignore[arg-type]
    assert drv.applied == [Reconcile(((new, "a2"),)), Reconcile()]
