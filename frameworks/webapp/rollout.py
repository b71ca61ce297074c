"""`Deployments`: the running deployments of the webapp core (one per change of apps).

Owned by `WebappCore`: `start` lists a new one, `cancel` drops one (superseded by a forced
deployment, or stopped through the API), `advance` moves one past its finished steps (asked
again whenever an app of it changed). Each returns the `Persist`/`Delete`/`Publish` actions it
causes. The plan itself is `frameworks.webapp.deployments.Deployment` (pure data).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from frameworks.webapp.actions import Action, Delete, Persist, Publish
from frameworks.webapp.deployments import Deployment


class Deployments:
    """The running deployments (owned by `WebappCore`): which touches an app, conflicts,
    starting, cancelling and advancing them. Each change returns the `Persist`/`Delete`/
    `Publish` actions it causes; `advance` asks `done(action, app)` whether a step's action
    reached its target (the core answers from its instances)."""

    def __init__(self) -> None:
        self.running: dict[str, Deployment] = {}

    def of(self, app_id: str) -> Deployment | None:
        for d in self.running.values():
            if app_id in d.affected_set:
                return d
        return None

    def conflicts(self, app_ids: Iterable[str]) -> list[str]:
        ids = set(app_ids)
        return sorted(d.id for d in self.running.values() if ids & d.affected_set)

    def start(self, d: Deployment) -> list[Action]:
        self.running[d.id] = d
        current = d.to_json()["steps"][0] if d.steps else None
        return [Persist(d), Publish("deployment_info", {"plan": d.plan_json(), "currentStep": current})]

    def cancel(self, did: str) -> list[Action]:
        """Forget deployment `did` (superseded by a forced one, or stopped); its apps keep
        their definitions."""
        d = self.running.pop(did, None)
        if d is None:
            return []
        return [Delete("deployment", did), Publish("deployment_failed", {"id": did, "plan": d.plan_json()})]

    def advance(self, d: Deployment, done: Callable[[str, str], bool], started: set[str]) -> list[Action]:
        """Move `d` past every finished step; the apps of steps that start now are added to
        `started` (to be planned). A finished deployment is dropped."""
        out: list[Action] = []
        while not d.done:
            step = d.steps[d.current]
            if not all(done(action, app) for action, app in step):
                if out:
                    out.append(Persist(d))
                return out
            d.current += 1
            out.append(Publish("deployment_step_success", {"plan": d.plan_json(), "currentStep": step and {
                "actions": [{"action": a, "app": app} for a, app in step]}}))  # fmt: skip
            if not d.done:
                started.update(app for _, app in d.steps[d.current])
        self.running.pop(d.id, None)
        out += [Delete("deployment", d.id), Publish("deployment_success", {"id": d.id, "plan": d.plan_json()})]
        return out
