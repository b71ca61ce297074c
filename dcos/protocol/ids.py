"""Typed identifiers.

Ids travel as plain strings on the wire (Mesos wraps them as ``{"value": "..."}``); inside
the code they are `NewType`s so a task id is never passed where an agent id is expected.
`new_*` helpers are called by the master (framework, offer, agent ids) and by the agent
(container ids) when it creates a new object.
"""

from __future__ import annotations

import itertools
import os
import re
import time
import uuid
from typing import NewType

FrameworkID = NewType("FrameworkID", str)
AgentID = NewType("AgentID", str)
OfferID = NewType("OfferID", str)
TaskID = NewType("TaskID", str)
ExecutorID = NewType("ExecutorID", str)
ContainerID = NewType("ContainerID", str)
MasterID = NewType("MasterID", str)
StreamID = NewType("StreamID", str)
Role = NewType("Role", str)

_counter = itertools.count()


def _base() -> str:
    """A Mesos-like id prefix: a random uuid (one per process life, like a master id)."""
    return str(uuid.uuid4())


_PROCESS_BASE = _base()


def new_master_id() -> MasterID:
    return MasterID(_base())


def new_framework_id(master_id: str) -> FrameworkID:
    """Mesos style: ``<master id>-0000``, the suffix counting up per master life."""
    return FrameworkID(f"{master_id}-{next(_counter):04d}")


def new_agent_id(master_id: str) -> AgentID:
    """Mesos style: ``<master id>-S<n>``."""
    return AgentID(f"{master_id}-S{next(_counter)}")


def new_offer_id(master_id: str, seq: int) -> OfferID:
    """Mesos style: ``<master id>-O<n>``; the master passes its own offer counter."""
    return OfferID(f"{master_id}-O{seq}")


def new_container_id() -> ContainerID:
    return ContainerID(str(uuid.uuid4()))


def new_stream_id() -> StreamID:
    return StreamID(str(uuid.uuid4()))


def wrap(value: str) -> dict[str, str]:
    """``"x"`` -> ``{"value": "x"}``, the Mesos JSON shape of every id."""
    return {"value": value}


def unwrap(obj: object) -> str | None:
    """``{"value": "x"}`` -> ``"x"``; anything else (missing, wrong type, empty) -> None."""
    if isinstance(obj, dict):
        v = obj.get("value")
        if isinstance(v, str) and v:
            return v
    return None


# Mesos' `common::validation::validateID`: an id names a directory (sandboxes, checkpoints),
# so it must be a valid file name: not empty, at most NAME_MAX (255) bytes, not `.` or `..`,
# no control character and no path separator. Whitespace-only ids are refused as well.
MAX_ID_BYTES = 255
_BAD_ID_CHAR = re.compile(r"[\x00-\x1f\x7f/\\]")


def id_error(value: str) -> str | None:
    """Why `value` is not a valid task, executor or framework id (None when it is).

    Called by the parsers of scheduler calls (`dcos.master.core.calls`) for every id a
    framework chooses; the message follows Mesos' wording."""
    if not value:
        return "ID must not be empty"
    if (
        len(value) > MAX_ID_BYTES // 4
        and len(value.encode("utf-8", "surrogatepass")) > MAX_ID_BYTES
    ):
        return f"ID must not be greater than {MAX_ID_BYTES} characters"
    if value in (".", ".."):
        return f"'{value}' is disallowed"
    if _BAD_ID_CHAR.search(value) is not None:
        return f"{value!r} contains invalid characters"
    if value.isspace():
        return "ID must not be only whitespace"
    return None


_BAD_ROLE_CHAR = re.compile(r"[\x00-\x20\x7f\\]")


def role_error(role: str) -> str | None:
    """Why `role` is not a valid role name (None when it is), as Mesos' `roles::validate`:
    not empty, no whitespace, control character or backslash, no leading '-', and no path
    component (roles may be hierarchical, ``a/b``) that is empty, ``.`` or ``..``.

    Called by the operator call parsers (`dcos.master.core.operator_calls`)."""
    if not role:
        return "Empty role name is invalid"
    if len(role) > MAX_ID_BYTES:
        return f"Role name must not be longer than {MAX_ID_BYTES} characters"
    if role == "*":
        return None
    if _BAD_ROLE_CHAR.search(role) is not None:
        return f"Role {role!r} contains invalid characters"
    for part in role.split("/"):
        if part in ("", ".", ".."):
            return f"Role {role!r} has an empty, '.' or '..' path component"
        if part.startswith("-"):
            return f"Role {role!r} has a component starting with '-'"
    return None


def unique_suffix() -> str:
    """A short suffix unique within this process (pid, time and a counter)."""
    return f"{os.getpid():x}{int(time.time() * 1000):x}{next(_counter):x}"
