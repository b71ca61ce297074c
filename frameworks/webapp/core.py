"""`WebappCore`: the sans-IO state machine of the webapp framework.

One way in, one way out: the shell (`frameworks.webapp.scheduler.WebappService`) calls an
entry point with typed input (`frameworks.webapp.actions`) and ``now``; every entry point
returns the list of `Action`s to carry out (persist, publish, and the SDK's launch,
decline, kill, suppress, revive) and nothing is left to poll afterwards. Entry points: driver
side `subscribed`, `offers`, `status`, `readiness`, `tick`, `evaluate`; API side `deploy`,
`kill_tasks`, `stop_deployment`, `rollback`, `reset_delay`; `restore` at start-up.

The state is split in three: `catalog` (app definitions, versions, groups: `catalog.py`),
`rollouts` (the running deployments: `rollout.py`) and `fleet` (instances, per-app launch
state, offers and status updates: `fleet.py`). This module plans each app (`planner`) and
ties the three together. The API reads the state through the query properties below.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from dcos.protocol.ids import TaskID
from dcos.sdk import Offer
from dcos.sdk.framework import SuppressionTracker
from frameworks.webapp import planner
from frameworks.webapp.actions import (
    Action,
    Conflict,
    Deploy,
    KillTasks,
    Publish,
    Readiness,
    TaskUpdate,
)  # fmt: skip
from frameworks.webapp.catalog import Catalog
from frameworks.webapp.deployments import (
    RESTART,
    SCALE,
    START,
    STOP,
    Deployment,
    build_steps,
    new_id,
)
from frameworks.webapp.fleet import AppState, Fleet, FleetConfig
from frameworks.webapp.instances import Instance
from frameworks.webapp.model.group import ancestors, dependency_layers
from frameworks.webapp.model.spec import AppId, AppSpec
from frameworks.webapp.rollout import Deployments

Json = dict[str, Any]

__all__ = ["AppState", "Conflict", "CoreConfig", "CoreView", "WebappCore"]


class CoreView(Protocol):
    """What the API reads of the core (queries only; changes go through the service)."""

    @property
    def apps(self) -> Mapping[AppId, AppSpec]: ...
    @property
    def deployments(self) -> Mapping[str, Deployment]: ...
    @property
    def tasks(self) -> Mapping[TaskID, Instance]: ...
    @property
    def instances(self) -> Mapping[str, Mapping[TaskID, Instance]]: ...
    @property
    def state(self) -> Mapping[str, AppState]: ...
    @property
    def groups(self) -> Mapping[str, dict]: ...
    def app_def(self, app_id: str) -> AppSpec | None: ...
    def app_instances(self, app_id: str) -> list[Instance]: ...
    def deployment_of(self, app_id: str) -> Deployment | None: ...
    def waiting_apps(self) -> list[str]: ...
    def is_stopping(self, app_id: str) -> bool: ...
    def app_versions(self, app_id: str) -> list[AppSpec]: ...
    def version_of(self, app_id: str, version: str) -> AppSpec | None: ...
    def group_deps(self) -> dict[str, list[str]]: ...
    def group_versions(self, gid: str) -> list[dict]: ...
    def group_version(self, gid: str, version: str) -> dict | None: ...


@dataclass
class CoreConfig(FleetConfig):
    max_versions: int = 50
    role: str = "*"


class WebappCore:
    def __init__(self, config: CoreConfig | None = None) -> None:
        self.config = config or CoreConfig()
        self.catalog = Catalog(self.config.max_versions)
        self.rollouts = Deployments()
        self.fleet = Fleet(self.config, self.catalog)
        self.suppression = SuppressionTracker()  # offers wanted or not (Suppress/Revive)
        self._to_evaluate: set[str] = set()

    # -- queries (read by the API and the shell) -----------------------------------------

    @property
    def apps(self) -> Mapping[AppId, AppSpec]:
        return self.catalog.apps

    @property
    def deployments(self) -> Mapping[str, Deployment]:
        return self.rollouts.running

    @property
    def tasks(self) -> Mapping[TaskID, Instance]:
        return self.fleet.tasks

    @property
    def instances(self) -> Mapping[str, Mapping[TaskID, Instance]]:
        return self.fleet.instances

    @property
    def state(self) -> Mapping[str, AppState]:
        return self.fleet.state

    def app_def(self, app_id: str) -> AppSpec | None:
        return self.catalog.app_def(app_id)

    def app_instances(self, app_id: str) -> list[Instance]:
        return list(self.fleet.instances.get(app_id, {}).values())

    def app_state(self, app_id: str) -> AppState:
        return self.fleet.app_state(app_id)

    def deployment_of(self, app_id: str) -> Deployment | None:
        return self.rollouts.of(app_id)

    def conflicts(self, app_ids: Iterable[str]) -> list[str]:
        return self.rollouts.conflicts(app_ids)

    @property
    def wants_offers(self) -> bool:
        return self.fleet.wants_offers

    def waiting_apps(self) -> list[str]:
        return self.fleet.waiting_apps()

    def readiness_targets(self) -> list[tuple[Instance, AppSpec]]:
        return self.fleet.readiness_targets()

    def is_stopping(self, app_id: str) -> bool:
        return AppId(app_id) in self.catalog.stopping

    def app_versions(self, app_id: str) -> list[AppSpec]:
        """The kept versions of an app, oldest first."""
        return list(self.catalog.versions.get(AppId(app_id), []))

    def version_of(self, app_id: str, version: str) -> AppSpec | None:
        return self.catalog.version_of(app_id, version)

    @property
    def groups(self) -> Mapping[str, dict]:
        return self.catalog.groups

    def group_deps(self) -> dict[str, list[str]]:
        return self.catalog.group_deps()

    def group_versions(self, gid: str) -> list[dict]:
        """The kept snapshots of a group, oldest first."""
        return list(self.catalog.group_versions.get(gid, []))

    def group_version(self, gid: str, version: str) -> dict | None:
        return self.catalog.group_version(gid, version)

    # -- API side ------------------------------------------------------------------------

    def deploy(self, now: float, req: Deploy) -> tuple[Deployment | Conflict, list[Action]]:
        """Start a deployment bringing each app of `req.changes` to its new definition.
        Returns the Deployment (already listed; apps already planned) or a Conflict when
        another deployment touches one of the apps and `force` is false (a forced one
        cancels the others)."""
        clash = self.rollouts.conflicts(req.changes)
        if clash and not req.force:
            return Conflict(clash), []
        out: list[Action] = []
        for did in clash:
            out += self._cancel(did)
        version = self.catalog.new_version(now)
        original: dict[str, Json | None] = {a: (app.json if (app := self.catalog.apps.get(a)) else None)
                                            for a in req.changes}  # fmt: skip
        actions, target, stored = self._change_apps(req, version)
        out += stored
        deps = self.catalog.group_deps()
        if req.group is not None:
            deps.update(req.group.deps)
        live = [a for a, act in actions.items() if act != STOP]
        layers = dependency_layers(live, {a: s.json for a, s in self.catalog.apps.items()}, deps)
        d = Deployment(new_id(), version, build_steps(actions, layers), original, target)
        out += self.rollouts.start(d)
        out += self._advance(d, now, set())
        if req.group is not None:
            g = req.group
            touched = [g.id, *ancestors(g.id)] if g.record else []
            out += self.catalog.update_groups(g.deps, touched, g.remove, version)
            if g.record:
                out += self.catalog.record_group_version(g.id, version)
                out.append(Publish("group_change_success", {"groupId": g.id, "version": version}))
        out += self.evaluate(now)
        return d, out

    def _change_apps(self, req: Deploy, version: str) -> tuple[dict[str, str], dict[str, Json | None], list[Action]]:
        """Put each changed definition in the catalog (or stop the app): the deployment
        action of each app, its target definition, and the actions storing them."""
        actions: dict[str, str] = {}
        target: dict[str, Json | None] = {}
        out: list[Action] = []
        for aid, new in req.changes.items():
            old = self.catalog.apps.get(aid)
            if new is None:
                if old is not None:
                    actions[aid] = STOP
                    self.catalog.stop(aid)
                    out += self.catalog.record(aid)
                    self._to_evaluate.add(aid)
                target[aid] = None
                continue
            app, changed = self.catalog.put(new, version, aid in req.restart)
            if old is None:
                actions[aid] = START
            elif changed:
                actions[aid] = RESTART
            elif app.instances != old.instances:
                actions[aid] = SCALE
            self.fleet.configure(app, reset_backoff=changed)
            target[aid] = app.json
            out += self.catalog.record(aid)
            self._to_evaluate.add(aid)
        return actions, target, out

    def kill_tasks(
        self, now: float, req: KillTasks
    ) -> tuple[Deployment | Conflict | list[Instance], list[Action]]:
        """Kill tasks (they are replaced); with `scale` also lower their apps' instances by
        the number killed (answering the deployment); with `wipe` expunge the records at
        once (`Fleet.expunge`). Answers the killed instances, or a Conflict (nothing done)."""
        known = [t for tid in req.task_ids if (t := self.fleet.tasks.get(tid)) is not None]
        changes: dict[AppId, AppSpec | None] = {}
        if req.scale:
            per_app: dict[AppId, int] = {}
            for inst in known:
                if not inst.killing:
                    per_app[AppId(inst.app_id)] = per_app.get(AppId(inst.app_id), 0) + 1
            for aid, n in per_app.items():
                app = self.catalog.apps[aid]
                changes[aid] = AppSpec.parse(app.scaled(max(0, app.instances - n)))
            clash = self.rollouts.conflicts(changes)
            if clash and not req.force:
                return Conflict(clash), []
        out: list[Action] = []
        for inst in known:
            out += self.fleet.expunge(inst.task_id, now) if req.wipe else self.fleet.kill(inst.task_id, now)
            self._to_evaluate.add(inst.app_id)
            if req.wipe:
                out += self._forget_if_unused(inst.app_id)
        if req.scale:
            d, more = self.deploy(now, Deploy(changes, force=True))
            return d, out + more
        return known, out + self.evaluate(now)

    def stop_deployment(self, now: float, did: str) -> tuple[bool, list[Action]]:
        """DELETE /v2/deployments/{id}?force=true: forget it; apps keep their definitions."""
        if did not in self.rollouts.running:
            return False, []
        out = self._cancel(did)
        return True, out + self.evaluate(now)

    def rollback(self, now: float, did: str) -> tuple[Deployment | None, list[Action]]:
        """DELETE /v2/deployments/{id}: a new deployment back to the original definitions."""
        d = self.rollouts.running.get(did)
        if d is None:
            return None, []
        changes = {AppId(a): (AppSpec.parse(j) if (j := d.original.get(a)) else None) for a in d.affected}
        out, actions = self.deploy(now, Deploy(changes, force=True))
        assert isinstance(out, Deployment)
        return out, actions

    def reset_delay(self, now: float, app_id: str) -> list[Action]:
        """DELETE /v2/queue/{id}/delay: the app may launch at once."""
        self.fleet.app_state(app_id).backoff.reset()
        self._to_evaluate.add(app_id)
        return self.evaluate(now)

    # -- driver side ---------------------------------------------------------------------

    def subscribed(self, now: float) -> list[Action]:
        """(Re-)subscribed to the master (the SDK's `FrameworkScheduler` has reconciled the
        tasks): offers start unsuppressed; plan whatever waits."""
        self.suppression.resubscribed()
        return self.evaluate(now)

    def known_tasks(self) -> list[tuple[str, str | None]]:
        """(task id, agent id) of every task, to reconcile after (re-)subscribing."""
        return [(i.task_id, i.agent_id) for i in self.fleet.tasks.values()]

    def offers(self, now: float, offers: list[Offer]) -> list[Action]:
        """Place waiting tasks on `offers`; launch on the ones used, decline the rest."""
        out = self.evaluate(now)
        out += self.fleet.offers(now, offers)
        return out + self._interest(now)

    def status(self, now: float, update: TaskUpdate) -> list[Action]:
        """A task status update (or reconciliation answer). The app is planned again by the
        next `evaluate` (the shell coalesces bursts of updates into one)."""
        out, app_id, gone = self.fleet.status(now, update)
        if app_id is not None:
            self._to_evaluate.add(app_id)
            if gone:
                out += self._forget_if_unused(app_id)
        return out

    def readiness(self, now: float, result: Readiness) -> list[Action]:
        """A readiness check result (from the shell's poller)."""
        app_id = self.fleet.readiness(result)
        if app_id is not None:
            self._to_evaluate.add(app_id)
        return []

    def tick(self, now: float) -> list[Action]:
        """Periodic work (the shell's timer): health replacements, unreachable tasks,
        launch delays that ran out, backoffs reset after a viable run."""
        out, touched = self.fleet.tick(now)
        self._to_evaluate.update(touched)
        return out + self.evaluate(now)

    def evaluate(self, now: float, app_ids: Iterable[str] | None = None) -> list[Action]:
        """Re-plan the apps that changed (or `app_ids`): kills to send now, and the number
        of tasks each app waits for (`AppState.need`); advances deployments."""
        return self._evaluate(now, app_ids) + self._interest(now)

    # -- internals -----------------------------------------------------------------------

    def _evaluate(self, now: float, app_ids: Iterable[str] | None) -> list[Action]:
        ids = set(app_ids) if app_ids is not None else self._to_evaluate
        self._to_evaluate = set()
        out: list[Action] = []
        for aid in sorted(ids):
            out += self._plan(aid, now)
        for d in list(self.rollouts.running.values()):
            if ids & d.affected_set:
                out += self._advance(d, now, set())
        if self._to_evaluate:  # kills were sent or a step advanced: plan those apps again
            out += self._evaluate(now, None)
        return out

    def _plan(self, aid: str, now: float) -> list[Action]:
        app = self.catalog.apps.get(AppId(aid))
        views = self.fleet.views(aid, now) if self.catalog.app_def(aid) else []
        d = self.rollouts.of(aid)
        mode = d.mode(aid) if d else None
        if app is None:
            plan = planner.plan_stop(views)
        elif mode == "frozen":
            plan = planner.Plan()
        elif mode == RESTART:
            us = app.upgrade
            plan = planner.plan_restart(app.instances, views, us.minimum_health_capacity,
                                        us.maximum_over_capacity, app.kill_selection)  # fmt: skip
        else:
            plan = planner.plan_scale(app.instances, views, app.kill_selection)
        self.fleet.set_need(aid, plan.launch, now)
        out: list[Action] = []
        for tid in plan.kill:
            out += self.fleet.kill(TaskID(tid), now)
        if out:
            self._to_evaluate.add(aid)
        return out

    def _action_done(self, action: str, aid: str, now: float) -> bool:
        if action == START:
            return True
        if action == STOP:
            return not self.fleet.instances.get(aid)
        app = self.catalog.apps.get(AppId(aid))
        if app is None:
            return True
        views = self.fleet.views(aid, now)
        if action == RESTART:
            return planner.restart_done(app.instances, views)
        return planner.scale_done(app.instances, views)

    def _advance(self, d: Deployment, now: float, started: set[str]) -> list[Action]:
        out = self.rollouts.advance(d, lambda action, app: self._action_done(action, app, now), started)
        self._to_evaluate |= started
        if d.id not in self.rollouts.running:
            for aid in d.affected:
                out += self._forget_if_unused(aid)
        return out

    def _cancel(self, did: str) -> list[Action]:
        d = self.rollouts.running.get(did)
        if d is not None:
            self._to_evaluate.update(d.affected)
        return self.rollouts.cancel(did)

    def _forget_if_unused(self, aid: str) -> list[Action]:
        """Drop a removed app once its last task is gone and no deployment needs it."""
        if aid in self.catalog.apps or self.fleet.instances.get(aid) or self.rollouts.of(aid) is not None:
            return []
        if self.catalog.app_def(aid) is None and aid not in self.fleet.state:
            return []
        self.catalog.forget(AppId(aid))
        out = self.fleet.forget(aid)
        return out + self.catalog.record(AppId(aid)) + [Publish("app_terminated_event", {"appId": aid})]

    def _interest(self, now: float) -> list[Action]:
        """Suppress offers when nothing waits (and no launch delay is pending), revive them
        when something does; only on a change."""
        return list(self.suppression.update(self.fleet.wants_offers,
                                            may_suppress=not self.fleet.backoff_pending(now)))  # fmt: skip

    # -- restore -------------------------------------------------------------------------

    def restore(
        self,
        apps: Mapping[AppId, AppSpec],
        versions: Mapping[AppId, list[AppSpec]],
        instances: Mapping[str, list[Instance]],
        deployments: Iterable[Deployment],
        groups: Mapping[str, dict] | None,
        stopping: Mapping[AppId, AppSpec] | None = None,
        group_versions: Mapping[str, list[dict]] | None = None,
    ) -> None:
        """Load persisted state after a restart (before subscribing; nothing to carry out:
        the first `evaluate` plans every app)."""
        self.catalog.restore(apps, versions, groups, stopping, group_versions)
        self.fleet.restore(instances)
        for d in deployments:
            self.rollouts.running[d.id] = d
        self._to_evaluate = set(self.catalog.apps) | set(self.catalog.stopping) | set(self.fleet.instances)
