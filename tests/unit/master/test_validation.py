"""Issue 9: what the master refuses before it changes anything.

Ids a framework chooses (task, executor, framework) name directories on the agents and are
checked as Mesos' `validateID` checks them; quota the cluster cannot satisfy, and bad
weights, quota values and role names, are 400s."""

from __future__ import annotations

from typing import Any

import pytest

from dcos.master.core import CallError, parse_call
from dcos.master.core.operator_calls import parse_operator_write
from dcos.protocol.ids import id_error, role_error, wrap
from dcos.protocol.resources import Resources
from dcos.testing.master import CoreHarness

BAD_IDS = ["../../../../tmp/x", "a/b", ".", "..", "a\x00b", "   ", "x" * 256, "a\\b", "\n"]


@pytest.mark.parametrize("bad", BAD_IDS)
def test_id_error_refuses_what_cannot_be_a_directory_name(bad: str) -> None:
    assert id_error(bad)


@pytest.mark.parametrize("good", ["t1", "web.abc-123_x", "x" * 255, "a b", "é"])
def test_id_error_accepts_ordinary_ids(good: str) -> None:
    assert id_error(good) is None


def _launch_body(offer: dict[str, Any], task_id: str, **extra: Any) -> dict[str, Any]:
    info = {
        "name": "t", "task_id": wrap(task_id), "agent_id": offer["agent_id"],
        "resources": Resources.parse("cpus:1;mem:128").to_mesos(), **extra,
    }  # fmt: skip
    if "executor" not in extra:
        info["command"] = {"value": "true"}
    return {
        "type": "ACCEPT",
        "accept": {
            "offer_ids": [offer["id"]],
            "operations": [{"type": "LAUNCH", "launch": {"task_infos": [info]}}],
        },
    }


@pytest.mark.parametrize("bad", ["../../../../tmp/x", "..", "a\x00b", "x" * 300])
def test_accept_with_a_bad_task_id_is_task_error_and_launches_nothing(bad: str) -> None:
    h = CoreHarness()
    aid = h.agent()
    fid = h.subscribe()
    (offer,) = h.allocate()
    assert h.call(fid, _launch_body(offer, bad)).status == 202
    (status,) = h.statuses(fid)
    assert status["state"] == "TASK_ERROR"
    assert status["reason"] == "REASON_TASK_INVALID"
    assert status["message"].startswith("Task ID is invalid")
    assert not h.agent_events(aid, "RUN_TASKS")
    assert not h.core.frameworks[fid].tasks


def test_accept_with_a_bad_executor_id_is_task_error() -> None:
    h = CoreHarness()
    aid = h.agent()
    fid = h.subscribe()
    (offer,) = h.allocate()
    executor = {"executor_id": wrap("../e"), "command": {"value": "x"}}
    h.call(fid, _launch_body(offer, "t1", executor=executor))
    (status,) = h.statuses(fid)
    assert status["state"] == "TASK_ERROR"
    assert "Executor ID is invalid" in status["message"]
    assert not h.agent_events(aid, "RUN_TASKS")


def test_launch_group_with_a_bad_task_id_is_task_error_for_the_group() -> None:
    h = CoreHarness()
    aid = h.agent()
    fid = h.subscribe()
    (offer,) = h.allocate()
    res = Resources.parse("cpus:0.5;mem:64").to_mesos()
    tasks = [
        {"name": n, "task_id": wrap(n), "agent_id": offer["agent_id"], "resources": res}
        for n in ("ok", "..")
    ]
    body = {
        "type": "ACCEPT",
        "accept": {
            "offer_ids": [offer["id"]],
            "operations": [{"type": "LAUNCH_GROUP", "launch_group": {
                "executor": {"executor_id": wrap("e1"), "type": "DEFAULT", "resources": res},
                "task_group": {"tasks": tasks},
            }}],
        },
    }  # fmt: skip
    h.call(fid, body)
    statuses = h.statuses(fid)
    assert [s["state"] for s in statuses] == ["TASK_ERROR", "TASK_ERROR"]
    assert not h.agent_events(aid, "RUN_TASK_GROUP")


@pytest.mark.parametrize(
    "body",
    [
        {"type": "SUBSCRIBE", "framework_id": wrap("../fw"),
         "subscribe": {"framework_info": {"name": "x", "id": wrap("../fw")}}},
        {"type": "SUBSCRIBE", "subscribe": {"framework_info": {"name": "x", "id": wrap("..")}}},
        {"type": "KILL", "framework_id": wrap("f"), "kill": {"task_id": wrap("a/b")}},
        {"type": "TEARDOWN", "framework_id": wrap("a\x00")},
        {"type": "SHUTDOWN", "framework_id": wrap("f"),
         "shutdown": {"executor_id": wrap(".."), "agent_id": wrap("a")}},
    ],
)  # fmt: skip
def test_bad_ids_in_calls_are_400(body: dict[str, Any]) -> None:
    with pytest.raises(CallError, match="invalid"):
        parse_call(body)


