"""Typed identifiers.

Ids travel as plain strings on the wire (Mesos wraps them as ``{"value": "..."}``); inside
the code they are `NewType`s so a task id is never passed where an agent id is expected.
`new_*` helpers are called by the master (framework, offer, agent ids) and by the agent
(container ids) when it creates a new object.
"""

from __future__ import annotations

import itertools
import os
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


def unique_suffix() -> str:
    """A short suffix unique within this process (pid, time and a counter)."""
    return f"{os.getpid():x}{int(time.time() * 1000):x}{next(_counter):x}"
