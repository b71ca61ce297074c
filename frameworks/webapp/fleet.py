"""`Fleet`: the instances of every app and their per-app launch state (sans-IO).

Owned by `WebappCore` (its `fleet`), which asks it to place waiting tasks on offers
(`offers`), to take in status updates (`status`) and readiness results (`readiness`), to
kill or expunge tasks and to do the periodic health and unreachable bookkeeping (`tick`).
Each returns the actions it causes (`Persist`/`Delete` of instances, `Publish` of Marathon's
task events, `Launch`, `Decline`, `Kill`). It reads the app definitions from the
`Catalog`; how many tasks an app waits for (`AppState.need`) is set by the core's planner.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from dcos.protocol.ids import TaskID
from dcos.sdk import Offer
from dcos.sdk.framework import Decline, Kill, Launch
from frameworks.webapp import planner
from frameworks.webapp.actions import (
    Action,
    Delete,
    Persist,
    Publish,
    Readiness,
    TaskUpdate,
    WakeAt,
)
from frameworks.webapp.catalog import Catalog
from frameworks.webapp.health import KillLimiter, replace_after
from frameworks.webapp.instances import FAILURES, GONE, Instance
from frameworks.webapp.launch import build_task_info, task_id_for, task_request
from frameworks.webapp.launch_queue import Backoff, OfferStats
from frameworks.webapp.model.json import iso
from frameworks.webapp.model.spec import AppId, AppSpec
from frameworks.webapp.placement import AgentView, Slot, place

RECONCILED = "REASON_RECONCILIATION"  # the reason of the master's reconciliation answers

Json = dict[str, Any]


@dataclass
class FleetConfig:
    decline_long: float = 120.0  # nothing waits: do not offer this agent again for long
    decline_short: float = 5.0  # something waits but did not fit here
    health_kill_fraction: float = 0.1
    # Marathon's --minimum_viable_task_execution_duration: no failure for this long after a
    # launch delay ran out resets the app's backoff.
    minimum_viable_seconds: float = 60.0
    # A running task of a load-balanced app (`AppSpec.load_balanced`) is shown as TASK_KILLING
    # (the load balancers drain it: no new connections, the open ones finish) this long before
    # its kill is sent; at most its taskKillGracePeriodSeconds. 0: kill at once.
    drain_seconds: float = 0.0
    # Marathon's --default_accepted_resource_roles: the acceptedResourceRoles of apps that
    # give none (None: any role; DC/OS runs Marathon with "*", keeping apps off public agents)
    default_accepted_roles: tuple[str, ...] | None = None


@dataclass
class AppState:
    """Per-app runtime bookkeeping that is not part of the definition."""

    backoff: Backoff = field(default_factory=Backoff)
    stats: OfferStats = field(default_factory=OfferStats)
    need: int = 0
    waiting_since: float | None = None
    last_failure: Json | None = None


def failure_message(up: TaskUpdate) -> str:
    """What a task's end is reported with: the agent's message, or, when it gave none, what
    is known (the state and the Mesos reason), never an empty string (``lastTaskFailure``,
    events). Called for every update of a task that ended."""
    if up.message.strip():
        return up.message
    state = up.state.removeprefix("TASK_").lower()
    if up.reason:
        return f"task {state}: {up.reason} (no message given by the agent)"
    return f"task {state} (no reason given by the agent)"


class Fleet:
    def __init__(self, config: FleetConfig, catalog: Catalog) -> None:
        self.config = config
        self.catalog = catalog
        self.instances: dict[str, dict[TaskID, Instance]] = {}
        self.tasks: dict[TaskID, Instance] = {}
        self.state: dict[str, AppState] = {}
        self.agents: dict[str, AgentView] = {}
        self.limiter = KillLimiter(config.health_kill_fraction)

    # -- per-app state -------------------------------------------------------------------

    def app_state(self, app_id: str) -> AppState:
        st = self.state.get(app_id)
        if st is None:
            st = self.state[app_id] = AppState()
            app = self.catalog.app_def(app_id)
            if app:
                st.backoff.configure(app.backoff)
        return st

    def configure(self, app: AppSpec, reset_backoff: bool) -> None:
        """A new definition of `app` was deployed (a new configuration resets its delay)."""
        st = self.app_state(app.id)
        st.backoff.configure(app.backoff)
        if reset_backoff:
            st.backoff.reset()

    def set_need(self, app_id: str, need: int, now: float) -> None:
        st = self.app_state(app_id)
        if need and not st.need:
            st.waiting_since = now
        st.need = need
        if not need:
            st.stats.clear()

    @property
    def wants_offers(self) -> bool:
        return any(st.need > 0 for st in self.state.values())

    def waiting_apps(self) -> list[str]:
        return sorted(a for a, st in self.state.items() if st.need > 0)

    def backoff_pending(self, now: float) -> bool:
        """An app waits for tasks but its launch delay has not run out."""
        return any(st.need and not st.backoff.ready(now) for st in self.state.values())

    def views(self, aid: str, now: float) -> list[planner.InstanceView]:
        """The app's instances as the planner sees them (inactive unreachable ones left out)."""
        app = self.catalog.app_def(aid)
        if app is None:
            return []
        inactive_after = app.unreachable.inactive_after if app.unreachable else None
        has_rc = app.readiness is not None
        out = []
        for inst in self.instances.get(aid, {}).values():
            if inst.inactive(now, inactive_after):
                continue
            healthy = inst.running and inst.unreachable_since is None and (
                inst.healthy is True or not app.has_health
            )
            out.append(planner.InstanceView(
                inst.task_id, inst.config == app.config_version, healthy,
                healthy and (inst.ready or not has_rc), inst.killing, inst.replace, inst.staged_at,
            ))  # fmt: skip
        return out

    # -- offers --------------------------------------------------------------------------

    def offers(self, now: float, offers: list[Offer]) -> list[Action]:
        """Place waiting tasks on `offers`; launch on the ones used, decline the rest."""
        out: list[Action] = []
        slots = [Slot.of(o) for o in offers]
        for s in slots:
            self.agents[s.agent.agent_id] = s.agent
        used: dict[str, list[Json]] = {}
        for aid in self.waiting_apps():
            st = self.app_state(aid)
            app = self.catalog.apps.get(AppId(aid))
            if app is None or not st.backoff.ready(now):
                continue
            req = task_request(app, self.instances.get(aid, {}).values(), self.agents,
                               self.config.default_accepted_roles)  # fmt: skip
            result = place(slots, req, st.need)
            for p in result.placements:
                inst = self._new_instance(app, p.slot, p.fit.ports, now)
                out.append(Persist(inst))
                used.setdefault(p.slot.offer.id, []).append(build_task_info(app, inst, p.fit.resources))
            if result.placements:
                st.stats.used(now, len(slots))
                st.need -= len(result.placements)
            if result.rejections or (st.need and not slots):
                st.stats.refused(now, slots, result.rejections, req)
        for s in slots:
            tasks = used.get(s.offer.id)
            if tasks:
                out.append(Launch([s.offer.id], tasks, self.config.decline_short))
        unused: list[str] = [s.offer.id for s in slots if s.offer.id not in used]
        if unused:
            refuse = self.config.decline_short if self.wants_offers else self.config.decline_long
            out.append(Decline(unused, refuse))
        return out

    def _new_instance(self, app: AppSpec, slot: Slot, ports: Iterable[int], now: float) -> Instance:
        inst = Instance(
            task_id_for(app.id), app.id, app.version, app.config_version,
            slot.agent.agent_id, slot.agent.hostname, list(ports), [d.port for d in app.ports], now,
            attributes=dict(slot.agent.attributes),
        )  # fmt: skip
        self.instances.setdefault(app.id, {})[inst.task_id] = inst
        self.tasks[inst.task_id] = inst
        return inst

    # -- kills ---------------------------------------------------------------------------

    def kill(self, task_id: TaskID, now: float, wipe: bool = False) -> list[Action]:
        """Mark a task as being killed: the KillTask to send (nothing if unknown or already
        being killed). A running task of a load-balanced app is drained first: it shows as
        TASK_KILLING (a ``status_update_event`` tells the load balancers, which stop sending
        it new connections) and its kill is sent `drain_seconds` later by `tick`."""
        inst = self.tasks.get(task_id)
        if inst is None:
            return []
        inst.wipe = inst.wipe or wipe
        if inst.killing:
            return []
        inst.killing = True
        drain = self._drain_seconds(inst)
        if drain <= 0:
            return [Persist(inst), Kill(task_id, inst.agent_id)]
        inst.kill_at = now + drain
        note = TaskUpdate(task_id, "TASK_KILLING", inst.agent_id,
                          message=f"draining from load balancers for {drain:g} s before the kill")
        return [Persist(inst), Publish("status_update_event", self._status_event(inst, note)),
                WakeAt(inst.kill_at)]  # fmt: skip

    def _drain_seconds(self, inst: Instance) -> float:
        app = self.catalog.app_def(inst.app_id)
        if self.config.drain_seconds <= 0 or not inst.running or app is None or not app.load_balanced:
            return 0.0
        grace = app.kill_grace
        return self.config.drain_seconds if grace is None else min(grace, self.config.drain_seconds)

    def _drained(self, now: float) -> list[Action]:
        """The kills of tasks whose drain ran out (called by `tick`)."""
        out: list[Action] = []
        for inst in self.tasks.values():
            if inst.kill_at is not None and inst.kill_at <= now:
                inst.kill_at = None
                out += [Persist(inst), Kill(inst.task_id, inst.agent_id)]
        return out

    def expunge(self, task_id: TaskID, now: float) -> list[Action]:
        """``DELETE /v2/apps/{id}/tasks[/{task}]?wipe=true`` (Marathon's ForceExpunge): kill
        the task and forget its record at once. It no longer counts for its app, so a
        replacement is planned now (the app keeps its instance count); its later status
        updates are those of an unknown task (killed again if it is still alive). Marathon
        would also unreserve resident tasks' reservations and destroy their volumes: this
        framework makes none."""
        inst = self.tasks.pop(task_id, None)
        if inst is None:
            return []
        self.instances.get(inst.app_id, {}).pop(task_id, None)
        return [Delete("instance", task_id), self._instance_changed(inst, "Killed", now),
                Kill(task_id, inst.agent_id)]  # fmt: skip

    def forget(self, aid: str) -> list[Action]:
        """The app is gone: drop its state and whatever records of its tasks are left."""
        out: list[Action] = []
        for tid in self.instances.pop(aid, {}):
            self.tasks.pop(tid, None)
            out.append(Delete("instance", tid))
        self.state.pop(aid, None)
        return out

    # -- status updates ------------------------------------------------------------------

    def status(self, now: float, up: TaskUpdate) -> tuple[list[Action], str | None, bool]:
        """A status update: (actions, the task's app or None when unknown, whether the
        task is gone)."""
        tid, state = up.task_id, up.state
        inst = self.tasks.get(tid)
        if inst is None:
            if state not in GONE and state != "TASK_UNREACHABLE":
                return [Kill(tid, up.agent_id)], None, False  # an orphan or an expunged task
            return [], None, False
        aid = inst.app_id
        app = self.catalog.app_def(aid)
        out: list[Action] = []
        prev_healthy = inst.healthy
        if state == "TASK_UNREACHABLE":
            if inst.unreachable_since is None:
                inst.unreachable_since = now
        elif state not in GONE:
            if inst.unreachable_since is not None:
                was_inactive = inst.inactive(now, app.unreachable.inactive_after if app and app.unreachable else None)
                inst.unreachable_since = None
                if was_inactive:
                    out += self.kill(tid, now)  # it was replaced meanwhile: the returning one goes
            if inst.killing and up.reason == RECONCILED and (inst.kill_at or 0) <= now:
                # Still alive though its kill was decided: that KILL may have died with the
                # process that persisted it (a webapp leader SIGKILLed in between): send it again.
                out.append(Kill(tid, inst.agent_id))
            if state == "TASK_RUNNING" and inst.started_at is None:
                inst.started_at = now
            if up.healthy is not None:
                self._health(inst, up.healthy, now, up.message)
        inst.state = state
        out.append(Publish("status_update_event", self._status_event(inst, up)))
        if state in GONE:
            out += self._gone(inst, up, now)
            return out, aid, True
        if prev_healthy != inst.healthy and inst.healthy is not None:
            out.append(Publish("health_status_changed_event", {
                "appId": aid, "taskId": tid, "instanceId": tid, "version": inst.version,
                "alive": inst.healthy}))  # fmt: skip
        out.append(Persist(inst))
        return out, aid, False

    def _health(self, inst: Instance, healthy: bool, now: float, message: str) -> None:
        inst.healthy = healthy
        if healthy:
            inst.last_success = now
            inst.first_success = inst.first_success or now
            inst.unhealthy_since = None
        else:
            inst.last_failure = now
            inst.failure_cause = message or "health check failed"
            if inst.unhealthy_since is None:
                inst.unhealthy_since = now

    def _gone(self, inst: Instance, up: TaskUpdate, now: float) -> list[Action]:
        aid, state = inst.app_id, up.state
        self.instances.get(aid, {}).pop(inst.task_id, None)
        self.tasks.pop(inst.task_id, None)
        out: list[Action] = []
        health_kill = up.healthy is False or up.reason == "REASON_TASK_HEALTH_CHECK_STATUS_UPDATED"
        if not inst.killing and (state in FAILURES or state == "TASK_KILLED"):
            stt = self.app_state(aid)
            if not health_kill:
                stt.backoff.failed(now)
            stt.last_failure = {
                "appId": aid, "host": inst.host, "message": failure_message(up),
                "state": state, "taskId": inst.task_id, "timestamp": iso(now),
                "version": inst.version, "slaveId": inst.agent_id,
            }  # fmt: skip
            if health_kill:
                out.append(Publish("unhealthy_task_kill_event", {
                    "appId": aid, "taskId": inst.task_id, "version": inst.version,
                    "reason": failure_message(up), "host": inst.host, "slaveId": inst.agent_id}))  # fmt: skip
        out.append(self._instance_changed(inst, state.removeprefix("TASK_").title(), now))
        out.append(Delete("instance", inst.task_id))
        return out

    def _status_event(self, inst: Instance, up: TaskUpdate) -> Json:
        return {"slaveId": inst.agent_id, "taskId": inst.task_id, "taskStatus": up.state,
                "appId": inst.app_id, "host": inst.host, "ports": inst.ports, "version": inst.version,
                "message": failure_message(up) if up.state in FAILURES else up.message,
                "ipAddresses": [{"ipAddress": inst.host, "protocol": "IPv4"}]}  # fmt: skip

    def _instance_changed(self, inst: Instance, condition: str, now: float) -> Publish:
        """Marathon's ``instance_changed_event`` for `inst` (expunged, gone, ...)."""
        return Publish("instance_changed_event", {
            "instanceId": inst.task_id, "condition": condition, "runSpecId": inst.app_id,
            "agentId": inst.agent_id, "host": inst.host, "runSpecVersion": inst.version,
            "timestamp": iso(now)})  # fmt: skip

    # -- readiness -----------------------------------------------------------------------

    def readiness(self, result: Readiness) -> str | None:
        """Record a readiness result; the app to plan again when readiness changed."""
        inst = self.tasks.get(result.task_id)
        if inst is None:
            return None
        inst.readiness = result.result
        if inst.ready != result.ready:
            inst.ready = result.ready
            return inst.app_id
        return None

    def readiness_targets(self) -> list[tuple[Instance, AppSpec]]:
        """Running, healthy tasks of apps with readiness checks that are not ready yet."""
        out = []
        for aid, app in self.catalog.apps.items():
            if app.readiness is None:
                continue
            for inst in self.instances.get(aid, {}).values():
                if inst.running and not inst.ready and not inst.killing and (inst.healthy or not app.has_health):
                    out.append((inst, app))
        return out

    # -- timers --------------------------------------------------------------------------

    def tick(self, now: float) -> tuple[list[Action], set[str]]:
        """Unhealthy tasks marked for replacement (rate limited), unreachable tasks made
        inactive or expunged, backoffs of apps that stayed up `minimum_viable_seconds`
        reset: (actions, apps to plan again)."""
        out: list[Action] = self._drained(now)
        touched: set[str] = set()
        for aid, insts in list(self.instances.items()):
            app = self.catalog.app_def(aid)
            if app is None:
                continue
            after = replace_after(app)
            un = app.unreachable
            for inst in list(insts.values()):
                if (after is not None and app.health is not None and inst.healthy is False and not inst.replace
                        and not inst.killing and inst.unhealthy_since is not None
                        and now - inst.unhealthy_since >= after):  # fmt: skip
                    if self.limiter.allow(aid, app.instances, app.health.interval, now):
                        inst.replace = True
                        touched.add(aid)
                        out.append(Persist(inst))
                if inst.unreachable_since is not None and un is not None:
                    if now - inst.unreachable_since >= un.expunge_after:
                        insts.pop(inst.task_id, None)
                        self.tasks.pop(inst.task_id, None)
                        out += [Delete("instance", inst.task_id), self._instance_changed(inst, "Gone", now)]
                        touched.add(aid)
                    elif inst.inactive(now, un.inactive_after):
                        touched.add(aid)
        for aid, st in self.state.items():
            if st.backoff.viable(now, self.config.minimum_viable_seconds):
                st.backoff.reset()  # ran long enough since its last delay: viable again
            if st.need or st.backoff.until:
                touched.add(aid)
        return out, touched

    def restore(self, instances: Mapping[str, list[Instance]]) -> None:
        for aid, insts in instances.items():
            for inst in insts:
                self.instances.setdefault(aid, {})[inst.task_id] = inst
                self.tasks[inst.task_id] = inst
