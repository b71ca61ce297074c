"""Offer helpers: matching needs and ports, packing several tasks, TaskInfo JSON."""

from __future__ import annotations

import pytest

from dcos.protocol.resources import Resources
from dcos.sdk import Offer
from dcos.sdk.offers import OfferPacker, TaskNeeds, pick_ports, task_info


def scalar(name, value, **meta):
    return {"name": name, "type": "SCALAR", "scalar": {"value": value}, **meta}


def ports(*ranges, **meta):
    rs = [{"begin": b, "end": e} for b, e in ranges]
    return {"name": "ports", "type": "RANGES", "ranges": {"range": rs}, **meta}


def offer(*resources, role="*"):
    return Offer(
        {
            "id": {"value": "o1"},
            "agent_id": {"value": "a1"},
            "hostname": "h1",
            "allocation_info": {"role": role},
            "resources": list(resources),
        }
    )


def test_pick_ports_lowest_first_across_ranges():
    assert pick_ports([(31000, 31001), (31005, 31010)], 3) == [31000, 31001, 31005]
    assert pick_ports([(31000, 31001)], 3) is None
    assert pick_ports([], 0) == []


def test_take_builds_task_resources_with_allocation_role_and_ports():
    o = offer(
        scalar("cpus", 1.0, role="*"),
        scalar("mem", 256.0, role="*"),
        ports((31000, 31009), role="*"),
    )
    fit = OfferPacker(o).take(TaskNeeds.parse("cpus:0.5;mem:128", ports=2))
    assert fit.ok and fit.ports == (31000, 31001)
    alloc = {"allocation_info": {"role": "*"}, "role": "*"}
    assert fit.resources == [
        {"name": "cpus", "type": "SCALAR", "scalar": {"value": 0.5}, **alloc},
        {"name": "mem", "type": "SCALAR", "scalar": {"value": 128.0}, **alloc},
        {
            "name": "ports",
            "type": "RANGES",
            "ranges": {"range": [{"begin": 31000, "end": 31001}]},
            **alloc,
        },
    ]
    assert Resources.from_mesos(fit.resources) == Resources.parse(
        "cpus:0.5;mem:128;ports:[31000-31001]"
    )


def test_several_tasks_are_packed_until_the_offer_runs_out():
    o = offer(scalar("cpus", 1.0), scalar("mem", 100.0), ports((31000, 31002)))
    packer = OfferPacker(o)
    needs = TaskNeeds.parse("cpus:0.3;mem:30", ports=1)
    fits = []
    while (fit := packer.take(needs)).ok:
        fits.append(fit)
    assert [f.ports for f in fits] == [(31000,), (31001,), (31002,)]
    assert packer.remaining == Resources.parse("cpus:0.1;mem:10")
    assert fit.reason == "insufficient cpus: need 0.3, offer has 0.1 left"
    assert Resources.from_mesos(packer.remaining_resources()) == packer.remaining


def test_ports_shortage_and_fixed_ports():
    o = offer(scalar("cpus", 4.0), scalar("mem", 1024.0), ports((8080, 8081)))
    packer = OfferPacker(o)
    fixed = TaskNeeds(Resources.parse("cpus:1;ports:[8081-8081]"), ports=1)
    fit = packer.take(fixed)
    assert fit.ok and fit.ports == (8080, 8081)
    again = packer.take(TaskNeeds.parse("cpus:1", ports=1))
    assert not again.ok and again.reason == "insufficient ports: need 1, offer has 0 left"
    missing = OfferPacker(o).take(TaskNeeds(Resources.parse("ports:[9000-9000]")))
    assert not missing.ok and "not offered" in missing.reason


def test_reserved_resources_are_used_first_and_keep_their_reservation():
    res = [{"type": "STATIC", "role": "web"}]
    o = offer(
        scalar("cpus", 2.0, role="*"),
        scalar("cpus", 0.5, role="web", reservations=res),
        role="web",
    )
    fit = OfferPacker(o).take(TaskNeeds.parse("cpus:1"))
    assert fit.ok
    assert fit.resources == [
        {
            "name": "cpus",
            "type": "SCALAR",
            "scalar": {"value": 0.5},
            "role": "web",
            "reservations": res,
            "allocation_info": {"role": "web"},
        },
        {
            "name": "cpus",
            "type": "SCALAR",
            "scalar": {"value": 0.5},
            "role": "*",
            "allocation_info": {"role": "web"},
        },
    ]


def test_offer_without_allocation_info_adds_none():
    o = {"id": {"value": "o"}, "agent_id": {"value": "a"}, "resources": [scalar("cpus", 1.0)]}
    fit = OfferPacker(o).take(TaskNeeds.parse("cpus:1"))
    assert fit.resources == [scalar("cpus", 1.0)]


def test_task_info_shapes():
    t = task_info(
        name="hello",
        task_id="t-1",
        agent_id="a-1",
        command="echo hi",
        resources=Resources.parse("cpus:0.1;mem:32"),
        environment={"A": "1"},
        uris=["http://x/y.tgz"],
        labels={"k": "v"},
        data=b"hi",
        kill_grace_period=2.5,
    )
    assert t["task_id"] == {"value": "t-1"} and t["agent_id"] == {"value": "a-1"}
    assert t["command"] == {
        "value": "echo hi",
        "shell": True,
        "environment": {"variables": [{"name": "A", "value": "1"}]},
        "uris": [{"value": "http://x/y.tgz"}],
    }
    assert t["resources"][0]["name"] == "cpus"
    assert t["labels"] == {"labels": [{"key": "k", "value": "v"}]}
    assert t["data"] == "aGk="
    assert t["kill_policy"] == {"grace_period": {"nanoseconds": 2_500_000_000}}
    argv = task_info(name="x", task_id="t", agent_id="a", command=["/bin/sleep", "1"], resources=[])
    assert argv["command"] == {
        "value": "/bin/sleep",
        "arguments": ["/bin/sleep", "1"],
        "shell": False,
    }
    with pytest.raises(ValueError):
        task_info(name="x", task_id="t", agent_id="a", resources=[])
    with pytest.raises(TypeError):
        task_info("x", "t", "a", "true", [])  # type: ignore[misc]  # keyword-only
