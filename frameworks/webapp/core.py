"""`WebappCore`: the sans-IO state machine of the webapp framework.

Holds the apps (with their versions), groups, instances and deployments. The shell
(`frameworks.webapp.scheduler`) feeds it offers, status updates, readiness results and the
time; the API calls `deploy` and friends. Every entry point takes `now` and returns actions
(`Launch`, `Decline`, `Kill`) for the shell to carry out; events for the event stream pile up
in `events`; what must be persisted is named in `dirty_*` (the shell writes it before it
sends a launch). Decisions are delegated to the pure modules: `planner` (how many to launch,
which to kill), `placement` (where), `launch_queue` (backoff, offer statistics), `health`.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from dcos.sdk import Offer
from frameworks.webapp import planner
from frameworks.webapp.deployments import (
    RESTART,
    SCALE,
    START,
    STOP,
    Deployment,
    build_steps,
    new_id,
)  # fmt: skip
from frameworks.webapp.health import KillLimiter, replace_after
from frameworks.webapp.instances import FAILURES, GONE, Instance
from frameworks.webapp.launch import (
    assign_service_ports,
    build_task_info,
    task_id_for,
    task_request,
)
from frameworks.webapp.launch_queue import Backoff, OfferStats
from frameworks.webapp.model.app import config_of
from frameworks.webapp.model.group import dependency_layers
from frameworks.webapp.model.json import iso, parse_iso
from frameworks.webapp.placement import AgentView, Slot, place

Json = dict[str, Any]


@dataclass
class Launch:
    offer_ids: list[str]
    tasks: list[Json]


@dataclass
class Decline:
    offer_ids: list[str]
    refuse_seconds: float


@dataclass
class Kill:
    task_id: str
    agent_id: str | None
    grace: float | None = None


Action = Launch | Decline | Kill


@dataclass
class Conflict:
    """A deployment already touches these apps (answer 409 unless forced)."""

    deployments: list[str]


@dataclass
class CoreConfig:
    decline_long: float = 120.0  # nothing waits: do not offer this agent again for long
    decline_short: float = 5.0  # something waits but did not fit here
    health_kill_fraction: float = 0.1
    max_versions: int = 50
    role: str = "*"
    # Marathon's --minimum_viable_task_execution_duration: no failure for this long after a
    # launch delay ran out resets the app's backoff.
    minimum_viable_seconds: float = 60.0


@dataclass
class AppState:
    """Per-app runtime bookkeeping that is not part of the definition."""

    backoff: Backoff = field(default_factory=Backoff)
    stats: OfferStats = field(default_factory=OfferStats)
    need: int = 0
    waiting_since: float | None = None
    last_failure: Json | None = None


class WebappCore:
    def __init__(self, config: CoreConfig | None = None) -> None:
        self.config = config or CoreConfig()
        self.apps: dict[str, Json] = {}
        self.versions: dict[str, list[Json]] = {}
        self.groups: dict[str, Json] = {"/": {"dependencies": [], "version": None}}
        self.stopping: dict[str, Json] = {}
        self.instances: dict[str, dict[str, Instance]] = {}
        self.tasks: dict[str, Instance] = {}
        self.deployments: dict[str, Deployment] = {}
        self.state: dict[str, AppState] = {}
        self.agents: dict[str, AgentView] = {}
        self.events: list[tuple[str, Json]] = []
        self.dirty_apps: set[str] = set()
        self.dirty_instances: set[str] = set()  # task ids to write (or delete when gone)
        self.dirty_deployments: set[str] = set()
        self.dirty_groups = False
        # Group versions: group id -> snapshots, oldest first (`record_group_version`).
        self.group_versions: dict[str, list[Json]] = {}
        self.dirty_group_versions: set[tuple[str, str]] = set()  # (group, version) to write/delete
        self._to_evaluate: set[str] = set()
        self._last_version = 0.0
        self.limiter = KillLimiter(self.config.health_kill_fraction)

    # -- queries -------------------------------------------------------------------------

    def app_def(self, app_id: str) -> Json | None:
        return self.apps.get(app_id) or self.stopping.get(app_id)

    def app_instances(self, app_id: str) -> list[Instance]:
        return list(self.instances.get(app_id, {}).values())

    def app_state(self, app_id: str) -> AppState:
        st = self.state.get(app_id)
        if st is None:
            st = self.state[app_id] = AppState()
            app = self.app_def(app_id)
            if app:
                st.backoff.configure(app)
        return st

    def deployment_of(self, app_id: str) -> Deployment | None:
        for d in self.deployments.values():
            if app_id in d.affected_set:
                return d
        return None

    @property
    def wants_offers(self) -> bool:
        return any(st.need > 0 for st in self.state.values())

    def waiting_apps(self) -> list[str]:
        return sorted(a for a, st in self.state.items() if st.need > 0)

    def _emit(self, kind: str, payload: Json) -> None:
        self.events.append((kind, payload))

    def _instance_changed(self, inst: Instance, condition: str, now: float) -> None:
        """Emit Marathon's ``instance_changed_event`` for `inst` (expunged, gone, ...)."""
        self._emit("instance_changed_event", {
            "instanceId": inst.task_id, "condition": condition, "runSpecId": inst.app_id,
            "agentId": inst.agent_id, "host": inst.host, "runSpecVersion": inst.version,
            "timestamp": iso(now)})  # fmt: skip

    # -- versions ------------------------------------------------------------------------

    def new_version(self, now: float) -> str:
        """A version stamp (ISO time, strictly increasing in this process)."""
        t = max(now, self._last_version + 0.001)
        self._last_version = t
        return iso(t) or ""

    # -- deployments ---------------------------------------------------------------------

    def conflicts(self, app_ids: Iterable[str]) -> list[str]:
        ids = set(app_ids)
        return sorted(d.id for d in self.deployments.values() if ids & d.affected_set)

    def deploy(
        self,
        now: float,
        changes: Mapping[str, Json | None],
        *,
        force: bool = False,
        restart: Iterable[str] = (),
        group_deps: Mapping[str, list[str]] | None = None,
    ) -> Deployment | Conflict:
        """Start a deployment bringing each app in `changes` to its new definition (None:
        remove it). `restart` forces a new configuration even when nothing changed. Returns
        the Deployment (already listed) or a Conflict when another deployment touches one of
        the apps and `force` is false (a forced one cancels the others)."""
        restart = set(restart)
        clash = self.conflicts(changes)
        if clash and not force:
            return Conflict(clash)
        for did in clash:
            self._cancel(did, now)
        version = self.new_version(now)
        actions: dict[str, str] = {}
        original: dict[str, Json | None] = {}
        target: dict[str, Json | None] = {}
        for aid, new in changes.items():
            old = self.apps.get(aid)
            original[aid] = copy.deepcopy(old)
            if new is None:
                if old is not None:
                    actions[aid] = STOP
                    self._stop_app(aid)
                target[aid] = None
                continue
            new = copy.deepcopy(new)
            used = {d["port"] for a, other in self.apps.items() if a != aid
                    for d in other.get("portDefinitions") or []}  # fmt: skip
            assign_service_ports(new, old, used)
            changed = old is None or config_of(new) != config_of(old) or aid in restart
            new["version"] = version
            prev_info = (old or {}).get("versionInfo") or {}
            new["versionInfo"] = {
                "lastScalingAt": version,
                "lastConfigChangeAt": version if changed else prev_info.get("lastConfigChangeAt", version),
            }
            if old is None:
                actions[aid] = START
            elif changed:
                actions[aid] = RESTART
            elif new["instances"] != old["instances"]:
                actions[aid] = SCALE
            self.apps[aid] = new
            self.stopping.pop(aid, None)
            self.versions.setdefault(aid, []).append(new)
            del self.versions[aid][: -self.config.max_versions]
            st = self.app_state(aid)
            st.backoff.configure(new)
            if changed:
                st.backoff.reset()
            target[aid] = new
            self.dirty_apps.add(aid)
            self._to_evaluate.add(aid)
        layers = dependency_layers(
            [a for a, act in actions.items() if act != STOP], self.apps, group_deps or self.group_deps()
        )
        d = Deployment(new_id(), version, build_steps(actions, layers), original, target)
        self.deployments[d.id] = d
        self.dirty_deployments.add(d.id)
        self._emit("deployment_info", {"plan": d.plan_json(), "currentStep": d.to_json()["steps"][0] if d.steps else None})
        self._check_deployment(d, now)
        return d

    def record_group_version(self, gid: str, version: str) -> None:
        """Keep group `gid` as it is now (its apps' definitions, its own and its subgroups'
        dependencies) as `version`. Called by the /v2/groups API after each change it made
        to that group (create, update, scale, rollback); the last `max_versions` are kept."""
        prefix = gid.rstrip("/") + "/"
        apps = {a: app for a, app in self.apps.items() if gid == "/" or a.startswith(prefix)}
        groups = {g: list(meta.get("dependencies") or []) for g, meta in self.groups.items()
                  if g == gid or gid == "/" or g.startswith(prefix)}  # fmt: skip
        kept = self.group_versions.setdefault(gid, [])
        kept.append({"version": version, "apps": apps, "groups": groups})
        self.dirty_group_versions.add((gid, version))
        for old in kept[: -self.config.max_versions]:
            self.dirty_group_versions.add((gid, old["version"]))
        del kept[: -self.config.max_versions]

    def group_version(self, gid: str, version: str) -> Json | None:
        """A snapshot kept by `record_group_version`, or None."""
        return next((v for v in self.group_versions.get(gid, []) if v["version"] == version), None)

    def group_deps(self) -> dict[str, list[str]]:
        return {g: list(meta.get("dependencies") or []) for g, meta in self.groups.items()}

    def _stop_app(self, aid: str) -> None:
        app = self.apps.pop(aid, None)
        if app is not None:
            self.stopping[aid] = app
        self.dirty_apps.add(aid)
        self._to_evaluate.add(aid)

    def _cancel(self, did: str, now: float) -> None:
        d = self.deployments.pop(did, None)
        if d is None:
            return
        self.dirty_deployments.add(did)
        self._emit("deployment_failed", {"id": did, "plan": d.plan_json()})
        self._to_evaluate.update(d.affected)

    def stop_deployment(self, did: str, now: float) -> bool:
        """DELETE /v2/deployments/{id}?force=true: forget it; apps keep their definitions."""
        if did not in self.deployments:
            return False
        self._cancel(did, now)
        return True

    def rollback(self, did: str, now: float) -> Deployment | None:
        """DELETE /v2/deployments/{id}: a new deployment back to the original definitions."""
        d = self.deployments.get(did)
        if d is None:
            return None
        changes = {a: copy.deepcopy(d.original.get(a)) for a in d.affected}
        out = self.deploy(now, changes, force=True)
        assert isinstance(out, Deployment)
        return out

    def _check_deployment(self, d: Deployment, now: float) -> None:
        while not d.done:
            step = d.steps[d.current]
            if not all(self._action_done(action, app, now) for action, app in step):
                return
            d.current += 1
            self.dirty_deployments.add(d.id)
            self._emit("deployment_step_success", {"plan": d.plan_json(), "currentStep": step and {
                "actions": [{"action": a, "app": app} for a, app in step]}})
            if not d.done:
                self._to_evaluate.update(app for _, app in d.steps[d.current])
        self.deployments.pop(d.id, None)
        self.dirty_deployments.add(d.id)
        self._emit("deployment_success", {"id": d.id, "plan": d.plan_json()})
        for aid in d.affected:
            if aid not in self.apps and not self.instances.get(aid):
                self._forget(aid)

    def _action_done(self, action: str, aid: str, now: float) -> bool:
        if action == START:
            return True
        if action == STOP:
            return not self.instances.get(aid)
        app = self.apps.get(aid)
        if app is None:
            return True
        views = self.views(aid, now)
        if action == RESTART:
            return planner.restart_done(app["instances"], views)
        return planner.scale_done(app["instances"], views)

    def _forget(self, aid: str) -> None:
        self.stopping.pop(aid, None)
        for tid in self.instances.pop(aid, {}):
            self.tasks.pop(tid, None)
            self.dirty_instances.add(tid)
        self.state.pop(aid, None)
        self.dirty_apps.add(aid)
        self._emit("app_terminated_event", {"appId": aid})

    # -- planning ------------------------------------------------------------------------

    def views(self, aid: str, now: float) -> list[planner.InstanceView]:
        app = self.app_def(aid) or {}
        stamp = (app.get("versionInfo") or {}).get("lastConfigChangeAt")
        has_hc = bool(app.get("healthChecks"))
        has_rc = bool(app.get("readinessChecks"))
        inactive_after = _inactive_after(app)
        out = []
        for inst in self.instances.get(aid, {}).values():
            if inst.inactive(now, inactive_after):
                continue
            healthy = inst.running and inst.unreachable_since is None and (
                inst.healthy is True or not has_hc
            )
            out.append(planner.InstanceView(
                inst.task_id, inst.config == stamp, healthy,
                healthy and (inst.ready or not has_rc), inst.killing, inst.replace, inst.staged_at,
            ))  # fmt: skip
        return out

    def evaluate(self, now: float, app_ids: Iterable[str] | None = None) -> list[Action]:
        """Re-plan the apps that changed (or `app_ids`): kills to send now, and the number
        of tasks each app waits for (`AppState.need`); advances deployments."""
        ids = set(app_ids) if app_ids is not None else self._to_evaluate
        self._to_evaluate = set()
        out: list[Action] = []
        for aid in sorted(ids):
            out += self._evaluate_app(aid, now)
        for d in list(self.deployments.values()):
            if ids & d.affected_set:
                self._check_deployment(d, now)
        if self._to_evaluate:  # a step advanced: plan its apps too
            out += self.evaluate(now)
        return out

    def _evaluate_app(self, aid: str, now: float) -> list[Action]:
        app = self.apps.get(aid)
        st = self.app_state(aid)
        views = self.views(aid, now) if (app or aid in self.stopping) else []
        d = self.deployment_of(aid)
        mode = d.mode(aid) if d else None
        if app is None:
            plan = planner.plan_stop(views)
        elif mode == "frozen":
            plan = planner.Plan()
        elif mode == RESTART:
            us = app["upgradeStrategy"]
            plan = planner.plan_restart(app["instances"], views, us["minimumHealthCapacity"],
                                        us["maximumOverCapacity"], app["killSelection"])  # fmt: skip
        else:
            plan = planner.plan_scale(app["instances"], views, app["killSelection"])
        if plan.launch and not st.need:
            st.waiting_since = now
        st.need = plan.launch
        if not st.need:
            st.stats.clear()
        return [a for tid in plan.kill if (a := self.kill(tid, now)) is not None]

    def kill(self, task_id: str, now: float, wipe: bool = False) -> Kill | None:
        """Mark a task as being killed; the Kill action to send (None if unknown)."""
        inst = self.tasks.get(task_id)
        if inst is None:
            return None
        inst.wipe = inst.wipe or wipe
        if inst.killing:
            return None
        inst.killing = True
        self.dirty_instances.add(inst.task_id)
        self._to_evaluate.add(inst.app_id)
        app = self.app_def(inst.app_id) or {}
        return Kill(task_id, inst.agent_id, app.get("taskKillGracePeriodSeconds"))

    def expunge(self, task_id: str, now: float) -> Kill | None:
        """``DELETE /v2/apps/{id}/tasks[/{task}]?wipe=true`` (Marathon's ForceExpunge): kill
        the task and forget its record at once. It no longer counts for its app, so a
        replacement is planned now (the app keeps its instance count); its later status
        updates are those of an unknown task (killed again if it is still alive). Marathon
        would also unreserve resident tasks' reservations and destroy their volumes: this
        framework makes none. Returns the Kill to send (None for an unknown task)."""
        inst = self.tasks.pop(task_id, None)
        if inst is None:
            return None
        aid = inst.app_id
        self.instances.get(aid, {}).pop(task_id, None)
        self.dirty_instances.add(task_id)
        self._to_evaluate.add(aid)
        self._instance_changed(inst, "Killed", now)
        app = self.app_def(aid) or {}
        if aid not in self.apps and not self.instances.get(aid) and self.deployment_of(aid) is None:
            self._forget(aid)
        return Kill(task_id, inst.agent_id, app.get("taskKillGracePeriodSeconds"))

    # -- offers --------------------------------------------------------------------------

    def offers(self, now: float, offers: list[Offer]) -> list[Action]:
        """Place waiting tasks on `offers`; launch on the ones used, decline the rest."""
        out: list[Action] = self.evaluate(now)
        slots = [Slot.of(o) for o in offers]
        for s in slots:
            self.agents[s.agent.agent_id] = s.agent
        used: dict[str, list[Json]] = {}
        for aid in self.waiting_apps():
            st = self.app_state(aid)
            app = self.apps.get(aid)
            if app is None or not st.backoff.ready(now):
                continue
            req = task_request(app, self.instances.get(aid, {}).values(), self.agents)
            result = place(slots, req, st.need)
            for p in result.placements:
                inst = self._new_instance(app, p.slot, p.fit.ports, now)
                used.setdefault(p.slot.offer.id, []).append(build_task_info(app, inst, p.fit.resources))
            if result.placements:
                st.stats.used(now, len(slots))
                st.need -= len(result.placements)
            if result.rejections or (st.need and not slots):
                st.stats.refused(now, slots, result.rejections, req)
        for s in slots:
            tasks = used.get(s.offer.id)
            if tasks:
                out.append(Launch([s.offer.id], tasks))
        unused: list[str] = [s.offer.id for s in slots if s.offer.id not in used]
        if unused:
            refuse = self.config.decline_short if self.wants_offers else self.config.decline_long
            out.append(Decline(unused, refuse))
        return out

    def _new_instance(self, app: Json, slot: Slot, ports: Iterable[int], now: float) -> Instance:
        aid = app["id"]
        inst = Instance(
            task_id_for(aid), aid, app["version"], app["versionInfo"]["lastConfigChangeAt"],
            slot.agent.agent_id, slot.agent.hostname, list(ports),
            [d["port"] for d in app.get("portDefinitions") or []], now,
            attributes=dict(slot.agent.attributes),
        )  # fmt: skip
        self.instances.setdefault(aid, {})[inst.task_id] = inst
        self.tasks[inst.task_id] = inst
        self.dirty_instances.add(inst.task_id)
        return inst

    # -- status updates ------------------------------------------------------------------

    def status(self, now: float, st: Mapping[str, Any]) -> list[Action]:
        """A task status update (or reconciliation answer)."""
        tid = (st.get("task_id") or {}).get("value", "")
        state = str(st.get("state", ""))
        inst = self.tasks.get(tid)
        if inst is None:
            if state not in GONE and state != "TASK_UNREACHABLE":
                agent = (st.get("agent_id") or {}).get("value")
                return [Kill(tid, agent)]  # not ours (any more): an orphan or an expunged task
            return []
        aid = inst.app_id
        self._to_evaluate.add(aid)
        app = self.app_def(aid) or {}
        out: list[Action] = []
        prev_healthy = inst.healthy
        if state == "TASK_UNREACHABLE":
            if inst.unreachable_since is None:
                inst.unreachable_since = now
        elif state not in GONE:
            if inst.unreachable_since is not None:
                was_inactive = inst.inactive(now, _inactive_after(app))
                inst.unreachable_since = None
                if was_inactive and (k := self.kill(tid, now)) is not None:
                    out.append(k)  # it was replaced meanwhile: the returning one goes
            if state == "TASK_RUNNING" and inst.started_at is None:
                inst.started_at = now
            if "healthy" in st and st["healthy"] is not None:
                self._health(inst, bool(st["healthy"]), now, st.get("message"))
        inst.state = state
        self._emit("status_update_event", self._status_event(inst, st))
        if state in GONE:
            self._gone(inst, st, now)
        elif prev_healthy != inst.healthy and inst.healthy is not None:
            self._emit("health_status_changed_event", {
                "appId": aid, "taskId": tid, "instanceId": tid, "version": inst.version,
                "alive": inst.healthy})  # fmt: skip
        self.dirty_instances.add(tid)
        return out

    def _health(self, inst: Instance, healthy: bool, now: float, message: Any) -> None:
        inst.healthy = healthy
        if healthy:
            inst.last_success = now
            inst.first_success = inst.first_success or now
            inst.unhealthy_since = None
        else:
            inst.last_failure = now
            inst.failure_cause = str(message or "health check failed")
            if inst.unhealthy_since is None:
                inst.unhealthy_since = now

    def _gone(self, inst: Instance, st: Mapping[str, Any], now: float) -> None:
        aid, state = inst.app_id, str(st.get("state"))
        self.instances.get(aid, {}).pop(inst.task_id, None)
        self.tasks.pop(inst.task_id, None)
        health_kill = st.get("healthy") is False or st.get("reason") == "REASON_TASK_HEALTH_CHECK_STATUS_UPDATED"
        if not inst.killing and (state in FAILURES or state == "TASK_KILLED"):
            stt = self.app_state(aid)
            if not health_kill:
                stt.backoff.failed(now)
            stt.last_failure = {
                "appId": aid, "host": inst.host, "message": str(st.get("message") or ""),
                "state": state, "taskId": inst.task_id, "timestamp": iso(now),
                "version": inst.version, "slaveId": inst.agent_id,
            }  # fmt: skip
            if health_kill:
                self._emit("unhealthy_task_kill_event", {
                    "appId": aid, "taskId": inst.task_id, "version": inst.version,
                    "reason": str(st.get("message") or ""), "host": inst.host,
                    "slaveId": inst.agent_id})  # fmt: skip
        self._instance_changed(inst, state.removeprefix("TASK_").title(), now)
        if aid not in self.apps and not self.instances.get(aid):
            d = self.deployment_of(aid)
            if d is None:
                self._forget(aid)

    def _status_event(self, inst: Instance, st: Mapping[str, Any]) -> Json:
        return {"slaveId": inst.agent_id, "taskId": inst.task_id, "taskStatus": str(st.get("state")),
                "appId": inst.app_id, "host": inst.host, "ports": inst.ports, "version": inst.version,
                "message": str(st.get("message") or ""),
                "ipAddresses": [{"ipAddress": inst.host, "protocol": "IPv4"}]}  # fmt: skip

    def readiness(self, task_id: str, ready: bool, now: float, result: Json | None = None) -> None:
        """A readiness check result for a task (polled by the shell)."""
        inst = self.tasks.get(task_id)
        if inst is None:
            return
        inst.readiness = result
        if inst.ready != ready:
            inst.ready = ready
            self._to_evaluate.add(inst.app_id)

    def readiness_targets(self) -> list[tuple[Instance, Json]]:
        """Running, healthy tasks of apps with readiness checks that are not ready yet."""
        out = []
        for aid, app in self.apps.items():
            rcs = app.get("readinessChecks") or []
            if not rcs:
                continue
            has_hc = bool(app.get("healthChecks"))
            for inst in self.instances.get(aid, {}).values():
                if inst.running and not inst.ready and not inst.killing and (inst.healthy or not has_hc):
                    out.append((inst, app))
        return out

    # -- timers --------------------------------------------------------------------------

    def tick(self, now: float) -> list[Action]:
        """Periodic work: unhealthy tasks marked for replacement (rate limited), unreachable
        tasks made inactive or expunged, launch delays that ran out, backoffs of apps that
        stayed up `minimum_viable_seconds` reset."""
        out: list[Action] = []
        for aid, insts in list(self.instances.items()):
            app = self.app_def(aid)
            if app is None:
                continue
            after = replace_after(app)
            un = app.get("unreachableStrategy")
            for inst in list(insts.values()):
                if (after is not None and inst.healthy is False and not inst.replace and not inst.killing
                        and inst.unhealthy_since is not None and now - inst.unhealthy_since >= after):  # fmt: skip
                    interval = float(app["healthChecks"][0].get("intervalSeconds", 60))
                    if self.limiter.allow(aid, app.get("instances", 1), interval, now):
                        inst.replace = True
                        self._to_evaluate.add(aid)
                        self.dirty_instances.add(inst.task_id)
                if inst.unreachable_since is not None and isinstance(un, dict):
                    if now - inst.unreachable_since >= un["expungeAfterSeconds"]:
                        insts.pop(inst.task_id, None)
                        self.tasks.pop(inst.task_id, None)
                        self.dirty_instances.add(inst.task_id)
                        self._to_evaluate.add(aid)
                        self._instance_changed(inst, "Gone", now)
                    elif inst.inactive(now, un["inactiveAfterSeconds"]):
                        self._to_evaluate.add(aid)
        for aid, st in self.state.items():
            if st.backoff.viable(now, self.config.minimum_viable_seconds):
                st.backoff.reset()  # ran long enough since its last delay: viable again
            if st.need or st.backoff.until:
                self._to_evaluate.add(aid)
        out += self.evaluate(now)
        return out

    def backoff_pending(self, now: float) -> bool:
        """An app waits for tasks but its launch delay has not run out."""
        return any(st.need and not st.backoff.ready(now) for st in self.state.values())

    # -- restore -------------------------------------------------------------------------

    def restore(
        self,
        apps: Mapping[str, Json],
        versions: Mapping[str, list[Json]],
        instances: Mapping[str, list[Instance]],
        deployments: Iterable[Deployment],
        groups: Mapping[str, Json] | None,
        stopping: Mapping[str, Json] | None = None,
        group_versions: Mapping[str, list[Json]] | None = None,
    ) -> None:
        """Load persisted state after a restart (before subscribing)."""
        self.apps = {k: dict(v) for k, v in apps.items()}
        self.group_versions = {g: sorted(vs, key=lambda v: v["version"])
                               for g, vs in (group_versions or {}).items()}  # fmt: skip
        self.stopping = dict(stopping or {})
        self.versions = {k: list(v) for k, v in versions.items()}
        if groups:
            self.groups = dict(groups)
        for aid, insts in instances.items():
            for inst in insts:
                self.instances.setdefault(aid, {})[inst.task_id] = inst
                self.tasks[inst.task_id] = inst
        for d in deployments:
            self.deployments[d.id] = d
        self._to_evaluate = set(self.apps) | set(self.stopping) | set(self.instances)
        for a in self.apps.values():
            if isinstance(v := a.get("version"), str):
                self._last_version = max(self._last_version, parse_iso(v) or 0.0)


def _inactive_after(app: Json) -> float | None:
    """The app's ``unreachableStrategy.inactiveAfterSeconds`` (None: the strategy is off)."""
    un = app.get("unreachableStrategy")
    return un.get("inactiveAfterSeconds") if isinstance(un, dict) else None