# -- quota and weights ------------------------------------------------------------------------


def _quota(role: Any, guarantee: Any, force: Any = None) -> dict[str, Any]:
    req: dict[str, Any] = {"role": role, "guarantee": guarantee}
    if force is not None:
        req["force"] = force
    return {"type": "SET_QUOTA", "set_quota": {"quota_request": req}}


def _cpus(value: Any) -> list[dict[str, Any]]:
    return [{"name": "cpus", "type": "SCALAR", "scalar": {"value": value}}]


@pytest.mark.parametrize(
    "call",
    [
        _quota("web", _cpus(-1)),
        _quota("web", _cpus("nan")),
        _quota("web", _cpus("inf")),
        _quota("web", _cpus(True)),
        _quota("web", [{"name": "ports", "type": "RANGES", "ranges": {"range": []}}]),
        _quota("web", "cpus:1"),
        _quota("web", _cpus(1), force="yes"),
        _quota("../x", _cpus(1)),
        _quota("a b", _cpus(1)),
        _quota("*", _cpus(1)),
        _quota("-r", _cpus(1)),
        {"type": "SET_QUOTA", "set_quota": "x"},
        {"type": "SET_QUOTA", "set_quota": {"quota_request": []}},
        {"type": "REMOVE_QUOTA", "remove_quota": "x"},
        {"type": "UPDATE_WEIGHTS", "update_weights": "x"},
        {"type": "UPDATE_WEIGHTS", "update_weights": {"weight_infos": [{"role": "r", "weight": 1e300}]}},
        {"type": "UPDATE_WEIGHTS", "update_weights": {"weight_infos": [{"role": "a/../b"}]}},
    ],
)  # fmt: skip
def test_bad_operator_writes_are_400(call: dict[str, Any]) -> None:
    with pytest.raises(CallError):
        parse_operator_write(call)


@pytest.mark.parametrize("role", ["", ".", "..", "a//b", "a/./b", "-x", "a b", "a\tb", "a\\b"])
def test_role_error(role: str) -> None:
    assert role_error(role)


def test_quota_beyond_the_cluster_is_refused_and_changes_nothing() -> None:
    h = CoreHarness()
    h.agent()  # cpus:4;mem:4096 (AGENT_RES)
    fid = h.subscribe()
    write = parse_operator_write(_quota("web", _cpus(1e308)))
    outcome, actions = h.core.operator_call(write, 0.0)
    assert outcome.status == 400
    assert "force" in outcome.message
    assert not actions and "web" not in h.core.quota
    assert h.allocate(), "offers still flow"
    assert h.core.frameworks[fid]


def test_quota_of_all_roles_together_must_fit() -> None:
    h = CoreHarness()
    h.agent(res="cpus:4;mem:4096")
    ok, _ = h.core.operator_call(parse_operator_write(_quota("a", _cpus(3))), 0.0)
    assert ok.status == 200
    too_much, _ = h.core.operator_call(parse_operator_write(_quota("b", _cpus(2))), 0.0)
    assert too_much.status == 400
    again, _ = h.core.operator_call(parse_operator_write(_quota("a", _cpus(4))), 0.0)
    assert again.status == 200, "a role's own old quota does not count against its new one"


def test_force_overrides_the_capacity_check_but_not_unknown_resources() -> None:
    h = CoreHarness()
    h.agent()
    forced, _ = h.core.operator_call(parse_operator_write(_quota("web", _cpus(64), True)), 0.0)
    assert forced.status == 200 and h.core.quota["web"].scalar("cpus") == 64
    unknown = [{"name": "unicorns", "type": "SCALAR", "scalar": {"value": 1}}]
    out, _ = h.core.operator_call(parse_operator_write(_quota("web", unknown, True)), 0.0)
    assert out.status == 400 and "unicorns" in out.message


@pytest.mark.parametrize("info", [
    {"name": "x", "role": "../r"}, {"name": "x", "roles": ["ok", "a b"]},
    {"name": "x", "roles": [{"r": 1}]}, {"name": "x", "role": 5},
])  # fmt: skip
def test_subscribe_with_bad_roles_is_400(info: dict[str, Any]) -> None:
    with pytest.raises(CallError):
        parse_call({"type": "SUBSCRIBE", "subscribe": {"framework_info": info}})
