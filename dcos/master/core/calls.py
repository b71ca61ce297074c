"""Typed Mesos v1 scheduler calls, parsed and validated from decoded JSON.

Called by the scheduler HTTP handler before anything reaches the core: `parse_call` either
returns one of the typed calls below (the `SchedulerCall` union), whose shapes the core can
trust, or raises `CallError` with the plain-text message the handler sends back with 400.
Unknown keys are tolerated everywhere. The core never sees the wire dicts except the
payloads it forwards untouched (FrameworkInfo, TaskInfo, ExecutorInfo, kill policies).

TaskInfo checks that need no master state (command xor executor, parseable resources) are
done here once and carried in `TaskSpec`; the core adds the checks that need its state
(duplicate ids, the offer's agent, available resources).

Ids a framework chooses (framework, task and executor ids) name directories on the agents,
so they are checked as Mesos checks them (`dcos.protocol.ids.id_error`): a bad framework id,
or a bad task id in KILL, is a 400; a bad task or executor id inside an ACCEPT is answered
with TASK_ERROR (REASON_TASK_INVALID) for that task, as Mesos does.

The types are slotted dataclasses, read-only by convention but not frozen: one is made per
call on the hot path, and a frozen dataclass costs several times as much to create.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from dcos.protocol.ids import (
    AgentID,
    FrameworkID,
    OfferID,
    Role,
    TaskID,
    id_error,
    role_error,
    unwrap,
)
from dcos.protocol.mesos import FrameworkInfo, framework_info, valid_status_uuid
from dcos.protocol.resources import ResourceError, Resources

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


# -- the parts of ACCEPT ---------------------------------------------------------------------


@dataclass(slots=True)
class ExecutorSpec:
    """An ExecutorInfo: its id (None when missing or invalid), its resources, or why the
    executor is invalid (`error`, '' when fine); `info` is the JSON forwarded to the agent."""

    executor_id: str | None
    resources: Resources | None
    error: str
    info: dict[str, Any]


@dataclass(slots=True)
class TaskSpec:
    """A TaskInfo with its state-free checks done: `resources` (None and `resources_error`
    when they do not parse), `shape_error` (not exactly one of command and executor),
    `executor`, `id_error` (the task id is not a valid directory name, '' when fine);
    `info` is the JSON forwarded to the agent. `unauthorized` is set (security on) by
    `dcos.master.authz` before the core sees the call: why ``run_tasks`` refuses the task
    (answered with TASK_ERROR, REASON_TASK_UNAUTHORIZED)."""

    task_id: TaskID
    id_error: str
    agent_id: AgentID
    name: str
    resources: Resources | None
    resources_error: str
    shape_error: str
    executor: ExecutorSpec | None
    info: dict[str, Any]
    unauthorized: str = ""


@dataclass(slots=True)
class Launch:
    tasks: tuple[TaskSpec, ...]


@dataclass(slots=True)
class LaunchGroup:
    executor: ExecutorSpec
    tasks: tuple[TaskSpec, ...]


@dataclass(slots=True)
class OtherOperation:
    """An offer operation the master does not support (RESERVE, CREATE ...): ignored."""

    type: str


Operation = Launch | LaunchGroup | OtherOperation


# -- the calls -------------------------------------------------------------------------------


@dataclass(slots=True)
class Subscribe:
    framework_id: FrameworkID | None
    framework_info: FrameworkInfo


@dataclass(slots=True)
class Accept:
    framework_id: FrameworkID
    offer_ids: tuple[OfferID, ...]
    operations: tuple[Operation, ...]
    refuse_seconds: float | None


@dataclass(slots=True)
class Decline:
    framework_id: FrameworkID
    offer_ids: tuple[OfferID, ...]
    refuse_seconds: float | None


@dataclass(slots=True)
class Acknowledge:
    framework_id: FrameworkID
    agent_id: AgentID
    task_id: TaskID
    uuid: str


@dataclass(slots=True)
class Kill:
    framework_id: FrameworkID
    task_id: TaskID
    agent_id: AgentID | None
    kill_policy: dict[str, Any] | None


@dataclass(slots=True)
class Reconcile:
    """Explicit reconciliation of (task, agent) pairs; implicit when `tasks` is empty."""

    framework_id: FrameworkID
    tasks: tuple[tuple[TaskID, AgentID | None], ...]


@dataclass(slots=True)
class Revive:
    framework_id: FrameworkID
    roles: tuple[Role, ...]  # empty: every role of the framework


@dataclass(slots=True)
class Suppress:
    framework_id: FrameworkID
    roles: tuple[Role, ...]  # empty: every role of the framework


@dataclass(slots=True)
class Teardown:
    framework_id: FrameworkID


@dataclass(slots=True)
class Message:
    framework_id: FrameworkID
    agent_id: AgentID
    executor_id: str
    data: str


@dataclass(slots=True)
class Shutdown:
    framework_id: FrameworkID
    agent_id: AgentID
    executor_id: str


@dataclass(slots=True)
class Ignored:
    """REQUEST, inverse offers, operation status calls, UPDATE_FRAMEWORK: accepted, no-op."""

    framework_id: FrameworkID
    type: str


SchedulerCall = (
    Accept
    | Decline
    | Acknowledge
    | Kill
    | Reconcile
    | Revive
    | Suppress
    | Teardown
    | Message
    | Shutdown
    | Ignored
)
Call = Subscribe | SchedulerCall


# -- shape checks ----------------------------------------------------------------------------


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


def _valid_id(v: Any, where: str) -> str:
    """`_id`, and a valid directory name (framework, task, executor ids); else 400."""
    s = _id(v, where)
    why = id_error(s)
    if why is not None:
        raise CallError(f"'{where}' is invalid: {why}")
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


def executor_spec(ex: dict[str, Any]) -> ExecutorSpec:
    """An ExecutorInfo's id and resources (or why they are invalid)."""
    eid = unwrap(ex.get("executor_id"))
    if eid is None:
        return ExecutorSpec(None, None, "executor needs an executor_id", ex)
    why = id_error(eid)
    if why is not None:
        return ExecutorSpec(None, None, f"Executor ID is invalid: {why}", ex)
    try:
        return ExecutorSpec(eid, Resources.from_mesos(ex.get("resources")), "", ex)
    except ResourceError as exc:
        return ExecutorSpec(eid, None, str(exc), ex)


