"""Master core driven with plain `now` values: offers, timeouts, tasks, reconciliation."""

from __future__ import annotations

from dcos.master.core import AllocateSoon, CloseFramework, Persist, ToFramework
from dcos.protocol.ids import wrap
from dcos.protocol.mesos import valid_status_uuid
from dcos.state.registry import AddFramework, AdmitAgent, MarkUnreachable, RemoveFramework
from dcos.testing.master import T0, CoreHarness


def test_subscribe_sends_subscribed_and_persists_framework():
    h = CoreHarness()
    fid = h.subscribe("web")
    (ev,) = h.events(fid, "SUBSCRIBED")
    assert ev["subscribed"]["framework_id"] == wrap(fid)
    assert ev["subscribed"]["heartbeat_interval_seconds"] == 15.0
    assert ev["subscribed"]["master_info"]["version"] == "1.11.0"
    assert any(isinstance(a, Persist) and isinstance(a.op, AddFramework) for a in h.actions)


def test_one_offer_per_agent_with_mesos_shape():
    h = CoreHarness()
    a1, a2 = h.agent(port=5051), h.agent(port=5052)
    assert any(isinstance(a, Persist) and isinstance(a.op, AdmitAgent) for a in h.actions)
    fid = h.subscribe()
    offers = h.allocate()
    assert sorted(o["agent_id"]["value"] for o in offers) == sorted([a1, a2])
    o = offers[0]
    assert o["framework_id"] == wrap(fid) and o["hostname"].startswith("h505")
    names = {r["name"]: r for r in o["resources"]}
    assert names["cpus"]["scalar"]["value"] == 4.0
    assert names["ports"]["ranges"]["range"] == [{"begin": 31000, "end": 31010}]
    assert o["attributes"] == [{"name": "rack", "type": "TEXT", "text": {"value": "r1"}}]
    assert h.allocate() == []  # everything is offered already


def test_offer_timeout_rescinds():
    h = CoreHarness(offer_timeout=10)
    h.agent()
    fid = h.subscribe()
    (offer,) = h.allocate()
    h.events(fid)
    h.run(h.core.tick(T0 + 5))
    assert h.events(fid, "RESCIND") == []
    h.run(h.core.tick(T0 + 10))
    (ev,) = h.events(fid, "RESCIND")
    assert ev["rescind"]["offer_id"] == offer["id"]
    assert len(h.allocate(T0 + 11)) == 1  # re-offered


def test_decline_filter_holds_until_refuse_seconds_then_revive_clears():
    h = CoreHarness()
    h.agent()
    fid = h.subscribe()
    (offer,) = h.allocate()
    assert (
        h.call(
            fid,
            {
                "type": "DECLINE",
                "decline": {"offer_ids": [offer["id"]], "filters": {"refuse_seconds": 100}},
            },
        ).status
        == 202
    )
    assert h.allocate(T0 + 50) == []
    assert len(h.allocate(T0 + 101)) == 1
    h2 = CoreHarness()
    h2.agent()
    fid2 = h2.subscribe()
    (offer,) = h2.allocate()
    h2.call(
        fid2,
        {
            "type": "DECLINE",
            "decline": {"offer_ids": [offer["id"]], "filters": {"refuse_seconds": 4294967295}},
        },
    )
    assert h2.allocate(T0 + 1) == []
    h2.call(fid2, {"type": "REVIVE"}, T0 + 2)
    assert len(h2.allocate(T0 + 2)) == 1


def test_suppress_stops_offers():
    h = CoreHarness()
    h.agent()
    fid = h.subscribe()
    h.call(fid, {"type": "SUPPRESS"})
    assert h.allocate() == []
    h.call(fid, {"type": "REVIVE"})
    assert len(h.allocate()) == 1


def test_launch_runs_tasks_and_recovers_unused_resources():
    h = CoreHarness()
    aid = h.agent()
    fid = h.subscribe()
    (offer,) = h.allocate()
    assert h.launch(fid, offer, ["t1", "t2"], refuse=0).status == 202
    (run,) = h.agent_events(aid, "RUN_TASKS")
    assert [t["task_id"]["value"] for t in run["tasks"]] == ["t1", "t2"]
    assert run["framework"]["id"] == wrap(fid)
    (again,) = h.allocate()
    cpus = next(r for r in again["resources"] if r["name"] == "cpus")
    assert cpus["scalar"]["value"] == 2.0


