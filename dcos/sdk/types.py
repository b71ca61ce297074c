"""Light typed views over the Mesos JSON objects a scheduler receives.

`Offer` and `TaskStatus` *are* the Mesos v1 JSON dicts (they subclass `dict`, so
``offer["agent_id"]["value"]`` and ``orjson.dumps(status)`` work as with any Mesos client), with
read-only properties for the fields a framework uses most. The driver builds them from each
OFFERS / UPDATE event and hands them to `Scheduler.resource_offers` / `Scheduler.status_update`;
frameworks and tests may build them from any Mesos JSON dict: ``Offer({...})``.
"""

from __future__ import annotations

import base64
from functools import cached_property
from typing import Any

from dcos.protocol.ids import AgentID, ExecutorID, FrameworkID, OfferID, TaskID, unwrap
from dcos.protocol.resources import Resources
from dcos.protocol.states import is_terminal


def _id(obj: Any) -> str:
    return unwrap(obj) or ""


class Offer(dict[str, Any]):
    """A Mesos `Offer` JSON object with typed accessors.

    Fields: ``id``, ``framework_id``, ``agent_id``, ``hostname``, ``resources`` (Mesos resource
    list), optional ``attributes``, ``executor_ids``, ``url``, ``allocation_info: {role}``.
    """

    @property
    def id(self) -> OfferID:
        return OfferID(_id(self.get("id")))

    @property
    def agent_id(self) -> AgentID:
        return AgentID(_id(self.get("agent_id")))

    @property
    def framework_id(self) -> FrameworkID:
        return FrameworkID(_id(self.get("framework_id")))

    @property
    def hostname(self) -> str:
        return str(self.get("hostname", ""))

    @cached_property
    def resources(self) -> Resources:
        """Everything in the offer as one `Resources` (roles and reservations merged)."""
        return Resources.from_mesos(self.get("resources") or [])

    @property
    def allocation_role(self) -> str | None:
        """The role the offer was allocated to (``allocation_info.role``), if the master said."""
        info = self.get("allocation_info")
        if isinstance(info, dict) and isinstance(info.get("role"), str):
            return info["role"]
        for r in self.get("resources") or []:
            ai = r.get("allocation_info") if isinstance(r, dict) else None
            if isinstance(ai, dict) and isinstance(ai.get("role"), str):
                return ai["role"]
        return None

    @cached_property
    def attributes(self) -> dict[str, Any]:
        """Agent attributes as plain values: TEXT -> str, SCALAR -> float, RANGES -> list of
        (begin, end), SET -> list of str."""
        out: dict[str, Any] = {}
        for a in self.get("attributes") or []:
            if not isinstance(a, dict) or "name" not in a:
                continue
            kind = a.get("type", "TEXT")
            if kind == "TEXT":
                out[a["name"]] = (a.get("text") or {}).get("value", "")
            elif kind == "SCALAR":
                out[a["name"]] = float((a.get("scalar") or {}).get("value", 0.0))
            elif kind == "RANGES":
                out[a["name"]] = [
                    (int(r["begin"]), int(r["end"]))
                    for r in (a.get("ranges") or {}).get("range", [])
                ]
            elif kind == "SET":
                out[a["name"]] = list((a.get("set") or {}).get("item", []))
        return out

    def __repr__(self) -> str:
        return f"Offer(id={self.id!r}, agent={self.agent_id!r}, host={self.hostname!r}, {self.resources})"


class TaskStatus(dict[str, Any]):
    """A Mesos `TaskStatus` JSON object with typed accessors.

    Fields: ``task_id``, ``state`` (``TASK_RUNNING`` ...), ``agent_id``, ``uuid`` (base64, only
    on updates that need an acknowledgement), ``source``, ``reason``, ``message``,
    ``timestamp``, ``executor_id``, ``data`` (base64), ``healthy``, ``labels``.
    """

    @property
    def task_id(self) -> TaskID:
        return TaskID(_id(self.get("task_id")))

    @property
    def state(self) -> str:
        return str(self.get("state", ""))

    @property
    def agent_id(self) -> AgentID | None:
        v = unwrap(self.get("agent_id"))
        return AgentID(v) if v else None

    @property
    def executor_id(self) -> ExecutorID | None:
        v = unwrap(self.get("executor_id"))
        return ExecutorID(v) if v else None

    @property
    def uuid(self) -> str | None:
        v = self.get("uuid")
        return v if isinstance(v, str) and v else None

    @property
    def message(self) -> str:
        return str(self.get("message", ""))

    @property
    def reason(self) -> str | None:
        v = self.get("reason")
        return v if isinstance(v, str) else None

    @property
    def source(self) -> str | None:
        v = self.get("source")
        return v if isinstance(v, str) else None

    @property
    def data(self) -> bytes | None:
        """``data`` decoded from base64 (None when absent or not base64)."""
        v = self.get("data")
        if not isinstance(v, str):
            return None
        try:
            return base64.b64decode(v)
        except ValueError:
            return None

    @property
    def terminal(self) -> bool:
        """True for FINISHED, FAILED, KILLED, ERROR, LOST, DROPPED, GONE, GONE_BY_OPERATOR."""
        return is_terminal(self.state)

    def __repr__(self) -> str:
        return f"TaskStatus({self.task_id!r}, {self.state}, {self.message!r})"
