"""A bounded log of what went into a core and what came out of it.

Every sans-IO core (master, agent, webapp) takes typed events in through one entry point
and returns typed actions. The shell of each component keeps a `StimulusLog` and records
each (event, actions) pair after calling the core; a debug endpoint (`GET /debug/stimuli`)
returns the last entries so that a misbehaving cluster can be explained after the fact.

Recording is cheap (a tuple appended to a deque); turning entries into JSON happens only when
somebody reads the endpoint.
"""

from __future__ import annotations

import dataclasses
import enum
from collections import deque
from collections.abc import Iterable
from typing import Any

DEFAULT_CAPACITY = 1000


class StimulusLog:
    """The last `capacity` stimuli of one core, oldest first.

    Called by a component's shell right after each call into its core
    (``log.record(now, event, actions)``); read by the debug endpoint through `entries`.
    """

    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        self._entries: deque[tuple[float, Any, tuple[Any, ...]]] = deque(maxlen=max(0, capacity))
        self.recorded = 0

    @property
    def capacity(self) -> int:
        return self._entries.maxlen or 0

    def record(self, now: float, event: Any, actions: Iterable[Any] = ()) -> None:
        if self._entries.maxlen:
            self._entries.append((now, event, tuple(actions)))
        self.recorded += 1

    def entries(self, limit: int | None = None) -> list[dict[str, Any]]:
        """The newest `limit` entries (all by default) as JSON-ready dicts, oldest first."""
        items = list(self._entries)
        if limit is not None:
            items = items[-limit:] if limit > 0 else []
        return [
            {"time": now, "event": describe(event), "actions": [describe(a) for a in actions]}
            for now, event, actions in items
        ]


HIDDEN = "<hidden>"


def _secret(name: str) -> bool:
    """A field or key whose value is never shown (an executor's authentication token in a
    launch's environment, a session secret): its name says token, secret or password."""
    upper = name.upper()
    return "TOKEN" in upper or "SECRET" in upper or "PASSWORD" in upper


def describe(obj: Any, depth: int = 0) -> Any:
    """A JSON-ready summary of an event or action: its type name and its fields.

    Large payloads are cut short so that reading the log stays cheap and safe.
    """
    if depth > 4:
        return "..."
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        out: dict[str, Any] = {"type": type(obj).__name__}
        for f in dataclasses.fields(obj):
            value = getattr(obj, f.name)
            out[f.name] = HIDDEN if value and _secret(f.name) else describe(value, depth + 1)
        return out
    if isinstance(obj, enum.Enum):
        return obj.name
    if isinstance(obj, str | int | float | bool) or obj is None:
        return obj if not isinstance(obj, str) or len(obj) <= 200 else obj[:200] + "..."
    if isinstance(obj, bytes):
        return f"<{len(obj)} bytes>"
    if isinstance(obj, dict):
        items = list(obj.items())
        out = {str(k): HIDDEN if _secret(str(k)) else describe(v, depth + 1) for k, v in items[:20]}
        if len(items) > 20:
            out["..."] = f"{len(items) - 20} more"
        return out
    if isinstance(obj, list | tuple | set | frozenset):
        seq = list(obj)
        res = [describe(v, depth + 1) for v in seq[:20]]
        if len(seq) > 20:
            res.append(f"... {len(seq) - 20} more")
        return res
    return repr(obj)[:200]
