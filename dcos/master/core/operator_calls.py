"""Typed writes of the v1 operator API (UPDATE_WEIGHTS, SET_QUOTA, REMOVE_QUOTA, TEARDOWN,
DEACTIVATE_AGENT, REACTIVATE_AGENT, MARK_AGENT_GONE), parsed and validated from decoded JSON.

Called by the operator HTTP handler (`dcos.master.http.operator_api`): `parse_operator_write`
returns a typed write, or raises `CallError` with the 400 message (wrong JSON types, bad role names, weights
and guarantees that are not finite positive numbers, non-scalar guarantees); the shell then
hands the write to the core (`MasterCore.operator_call`), which checks what needs its state
(Mesos' quota capacity heuristic, overridden by ``force``; whether an agent id is known).

The agent calls take Mesos 1.9's wire shape, ``{"type": "DEACTIVATE_AGENT",
"deactivate_agent": {"agent_id": {"value": "..."}}}`` (likewise ``reactivate_agent`` and
``mark_agent_gone``); the installer's ``--remove-agent`` makes them
(`dcos.installer.nodes`), and so can any Mesos operator tool.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from dcos.master.core.calls import CallError
from dcos.protocol.ids import AgentID, FrameworkID, role_error
from dcos.protocol.resources import ResourceError, Resources


@dataclass(slots=True)
class UpdateWeights:
    weights: dict[str, float]


@dataclass(slots=True)
class SetQuota:
    """SET_QUOTA: `guarantee` holds scalars only; `force` skips the capacity check."""

    role: str
    guarantee: Resources
    force: bool = False


@dataclass(slots=True)
class RemoveQuota:
    role: str


@dataclass(slots=True)
class TeardownFramework:
    """TEARDOWN (and the ``/master/teardown`` endpoint): remove a framework, killing its
    tasks, whether or not it is connected."""

    framework_id: FrameworkID


@dataclass(slots=True)
class DeactivateAgent:
    """DEACTIVATE_AGENT: no offers of the agent's resources (outstanding ones rescinded)
    until REACTIVATE_AGENT; its tasks keep running. Kept in the registry."""

    agent_id: AgentID


@dataclass(slots=True)
class ReactivateAgent:
    """REACTIVATE_AGENT: the agent's resources are offered again."""

    agent_id: AgentID


@dataclass(slots=True)
class MarkAgentGone:
    """MARK_AGENT_GONE: the agent is gone for good; its tasks are TASK_GONE_BY_OPERATOR
    and its id may never register again (idempotent)."""

    agent_id: AgentID


AgentWrite = DeactivateAgent | ReactivateAgent | MarkAgentGone
OperatorWrite = UpdateWeights | SetQuota | RemoveQuota | TeardownFramework | AgentWrite

WRITE_TYPES = frozenset({
    "UPDATE_WEIGHTS", "SET_QUOTA", "REMOVE_QUOTA", "TEARDOWN",
    "DEACTIVATE_AGENT", "REACTIVATE_AGENT", "MARK_AGENT_GONE",
})  # fmt: skip

# no weight or quota beyond this: larger numbers only overflow the allocator's arithmetic
MAX_WEIGHT = 1e9


def _payload(call: dict[str, Any], key: str) -> dict[str, Any]:
    """The call's ``key`` object (missing: empty); 400 when it is not an object."""
    body = call.get(key)
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise CallError(f"Expecting '{key}' to be an object")
    return body


