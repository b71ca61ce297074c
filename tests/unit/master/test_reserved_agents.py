"""An agent statically reserved to a role (``--resources cpus(ROLE):2``): offered only to
frameworks of that role, with Mesos' reservation shape; shown reserved in the state views."""

from __future__ import annotations

from typing import Any

import orjson

from dcos.master.config import MasterConfig
from dcos.master.http import state_json as sj
from dcos.master.shell import MasterView
from dcos.protocol.codec import dumps_json
from dcos.protocol.ids import FrameworkID
from dcos.testing.master import T0, CoreHarness, agent_info


def _reserved_agent(h: CoreHarness, port: int, role: str) -> str:
    out = h.agent_subscribe({**agent_info(port), "reserved_role": role})
    assert out.agent_id is not None, out.error
    return out.agent_id


def _subscribe(h: CoreHarness, name: str, roles: list[str]) -> FrameworkID:
    info: dict[str, Any] = {"user": "u", "name": name, "roles": roles,
                            "capabilities": [{"type": "MULTI_ROLE"}]}  # fmt: skip
    out = h.subscribe_call({"type": "SUBSCRIBE", "subscribe": {"framework_info": info}})
    assert out.framework_id is not None, out.error
    return out.framework_id


def test_reserved_agent_is_offered_to_its_role_only_with_mesos_shape() -> None:
    h = CoreHarness()
    pub = _reserved_agent(h, 5051, "slave_public")
    priv = h.agent(port=5052)
    star = _subscribe(h, "star", ["*"])
    offers = h.allocate()
    assert [(o["framework_id"]["value"], o["agent_id"]["value"]) for o in offers] == [(star, priv)]
    for r in offers[0]["resources"]:
        assert r["role"] == "*" and "reservations" not in r
    public = _subscribe(h, "public", ["slave_public"])
    (o,) = h.allocate(T0 + 1)
    assert (o["framework_id"]["value"], o["agent_id"]["value"]) == (public, pub)
    assert o["allocation_info"] == {"role": "slave_public"}
    for r in o["resources"]:
        assert r["role"] == "slave_public"
        assert r["reservations"] == [{"type": "STATIC", "role": "slave_public"}]
        assert r["allocation_info"] == {"role": "slave_public"}


def test_state_views_show_the_reservation() -> None:
    h = CoreHarness()
    pub = _reserved_agent(h, 5051, "slave_public")
    priv = h.agent(port=5052)
    view = MasterView(h.core, MasterConfig(), T0, None)
    state = orjson.loads(dumps_json(sj.state_json(view)))
    agents = {a["id"]: a for a in state["slaves"]}
    a = agents[pub]
    assert a["reserved_resources"]["slave_public"]["cpus"] == 4.0
    assert {r["role"] for r in a["reserved_resources_full"]["slave_public"]} == {"slave_public"}
    assert a["unreserved_resources"]["cpus"] == 0.0 and a["unreserved_resources_full"] == []
    b = agents[priv]
    assert b["reserved_resources"] == {} and b["unreserved_resources"]["cpus"] == 4.0
    v1 = sj.v1_agent(view, h.core.agents[pub])
    assert {r["role"] for r in v1["total_resources"]} == {"slave_public"}
