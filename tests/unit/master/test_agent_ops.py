"""The operator's DEACTIVATE_AGENT, REACTIVATE_AGENT and MARK_AGENT_GONE in the master core
(`dcos.master.core.agent_ops`), their parsing (`operator_calls`), the registry operations
they write and their ACL check (`dcos.master.authz`)."""

from __future__ import annotations

import pytest

from dcos.master.core import CallError, CloseAgent, Persist, ToAgent
from dcos.master.core.operator_calls import (
    DeactivateAgent,
    MarkAgentGone,
    ReactivateAgent,
    parse_operator_write,
)
from dcos.protocol import internal
from dcos.protocol.ids import AgentID, wrap
from dcos.state import registry as ops
from dcos.state.memory import MemoryStateStore
from dcos.state.registry import Registrar, Registry
from dcos.testing.master import T0, CoreHarness, agent_info


def _running(h: CoreHarness, caps: tuple[str, ...] = ()) -> tuple[AgentID, str]:
    aid = h.agent()
    fid = h.subscribe(caps=caps)
    (offer,) = h.allocate()
    h.launch(fid, offer, ["t1"])
    h.update(aid, fid, "t1", "TASK_RUNNING")
    h.events(fid)
    return aid, fid


def _op(h: CoreHarness, call, now: float = T0 + 1):
    outcome, actions = h.core.operator_call(call, now)
    h.run(actions)
    return outcome, actions


def test_parse_the_mesos_wire_shape_and_refuse_bad_bodies():
    for ctype, cls in (("DEACTIVATE_AGENT", DeactivateAgent),
                       ("REACTIVATE_AGENT", ReactivateAgent),
                       ("MARK_AGENT_GONE", MarkAgentGone)):  # fmt: skip
        key = ctype.lower()
        call = parse_operator_write({"type": ctype, key: {"agent_id": {"value": "a-S1"}}})
        assert call == cls(AgentID("a-S1"))
        for bad in ({}, {key: 3}, {key: {}}, {key: {"agent_id": "a"}},
                    {key: {"agent_id": {"value": ""}}}, {key: {"agent_id": {"value": 5}}}):  # fmt: skip
            with pytest.raises(CallError, match=f"{key}"):
                parse_operator_write({"type": ctype, **bad})


def test_deactivated_agent_gets_no_offers_its_tasks_keep_running_and_reactivation_undoes_it():
    h = CoreHarness()
    aid, fid = _running(h)
    (offer,) = h.allocate(T0 + 10)  # what is left of the agent is offered
    outcome, actions = _op(h, DeactivateAgent(aid), T0 + 11)
    assert outcome.status == 200
    assert Persist(ops.DeactivateAgent(aid)) in actions
    (rescind,) = h.events(fid, "RESCIND")  # the outstanding offer is withdrawn
    assert rescind["rescind"]["offer_id"] == offer["id"]
    assert h.core.agents[aid].deactivated
    assert "t1" in h.core.frameworks[fid].tasks  # tasks untouched: no kill, no update
    assert not h.agent_events(aid, internal.KILL_TASK) and not h.statuses(fid)
    h.call(fid, {"type": "REVIVE"}, T0 + 12)
    assert h.allocate(T0 + 20) == []
    again, actions = _op(h, DeactivateAgent(aid), T0 + 21)  # idempotent, writes nothing
    assert again.status == 200 and not [a for a in actions if isinstance(a, Persist)]
    outcome, actions = _op(h, ReactivateAgent(aid), T0 + 22)
    assert outcome.status == 200 and Persist(ops.ReactivateAgent(aid)) in actions
    assert not h.core.agents[aid].deactivated
    assert [o["agent_id"] for o in h.allocate(T0 + 30)] == [wrap(aid)]
    again, actions = _op(h, ReactivateAgent(aid), T0 + 31)
    assert again.status == 200 and not [a for a in actions if isinstance(a, Persist)]


def test_deactivation_survives_a_reregistration_and_a_master_failover():
    h = CoreHarness()
    aid, fid = _running(h)
    _op(h, DeactivateAgent(aid))
    h.core.agent_disconnected(aid, h.core.agents[aid].stream_token, T0 + 2)
    h.agent(now=T0 + 3, agent_id=aid)  # re-registers (its task not reported: lost)
    assert h.core.agents[aid].deactivated
    assert h.allocate(T0 + 10) == []
    # a new leader reads the registry: the id is still deactivated when the agent returns
    reg = Registry()
    for a in h.actions:
        if isinstance(a, Persist):
            a.op.apply(reg)
    assert reg.deactivated_agents == [aid]
    h2 = CoreHarness()
    h2.secrets = dict(h.secrets)
    h2.run(h2.core.recover(Registry.from_bytes(reg.to_bytes()), T0 + 20))
    h2.subscribe(now=T0 + 21)
    out = h2.agent_subscribe(agent_info(agent_id=aid), now=T0 + 22)
    assert out.agent_id == aid and h2.core.agents[aid].deactivated
    assert h2.allocate(T0 + 30) == []
    assert _op(h2, ReactivateAgent(aid), T0 + 31)[0].status == 200
    assert len(h2.allocate(T0 + 40)) == 1


def test_deactivating_an_agent_expected_after_a_failover_applies_when_it_returns():
    h = CoreHarness()
    h.run(h.core.recover(Registry(agents={"a1": {"info": {"hostname": "h1"},
                                                 "unreachable_time": None}}), T0))  # fmt: skip
    assert _op(h, DeactivateAgent(AgentID("a1")))[0].status == 200
    h.subscribe()
    out = h.agent_subscribe(agent_info(agent_id="a1"), now=T0 + 2)
    assert out.agent_id == "a1" and h.core.agents[AgentID("a1")].deactivated
    assert h.allocate(T0 + 3) == []