def test_status_update_forwarded_with_agent_id_and_ack_goes_to_agent():
    h = CoreHarness()
    aid = h.agent()
    fid = h.subscribe()
    (offer,) = h.allocate()
    h.launch(fid, offer, ["t1"])
    h.update(aid, fid, "t1", "TASK_RUNNING")
    (st,) = h.statuses(fid)
    assert st["state"] == "TASK_RUNNING" and st["agent_id"] == wrap(aid)
    assert valid_status_uuid(st["uuid"])
    h.call(
        fid,
        {
            "type": "ACKNOWLEDGE",
            "acknowledge": {"agent_id": wrap(aid), "task_id": wrap("t1"), "uuid": st["uuid"]},
        },
    )
    (ack,) = h.agent_events(aid, "ACKNOWLEDGE")
    assert ack == {"type": "ACKNOWLEDGE", "framework_id": fid, "task_id": "t1", "uuid": st["uuid"]}
    assert h.core.frameworks[fid].tasks["t1"].state == "TASK_RUNNING"
    h.update(aid, fid, "t1", "TASK_FINISHED")
    assert "t1" not in h.core.frameworks[fid].tasks
    assert h.core.frameworks[fid].completed_tasks["t1"].state == "TASK_FINISHED"


def test_kill_without_agent_id_is_routed_to_the_agent():
    h = CoreHarness()
    aid = h.agent()
    fid = h.subscribe()
    (offer,) = h.allocate()
    h.launch(fid, offer, ["t1"])
    h.call(fid, {"type": "KILL", "kill": {"task_id": wrap("t1")}})
    (kill,) = h.agent_events(aid, "KILL_TASK")
    assert kill["task_id"] == "t1" and kill["framework_id"] == fid


def test_kill_unknown_task_answers_like_reconciliation():
    h = CoreHarness()
    h.agent()
    fid = h.subscribe()
    h.events(fid)
    h.call(fid, {"type": "KILL", "kill": {"task_id": wrap("nope")}})
    (st,) = h.statuses(fid)
    assert st["state"] == "TASK_LOST" and st["reason"] == "REASON_RECONCILIATION"


def test_invalid_accept_gives_task_error_and_keeps_valid_tasks():
    h = CoreHarness()
    aid = h.agent()
    fid = h.subscribe()
    (offer,) = h.allocate()
    h.events(fid)
    h.launch(fid, offer, ["ok", "ok", "big"], res="cpus:1.5;mem:128")
    sts = {(s["task_id"]["value"], s["state"]): s for s in h.statuses(fid)}
    assert ("ok", "TASK_ERROR") in sts  # duplicate id
    assert sts[("ok", "TASK_ERROR")]["reason"] == "REASON_TASK_INVALID"
    assert ("big", "TASK_ERROR") not in sts  # 1.5 + 1.5 <= 4 fits
    (run,) = h.agent_events(aid, "RUN_TASKS")
    assert [t["task_id"]["value"] for t in run["tasks"]] == ["ok", "big"]


def test_task_over_offered_resources_and_wrong_agent_are_errors():
    h = CoreHarness()
    h.agent()
    fid = h.subscribe()
    (offer,) = h.allocate()
    h.events(fid)
    h.launch(fid, offer, ["huge"], res="cpus:100")
    (st,) = h.statuses(fid)
    assert st["state"] == "TASK_ERROR" and "more resources" in st["message"]
    (offer,) = h.allocate(T0 + 10)
    bad = dict(offer, agent_id=wrap("other"))
    h.launch(fid, bad, ["t"])
    (st,) = h.statuses(fid)
    assert st["state"] == "TASK_ERROR" and "agent" in st["message"]


def test_accept_of_unknown_offer_drops_tasks():
    h = CoreHarness()
    h.agent()
    fid = h.subscribe(caps=("PARTITION_AWARE",))
    h.allocate()
    h.events(fid)
    fake = {"id": wrap("no-such-offer"), "agent_id": wrap("a")}
    h.launch(fid, fake, ["t1"])
    (st,) = h.statuses(fid)
    assert st["state"] == "TASK_DROPPED" and st["reason"] == "REASON_INVALID_OFFERS"


def _running(h, caps=()):
    aid = h.agent()
    fid = h.subscribe(caps=caps)
    (offer,) = h.allocate()
    h.launch(fid, offer, ["t1"])
    h.update(aid, fid, "t1", "TASK_RUNNING")
    h.events(fid)
    return aid, fid


def test_ping_timeout_marks_unreachable_task_lost_for_plain_frameworks():
    h = CoreHarness(agent_ping_timeout=10, max_agent_ping_timeouts=3)
    aid, fid = _running(h)
    h.run(h.core.tick(T0 + 10))
    assert h.agent_events(aid, "PING")
    h.run(h.core.tick(T0 + 29))
    assert aid in h.core.agents
    h.run(h.core.tick(T0 + 30))
    assert aid not in h.core.agents and aid in h.core.unreachable_agents
    evs = h.events(fid)
    (st,) = [e["update"]["status"] for e in evs if e["type"] == "UPDATE"]
    assert st["state"] == "TASK_LOST" and st["agent_id"] == wrap(aid)
    (failure,) = [e for e in evs if e["type"] == "FAILURE"]
    assert failure["failure"]["agent_id"] == wrap(aid)
    assert any(isinstance(a, Persist) and isinstance(a.op, MarkUnreachable) for a in h.actions)


