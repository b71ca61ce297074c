"""Validation of Mesos v1 scheduler calls (JSON already decoded).

Called by the scheduler HTTP handler before anything reaches the core: `parse_call` either
returns a `Call` whose shapes the core can trust, or raises `CallError` with the plain-text
message the handler sends back with 400. Unknown keys are tolerated everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from dcos.protocol.ids import unwrap
from dcos.protocol.mesos import valid_status_uuid

CALL_TYPES = frozenset(
    {
        "SUBSCRIBE", "TEARDOWN", "ACCEPT", "DECLINE", "ACCEPT_INVERSE_OFFERS",
        "DECLINE_INVERSE_OFFERS", "REVIVE", "KILL", "SHUTDOWN", "ACKNOWLEDGE",
        "ACKNOWLEDGE_OPERATION_STATUS", "RECONCILE", "RECONCILE_OPERATIONS", "MESSAGE",
        "REQUEST", "SUPPRESS", "UPDATE_FRAMEWORK",
    }
)  # fmt: skip


class CallError(ValueError):
    """A malformed call; the message is sent back as the 400 body."""


@dataclass
class Call:
    type: str
    framework_id: str | None
    body: dict[str, Any] = field(default_factory=dict)  # the type's payload object


def _obj(v: Any, where: str, required: bool = True) -> dict[str, Any]:
    if v is None and not required:
        return {}
    if not isinstance(v, dict):
        raise CallError(f"Expecting '{where}' to be an object")
    return v


def _id(v: Any, where: str) -> str:
    s = unwrap(v)
    if s is None:
        raise CallError(f"Expecting '{where}' to be an object with a non-empty string 'value'")
    return s


def _list(v: Any, where: str, required: bool = True) -> list[Any]:
    if v is None and not required:
        return []
    if not isinstance(v, list):
        raise CallError(f"Expecting '{where}' to be an array")
    return v


def refuse_seconds(body: dict[str, Any]) -> float | None:
    """``filters.refuse_seconds`` of an ACCEPT/DECLINE payload (validated), or None."""
    filters = _obj(body.get("filters"), "filters", required=False)
    rs = filters.get("refuse_seconds")
    if rs is None:
        return None
    if isinstance(rs, bool) or not isinstance(rs, int | float) or rs != rs or rs < 0:
        raise CallError("Expecting 'filters.refuse_seconds' to be a non-negative number")
    return float(rs)


def _task_info(ti: Any, where: str) -> None:
    t = _obj(ti, where)
    _id(t.get("task_id"), f"{where}.task_id")
    _id(t.get("agent_id"), f"{where}.agent_id")
    if "name" in t and not isinstance(t["name"], str):
        raise CallError(f"Expecting '{where}.name' to be a string")
    _list(t.get("resources"), f"{where}.resources", required=False)


def _operations(ops: list[Any]) -> None:
    for i, op in enumerate(ops):
        o = _obj(op, f"accept.operations[{i}]")
        if not isinstance(o.get("type"), str):
            raise CallError(f"Expecting 'accept.operations[{i}].type' to be a string")
        if o["type"] == "LAUNCH":
            launch = _obj(o.get("launch"), f"accept.operations[{i}].launch")
            infos = _list(launch.get("task_infos"), f"accept.operations[{i}].launch.task_infos")
            for j, ti in enumerate(infos):
                _task_info(ti, f"accept.operations[{i}].launch.task_infos[{j}]")
        elif o["type"] == "LAUNCH_GROUP":
            lg = _obj(o.get("launch_group"), f"accept.operations[{i}].launch_group")
            _obj(lg.get("executor"), f"accept.operations[{i}].launch_group.executor")
            tg = _obj(lg.get("task_group"), f"accept.operations[{i}].launch_group.task_group")
            for j, ti in enumerate(_list(tg.get("tasks"), "task_group.tasks")):
                _task_info(ti, f"accept.operations[{i}].launch_group.task_group.tasks[{j}]")


def _check_payload(ctype: str, body: dict[str, Any]) -> None:
    """Per-type shape checks of the payload object."""
    if ctype == "SUBSCRIBE":
        info = _obj(body.get("framework_info"), "subscribe.framework_info")
        if not isinstance(info.get("name"), str):
            raise CallError("Expecting 'subscribe.framework_info.name' to be a string")
        if "user" in info and not isinstance(info["user"], str):
            raise CallError("Expecting 'subscribe.framework_info.user' to be a string")
        if "id" in info:
            _id(info["id"], "subscribe.framework_info.id")
        ft = info.get("failover_timeout")
        if ft is not None and (isinstance(ft, bool) or not isinstance(ft, int | float) or ft < 0):
            raise CallError("Expecting 'framework_info.failover_timeout' to be a number >= 0")
        for key in ("roles", "capabilities"):
            _list(info.get(key), f"subscribe.framework_info.{key}", required=False)
    elif ctype in ("ACCEPT", "DECLINE"):
        for i, oid in enumerate(_list(body.get("offer_ids"), f"{ctype.lower()}.offer_ids")):
            _id(oid, f"{ctype.lower()}.offer_ids[{i}]")
        refuse_seconds(body)
        if ctype == "ACCEPT":
            _operations(_list(body.get("operations"), "accept.operations", required=False))
    elif ctype == "KILL":
        _id(body.get("task_id"), "kill.task_id")
        if body.get("agent_id") is not None:
            _id(body["agent_id"], "kill.agent_id")
    elif ctype == "ACKNOWLEDGE":
        _id(body.get("agent_id"), "acknowledge.agent_id")
        _id(body.get("task_id"), "acknowledge.task_id")
        if not valid_status_uuid(body.get("uuid")):
            raise CallError("Expecting 'acknowledge.uuid' to be base64 of 16 bytes")
    elif ctype == "RECONCILE":
        for i, t in enumerate(_list(body.get("tasks"), "reconcile.tasks", required=False)):
            t = _obj(t, f"reconcile.tasks[{i}]")
            _id(t.get("task_id"), f"reconcile.tasks[{i}].task_id")
            if t.get("agent_id") is not None:
                _id(t["agent_id"], f"reconcile.tasks[{i}].agent_id")
    elif ctype == "MESSAGE":
        _id(body.get("agent_id"), "message.agent_id")
        _id(body.get("executor_id"), "message.executor_id")
        if not isinstance(body.get("data"), str):
            raise CallError("Expecting 'message.data' to be a base64 string")
    elif ctype == "SHUTDOWN":
        _id(body.get("executor_id"), "shutdown.executor_id")
        _id(body.get("agent_id"), "shutdown.agent_id")
    elif ctype in ("REVIVE", "SUPPRESS"):
        roles = _list(body.get("roles"), f"{ctype.lower()}.roles", required=False)
        if not all(isinstance(r, str) for r in roles):
            raise CallError(f"Expecting '{ctype.lower()}.roles' to be an array of strings")


def parse_call(data: Any) -> Call:
    """Check a decoded scheduler call; returns a `Call` or raises `CallError`."""
    if not isinstance(data, dict):
        raise CallError("Expecting a JSON object as the call body")
    ctype = data.get("type")
    if not isinstance(ctype, str):
        raise CallError("Expecting 'type' to be present")
    if ctype not in CALL_TYPES:
        raise CallError(f"Unknown call type '{ctype}'")
    fid: str | None = None
    if ctype != "SUBSCRIBE" or data.get("framework_id") is not None:
        if data.get("framework_id") is None:
            raise CallError("Expecting 'framework_id' to be present")
        fid = _id(data.get("framework_id"), "framework_id")
    key = ctype.lower()
    body = _obj(data.get(key), key, required=ctype not in _OPTIONAL_PAYLOAD)
    _check_payload(ctype, body)
    if ctype == "SUBSCRIBE":
        info_id = unwrap(body["framework_info"].get("id"))
        if fid is not None and info_id is not None and info_id != fid:
            raise CallError("'framework_id' differs from 'subscribe.framework_info.id'")
        fid = fid or info_id
    return Call(ctype, fid, body)


_OPTIONAL_PAYLOAD = frozenset(
    {
        "TEARDOWN", "REVIVE", "SUPPRESS", "REQUEST", "RECONCILE", "ACCEPT_INVERSE_OFFERS",
        "DECLINE_INVERSE_OFFERS", "ACKNOWLEDGE_OPERATION_STATUS", "RECONCILE_OPERATIONS",
        "UPDATE_FRAMEWORK",
    }
)  # fmt: skip
