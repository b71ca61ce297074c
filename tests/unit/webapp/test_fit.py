"""The fit core (frameworks/webapp/fit.py): agents' free resources from /master/slaves, every
instance of every app through the webapp's placement chain, reasons that name the resource or
the constraint."""

from __future__ import annotations

from typing import Any

import pytest

from dcos.protocol.resources import ResourceError, Resources
from frameworks.webapp.api.http import parse_app
from frameworks.webapp.fit import AgentFree, agents_from_slaves, fit, summary_resources
from frameworks.webapp.model.spec import AppSpec


def app(**fields: Any) -> AppSpec:
    spec, errs = parse_app({"id": "/a", "cmd": "sleep 1", "cpus": 0.5, "mem": 64, **fields})
    assert spec is not None, errs
    return spec


def agent(i: int, res: str = "cpus:2;mem:1024;disk:1000;ports:[31000-31009]", host: str | None = None,
          **attrs: str) -> AgentFree:  # fmt: skip
    return AgentFree(f"a{i}", host or f"h{i}", attrs, Resources.parse(res))


def slave(i: int, total: dict, used: dict | None = None, **extra: Any) -> dict:
    return {"id": f"S{i}", "hostname": f"h{i}", "resources": total, "unreserved_resources": total,
            "used_resources": used or {}, "offered_resources": {}, "reserved_resources": {},
            "attributes": {}, "active": True, **extra}  # fmt: skip


def test_free_is_unreserved_minus_used_and_inactive_agents_are_left_out():
    total = {"cpus": 4.0, "mem": 4096.0, "disk": 100.0, "gpus": 0.0, "ports": "[31000-31009]"}
    used = {"cpus": 1.5, "mem": 1000.0, "disk": 0.0, "gpus": 0.0, "ports": "[31000-31001, 31005-31005]"}
    body = {"slaves": [
        slave(0, total, used, attributes={"rack": "r1", "weight": 2.0}),
        slave(1, total, active=False),
    ]}  # fmt: skip
    [a] = agents_from_slaves(body)
    assert a.agent_id == "S0" and a.hostname == "h0"
    assert a.attributes == {"rack": "r1", "weight": "2"}
    assert a.free.scalar("cpus") == 2.5 and a.free.scalar("mem") == 3096
    assert a.free.ranges["ports"] == ((31002, 31004), (31006, 31009))
    assert not a.has_gpus


def test_offered_resources_count_as_free():
    total = {"cpus": 2.0, "mem": 512.0}
    body = {"slaves": [slave(0, total, offered_resources=total)]}
    assert agents_from_slaves(body)[0].free.scalar("cpus") == 2.0


@pytest.mark.parametrize("body", [{}, {"slaves": 3}, {"slaves": [slave(0, {"cpus": "x"})]},
                                  {"slaves": [slave(0, {"cpus": [1]})]}, []])  # fmt: skip
def test_a_body_of_another_shape_is_an_error(body):
    with pytest.raises(ResourceError):
        agents_from_slaves(body)


def test_summary_sets_and_empty_ranges():
    r = summary_resources({"cpus": 1, "ports": "[]", "zones": "{a, b}", "mem": 0})
    assert r == Resources.parse("cpus:1;zones:{a,b}")


def test_everything_fits_spread_over_agents():
    result = fit([agent(0), agent(1)], [app(instances=6)])
    assert result.fits and result.agents == 2
    body = result.to_json()
    assert body == {"fits": True, "agents": 2, "apps": [
        {"id": "/a", "instances": 6, "placeable": 6, "fits": True, "reasons": []}]}  # fmt: skip


def test_insufficient_cpus_names_the_best_agent():
    result = fit([agent(0, "cpus:0.3;mem:1024;ports:[1-9]"), agent(1, "cpus:0.2;mem:1024;ports:[1-9]")],
                 [app(cpus=0.5)])  # fmt: skip
    assert not result.fits
    [a] = result.apps
    assert a.placeable == 0
    assert [r.to_json() for r in a.reasons] == [
        {"reason": "insufficient cpus: needs 0.5, best agent has 0.3", "code": "InsufficientCpus", "agents": 2}]


def test_packing_counts_copies_already_placed():
    # 2 agents x 2 cpus hold 8 copies of 0.5 cpus; the 9th finds the best agent with 0 left
    result = fit([agent(0), agent(1)], [app(instances=10)])
    [a] = result.apps
    assert a.placeable == 8 and not a.fits
    assert a.reasons[0].reason == "insufficient cpus: needs 0.5, best agent has 0"


def test_memory_disk_and_gpus_are_named():
    [a] = fit([agent(0)], [app(mem=4096)]).apps
    assert a.reasons[0].reason == "insufficient mem: needs 4096, best agent has 1024"
    assert a.reasons[0].code == "InsufficientMemory"
    [a] = fit([agent(0)], [app(disk=5000)]).apps
    assert a.reasons[0].reason == "insufficient disk: needs 5000, best agent has 1000"
    [a] = fit([agent(0)], [app(gpus=1)], gpus_enabled=True).apps
    assert a.reasons[0].reason == "insufficient gpus: needs 1, best agent has 0"