def _task_spec(ti: Any, where: str) -> TaskSpec:
    t = _obj(ti, where)
    tid = _id(t.get("task_id"), f"{where}.task_id")
    aid = _id(t.get("agent_id"), f"{where}.agent_id")
    if "name" in t and not isinstance(t["name"], str):
        raise CallError(f"Expecting '{where}.name' to be a string")
    _list(t.get("resources"), f"{where}.resources", required=False)
    ex = t.get("executor")
    executor = executor_spec(ex) if isinstance(ex, dict) else None
    shape_error = ""
    if isinstance(t.get("command"), dict) == (executor is not None):
        shape_error = (
            "Task should have at least one (but not both) of CommandInfo or ExecutorInfo present"
        )
    try:
        res: Resources | None = Resources.from_mesos(t.get("resources"))
        res_error = ""
    except ResourceError as exc:
        res, res_error = None, str(exc)
    why = id_error(tid)
    return TaskSpec(
        TaskID(tid), f"Task ID is invalid: {why}" if why else "", AgentID(aid), str(t.get("name", "")), res, res_error, shape_error,
        executor, t,
    )  # fmt: skip


def _operations(ops: list[Any]) -> tuple[Operation, ...]:
    out: list[Operation] = []
    for i, op in enumerate(ops):
        where = f"accept.operations[{i}]"
        o = _obj(op, where)
        if not isinstance(o.get("type"), str):
            raise CallError(f"Expecting '{where}.type' to be a string")
        if o["type"] == "LAUNCH":
            launch = _obj(o.get("launch"), f"{where}.launch")
            infos = _list(launch.get("task_infos"), f"{where}.launch.task_infos")
            out.append(Launch(tuple(
                _task_spec(ti, f"{where}.launch.task_infos[{j}]") for j, ti in enumerate(infos)
            )))  # fmt: skip
        elif o["type"] == "LAUNCH_GROUP":
            lg = _obj(o.get("launch_group"), f"{where}.launch_group")
            ex = _obj(lg.get("executor"), f"{where}.launch_group.executor")
            tg = _obj(lg.get("task_group"), f"{where}.launch_group.task_group")
            tasks = tuple(
                _task_spec(ti, f"{where}.launch_group.task_group.tasks[{j}]")
                for j, ti in enumerate(_list(tg.get("tasks"), "task_group.tasks"))
            )
            out.append(LaunchGroup(executor_spec(ex), tasks))
        else:
            out.append(OtherOperation(o["type"]))
    return tuple(out)


