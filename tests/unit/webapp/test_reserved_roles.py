"""acceptedResourceRoles against offers of an agent statically reserved to ``slave_public``
(offers as the master sends them): only apps that accept that role land there; apps without
the field accept ``*`` only when the webapp runs with ``--default-accepted-resource-roles *``
(as the installer starts it)."""

from __future__ import annotations

from typing import Any

from dcos.protocol.resources import Resources
from dcos.sdk import Offer
from dcos.testing.master import CoreHarness, agent_info
from frameworks.webapp.__main__ import parse_args
from frameworks.webapp.api.http import parse_app
from frameworks.webapp.fit import AgentFree, agents_from_slaves, fit
from frameworks.webapp.launch import task_request
from frameworks.webapp.model.spec import AppSpec
from frameworks.webapp.placement import Slot, place


def app(**fields: Any) -> AppSpec:
    spec, errs = parse_app({"id": "/a", "cmd": "sleep 1", "cpus": 0.5, "mem": 64, **fields})
    assert spec is not None, errs
    return spec


def _offers() -> dict[str, Offer]:
    """Offers of a public agent (reserved to slave_public) and a private one, made by the
    master core to a framework subscribed with role slave_public; by hostname."""
    h = CoreHarness()
    out = h.agent_subscribe({**agent_info(5051), "reserved_role": "slave_public"})
    assert out.agent_id is not None
    h.agent(port=5052)
    info = {"user": "u", "name": "webapp", "roles": ["slave_public"],
            "capabilities": [{"type": "MULTI_ROLE"}]}  # fmt: skip
    assert h.subscribe_call({"type": "SUBSCRIBE", "subscribe": {"framework_info": info}}).framework_id
    return {o["hostname"]: Offer(o) for o in h.allocate()}


def _hosts(spec: AppSpec, default: tuple[str, ...] | None) -> set[str]:
    slots = [Slot.of(o) for o in _offers().values()]
    cluster = {s.agent.agent_id: s.agent for s in slots}
    result = place(slots, task_request(spec, (), cluster, default), 4)
    return {p.slot.agent.hostname for p in result.placements}


def test_public_app_lands_only_on_the_reserved_agent() -> None:
    assert _hosts(app(acceptedResourceRoles=["slave_public"]), ("*",)) == {"h5051"}
    assert _hosts(app(acceptedResourceRoles=["slave_public"]), None) == {"h5051"}


def test_default_apps_stay_off_the_reserved_agent() -> None:
    assert _hosts(app(), ("*",)) == {"h5052"}
    assert _hosts(app(acceptedResourceRoles=["*"]), None) == {"h5052"}
    assert _hosts(app(), None) == {"h5051", "h5052"}  # no default: any role (Marathon's)


def test_launched_task_resources_keep_the_reservation() -> None:
    slot = Slot.of(_offers()["h5051"])
    task = task_request(app(acceptedResourceRoles=["slave_public"]), (), {}, None)
    fit_ = slot.take(task.needs)
    assert fit_.ok
    for r in fit_.resources:
        assert r["role"] == "slave_public"
        assert r["reservations"] == [{"type": "STATIC", "role": "slave_public"}]
        assert r["allocation_info"] == {"role": "slave_public"}


def test_flags_take_role_and_default_accepted_roles(tmp_path) -> None:
    args = parse_args(["--master", "m:5050", "--work-dir", str(tmp_path), "--role", "slave_public",
                       "--default-accepted-resource-roles", "*"])  # fmt: skip
    assert args.role == "slave_public" and args.default_accepted_resource_roles == ("*",)
    plain = parse_args(["--master", "m:5050", "--work-dir", str(tmp_path)])
    assert plain.role == "*" and plain.default_accepted_resource_roles is None


def test_fit_sees_reserved_agents_with_their_role() -> None:
    res = {"cpus": 2.0, "mem": 1024.0, "disk": 0.0, "gpus": 0.0, "ports": "[31000-31009]"}
    zero = {"cpus": 0.0, "mem": 0.0, "disk": 0.0, "gpus": 0.0}
    body = {"slaves": [
        {"id": "S0", "hostname": "pub", "resources": res, "unreserved_resources": zero,
         "reserved_resources": {"slave_public": res}, "used_resources": {}, "active": True},
        {"id": "S1", "hostname": "priv", "resources": res, "unreserved_resources": res,
         "reserved_resources": {}, "used_resources": {}, "active": True},
    ]}  # fmt: skip
    agents = agents_from_slaves(body)
    assert [(a.hostname, a.role) for a in agents] == [("pub", "slave_public"), ("priv", "*")]
    (public,) = fit(agents, [app(instances=4, acceptedResourceRoles=["slave_public"])]).apps
    assert public.placeable == 4  # 2 cpus, 0.5 each: all on "pub"
    (default,) = fit(agents, [app(instances=8)], default_roles=("*",)).apps
    assert default.placeable == 4  # "priv" only
    assert AgentFree("a", "h", {}, Resources.parse("cpus:1")).role == "*"
