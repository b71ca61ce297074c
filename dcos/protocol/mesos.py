"""Builders and readers for Mesos v1 JSON shapes shared by several components.

`task_status` is called by the agent (command executor updates), by the master (TASK_LOST,
TASK_UNREACHABLE, TASK_DROPPED, reconciliation answers) and by test fakes. `MESOS_VERSION`
is the Mesos API level dcos-py implements; `/version` reports it so that clients which gate
features on the Mesos version (pymesos, Spark) see a plain numeric ``X.Y.Z``.
"""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass
from typing import Any

from dcos.protocol.ids import FrameworkID, Role, unwrap, wrap

MESOS_VERSION = "1.11.0"

PARTITION_AWARE = "PARTITION_AWARE"
MULTI_ROLE = "MULTI_ROLE"
DCOS_PY_VERSION = "0.1.0"


def new_status_uuid() -> str:
    """A status update uuid: base64 of 16 random bytes, as Mesos sends it in JSON."""
    return base64.b64encode(os.urandom(16)).decode("ascii")


def valid_status_uuid(value: object) -> bool:
    """True for a base64 string that decodes to exactly 16 bytes."""
    if not isinstance(value, str):
        return False
    try:
        return len(base64.b64decode(value, validate=True)) == 16
    except (ValueError, TypeError):
        return False


def task_status(
    task_id: str,
    state: str,
    *,
    agent_id: str | None,
    source: str,
    timestamp: float,
    uuid: str | None = None,
    message: str | None = None,
    reason: str | None = None,
    executor_id: str | None = None,
    healthy: bool | None = None,
    data: str | None = None,
) -> dict[str, Any]:
    """A Mesos `TaskStatus` JSON object; optional fields are left out when None."""
    status: dict[str, Any] = {
        "task_id": wrap(task_id),
        "state": state,
        "source": source,
        "timestamp": timestamp,
    }
    if agent_id is not None:
        status["agent_id"] = wrap(agent_id)
    if uuid is not None:
        status["uuid"] = uuid
    if message is not None:
        status["message"] = message
    if reason is not None:
        status["reason"] = reason
    if executor_id is not None:
        status["executor_id"] = wrap(executor_id)
    if healthy is not None:
        status["healthy"] = healthy
    if data is not None:
        status["data"] = data
    return status


def format_duration(seconds: float) -> str:
    """Mesos' duration text (``5secs``, ``3mins``, ``100ms``) as executors read it."""
    if seconds >= 60 and seconds % 60 == 0:
        return f"{int(seconds // 60)}mins"
    if seconds >= 1 and float(seconds).is_integer():
        return f"{int(seconds)}secs"
    return f"{int(round(seconds * 1000))}ms"


@dataclass(slots=True)
class FrameworkInfo:
    """What the master decides with from a FrameworkInfo; `json` is the FrameworkInfo itself
    (stored in the registry, sent to agents, shown in /state). Made by `framework_info`."""

    id: FrameworkID | None
    name: str
    roles: tuple[Role, ...]
    capabilities: frozenset[str]
    failover_timeout: float
    json: dict[str, Any]


def framework_info(info: dict[str, Any]) -> FrameworkInfo:
    """Read a FrameworkInfo (already shape-checked where it came from the wire): roles are
    ``roles`` with MULTI_ROLE, else ``role`` (default ``*``); a bad failover timeout is 0.
    Called by the master's call parsers and by its registry recovery."""
    caps = info.get("capabilities") or []
    capabilities = frozenset(
        c["type"]
        for c in (caps if isinstance(caps, list) else [])
        if isinstance(c, dict) and isinstance(c.get("type"), str)
    )
    if MULTI_ROLE in capabilities and isinstance(info.get("roles"), list) and info["roles"]:
        roles = tuple(Role(str(r)) for r in info["roles"])
    else:
        role = info.get("role")
        roles = (Role(role if isinstance(role, str) and role else "*"),)
    ft = info.get("failover_timeout", 0.0)
    timeout = (
        float(ft) if isinstance(ft, int | float) and not isinstance(ft, bool) and ft >= 0 else 0.0
    )
    fid = unwrap(info.get("id"))
    return FrameworkInfo(
        FrameworkID(fid) if fid else None, str(info.get("name", "")), roles, capabilities,
        timeout, info,
    )  # fmt: skip