def _role(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise CallError(f"Expecting '{where}' to be a string")
    why = role_error(value)
    if why is not None:
        raise CallError(f"Invalid '{where}': {why}")
    return value


def _number(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, int | float) and math.isfinite(value)


def _update_weights(call: dict[str, Any]) -> UpdateWeights:
    infos = _payload(call, "update_weights").get("weight_infos")
    if not isinstance(infos, list):
        raise CallError("Expecting 'update_weights.weight_infos' to be an array")
    weights: dict[str, float] = {}
    for wi in infos:
        if not isinstance(wi, dict) or not isinstance(wi.get("role"), str):
            raise CallError("Each weight info needs a string 'role'")
        role = _role(wi["role"], "update_weights.weight_infos.role")
        w = wi.get("weight", 1.0)
        if not _number(w) or not 0 < w <= MAX_WEIGHT:
            raise CallError(
                f"Weight of role {role!r} must be a positive number up to {MAX_WEIGHT:g}"
            )
        weights[role] = float(w)
    return UpdateWeights(weights)


def _guarantee(items: Any) -> Resources:
    """A quota guarantee: a list of SCALAR resources with finite, non-negative values."""
    if items is None:
        return Resources.empty()
    if not isinstance(items, list):
        raise CallError("Expecting 'set_quota.quota_request.guarantee' to be an array")
    for item in items:
        if not isinstance(item, dict):
            raise CallError("Each guarantee item must be a resource object")
        if item.get("type", "SCALAR") != "SCALAR":
            raise CallError(f"Quota guarantee must be scalar; got {item.get('type')!r}")
        scalar = item.get("scalar")
        value = scalar.get("value") if isinstance(scalar, dict) else None
        if value is None or not _number(value) or value < 0:
            raise CallError(f"Quota guarantee of {item.get('name')!r} must be a finite number >= 0")
    try:
        return Resources.from_mesos(items)
    except ResourceError as exc:
        raise CallError(f"Invalid 'guarantee': {exc}") from None


def _set_quota(call: dict[str, Any]) -> SetQuota:
    req = _payload(call, "set_quota").get("quota_request")
    if not isinstance(req, dict):
        raise CallError("Expecting 'set_quota.quota_request' to be an object")
    if not isinstance(req.get("role"), str) or not req["role"]:
        raise CallError("Expecting 'set_quota.quota_request.role' to be a non-empty string")
    role = _role(req["role"], "set_quota.quota_request.role")
    if role == "*":
        raise CallError("Quota cannot be set for the default role '*'")
    force = req.get("force", False)
    if not isinstance(force, bool):
        raise CallError("Expecting 'set_quota.quota_request.force' to be a boolean")
    return SetQuota(role, _guarantee(req.get("guarantee")), force)


def _remove_quota(call: dict[str, Any]) -> RemoveQuota:
    role = _payload(call, "remove_quota").get("role")
    if not isinstance(role, str):
        raise CallError("Expecting 'remove_quota.role' to name a role with quota")
    return RemoveQuota(role)


def teardown_of(framework_id: Any, where: str) -> TeardownFramework:
    """A TEARDOWN of `framework_id` (a non-empty string; `where` names it in the 400)."""
    if not isinstance(framework_id, str) or not framework_id:
        raise CallError(f"Expecting '{where}' to be a non-empty string")
    return TeardownFramework(FrameworkID(framework_id))


def _teardown(call: dict[str, Any]) -> TeardownFramework:
    fid = _payload(call, "teardown").get("framework_id")
    return teardown_of(fid.get("value") if isinstance(fid, dict) else None,
                       "teardown.framework_id.value")  # fmt: skip


def _agent_id(call: dict[str, Any], key: str) -> AgentID:
    """``call[key].agent_id.value``: a non-empty string (400 otherwise)."""
    aid = _payload(call, key).get("agent_id")
    value = aid.get("value") if isinstance(aid, dict) else None
    if not isinstance(value, str) or not value:
        raise CallError(f"Expecting '{key}.agent_id.value' to be a non-empty string")
    return AgentID(value)


_PARSERS: dict[str, Callable[[dict[str, Any]], OperatorWrite]] = {
    "UPDATE_WEIGHTS": _update_weights,
    "SET_QUOTA": _set_quota,
    "REMOVE_QUOTA": _remove_quota,
    "TEARDOWN": _teardown,
    "DEACTIVATE_AGENT": lambda c: DeactivateAgent(_agent_id(c, "deactivate_agent")),
    "REACTIVATE_AGENT": lambda c: ReactivateAgent(_agent_id(c, "reactivate_agent")),
    "MARK_AGENT_GONE": lambda c: MarkAgentGone(_agent_id(c, "mark_agent_gone")),
}


def parse_operator_write(call: dict[str, Any]) -> OperatorWrite:
    """A decoded operator call whose ``type`` is one of `WRITE_TYPES`, checked."""
    return _PARSERS[call["type"]](call)
