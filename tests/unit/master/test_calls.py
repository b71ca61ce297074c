"""Parsing at the shell: scheduler calls, agent channel calls and operator writes become
typed messages (or a 400 message) before anything reaches the master core."""

from __future__ import annotations

import pytest

from dcos.master.core.calls import (
    Accept,
    CallError,
    Decline,
    Ignored,
    Kill,
    Launch,
    LaunchGroup,
    OtherOperation,
    Reconcile,
    Revive,
    Subscribe,
    parse_call,
)
from dcos.master.core.operator_calls import (
    RemoveQuota,
    SetQuota,
    UpdateWeights,
    parse_operator_write,
)
from dcos.protocol import internal
from dcos.protocol.ids import wrap
from dcos.protocol.internal import (
    AgentError,
    AgentSubscribe,
    AgentUpdate,
    ExecutorExited,
    ExecutorMessage,
    Pong,
    parse_agent_call,
)
from dcos.protocol.resources import Resources
from dcos.testing.master import agent_info

CPU = [{"name": "cpus", "type": "SCALAR", "scalar": {"value": 1}}]


def _call(ctype: str, body: dict | None = None) -> object:
    data = {"type": ctype, "framework_id": wrap("f1")}
    if body is not None:
        data[ctype.lower()] = body
    return parse_call(data)


def test_subscribe_takes_the_id_from_either_place():
    info = {"name": "x", "id": wrap("f9")}
    call = parse_call({"type": "SUBSCRIBE", "subscribe": {"framework_info": info}})
    assert isinstance(call, Subscribe) and call.framework_id == "f9"
    assert call.framework_info.json is info and call.framework_info.roles == ("*",)
    multi = {"name": "x", "roles": ["a", "b"], "capabilities": [{"type": "MULTI_ROLE"}],
             "failover_timeout": 7}  # fmt: skip
    call = parse_call({"type": "SUBSCRIBE", "subscribe": {"framework_info": multi}})
    assert isinstance(call, Subscribe) and call.framework_id is None
    assert call.framework_info.roles == ("a", "b") and call.framework_info.failover_timeout == 7
    assert call.framework_info.capabilities == {"MULTI_ROLE"}
    with pytest.raises(CallError, match="differs"):
        parse_call({"type": "SUBSCRIBE", "framework_id": wrap("f1"),
                    "subscribe": {"framework_info": info}})  # fmt: skip


def test_accept_carries_task_specs_with_state_free_checks_done():
    good = {"name": "a", "task_id": wrap("t1"), "agent_id": wrap("a1"), "resources": CPU,
            "command": {"value": "true"}}  # fmt: skip
    both = {**good, "task_id": wrap("t2"), "executor": {"executor_id": wrap("e")}}
    bad_res = {**good, "task_id": wrap("t3"), "resources": [{"name": "cpus"}]}
    call = _call("ACCEPT", {
        "offer_ids": [wrap("o1")], "filters": {"refuse_seconds": 0},
        "operations": [
            {"type": "LAUNCH", "launch": {"task_infos": [good, both, bad_res]}},
            {"type": "LAUNCH_GROUP", "launch_group": {
                "executor": {"executor_id": wrap("e1"), "resources": CPU},
                "task_group": {"tasks": [good]}}},
            {"type": "RESERVE"},
        ],
    })  # fmt: skip
    assert isinstance(call, Accept)
    assert call.offer_ids == ("o1",) and call.refuse_seconds == 0.0
    launch, group, other = call.operations
    assert isinstance(launch, Launch) and isinstance(group, LaunchGroup)
    assert other == OtherOperation("RESERVE")
    t1, t2, t3 = launch.tasks
    assert (t1.task_id, t1.agent_id, t1.name, t1.shape_error) == ("t1", "a1", "a", "")
    assert t1.resources == Resources.parse("cpus:1") and t1.info is good
    assert "not both" in t2.shape_error and t2.executor is not None
    assert t3.resources is None and t3.resources_error
    assert group.executor.executor_id == "e1"
    assert group.executor.resources == Resources.parse("cpus:1")


