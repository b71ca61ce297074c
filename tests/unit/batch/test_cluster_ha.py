"""Batch under HA masters: `zk://` and Spark's `mesos://zk://` master URLs for the driver and
the dispatcher (handed to the SDK driver, which follows the leader; the drivers the
dispatcher starts get the same URL), the driver's failover timeout that lets it re-subscribe
after a master failover, and a dispatcher that keeps taking submissions while its driver is
between masters and launches them once the new leader offers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from dcos.common.clock import SimClock
from dcos.sdk import Launch, NotConnected, Offer, Reconcile
from dcos.state import MemoryStateStore
from dcos.testing import make_offer
from frameworks.batch.cluster import mesos
from frameworks.batch.cluster.backend import master_target
from frameworks.batch.cluster.conf import ClusterConf
from frameworks.batch.cluster.dispatcher import (
    LAUNCHED,
    QUEUED,
    Dispatcher,
    dispatcher_master,
    parser,
)
from frameworks.batch.cluster.executor_policy import ExecutorPolicy

ZK = "zk://10.0.0.5:2181,10.0.0.6:2181/dcos"


@pytest.mark.parametrize(("url", "target", "host"), [
    (ZK, ZK, "10.0.0.5"),
    ("mesos://" + ZK, ZK, "10.0.0.5"),
    ("zk://[::1]:2181/dcos", "zk://[::1]:2181/dcos", "::1"),
    ("mesos://10.0.0.1:5050", "http://10.0.0.1:5050", "10.0.0.1"),
    ("10.0.0.1", "http://10.0.0.1:5050", "10.0.0.1"),
])
def test_master_urls_give_the_sdk_target_and_a_host_to_route_to(url: str, target: str,
                                                                 host: str) -> None:
    assert master_target(url) == (target, host)


@pytest.mark.parametrize("bad", ["zk://10.0.0.5:2181", "mesos://zk://", "ftp://x"])
def test_bad_master_urls_are_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        master_target(bad)


def test_the_dispatcher_takes_zk_masters_and_keeps_host_port_for_addresses() -> None:
    assert dispatcher_master("mesos://" + ZK) == (ZK, "10.0.0.5")
    assert dispatcher_master("mesos://10.0.0.1:5050") == ("10.0.0.1:5050", "10.0.0.1")
    assert parser().parse_args(["--master", ZK]).master == ZK


def test_the_driver_keeps_its_framework_through_a_master_failover(monkeypatch) -> None:
    made: list[dict[str, Any]] = []

    class Recorder:
        def __init__(self, scheduler: Any, info: Any, master: str, **kw: Any) -> None:
            made.append({"master": master, **kw})

    monkeypatch.setattr(mesos, "SchedulerDriver", Recorder)
    for conf, expected in (({}, 60.0), ({"spark.mesos.driver.failoverTimeout": "5"}, 5.0)):
        c = ClusterConf.parse(conf, environ={})
        mesos.MesosSide(object(), ExecutorPolicy(c.spec, "app"), c, app_name="t", app_id="a",  # type: ignore[arg-type]
                        master=ZK, webui_url="", driver_address="d:1", clock=SimClock())
        assert made[-1]["master"] == ZK
        assert made[-1]["failover_timeout"] == expected


class BetweenMasters:
    """The dispatcher's SDK driver: while `connected` is False (the leader died, no new one
    subscribed yet), every call fails as the real driver's do (not sent, never raised)."""

    framework_id = "fw-1"

    def __init__(self) -> None:
        self.connected = True
        self.applied: list[Any] = []

    async def apply(self, actions: Any) -> list[Exception | None]:
        actions = list(actions)
        if not self.connected:
            return [NotConnected("the driver is not subscribed to a master") for _ in actions]
        self.applied.extend(actions)
        return [None] * len(actions)


def offer(oid: str, agent: str) -> Offer:
    return Offer(make_offer(oid, agent_id=agent, resources="cpus:2;mem:2048"))


async def test_submissions_keep_going_through_a_master_failover(tmp_path: Path) -> None:
    store = MemoryStateStore()
    d = Dispatcher(store, ZK)
    drv = BetweenMasters()
    d.driver = drv  # type: ignore[assignment]
    script = tmp_path / "job.py"
    script.write_text("print(1)\n")
    first = await d.submit({"script": str(script), "driver_cpus": 0.5, "driver_mem": 128})
    await d.resource_offers(drv, [offer("o1", "a1")])  # type: ignore[arg-type]
    assert first["state"] == LAUNCHED
    env = {e["name"]: e["value"] for e in
           next(a for a in drv.applied if isinstance(a, Launch)).tasks[0]["command"]
           ["environment"]["variables"]}
    assert env["MASTER"] == env["DCOS_BATCH_MASTER"] == "mesos://" + ZK  # drivers follow too

    drv.connected = False  # the leading master is killed
    second = await d.submit({"script": str(script), "driver_cpus": 0.5, "driver_mem": 128})
    assert second["state"] == QUEUED
    stored = await store.get("/submissions/" + second["id"])
    assert stored is not None and orjson.loads(stored.value)["state"] == QUEUED

    drv.connected = True  # re-subscribed to the new leader (same framework id)
    drv.applied.clear()
    await d.reregistered(drv, {})  # type: ignore[arg-type]
    assert drv.applied[0] == Reconcile(((first["task_id"], "a1"),))
    await d.resource_offers(drv, [offer("o2", "a2")])  # type: ignore[arg-type]
    assert second["state"] == LAUNCHED
    assert any(isinstance(a, Launch) and a.tasks[0]["task_id"]["value"] == second["id"]
               for a in drv.applied)