def test_unknown_agent_ids_change_nothing():
    h = CoreHarness()
    aid, fid = _running(h)
    for call, status, message in (
        (DeactivateAgent(AgentID("nope")), 400, "Unknown agent 'nope'"),
        (ReactivateAgent(AgentID("nope")), 400, "Unknown agent 'nope'"),
        (MarkAgentGone(AgentID("nope")), 404, "Agent 'nope' not found"),
    ):
        outcome, actions = _op(h, call)
        assert (outcome.status, outcome.message) == (status, message)
        assert actions == []
    assert not h.core.agent_book.deactivated and aid in h.core.agents


def test_mark_gone_sends_task_gone_by_operator_shuts_the_agent_and_refuses_its_return():
    h = CoreHarness()
    aid, fid = _running(h)
    outcome, actions = _op(h, MarkAgentGone(aid), T0 + 5)
    assert outcome.status == 200
    assert Persist(ops.RemoveAgent(aid)) in actions
    evs = h.events(fid)
    (st,) = [e["update"]["status"] for e in evs if e["type"] == "UPDATE"]
    assert st["state"] == "TASK_GONE_BY_OPERATOR"
    assert st["reason"] == "REASON_SLAVE_REMOVED_BY_OPERATOR" and st["agent_id"] == wrap(aid)
    assert "t1" in h.core.frameworks[fid].completed_tasks
    assert [e["failure"]["agent_id"] for e in evs if e["type"] == "FAILURE"] == [wrap(aid)]
    shut = [a for a in actions if isinstance(a, ToAgent)]
    assert [a.event["type"] for a in shut] == [internal.SHUTDOWN_FRAMEWORK]
    assert CloseAgent(aid) in actions
    assert aid not in h.core.agents and not h.core.agent_book.known(aid)
    out = h.agent_subscribe(agent_info(agent_id=aid), now=T0 + 6)
    assert out.agent_id is None and "removed" in (out.error or "")
    again, actions = _op(h, MarkAgentGone(aid), T0 + 7)  # idempotent
    assert again.status == 200 and actions == []
    assert _op(h, DeactivateAgent(aid))[0].status == 400
    assert h.allocate(T0 + 10) == []  # its resources left the allocator


def test_mark_gone_of_an_unreachable_agent_ends_its_unreachable_tasks():
    h = CoreHarness(agent_ping_timeout=10, max_agent_ping_timeouts=3)
    aid, fid = _running(h, caps=("PARTITION_AWARE",))
    h.tick(T0 + 30)
    (st,) = h.statuses(fid)
    assert st["state"] == "TASK_UNREACHABLE"
    assert _op(h, MarkAgentGone(aid), T0 + 31)[0].status == 200
    (st,) = h.statuses(fid)
    assert st["state"] == "TASK_GONE_BY_OPERATOR"
    assert not h.core.frameworks[fid].unreachable_tasks
    assert aid not in h.core.unreachable_agents


async def test_registry_operations_round_trip():
    registrar = Registrar(MemoryStateStore())
    await registrar.recover()
    await registrar.apply([ops.AdmitAgent("a1", {"hostname": "h"}), ops.DeactivateAgent("a1")])
    assert registrar.registry.deactivated_agents == ["a1"]
    await registrar.apply([ops.DeactivateAgent("a1")])  # no change: no write
    await registrar.apply([ops.ReactivateAgent("a1")])
    assert registrar.registry.deactivated_agents == []
    await registrar.apply([ops.DeactivateAgent("a1"), ops.RemoveAgent("a1")])
    got = await Registrar(registrar.store).recover()
    assert got.deactivated_agents == [] and got.removed_agents == ["a1"]
    assert not ops.DeactivateAgent("a1").apply(got)  # a removed agent stays removed


def test_acl_checks_of_the_agent_calls():
    from dcos.master.authz import MasterAuthz
    from dcos.security.acls import Acls, Action
    from dcos.security.principal import Identity, Principal, Via

    class Policy:
        def __init__(self, acls: Acls) -> None:
            self.acls = acls

        def allows(self, identity, action, obj):
            return self.acls.allows(action, identity.principal, obj)

    acls = Acls.from_json({
        "permissive": False,
        "deactivate_agents": [{"principals": {"values": ["ops"]}, "agents": {"type": "ANY"}}],
        "mark_agents_gone": [{"principals": {"values": ["ops"]}, "agents": {"type": "ANY"}}],
    })  # fmt: skip
    authz = MasterAuthz(Policy(acls), "nobody")
    core = CoreHarness().core
    ops_id = Identity(Principal("ops"), "user", Via.TOKEN)
    eve = Identity(Principal("eve"), "user", Via.TOKEN)
    for call, action in ((DeactivateAgent(AgentID("a")), Action.DEACTIVATE_AGENTS),
                         (ReactivateAgent(AgentID("a")), Action.DEACTIVATE_AGENTS),
                         (MarkAgentGone(AgentID("a")), Action.MARK_AGENTS_GONE)):  # fmt: skip
        assert authz.operator_write(ops_id, call, core) is None
        denied = authz.operator_write(eve, call, core)
        assert denied is not None and denied.status == 403
        assert denied.message == f"Principal 'eve' is not authorized to {action.value}"