def test_agents_with_gpus_are_left_out_unless_the_webapp_asks_for_them():
    gpu = AgentFree("g", "gpu-host", {}, Resources.parse("cpus:8;mem:8192;gpus:2;ports:[1-9]"), has_gpus=True)
    result = fit([agent(0, "cpus:1;mem:512;ports:[1-9]"), gpu], [app(gpus=1)])
    assert result.agents == 1 and not result.fits
    assert [r.code for r in result.apps[0].reasons] == ["InsufficientGpus", "InsufficientGpus"]
    assert "started with --gpus" in result.apps[0].reasons[1].reason
    assert fit([gpu], [app(gpus=1)], gpus_enabled=True).fits


def test_port_count_and_fixed_ports():
    two = [agent(0, "cpus:8;mem:8192;ports:[31000-31001]")]
    [a] = fit(two, [app(instances=2, portDefinitions=[{"port": 0}, {"port": 0}])]).apps
    assert a.placeable == 1
    assert a.reasons[0].reason == "insufficient ports: needs 2, best agent has 0"
    assert a.reasons[0].code == "InsufficientPorts"
    [a] = fit(two, [app(portDefinitions=[{"port": 80}], requirePorts=True)]).apps
    assert a.placeable == 0
    assert a.reasons[0].reason == "insufficient ports: needs port(s) 80, no agent has them free"
    assert fit(two, [app(portDefinitions=[{"port": 31001}], requirePorts=True)]).fits
    # without requirePorts the service port is not the host port: any free one will do
    assert fit(two, [app(portDefinitions=[{"port": 80}])]).fits


def test_unique_hostname_on_agents_sharing_a_host():
    agents = [agent(i, host="127.0.0.1") for i in range(3)]
    [a] = fit(agents, [app(instances=2, constraints=[["hostname", "UNIQUE"]])]).apps
    assert a.placeable == 1
    [r] = a.reasons
    assert r.code == "UnfulfilledConstraint" and r.agents == 3
    assert r.reason == ("constraint hostname:UNIQUE: the agents have 1 distinct hostname value(s), "
                        "so at most 1 instance(s) can run")  # fmt: skip
    assert fit([agent(i) for i in range(3)], [app(instances=3, constraints=[["hostname", "UNIQUE"]])]).fits


def test_like_unlike_and_missing_attribute():
    agents = [agent(0, rack="r1"), agent(1, rack="r2"), agent(2)]
    [a] = fit(agents, [app(instances=2, constraints=[["rack", "LIKE", "r1"]])]).apps
    assert a.placeable == 2  # two copies of 0.5 on r1's agent
    [a] = fit(agents, [app(constraints=[["rack", "LIKE", "r9"]])]).apps
    assert a.placeable == 0
    texts = {r.reason for r in a.reasons}
    assert "constraint rack:LIKE:r9: no agent satisfies it (the agents' rack: r1, r2)" in texts
    assert "constraint rack:LIKE:r9: no agent has the attribute rack" in texts
    assert a.reasons[0].agents == 2  # the most agents first
    [a] = fit(agents, [app(instances=5, constraints=[["rack", "UNLIKE", "r1"]])]).apps
    assert a.placeable == 5  # r2 and the agent without rack: 8 copies of room


def test_max_per_and_group_by():
    agents = [agent(0, rack="r1"), agent(1, rack="r2")]
    [a] = fit(agents, [app(instances=3, constraints=[["rack", "MAX_PER", "1"]])]).apps
    assert a.placeable == 2
    assert a.reasons[0].reason == "constraint rack:MAX_PER:1: each of the 2 rack value(s) already has 1 instance(s)"
    [a] = fit(agents, [app(instances=4, constraints=[["rack", "GROUP_BY", "2"]])]).apps
    assert a.fits
    small = [agent(0, "cpus:0.5;mem:512;ports:[1-9]", rack="r1"), agent(1, rack="r2")]
    [a] = fit(small, [app(instances=4, constraints=[["rack", "GROUP_BY", "2"]])]).apps
    assert a.placeable == 3  # r1 is full after one; a third copy on r2 would unbalance them
    assert {r.code for r in a.reasons} == {"InsufficientCpus", "UnfulfilledConstraint"}
    assert any(r.reason.startswith("constraint rack:GROUP_BY:2: no rack value") for r in a.reasons)


def test_roles():
    [a] = fit([agent(0)], [app(acceptedResourceRoles=["batch"])]).apps
    assert a.placeable == 0
    assert a.reasons[0].reason == "no agent has resources of role(s) batch (agents have *)"
    assert fit([agent(0)], [app(acceptedResourceRoles=["*"])]).fits


def test_apps_of_a_group_share_the_agents():
    agents = [agent(0, "cpus:1;mem:1024;ports:[1-9]")]
    result = fit(agents, [app(id="/g/x", cpus=0.75), app(id="/g/y", cpus=0.5), app(id="/g/z", cpus=0.25)])
    assert [(a.id, a.placeable, a.fits) for a in result.apps] == [
        ("/g/x", 1, True), ("/g/y", 0, False), ("/g/z", 1, True)]  # fmt: skip
    assert not result.fits
    assert result.apps[1].reasons[0].reason == "insufficient cpus: needs 0.5, best agent has 0.25"


def test_no_agents_and_zero_instances():
    [a] = fit([], [app()]).apps
    assert [r.to_json() for r in a.reasons] == [{"reason": "no active agents", "code": "NoAgents", "agents": 0}]
    assert fit([], [app(instances=0)]).fits
