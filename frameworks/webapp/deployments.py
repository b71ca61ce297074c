"""Deployments (pure data): a plan of steps, each step a list of actions on apps.

Built by the core (`WebappCore.deploy`) from the apps before and after a change:
StopApplication for removed apps (first step), StartApplication for new ones, then
ScaleApplication / RestartApplication in dependency order (one step per dependency layer).
A step is done when each of its apps reached its target (see `frameworks.webapp.planner`);
the deployment is listed (`frameworks.webapp.rollout.Deployments`) until its last step is
done. Rendered with Marathon's field names.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

Json = dict[str, Any]
START, SCALE, RESTART, STOP = (
    "StartApplication", "ScaleApplication", "RestartApplication", "StopApplication",
)  # fmt: skip


@dataclass
class Deployment:
    id: str
    version: str
    steps: list[list[tuple[str, str]]]  # [[(action, app id), ...], ...]
    original: dict[str, Json | None] = field(default_factory=dict)
    target: dict[str, Json | None] = field(default_factory=dict)
    current: int = 0  # index of the step in progress (== len(steps) when done)

    @property
    def affected(self) -> list[str]:
        return sorted(self.affected_set)

    @property
    def affected_set(self) -> frozenset[str]:
        """The apps this deployment touches (cached: steps do not change)."""
        cached = self.__dict__.get("_affected")
        if cached is None:
            cached = self.__dict__["_affected"] = frozenset(app for step in self.steps for _, app in step)
        return cached

    @property
    def done(self) -> bool:
        return self.current >= len(self.steps)

    def action_of(self, app_id: str) -> tuple[int, str] | None:
        """(step index, action) of the last action on `app_id`, or None."""
        found = None
        for i, step in enumerate(self.steps):
            for action, app in step:
                if app == app_id:
                    found = (i, action)
        return found

    def mode(self, app_id: str) -> str | None:
        """What the app does now under this deployment: None (not in it, or its actions are
        done), "frozen" (its step has not started), or the action of the current step."""
        first = None
        for i, step in enumerate(self.steps):
            for action, app in step:
                if app == app_id:
                    if first is None:
                        first = i
                    if i == self.current:
                        return action
        if first is not None and first > self.current:
            return "frozen"
        return None

    def to_dict(self) -> Json:
        return {"id": self.id, "version": self.version, "steps": [[list(a) for a in s] for s in self.steps],
                "original": self.original, "target": self.target, "current": self.current}  # fmt: skip

    @classmethod
    def from_dict(cls, d: Json) -> Deployment:
        steps = [[(a[0], a[1]) for a in s] for s in d["steps"]]
        return cls(d["id"], d["version"], steps, d.get("original") or {}, d.get("target") or {},
                   int(d.get("current", 0)))  # fmt: skip

    def to_json(self, readiness: Mapping[str, list[Json]] | None = None) -> Json:
        """Marathon's Deployment JSON (GET /v2/deployments, app ``deployments``)."""
        cur = self.steps[self.current] if not self.done else []
        return {
            "id": self.id,
            "version": self.version,
            "affectedApps": self.affected,
            "affectedPods": [],
            "steps": [{"actions": [{"action": a, "app": app} for a, app in s]} for s in self.steps],
            "currentActions": [
                {"action": a, "app": app, "readinessCheckResults": (readiness or {}).get(app, [])}
                for a, app in cur
            ],
            "currentStep": min(self.current + 1, len(self.steps)),
            "totalSteps": len(self.steps),
        }

    def plan_json(self) -> Json:
        """The ``plan`` of deployment_info / deployment_step_success events."""
        def state(defs: Mapping[str, Json | None]) -> Json:
            return {"id": "/", "apps": [a for a in defs.values() if a], "groups": [],
                    "dependencies": [], "version": self.version, "pods": []}  # fmt: skip

        return {"id": self.id, "version": self.version, "original": state(self.original),
                "target": state(self.target),
                "steps": [{"actions": [{"action": a, "app": app} for a, app in s]} for s in self.steps]}  # fmt: skip


def new_id() -> str:
    return str(uuid.uuid4())


def build_steps(
    actions: Mapping[str, str], layers: Sequence[Sequence[str]]
) -> list[list[tuple[str, str]]]:
    """Steps for `actions` (app -> START/SCALE/RESTART/STOP): stops first, then starts, then
    scale/restart per dependency layer (`layers` lists the non-stopped apps in order)."""
    steps: list[list[tuple[str, str]]] = []
    stops = sorted(a for a, act in actions.items() if act == STOP)
    if stops:
        steps.append([(STOP, a) for a in stops])
    starts = sorted(a for a, act in actions.items() if act == START)
    if starts:
        steps.append([(START, a) for a in starts])
    for layer in layers:
        step = []
        for a in layer:
            act = actions.get(a)
            if act in (START, SCALE):
                step.append((SCALE, a))
            elif act == RESTART:
                step.append((RESTART, a))
        if step:
            steps.append(step)
    return steps