def test_other_calls_are_typed():
    assert _call("DECLINE", {"offer_ids": [wrap("o1")]}) == Decline("f1", ("o1",), None)
    assert _call("KILL", {"task_id": wrap("t1")}) == Kill("f1", "t1", None, None)
    assert _call("RECONCILE", {"tasks": [{"task_id": wrap("t1"), "agent_id": wrap("a1")}]}) == (
        Reconcile("f1", (("t1", "a1"),))
    )
    assert _call("REVIVE") == Revive("f1", ())
    assert _call("REQUEST") == Ignored("f1", "REQUEST")
    with pytest.raises(CallError, match="acknowledge.uuid"):
        _call("ACKNOWLEDGE", {"agent_id": wrap("a"), "task_id": wrap("t"), "uuid": "x"})
    with pytest.raises(CallError, match="refuse_seconds"):
        _call("DECLINE", {"offer_ids": [], "filters": {"refuse_seconds": -1}})


def test_agent_calls_are_typed():
    sub = parse_agent_call({
        "type": internal.SUBSCRIBE, "agent": agent_info(agent_id="a1"),
        "tasks": [{"framework_id": "f1", "state": "TASK_RUNNING", "status": None, "task": {
            "task_id": wrap("t1"), "name": "n", "executor": {"executor_id": wrap("e1")},
            "resources": [{**CPU[0], "allocation_info": {"role": "web"}}]}}],
        "frameworks": [{"id": wrap("f1"), "name": "fw"}, {"name": "no id"}],
    })  # fmt: skip
    assert isinstance(sub, AgentSubscribe)
    assert sub.agent.id == "a1" and sub.agent.port == 5051 and sub.agent.attributes == {"rack": "r1"}
    (rec,) = sub.tasks
    assert (rec.framework_id, rec.task_id, rec.state, rec.name) == ("f1", "t1", "TASK_RUNNING", "n")
    assert rec.allocation_role == "web" and rec.executor_id == "e1"
    assert rec.resources == Resources.parse("cpus:1")
    assert [fw.id for fw in sub.frameworks] == ["f1"]
    upd = parse_agent_call({"type": internal.UPDATE, "agent_id": "a1", "updates": [
        {"framework_id": "f1", "status": {"task_id": wrap("t1"), "state": "TASK_RUNNING"}},
        {"framework_id": "f1", "status": {"state": "TASK_RUNNING"}},  # no task id: dropped
    ]})  # fmt: skip
    assert isinstance(upd, AgentUpdate) and [u.task_id for u in upd.updates] == ["t1"]
    assert parse_agent_call({"type": internal.PONG, "agent_id": "a1"}) == Pong("a1")
    msg = parse_agent_call({"type": internal.MESSAGE, "agent_id": "a1", "framework_id": "f1",
                            "executor_id": "e1", "data": 3})  # fmt: skip
    assert msg == ExecutorMessage("a1", "f1", "e1", None)
    ex = parse_agent_call({"type": internal.EXITED_EXECUTOR, "agent_id": "a1",
                           "framework_id": "f1", "executor_id": "e1", "status": 9})  # fmt: skip
    assert ex == ExecutorExited("a1", "f1", "e1", 9)


@pytest.mark.parametrize(
    ("msg", "error"),
    [
        ({"agent_id": "a"}, "'type'"),
        ({"type": "PONG"}, "agent_id"),
        ({"type": "UPDATE", "agent_id": "a"}, "updates"),
        ({"type": "NOPE", "agent_id": "a"}, "unknown call type"),
        ({"type": "SUBSCRIBE", "agent": {"hostname": "h"}}, "agent.ip"),
        ({"type": "SUBSCRIBE", "agent": agent_info(), "tasks": [{"task": {}}]}, "framework_id"),
    ],
)
def test_malformed_agent_calls_are_refused(msg, error):
    with pytest.raises(AgentError, match=error):
        parse_agent_call(msg)


def test_operator_writes_are_typed():
    assert parse_operator_write(
        {"type": "UPDATE_WEIGHTS", "update_weights": {"weight_infos": [{"role": "r", "weight": 2}]}}
    ) == UpdateWeights({"r": 2.0})
    q = parse_operator_write({"type": "SET_QUOTA", "set_quota": {"quota_request": {
        "role": "r", "guarantee": CPU}}})  # fmt: skip
    assert q == SetQuota("r", Resources.parse("cpus:1"))
    assert parse_operator_write({"type": "REMOVE_QUOTA", "remove_quota": {"role": "r"}}) == (
        RemoveQuota("r")
    )
    with pytest.raises(CallError, match="positive"):
        parse_operator_write({"type": "UPDATE_WEIGHTS", "update_weights": {
            "weight_infos": [{"role": "r", "weight": 0}]}})  # fmt: skip