def test_pong_keeps_agent_alive():
    h = CoreHarness(agent_ping_timeout=10, max_agent_ping_timeouts=3)
    aid, fid = _running(h)
    for t in range(10, 100, 10):
        h.pong(aid, T0 + t)
        h.run(h.core.tick(T0 + t))
    assert aid in h.core.agents


def test_unreachable_is_task_unreachable_for_partition_aware_and_reconciled_on_return():
    h = CoreHarness(agent_ping_timeout=10, max_agent_ping_timeouts=3)
    aid, fid = _running(h, caps=("PARTITION_AWARE",))
    h.run(h.core.tick(T0 + 30))
    (st,) = h.statuses(fid)
    assert st["state"] == "TASK_UNREACHABLE"
    h.call(fid, {"type": "RECONCILE", "reconcile": {"tasks": []}}, T0 + 31)
    (st,) = h.statuses(fid)
    assert st["state"] == "TASK_UNREACHABLE" and "uuid" not in st
    record = {
        "framework_id": fid,
        "state": "TASK_RUNNING",
        "status": None,
        "task": {
            "task_id": wrap("t1"),
            "name": "t1",
            "agent_id": wrap(aid),
            "resources": [],
            "command": {"value": "true"},
        },
    }
    h.agent(now=T0 + 40, agent_id=aid, tasks=[record])
    (st,) = h.statuses(fid)
    assert st["state"] == "TASK_RUNNING" and st["reason"] == "REASON_RECONCILIATION"
    assert "t1" in h.core.frameworks[fid].tasks and aid in h.core.agents


def test_reconciliation_answers():
    h = CoreHarness()
    aid, fid = _running(h)
    h.call(fid, {"type": "RECONCILE", "reconcile": {"tasks": []}})
    (st,) = h.statuses(fid)
    assert (st["state"], st["reason"], st["agent_id"]) == (
        "TASK_RUNNING",
        "REASON_RECONCILIATION",
        wrap(aid),
    )
    assert "uuid" not in st
    h.call(
        fid,
        {
            "type": "RECONCILE",
            "reconcile": {
                "tasks": [
                    {"task_id": wrap("t1")},
                    {"task_id": wrap("ghost")},
                    {"task_id": wrap("ghost2"), "agent_id": wrap(aid)},
                ]
            },
        },
    )
    got = {s["task_id"]["value"]: s["state"] for s in h.statuses(fid)}
    assert got == {"t1": "TASK_RUNNING", "ghost": "TASK_LOST", "ghost2": "TASK_LOST"}
    h2 = CoreHarness()
    _, fid2 = _running(h2, caps=("PARTITION_AWARE",))
    h2.call(fid2, {"type": "RECONCILE", "reconcile": {"tasks": [{"task_id": wrap("ghost")}]}})
    assert h2.statuses(fid2)[0]["state"] == "TASK_UNKNOWN"


def test_failover_within_timeout_keeps_tasks():
    h = CoreHarness()
    aid, fid = _running(h)
    h.run(h.core.framework_disconnected(fid, h.streams[fid], T0 + 1))
    assert not h.core.frameworks[fid].connected
    h.run(h.core.tick(T0 + 30))
    again = h.subscribe(framework_id=fid, now=T0 + 30)
    assert again == fid
    assert "t1" in h.core.frameworks[fid].tasks
    h.run(h.core.tick(T0 + 500))
    assert fid in h.core.frameworks


def test_failover_timeout_kills_tasks_and_completes_framework():
    h = CoreHarness()
    aid, fid = _running(h)
    h.run(h.core.framework_disconnected(fid, h.streams[fid], T0 + 1))
    h.run(h.core.tick(T0 + 60))
    assert fid in h.core.frameworks
    h.run(h.core.tick(T0 + 61))
    assert fid not in h.core.frameworks and fid in h.core.completed_frameworks
    assert h.agent_events(aid, "SHUTDOWN_FRAMEWORK")
    assert h.core.completed_frameworks[fid].completed_tasks["t1"].state == "TASK_KILLED"
    assert any(isinstance(a, Persist) and isinstance(a.op, RemoveFramework) for a in h.actions)
    out = h.subscribe_call(
        {"type": "SUBSCRIBE", "framework_id": wrap(fid),
         "subscribe": {"framework_info": {"name": "x", "user": "u"}}}, T0 + 70, "s-late",
    )  # fmt: skip
    assert out.error == "Framework has been removed"