def _offer_ids(body: dict[str, Any], key: str) -> tuple[OfferID, ...]:
    ids = _list(body.get("offer_ids"), f"{key}.offer_ids")
    return tuple(OfferID(_id(oid, f"{key}.offer_ids[{i}]")) for i, oid in enumerate(ids))


def _roles(body: dict[str, Any], key: str) -> tuple[Role, ...]:
    roles = _list(body.get("roles"), f"{key}.roles", required=False)
    if not all(isinstance(r, str) for r in roles):
        raise CallError(f"Expecting '{key}.roles' to be an array of strings")
    return tuple(Role(r) for r in roles)


# -- one parser per call type ----------------------------------------------------------------


def _subscribe(fid: str | None, body: dict[str, Any]) -> Subscribe:
    info = _obj(body.get("framework_info"), "subscribe.framework_info")
    if not isinstance(info.get("name"), str):
        raise CallError("Expecting 'subscribe.framework_info.name' to be a string")
    if "user" in info and not isinstance(info["user"], str):
        raise CallError("Expecting 'subscribe.framework_info.user' to be a string")
    if "id" in info:
        _valid_id(info["id"], "subscribe.framework_info.id")
    ft = info.get("failover_timeout")
    if ft is not None and (isinstance(ft, bool) or not isinstance(ft, int | float) or ft < 0):
        raise CallError("Expecting 'framework_info.failover_timeout' to be a number >= 0")
    for key in ("roles", "capabilities"):
        _list(info.get(key), f"subscribe.framework_info.{key}", required=False)
    roles = list(info.get("roles") or [])
    if info.get("role") is not None:
        roles.append(info["role"])
    for role in roles:
        if not isinstance(role, str):
            raise CallError("Expecting 'subscribe.framework_info.roles' to be strings")
        why = role_error(role)
        if why is not None:
            raise CallError(f"Invalid framework role: {why}")
    info_id = unwrap(info.get("id"))
    if fid is not None and info_id is not None and info_id != fid:
        raise CallError("'framework_id' differs from 'subscribe.framework_info.id'")
    fid = fid or info_id
    return Subscribe(FrameworkID(fid) if fid else None, framework_info(info))


def _accept(fid: FrameworkID, body: dict[str, Any]) -> Accept:
    ids = _offer_ids(body, "accept")
    rs = refuse_seconds(body)
    ops = _operations(_list(body.get("operations"), "accept.operations", required=False))
    return Accept(fid, ids, ops, rs)


def _decline(fid: FrameworkID, body: dict[str, Any]) -> Decline:
    return Decline(fid, _offer_ids(body, "decline"), refuse_seconds(body))


