"""The batch dispatcher's Mesos side without a master: queued drivers are placed on offers
with the SDK placement chain (oldest first, head of line), the rest declined, offers
suppressed when nothing is queued and revived by a new submission; the drivers it knows
are reconciled after a re-subscription."""

from __future__ import annotations

from typing import Any

from dcos.sdk import Decline, Launch, Offer, Reconcile, Revive, Suppress
from dcos.state import MemoryStateStore
from dcos.testing import make_offer
from frameworks.batch.cluster.dispatcher import LAUNCHED, QUEUED, Dispatcher


class FakeDriver:
    """Records what `apply` is given; every call succeeds."""

    framework_id = "fw-1"

    def __init__(self) -> None:
        self.applied: list[Any] = []

    async def apply(self, actions: Any) -> list[None]:
        actions = list(actions)
        self.applied.extend(actions)
        return [None] * len(actions)


def offer(oid: str, agent: str, cpus: float, mem: float = 2048) -> Offer:
    return Offer(make_offer(oid, agent_id=agent, resources=f"cpus:{cpus};mem:{mem}"))


async def dispatcher(tmp_path, *cpus: float) -> tuple[Dispatcher, FakeDriver]:
    d = Dispatcher(MemoryStateStore(), "127.0.0.1:5050")
    drv = FakeDriver()
    d.driver = drv  # type: ignore[assignment]
    script = tmp_path / "job.py"
    script.write_text("print(1)\n")
    for c in cpus:
        await d.submit({"script": str(script), "driver_cpus": c, "driver_mem": 256})
    return d, drv


async def test_queued_drivers_go_to_offers_that_fit_the_rest_are_declined(tmp_path) -> None:
    d, drv = await dispatcher(tmp_path, 0.5, 0.5, 4.0, 0.1)
    await d.resource_offers(drv, [offer("o1", "a1", 1.0), offer("o2", "a2", 0.4)])  # type: ignore[arg-type]
    launches = [a for a in drv.applied if isinstance(a, Launch)]
    assert [(list(map(str, a.offer_ids)), len(a.tasks)) for a in launches] == [(["o1"], 2)]
    assert [a for a in drv.applied if isinstance(a, Decline)] == [Decline(["o2"], 30)]
    states = [s["state"] for s in sorted(d.subs.values(), key=lambda s: s["submitted"])]
    assert states.count(LAUNCHED) == 2 and states.count(QUEUED) == 2  # the 4-cpu one blocks
    task = launches[0].tasks[0]
    assert {r["name"]: r["scalar"]["value"] for r in task["resources"]} == {"cpus": 0.5, "mem": 256}
    assert not any(isinstance(a, Suppress) for a in drv.applied)  # drivers still queued


async def test_suppress_when_nothing_is_queued_revive_on_submit_and_reconcile(tmp_path) -> None:
    d, drv = await dispatcher(tmp_path, 0.5)
    await d.resource_offers(drv, [offer("o1", "a1", 1.0)])  # type: ignore[arg-type]
    assert isinstance(drv.applied[-1], Suppress)
    await d.submit({"script": str(tmp_path / "job.py")})
    assert isinstance(drv.applied[-1], Revive)
    drv.applied.clear()
    await d.reregistered(drv, {})  # type: ignore[arg-type]
    launched = next(s for s in d.subs.values() if s["state"] == LAUNCHED)
    assert drv.applied == [Reconcile(((launched["task_id"], "a1"),)), Reconcile()]
