"""Typed writes of the v1 operator API (UPDATE_WEIGHTS, SET_QUOTA, REMOVE_QUOTA), parsed and
validated from decoded JSON.

Called by the operator HTTP handler (`dcos.master.http.operator_api`): `parse_operator_write`
returns a typed write, or raises `CallError` with the 400 message; the shell then hands the
write to the core (`MasterCore.operator_call`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from dcos.master.core.calls import CallError
from dcos.protocol.resources import ResourceError, Resources


@dataclass(slots=True)
class UpdateWeights:
    weights: dict[str, float]


@dataclass(slots=True)
class SetQuota:
    role: str
    guarantee: Resources


@dataclass(slots=True)
class RemoveQuota:
    role: str


OperatorWrite = UpdateWeights | SetQuota | RemoveQuota

WRITE_TYPES = frozenset({"UPDATE_WEIGHTS", "SET_QUOTA", "REMOVE_QUOTA"})


def _update_weights(call: dict[str, Any]) -> UpdateWeights:
    infos = (call.get("update_weights") or {}).get("weight_infos")
    if not isinstance(infos, list):
        raise CallError("Expecting 'update_weights.weight_infos' to be an array")
    weights: dict[str, float] = {}
    for wi in infos:
        if not isinstance(wi, dict) or not isinstance(wi.get("role"), str):
            raise CallError("Each weight info needs a string 'role'")
        w = wi.get("weight", 1.0)
        if isinstance(w, bool) or not isinstance(w, int | float) or w <= 0:
            raise CallError(f"Weight of role '{wi['role']}' must be a positive number")
        weights[wi["role"]] = float(w)
    return UpdateWeights(weights)


def _set_quota(call: dict[str, Any]) -> SetQuota:
    req = (call.get("set_quota") or {}).get("quota_request")
    if not isinstance(req, dict) or not isinstance(req.get("role"), str) or not req["role"]:
        raise CallError("Expecting 'set_quota.quota_request.role' to be a non-empty string")
    try:
        guarantee = Resources.from_mesos(req.get("guarantee") or [])
    except ResourceError as exc:
        raise CallError(f"Invalid 'guarantee': {exc}") from None
    return SetQuota(req["role"], guarantee)


def _remove_quota(call: dict[str, Any]) -> RemoveQuota:
    role = (call.get("remove_quota") or {}).get("role")
    if not isinstance(role, str):
        raise CallError("Expecting 'remove_quota.role' to name a role with quota")
    return RemoveQuota(role)


_PARSERS: dict[str, Callable[[dict[str, Any]], OperatorWrite]] = {
    "UPDATE_WEIGHTS": _update_weights,
    "SET_QUOTA": _set_quota,
    "REMOVE_QUOTA": _remove_quota,
}


def parse_operator_write(call: dict[str, Any]) -> OperatorWrite:
    """A decoded operator call whose ``type`` is one of `WRITE_TYPES`, checked."""
    return _PARSERS[call["type"]](call)
