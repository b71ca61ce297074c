"""The dcos.testing factories build Mesos v1 JSON that the SDK helpers accept as-is."""

from __future__ import annotations

from dcos.sdk import Offer, OfferPacker, TaskNeeds
from dcos.testing import (
    SimClock,
    make_agent_info,
    make_framework_info,
    make_offer,
    make_task_info,
)


def test_offer_shape_and_packing():
    offer = make_offer("o1", agent_id="a1", framework_id="f1",
                       resources="cpus:1;mem:128;ports:[31000-31001]",
                       attributes={"rack": "r1", "level": 2})  # fmt: skip
    view = Offer(offer)
    assert (view.id, view.agent_id, view.framework_id) == ("o1", "a1", "f1")
    assert offer["allocation_info"] == {"role": "*"}
    assert all(r["allocation_info"] == {"role": "*"} for r in offer["resources"])
    assert offer["attributes"] == [
        {"name": "rack", "type": "TEXT", "text": {"value": "r1"}},
        {"name": "level", "type": "SCALAR", "scalar": {"value": 2.0}},
    ]
    packer = OfferPacker(offer)
    needs = TaskNeeds.parse("cpus:0.5;mem:64", ports=1)
    assert packer.take(needs).ok and packer.take(needs).ok
    assert not packer.take(needs).ok


def test_agent_framework_and_task_info_shapes():
    agent = make_agent_info("a1", hostname="h1", resources="cpus:2;mem:256")
    assert agent["id"] == {"value": "a1"} and agent["hostname"] == "h1"
    assert {r["name"] for r in agent["resources"]} == {"cpus", "mem"}
    assert "id" not in make_agent_info()

    fw = make_framework_info("fw", roles=["web"], failover_timeout=30,
                             capabilities=["PARTITION_AWARE"])  # fmt: skip
    assert fw["roles"] == ["web"] and fw["failover_timeout"] == 30.0
    assert {c["type"] for c in fw["capabilities"]} == {"PARTITION_AWARE", "MULTI_ROLE"}

    task = make_task_info("t1", agent_id="a1", command="echo hi", labels={"k": "v"})
    assert task["task_id"] == {"value": "t1"} and task["agent_id"] == {"value": "a1"}
    assert task["command"] == {"value": "echo hi", "shell": True}
    assert task["labels"] == {"labels": [{"key": "k", "value": "v"}]}


async def test_sim_clock_is_reexported():
    clock = SimClock(start=100.0)
    await clock.advance(5)
    assert clock.time() == 105.0
