"""Builders for Mesos v1 scheduler `Call` JSON bodies (pure functions, no I/O).

Called by `SchedulerDriver` for every call it sends, and usable by anyone who speaks the
v1 scheduler API directly (tests, fakes). Every call except SUBSCRIBE carries the top-level
``framework_id``; ids are wrapped as ``{"value": ...}``; bytes are base64 text.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Mapping
from typing import Any

from dcos.protocol.ids import unwrap, wrap

Json = dict[str, Any]


def _call(framework_id: str, kind: str, payload: Json | None = None) -> Json:
    body: Json = {"framework_id": wrap(framework_id), "type": kind}
    if payload is not None:
        body[kind.lower()] = payload
    return body


def _ids(values: Iterable[str]) -> list[dict[str, str]]:
    return [wrap(v) for v in values]


def offer_id(o: Any) -> str:
    """The id of an offer given as an id string, an `Offer` / Offer dict or ``{"value": id}``."""
    if isinstance(o, str):
        return o
    if isinstance(o, Mapping):
        v = unwrap(o.get("id")) if "id" in o else unwrap(o)
        if v:
            return v
    raise TypeError(f"not an offer or offer id: {o!r}")


def task_ref(t: Any) -> tuple[str, str | None]:
    """(task_id, agent_id or None) from a task id string, a (task_id, agent_id) pair or a
    TaskStatus/TaskInfo dict (for RECONCILE)."""
    if isinstance(t, str):
        return t, None
    if isinstance(t, tuple) and len(t) == 2:
        return str(t[0]), (str(t[1]) if t[1] else None)
    if isinstance(t, Mapping):
        tid = unwrap(t.get("task_id"))
        if tid:
            return tid, unwrap(t.get("agent_id"))
    raise TypeError(f"not a task reference: {t!r}")


def make_filters(filters: Mapping[str, Any] | None, refuse_seconds: float | None) -> Json | None:
    """`filters` as given, or ``{"refuse_seconds": s}``; `refuse_seconds` wins when both."""
    out: Json | None = dict(filters) if filters else None
    if refuse_seconds is not None:
        out = dict(out or {})
        out["refuse_seconds"] = float(refuse_seconds)
    return out


def subscribe(framework_info: Mapping[str, Any], framework_id: str | None) -> Json:
    """SUBSCRIBE; a known framework id goes both in `framework_info.id` and top level."""
    info = dict(framework_info)
    body: Json = {"type": "SUBSCRIBE"}
    if framework_id:
        info["id"] = wrap(framework_id)
        body["framework_id"] = wrap(framework_id)
    body["subscribe"] = {"framework_info": info}
    return body


def accept(
    framework_id: str,
    offer_ids: Iterable[str],
    operations: list[Json],
    filters: Json | None = None,
) -> Json:
    payload: Json = {"offer_ids": _ids(offer_ids), "operations": operations}
    if filters:
        payload["filters"] = filters
    return _call(framework_id, "ACCEPT", payload)


def launch_operation(task_infos: list[Json]) -> Json:
    """One ``LAUNCH`` operation for an ACCEPT (several tasks may share it)."""
    return {"type": "LAUNCH", "launch": {"task_infos": task_infos}}


def launch_group_operation(executor_info: Json, task_infos: list[Json]) -> Json:
    """One ``LAUNCH_GROUP`` operation (tasks run together under one executor)."""
    return {
        "type": "LAUNCH_GROUP",
        "launch_group": {"executor": executor_info, "task_group": {"tasks": task_infos}},
    }


def decline(framework_id: str, offer_ids: Iterable[str], filters: Json | None = None) -> Json:
    payload: Json = {"offer_ids": _ids(offer_ids)}
    if filters:
        payload["filters"] = filters
    return _call(framework_id, "DECLINE", payload)


def kill(framework_id: str, task_id: str, agent_id: str | None = None) -> Json:
    payload: Json = {"task_id": wrap(task_id)}
    if agent_id:
        payload["agent_id"] = wrap(agent_id)
    return _call(framework_id, "KILL", payload)


def reconcile(framework_id: str, tasks: Iterable[tuple[str, str | None]] = ()) -> Json:
    """RECONCILE for (task_id, agent_id or None) pairs; none at all = implicit reconciliation."""
    items: list[Json] = []
    for task_id, agent_id in tasks:
        item: Json = {"task_id": wrap(task_id)}
        if agent_id:
            item["agent_id"] = wrap(agent_id)
        items.append(item)
    return _call(framework_id, "RECONCILE", {"tasks": items})


def _roles_payload(roles: Iterable[str] | None) -> Json | None:
    if roles is None:
        return None
    return {"roles": list(roles)}


def suppress(framework_id: str, roles: Iterable[str] | None = None) -> Json:
    return _call(framework_id, "SUPPRESS", _roles_payload(roles))


def revive(framework_id: str, roles: Iterable[str] | None = None) -> Json:
    return _call(framework_id, "REVIVE", _roles_payload(roles))


def acknowledge(framework_id: str, agent_id: str, task_id: str, uuid: str) -> Json:
    return _call(
        framework_id,
        "ACKNOWLEDGE",
        {"agent_id": wrap(agent_id), "task_id": wrap(task_id), "uuid": uuid},
    )


def message(framework_id: str, agent_id: str, executor_id: str, data: bytes) -> Json:
    return _call(
        framework_id,
        "MESSAGE",
        {
            "agent_id": wrap(agent_id),
            "executor_id": wrap(executor_id),
            "data": base64.b64encode(data).decode("ascii"),
        },
    )


def request(framework_id: str, requests: list[Json]) -> Json:
    return _call(framework_id, "REQUEST", {"requests": requests})


def shutdown(framework_id: str, executor_id: str, agent_id: str) -> Json:
    return _call(
        framework_id,
        "SHUTDOWN",
        {"executor_id": wrap(executor_id), "agent_id": wrap(agent_id)},
    )


def teardown(framework_id: str) -> Json:
    return _call(framework_id, "TEARDOWN")