def test_teardown_closes_stream():
    h = CoreHarness()
    aid, fid = _running(h)
    h.call(fid, {"type": "TEARDOWN"})
    assert any(isinstance(a, CloseFramework) and a.framework_id == fid for a in h.actions)
    assert fid in h.core.completed_frameworks
    assert h.call(fid, {"type": "REVIVE"}).status == 403


def test_stale_stream_id_is_rejected_and_old_disconnect_ignored():
    h = CoreHarness()
    fid = h.subscribe()
    old = h.streams[fid]
    h.subscribe(framework_id=fid)
    h.run(h.core.framework_disconnected(fid, old, T0))
    assert h.core.frameworks[fid].connected
    h.streams[fid] = old
    assert h.call(fid, {"type": "REVIVE"}).status == 400


def test_heartbeats():
    h = CoreHarness(heartbeat_interval=15)
    fid = h.subscribe()
    h.events(fid)
    h.run(h.core.tick(T0 + 14))
    assert h.events(fid, "HEARTBEAT") == []
    h.run(h.core.tick(T0 + 15))
    assert len(h.events(fid, "HEARTBEAT")) == 1


def test_agent_reregistration_after_master_restart_restores_tasks():
    h = CoreHarness()
    aid, fid = _running(h)
    from dcos.state.registry import Registry

    reg = Registry(
        agents={aid: {"info": {}, "unreachable_time": None}},
        frameworks={fid: h.core.frameworks[fid].info},
    )
    h2 = CoreHarness()
    h2.core.recover(reg, T0)
    fid2 = h2.subscribe(framework_id=fid)
    assert fid2 == fid
    h2.events(fid)
    h2.call(
        fid,
        {
            "type": "RECONCILE",
            "reconcile": {"tasks": [{"task_id": wrap("t1"), "agent_id": wrap(aid)}]},
        },
    )
    assert h2.statuses(fid) == []  # the agent may still come back: no answer yet
    record = {
        "framework_id": fid,
        "state": "TASK_RUNNING",
        "status": None,
        "task": {
            "task_id": wrap("t1"),
            "name": "t1",
            "agent_id": wrap(aid),
            "resources": [{"name": "cpus", "type": "SCALAR", "scalar": {"value": 1}}],
            "command": {"value": "true"},
        },
    }
    h2.agent(agent_id=aid, tasks=[record], frameworks=[h.core.frameworks[fid].info])
    h2.call(fid, {"type": "RECONCILE"})
    (st,) = h2.statuses(fid)
    assert st["state"] == "TASK_RUNNING"
    (offer,) = h2.allocate()
    cpus = next(r for r in offer["resources"] if r["name"] == "cpus")
    assert cpus["scalar"]["value"] == 3.0


def test_agent_not_back_within_the_reregister_timeout_after_a_failover_is_unreachable():
    """A new leader expects the registry's agents for `agent_reregister_timeout`; one that
    has not re-registered by then is marked unreachable in the registry, and a
    partition-aware framework reconciling its task hears TASK_UNREACHABLE."""
    from dcos.state.registry import Registry

    h = CoreHarness(agent_reregister_timeout=30.0)
    reg = Registry(
        agents={"a1": {"info": {"hostname": "h1"}, "unreachable_time": None}},
        frameworks={"f1": {"name": "fw", "id": {"value": "f1"}, "user": "u"}},
    )
    h.run(h.core.recover(reg, T0))
    fid = h.subscribe(framework_id="f1", caps=("PARTITION_AWARE",))
    assert not [a for a in h.tick(T0 + 29) if isinstance(a, Persist)]
    assert [a for a in h.tick(T0 + 31) if isinstance(a, Persist)] == [
        Persist(MarkUnreachable("a1", T0 + 31))
    ]
    h.call(
        fid,
        {"type": "RECONCILE",
         "reconcile": {"tasks": [{"task_id": wrap("t1"), "agent_id": wrap("a1")}]}},
        now=T0 + 32,
    )  # fmt: skip
    (st,) = h.statuses(fid)
    assert st["state"] == "TASK_UNREACHABLE" and st["agent_id"] == wrap("a1")


def test_freed_resources_ask_for_an_allocation_through_the_returned_actions():
    h = CoreHarness()
    aid = h.agent()
    fid = h.subscribe()
    assert sum(isinstance(a, AllocateSoon) for a in h.actions) == 2  # agent, framework
    (offer,) = h.allocate()
    h.actions.clear()
    h.launch(fid, offer, ["t1"], refuse=5)  # the rest is filtered: nothing to allocate
    assert not any(isinstance(a, AllocateSoon) for a in h.actions)
    acts = h.agent_call({
        "type": "UPDATE", "agent_id": aid,
        "updates": [{"framework_id": fid, "status": {"task_id": wrap("t1"), "state": "TASK_FINISHED"}}],
    })  # fmt: skip
    assert [type(a) for a in acts] == [AllocateSoon, ToFramework]
    acts = h.pong(aid)
    assert acts == []
