"""The internal master <-> agent channel (msgpack over HTTP, RecordIO framed).

Public clients never see this; it replaces Mesos' libprocess messages. One agent holds one
long-lived stream from the master and makes short calls to it:

Agent -> master: ``POST /internal/agent`` with ``Content-Type: application/x-msgpack``.

Session secret: the master hands each agent a secret in its ``REGISTERED`` event (a new one
at every registration; a re-registration that showed its secret keeps it, so that agents
coming back to a new leader change nothing in its registry). Every later call of that agent
carries it in the ``Dcos-Agent-Secret`` header (`SECRET_HEADER`): a call without the secret of the agent
id it names is refused with 403 and changes nothing, and so is a re-registration (SUBSCRIBE
with an ``agent.id``) of an agent the master knows, so that nobody else can speak for a
registered agent, end its session or take over its id. The master keeps a hash of each
agent's secret in its registry (a restarted master still knows its agents), and the agent
keeps the secret in its meta directory (a restarted agent re-registers with it). A
registration without an id (a new agent) needs no secret.

- ``SUBSCRIBE`` ``{"type", "agent": AgentInfo, "tasks": [TaskRecord], "frameworks":
  [FrameworkInfo JSON], "unacked": [Update]}``. Registers (no ``agent.id``) or re-registers (with
  the id it had). Answer: 200 with a chunked RecordIO stream of msgpack events (below), the
  first being ``REGISTERED``. The stream lasting is the agent's connection; when it ends, the
  agent re-subscribes with backoff. 400 for a malformed call, 403 ``{"message"}`` when the
  master refuses the agent (it was removed, or it re-registers a known id without that id's
  secret, or it claims the address of a connected agent from another host).
- ``UPDATE`` ``{"type", "agent_id", "updates": [Update]}``: status updates, several per call
  (the agent batches whatever is pending). 202. Updates of tasks the agent does not hold
  (or of frameworks it runs nothing for) are dropped.
- ``PONG`` ``{"type", "agent_id"}``: answer to ``PING``. 202.
- ``MESSAGE`` ``{"type", "agent_id", "framework_id", "executor_id", "data"}``: executor ->
  scheduler framework message (``data`` base64 text, as in Mesos JSON). 202.
- ``EXITED_EXECUTOR`` ``{"type", "agent_id", "framework_id", "executor_id", "status"}``. 202.

Master -> agent events on the stream (each a msgpack map with ``type``):

- ``REGISTERED`` ``{"agent_id", "master_id", "ping_interval", "secret"}``: ``secret`` is
  the session secret the agent sends with every later call (see above).
- ``RUN_TASKS`` ``{"framework": FrameworkInfo JSON (with ``id``), "tasks": [TaskInfo JSON]}``;
  TaskInfo carries ``agent_id`` and its resources as in Mesos. Several tasks per event.
- ``RUN_TASK_GROUP`` ``{"framework", "executor": ExecutorInfo JSON, "tasks": [TaskInfo]}``.
- ``KILL_TASK`` ``{"framework_id", "task_id", "kill_policy"?}``.
- ``ACKNOWLEDGE`` ``{"framework_id", "task_id", "uuid"}``: the scheduler acknowledged this
  update; the agent stops retrying it and may send the next one for that task.
- ``FRAMEWORK_MESSAGE`` ``{"framework_id", "executor_id", "data"}``.
- ``SHUTDOWN_FRAMEWORK`` ``{"framework_id"}``: kill all its tasks and executors.
- ``SHUTDOWN_EXECUTOR`` ``{"framework_id", "executor_id"}``: the scheduler's SHUTDOWN call; a
  custom executor gets a SHUTDOWN event and is killed after its shutdown grace period.
- ``UPDATE_FRAMEWORK`` ``{"framework": FrameworkInfo JSON}``.
- ``PING`` ``{}``: answer with a ``PONG`` call.

Shapes:

- AgentInfo: ``{"id": str | None, "hostname", "ip", "port", "resources": Resources.to_dict(),
  "attributes": {name: str | float}, "version", "capabilities": [str], "reserved_role"?: str}``;
  ``reserved_role``: the role the whole agent is statically reserved to (``--resources`` as
  ``cpus(ROLE):2``); absent (older agents) or ``"*"``: unreserved.
- TaskRecord: ``{"framework_id", "task": TaskInfo JSON, "state", "status": TaskStatus JSON |
  None}`` -- what the agent runs (or ran and has not had acknowledged).
- Update: ``{"framework_id", "status": TaskStatus JSON}``; ``status`` carries ``agent_id``,
  ``uuid`` (base64 16 bytes), ``source``, ``timestamp``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from dcos.protocol.codec import dumps_json
from dcos.protocol.ids import AgentID, FrameworkID, TaskID, id_error, unwrap
from dcos.protocol.mesos import FrameworkInfo, framework_info
from dcos.protocol.resources import ResourceError, Resources
from dcos.protocol.states import TaskState

PATH = "/internal/agent"
SECRET_HEADER = "Dcos-Agent-Secret"

# agent -> master calls
SUBSCRIBE = "SUBSCRIBE"
UPDATE = "UPDATE"
PONG = "PONG"
MESSAGE = "MESSAGE"
EXITED_EXECUTOR = "EXITED_EXECUTOR"

# master -> agent events
REGISTERED = "REGISTERED"
RUN_TASKS = "RUN_TASKS"
RUN_TASK_GROUP = "RUN_TASK_GROUP"
KILL_TASK = "KILL_TASK"
ACKNOWLEDGE = "ACKNOWLEDGE"
FRAMEWORK_MESSAGE = "FRAMEWORK_MESSAGE"
SHUTDOWN_FRAMEWORK = "SHUTDOWN_FRAMEWORK"
SHUTDOWN_EXECUTOR = "SHUTDOWN_EXECUTOR"
UPDATE_FRAMEWORK = "UPDATE_FRAMEWORK"
PING = "PING"


def new_secret() -> str:
    """A fresh agent session secret (the master makes one per registration)."""
    return secrets.token_urlsafe(32)


def secret_hash(secret: str) -> str:
    """What the master keeps of a secret (in memory and in its registry)."""
    return hashlib.sha256(secret.encode("utf-8", "surrogateescape")).hexdigest()


def secret_matches(secret: str | None, hashed: str) -> bool:
    """True when `secret` (from a call's `SECRET_HEADER`; None: absent) hashes to `hashed`."""
    return secret is not None and hmac.compare_digest(secret_hash(secret), hashed)


# -- typed agent -> master calls ------------------------------------------------------------
#
# The master's agent channel handler parses each decoded call with `parse_agent_call` (or
# `parse_agent_subscribe`) and hands the typed message to the master core, which never reads
# the wire maps except the payloads it forwards or stores untouched (TaskInfo, TaskStatus,
# FrameworkInfo, the AgentInfo map). Slotted dataclasses, read-only by convention but not
# frozen (made per call on the hot path; frozen ones cost several times as much to create).


class AgentError(ValueError):
    """A malformed agent call; the message is sent back with 400."""


@dataclass(slots=True)
class AgentInfo:
    """The ``agent`` map of SUBSCRIBE, checked; `info` is the map itself (stored as is)."""

    id: AgentID | None
    hostname: str
    ip: str
    port: int
    resources: Resources
    attributes: dict[str, Any]
    info: dict[str, Any]
    reserved_role: str | None = None  # None: unreserved


@dataclass(slots=True)
class TaskRecord:
    """A task the agent runs (or ran and has not had acknowledged), with what the master
    reads of its TaskInfo: resources (empty when they do not parse), the role they were
    allocated to (None: not said), the executor id, the name."""

    framework_id: FrameworkID
    task_id: TaskID
    task: dict[str, Any]  # TaskInfo JSON
    state: str
    status: dict[str, Any] | None
    resources: Resources
    allocation_role: str | None
    executor_id: str | None
    name: str


@dataclass(slots=True)
class AgentSubscribe:
    agent: AgentInfo
    tasks: tuple[TaskRecord, ...]
    frameworks: tuple[FrameworkInfo, ...]  # those with an id


@dataclass(slots=True)
class StatusUpdate:
    framework_id: FrameworkID
    task_id: TaskID
    state: str
    status: dict[str, Any]  # TaskStatus JSON, forwarded to the framework


@dataclass(slots=True)
class AgentUpdate:
    """UPDATE: status updates (malformed ones are dropped, as before)."""

    agent_id: AgentID
    updates: tuple[StatusUpdate, ...]


@dataclass(slots=True)
class Pong:
    agent_id: AgentID


@dataclass(slots=True)
class ExecutorMessage:
    """MESSAGE: executor -> scheduler data (None when not a string: dropped)."""

    agent_id: AgentID
    framework_id: FrameworkID
    executor_id: str
    data: str | None


@dataclass(slots=True)
class ExecutorExited:
    agent_id: AgentID
    framework_id: FrameworkID
    executor_id: str  # '' when missing (nothing is reported)
    status: int


AgentCall = AgentUpdate | Pong | ExecutorMessage | ExecutorExited


def _agent_info(info: Any) -> AgentInfo:
    if not isinstance(info, dict):
        raise AgentError("'agent' must be a map")
    for key in ("hostname", "ip"):
        if not isinstance(info.get(key), str):
            raise AgentError(f"'agent.{key}' must be a string")
    if not isinstance(info.get("port"), int):
        raise AgentError("'agent.port' must be an integer")
    if not isinstance(info.get("version", ""), str):
        raise AgentError("'agent.version' must be a string")
    caps = info.get("capabilities", [])
    if caps is not None and (
        not isinstance(caps, list) or not all(isinstance(c, str) for c in caps)
    ):
        raise AgentError("'agent.capabilities' must be a list of strings")
    try:
        total = Resources.from_dict(info.get("resources"))
    except (ResourceError, TypeError, AttributeError, ValueError) as exc:
        raise AgentError(f"bad 'agent.resources': {exc}") from None
    attrs = info.get("attributes")
    if not isinstance(attrs, dict) or not all(
        isinstance(k, str) and isinstance(v, str | int | float) for k, v in attrs.items()
    ):
        attrs = {}
    reserved = info.get("reserved_role")
    if reserved is not None and (not isinstance(reserved, str) or not reserved):
        raise AgentError("'agent.reserved_role' must be a non-empty string")
    return AgentInfo(
        None, info["hostname"], info["ip"], info["port"], total, attrs, info,
        None if reserved == "*" else reserved,
    )  # fmt: skip


def _task_record(r: Any) -> TaskRecord:
    if not isinstance(r, dict) or not isinstance(r.get("task"), dict):
        raise AgentError("each task record needs a 'task' map")
    fid, tid = r.get("framework_id"), unwrap(r["task"].get("task_id"))
    if not isinstance(fid, str) or tid is None:
        raise AgentError("each task record needs 'framework_id' and 'task.task_id'")
    state = r.get("state")
    if not isinstance(state, str) or state not in TaskState.__members__:
        raise AgentError(f"bad task state {state!r}")
    status = r.get("status")
    ti = r["task"]
    try:
        res = Resources.from_mesos(ti.get("resources"))
    except ResourceError:
        res = Resources.empty()
    role = None
    items = ti.get("resources")
    for item in items if isinstance(items, list) else []:
        if isinstance(item, dict) and isinstance(item.get("allocation_info"), dict):
            role = str(item["allocation_info"].get("role", "")) or None
            break
    ex = ti.get("executor")
    return TaskRecord(
        FrameworkID(fid), TaskID(tid), ti, state, status if isinstance(status, dict) else None,
        res, role, unwrap(ex.get("executor_id")) if isinstance(ex, dict) else None,
        str(ti.get("name", "")),
    )  # fmt: skip


def _json_safe(value: Any) -> bool:
    """True when `value` can be written as JSON (what the master stores and shows): no
    binary, extension types or other values msgpack can carry and JSON cannot."""
    try:
        dumps_json(value)
    except TypeError:
        return False
    return True


def parse_agent_subscribe(msg: dict[str, Any]) -> AgentSubscribe:
    """Check an agent SUBSCRIBE; raises `AgentError` with the 400 message."""
    if not _json_safe(msg):
        raise AgentError("SUBSCRIBE carries values that are not JSON (binary or extension)")
    agent = _agent_info(msg.get("agent"))
    records = msg.get("tasks") or []
    fw_infos = msg.get("frameworks") or []
    if not isinstance(records, list) or not isinstance(fw_infos, list):
        raise AgentError("'tasks' and 'frameworks' must be lists")
    tasks = tuple(_task_record(r) for r in records)
    aid = agent.info.get("id")
    if aid is not None and not isinstance(aid, str):
        raise AgentError("'agent.id' must be a string")
    if aid and id_error(aid):
        raise AgentError(f"'agent.id' is invalid: {id_error(aid)}")
    if aid:
        agent = dataclasses.replace(agent, id=AgentID(aid))
    infos = (framework_info(fi) for fi in fw_infos if isinstance(fi, dict))
    return AgentSubscribe(agent, tasks, tuple(fi for fi in infos if fi.id is not None))


def _status_updates(updates: list[Any]) -> tuple[StatusUpdate, ...]:
    out = []
    for u in updates:
        if not isinstance(u, dict) or not isinstance(u.get("status"), dict):
            continue
        fid, status = u.get("framework_id"), u["status"]
        tid = unwrap(status.get("task_id"))
        state = status.get("state")
        if not isinstance(fid, str) or tid is None or not isinstance(state, str):
            continue
        if not _json_safe(status):  # it is forwarded to the framework as JSON
            continue
        out.append(StatusUpdate(FrameworkID(fid), TaskID(tid), state, status))
    return tuple(out)


def _update(aid: AgentID, msg: dict[str, Any]) -> AgentUpdate:
    updates = msg.get("updates")
    if not isinstance(updates, list):
        raise AgentError("expecting 'updates' (list)")
    return AgentUpdate(aid, _status_updates(updates))


def _message(aid: AgentID, msg: dict[str, Any]) -> ExecutorMessage:
    data = msg.get("data")
    return ExecutorMessage(
        aid, FrameworkID(str(msg.get("framework_id"))), str(msg.get("executor_id")),
        data if isinstance(data, str) else None,
    )  # fmt: skip


def _exited(aid: AgentID, msg: dict[str, Any]) -> ExecutorExited:
    status = msg.get("status")
    eid = msg.get("executor_id")
    return ExecutorExited(
        aid, FrameworkID(str(msg.get("framework_id"))), str(eid) if eid else "",
        status if isinstance(status, int) else 0,
    )  # fmt: skip


_AGENT_CALLS: dict[str, Callable[[AgentID, dict[str, Any]], AgentCall]] = {
    UPDATE: _update,
    PONG: lambda aid, msg: Pong(aid),
    MESSAGE: _message,
    EXITED_EXECUTOR: _exited,
}


def parse_agent_call(msg: Any) -> AgentSubscribe | AgentCall:
    """Check a decoded agent -> master call; raises `AgentError` with the 400 message."""
    if not isinstance(msg, dict) or not isinstance(msg.get("type"), str):
        raise AgentError("expecting a map with a 'type'")
    mtype = msg["type"]
    if mtype == SUBSCRIBE:
        return parse_agent_subscribe(msg)
    agent_id = msg.get("agent_id")
    if not isinstance(agent_id, str):
        raise AgentError("expecting 'agent_id' (string)")
    parser = _AGENT_CALLS.get(mtype)
    if parser is None:
        raise AgentError(f"unknown call type '{mtype}'")
    return parser(AgentID(agent_id), msg)