def _kill(fid: FrameworkID, body: dict[str, Any]) -> Kill:
    tid = _valid_id(body.get("task_id"), "kill.task_id")
    aid = _id(body["agent_id"], "kill.agent_id") if body.get("agent_id") is not None else None
    policy = body.get("kill_policy")
    return Kill(
        fid,
        TaskID(tid),
        AgentID(aid) if aid else None,
        policy if isinstance(policy, dict) else None,
    )


def _acknowledge(fid: FrameworkID, body: dict[str, Any]) -> Acknowledge:
    aid = _id(body.get("agent_id"), "acknowledge.agent_id")
    tid = _id(body.get("task_id"), "acknowledge.task_id")
    if not valid_status_uuid(body.get("uuid")):
        raise CallError("Expecting 'acknowledge.uuid' to be base64 of 16 bytes")
    return Acknowledge(fid, AgentID(aid), TaskID(tid), body["uuid"])


def _reconcile(fid: FrameworkID, body: dict[str, Any]) -> Reconcile:
    tasks: list[tuple[TaskID, AgentID | None]] = []
    for i, t in enumerate(_list(body.get("tasks"), "reconcile.tasks", required=False)):
        t = _obj(t, f"reconcile.tasks[{i}]")
        tid = _id(t.get("task_id"), f"reconcile.tasks[{i}].task_id")
        aid = None
        if t.get("agent_id") is not None:
            aid = AgentID(_id(t["agent_id"], f"reconcile.tasks[{i}].agent_id"))
        tasks.append((TaskID(tid), aid))
    return Reconcile(fid, tuple(tasks))


def _message(fid: FrameworkID, body: dict[str, Any]) -> Message:
    aid = _id(body.get("agent_id"), "message.agent_id")
    eid = _valid_id(body.get("executor_id"), "message.executor_id")
    if not isinstance(body.get("data"), str):
        raise CallError("Expecting 'message.data' to be a base64 string")
    return Message(fid, AgentID(aid), eid, body["data"])


def _shutdown(fid: FrameworkID, body: dict[str, Any]) -> Shutdown:
    eid = _valid_id(body.get("executor_id"), "shutdown.executor_id")
    aid = _id(body.get("agent_id"), "shutdown.agent_id")
    return Shutdown(fid, AgentID(aid), eid)


_PARSERS: dict[str, Callable[[FrameworkID, dict[str, Any]], SchedulerCall]] = {
    "ACCEPT": _accept,
    "DECLINE": _decline,
    "KILL": _kill,
    "ACKNOWLEDGE": _acknowledge,
    "RECONCILE": _reconcile,
    "MESSAGE": _message,
    "SHUTDOWN": _shutdown,
    "REVIVE": lambda fid, body: Revive(fid, _roles(body, "revive")),
    "SUPPRESS": lambda fid, body: Suppress(fid, _roles(body, "suppress")),
    "TEARDOWN": lambda fid, body: Teardown(fid),
}


def parse_call(data: Any) -> Call:
    """Check a decoded scheduler call; returns a typed call or raises `CallError`."""
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
        fid = _valid_id(data.get("framework_id"), "framework_id")
    key = ctype.lower()
    body = _obj(data.get(key), key, required=ctype not in _OPTIONAL_PAYLOAD)
    if ctype == "SUBSCRIBE":
        return _subscribe(fid, body)
    parser = _PARSERS.get(ctype)
    assert fid is not None
    if parser is None:
        return Ignored(FrameworkID(fid), ctype)
    return parser(FrameworkID(fid), body)


_OPTIONAL_PAYLOAD = frozenset(
    {
        "TEARDOWN", "REVIVE", "SUPPRESS", "REQUEST", "RECONCILE", "ACCEPT_INVERSE_OFFERS",
        "DECLINE_INVERSE_OFFERS", "ACKNOWLEDGE_OPERATION_STATUS", "RECONCILE_OPERATIONS",
        "UPDATE_FRAMEWORK",
    }
)  # fmt: skip
