"""`Instance`: what the framework knows of one task of an app (pure data).

Created by the core when it places a task, changed by status updates and readiness results,
persisted by `frameworks.webapp.store` (before the launch is sent, so a restarted framework
knows every task it may have launched) and rendered by `frameworks.webapp.api.render`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from dcos.protocol.ids import AgentID, TaskID
from frameworks.webapp.model.spec import AppId

STAGED = {"TASK_STAGING", "TASK_STARTING"}
GONE = {
    "TASK_FINISHED", "TASK_FAILED", "TASK_KILLED", "TASK_ERROR", "TASK_LOST", "TASK_DROPPED",
    "TASK_GONE", "TASK_GONE_BY_OPERATOR", "TASK_UNKNOWN",
}  # fmt: skip
FAILURES = {"TASK_FAILED", "TASK_ERROR", "TASK_LOST", "TASK_DROPPED", "TASK_GONE", "TASK_FINISHED"}


@dataclass
class Instance:
    task_id: TaskID
    app_id: AppId
    version: str  # the app version it was launched with
    config: str  # versionInfo.lastConfigChangeAt of that version
    agent_id: AgentID
    host: str
    ports: list[int]
    service_ports: list[int]
    staged_at: float
    state: str = "TASK_STAGING"
    started_at: float | None = None
    healthy: bool | None = None
    ready: bool = False
    killing: bool = False
    kill_at: float | None = None  # draining from load balancers: the kill is sent then
    replace: bool = False
    wipe: bool = False
    unhealthy_since: float | None = None
    unreachable_since: float | None = None
    attributes: dict[str, str] = field(default_factory=dict)
    first_success: float | None = None
    last_success: float | None = None
    last_failure: float | None = None
    failure_cause: str | None = None
    readiness: dict[str, Any] | None = None
    # The task's JSON as the API renders it (frameworks.webapp.api.render.task_bytes): any
    # assignment to another field clears it, so a cached rendering is never stale.
    _json: tuple[bool, bytes] | None = field(default=None, repr=False, compare=False)

    def __setattr__(self, name: str, value: Any) -> None:
        object.__setattr__(self, name, value)
        if name != "_json":
            object.__setattr__(self, "_json", None)

    def to_dict(self) -> dict[str, Any]:
        d = {k: getattr(self, k) for k in _FIELDS}
        d["ports"] = list(self.ports)
        d["service_ports"] = list(self.service_ports)
        d["attributes"] = dict(self.attributes)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Instance:
        known = cls.__dataclass_fields__
        return cls(**{k: v for k, v in d.items() if k in known})

    @property
    def running(self) -> bool:
        return self.state == "TASK_RUNNING"

    def inactive(self, now: float, inactive_after: float | None) -> bool:
        """Unreachable for longer than the app's unreachableStrategy allows: it no longer
        counts, and a replacement is launched."""
        if self.unreachable_since is None or inactive_after is None:
            return False
        return now - self.unreachable_since >= inactive_after


_FIELDS = tuple(f.name for f in fields(Instance) if not f.name.startswith("_"))
