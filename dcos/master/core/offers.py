"""Offers in the master core: allocation -> OFFERS, DECLINE, ACCEPT (LAUNCH and
LAUNCH_GROUP with TaskInfo validation), offer timeouts.

Called by the shell's allocation loop (`allocate`), the scheduler API (ACCEPT, DECLINE) and
by `tick` (offer timeout).
"""

from __future__ import annotations

import heapq
from typing import Any

from dcos.master.core.base import CoreBase, log
from dcos.master.core.model import Agent, Framework, Offer, Task, ToAgent
from dcos.protocol import internal
from dcos.protocol.ids import AgentID, FrameworkID, OfferID, Role, TaskID, unwrap, wrap
from dcos.protocol.resources import ResourceError, Resources
from dcos.protocol.states import Reason, TaskState


def attributes_json(attrs: dict[str, Any]) -> list[dict[str, Any]]:
    """Agent attributes in Mesos' Attribute JSON (TEXT or SCALAR)."""
    out: list[dict[str, Any]] = []
    for name, value in sorted(attrs.items()):
        if isinstance(value, int | float) and not isinstance(value, bool):
            out.append({"name": name, "type": "SCALAR", "scalar": {"value": float(value)}})
        else:
            out.append({"name": name, "type": "TEXT", "text": {"value": str(value)}})
    return out


class OffersMixin(CoreBase):
    def allocate(self, now: float) -> list[Any]:
        """Run one allocation cycle and turn each allocation into one offer; offers to the
        same framework travel in one OFFERS event."""
        by_fw: dict[FrameworkID, list[dict[str, Any]]] = {}
        timeout = self.settings.offer_timeout
        for a in self.allocator.allocate(now):
            fw = self.frameworks.get(a.framework_id)
            agent = self.agents.get(a.agent_id)
            if fw is None or agent is None or not fw.connected or not agent.connected:
                self.allocator.recover(a.framework_id, a.agent_id, a.role, a.resources)
                continue
            offer = Offer(
                self._next_offer_id(),
                fw.id,
                agent.id,
                a.role,
                a.resources,
                now,
                now + timeout if timeout else None,
            )
            self._add_offer(offer)
            by_fw.setdefault(fw.id, []).append(self.offer_json(offer, agent))
        for fid, offers in by_fw.items():
            self._to_framework(
                self.frameworks[fid], {"type": "OFFERS", "offers": {"offers": offers}}
            )
            self._count("offers_sent", len(offers))
        return self._drain()

    def offer_json(self, offer: Offer, agent: Agent) -> dict[str, Any]:
        executor_ids = sorted({
            t.executor_id for t in agent.tasks.values()
            if t.executor_id and t.framework_id == offer.framework_id
        })  # fmt: skip
        return {
            "id": wrap(offer.id),
            "framework_id": wrap(offer.framework_id),
            "agent_id": wrap(offer.agent_id),
            "hostname": agent.hostname,
            "url": {
                "scheme": "http",
                "address": {"hostname": agent.hostname, "ip": agent.ip, "port": agent.port},
                "path": "/slave(1)",
            },
            "resources": offer.resources.to_mesos(allocation_role=offer.role),
            "attributes": attributes_json(agent.attributes),
            "executor_ids": [wrap(e) for e in executor_ids],
            "allocation_info": {"role": offer.role},
        }

    def _tick_offers(self, now: float) -> None:
        while self._offer_expiry and self._offer_expiry[0][0] <= now:
            _, oid = heapq.heappop(self._offer_expiry)
            offer = self.offers.get(oid)
            if offer is not None:
                log.debug("offer %s timed out", oid)
                self._rescind_offer(offer)

    def decline(
        self, fw: Framework, offer_ids: list[str], refuse: float | None, now: float
    ) -> None:
        """DECLINE: give the offers back with a refusal filter (default 5 s)."""
        secs = self.settings.default_refuse_seconds if refuse is None else refuse
        for oid in offer_ids:
            offer = self.offers.get(OfferID(oid))
            if offer is None or offer.framework_id != fw.id:
                continue
            self._remove_offer(offer)
            until = now + secs if secs > 0 else None
            self.allocator.recover(fw.id, offer.agent_id, offer.role, offer.resources, until)
            if until is None:
                self.allocation_requested = True
            self._count("offers_declined")

    def accept(self, fw: Framework, body: dict[str, Any], refuse: float | None, now: float) -> None:
        """ACCEPT: consume the offers, launch the valid tasks, report invalid ones with
        TASK_ERROR (or TASK_DROPPED/LOST for invalid offers) and give back the rest."""
        offer_ids = [unwrap(o) or "" for o in body.get("offer_ids", [])]
        ops = body.get("operations") or []
        offers, error = self._take_offers(fw, offer_ids)
        if error is not None:
            for o in offers:
                self.allocator.recover(fw.id, o.agent_id, o.role, o.resources)
            self.allocation_requested = True
            state = TaskState.TASK_DROPPED if fw.partition_aware else TaskState.TASK_LOST
            for ti in _all_task_infos(ops):
                self._master_status(
                    fw,
                    unwrap(ti.get("task_id")) or "",
                    state,
                    unwrap(ti.get("agent_id")),
                    now,
                    reason=Reason.REASON_INVALID_OFFERS,
                    message=error,
                )
            return
        agent = self.agents[offers[0].agent_id]
        role = offers[0].role
        available = Resources.empty()
        for o in offers:
            available = available + o.resources
        launch: list[dict[str, Any]] = []
        ids: set[str] = set()
        for op in ops:
            if op.get("type") == "LAUNCH":
                for ti in op["launch"]["task_infos"]:
                    available = self._launch_one(fw, agent, role, ti, available, ids, launch, now)
            elif op.get("type") == "LAUNCH_GROUP":
                available = self._launch_group(
                    fw, agent, role, op["launch_group"], available, ids, now
                )
            else:
                log.info("framework %s: operation %s not supported; ignored", fw.id, op.get("type"))
        if launch:
            self._out.append(ToAgent(agent.id, self._run_tasks_event(fw, launch)))
        secs = self.settings.default_refuse_seconds if refuse is None else refuse
        if available:
            self.allocator.recover(
                fw.id, agent.id, role, available, now + secs if secs > 0 else None
            )
            if secs <= 0:
                self.allocation_requested = True

    def _take_offers(self, fw: Framework, offer_ids: list[str]) -> tuple[list[Offer], str | None]:
        offers: list[Offer] = []
        error = None if offer_ids else "No offers specified"
        for oid in offer_ids:
            offer = self.offers.get(OfferID(oid))
            if offer is None or offer.framework_id != fw.id:
                error = f"Offer {oid} is no longer valid"
                continue
            if offer in offers:
                error = f"Offer {oid} appears more than once"
                continue
            self._remove_offer(offer)
            offers.append(offer)
        if offers and len({(o.agent_id, o.role) for o in offers}) > 1:
            error = "Aggregated offers must belong to the same agent and role"
        if offers and offers[0].agent_id not in self.agents:
            error = f"Agent {offers[0].agent_id} is not registered"
        return offers, error

    def _check_task(
        self, fw: Framework, agent: Agent, ti: dict[str, Any], ids: set[str], available: Resources
    ) -> tuple[Resources | None, str]:
        """Validate one TaskInfo; returns (resources incl. a new executor's, '') or
        (None, reason)."""
        why = self._check_identity(fw, agent, ti, ids)
        if why:
            return None, why
        has_cmd, has_exec = (
            isinstance(ti.get("command"), dict),
            isinstance(ti.get("executor"), dict),
        )
        if has_cmd == has_exec:
            return (
                None,
                "Task should have at least one (but not both) of CommandInfo or ExecutorInfo present",
            )
        try:
            res = Resources.from_mesos(ti.get("resources"))
            if has_exec:
                res = res + self._new_executor_resources(fw, agent, ti["executor"], ids)
        except ResourceError as exc:
            return None, f"Task has invalid resources: {exc}"
        if not res:
            return None, "Task uses no resources"
        if not available.contains(res):
            return None, f"Task uses more resources {res} than available {available}"
        return res, ""

    def _check_identity(
        self, fw: Framework, agent: Agent, ti: dict[str, Any], ids: set[str]
    ) -> str:
        """Unique task id and matching agent id; '' when fine."""
        tid = unwrap(ti.get("task_id")) or ""
        if tid in ids or TaskID(tid) in fw.tasks or TaskID(tid) in fw.unreachable_tasks:
            return f"Task has duplicate ID: {tid}"
        if unwrap(ti.get("agent_id")) != agent.id:
            return f"Task uses agent {unwrap(ti.get('agent_id'))} but the offers are for {agent.id}"
        return ""

    def _new_executor_resources(
        self, fw: Framework, agent: Agent, executor: dict[str, Any], ids: set[str]
    ) -> Resources:
        eid = unwrap(executor.get("executor_id"))
        if eid is None:
            raise ResourceError("executor needs an executor_id")
        running = any(
            t.executor_id == eid and t.framework_id == fw.id for t in agent.tasks.values()
        )
        return Resources.empty() if running else Resources.from_mesos(executor.get("resources"))

    def _launch_one(
        self,
        fw: Framework,
        agent: Agent,
        role: Role,
        ti: dict[str, Any],
        available: Resources,
        ids: set[str],
        launch: list[dict[str, Any]],
        now: float,
    ) -> Resources:
        res, why = self._check_task(fw, agent, ti, ids, available)
        tid = unwrap(ti.get("task_id")) or ""
        if res is None:
            self._master_status(
                fw,
                tid,
                TaskState.TASK_ERROR,
                agent.id,
                now,
                reason=Reason.REASON_TASK_INVALID,
                message=why,
            )
            self._count("invalid_tasks")
            return available
        ids.add(tid)
        self._add_task(fw, agent, role, ti, res, now)
        launch.append(ti)
        return available - res

    def _add_task(
        self,
        fw: Framework,
        agent: Agent,
        role: Role,
        ti: dict[str, Any],
        res: Resources,
        now: float,
    ) -> Task:
        ex = ti.get("executor")
        eid = unwrap(ex.get("executor_id")) if isinstance(ex, dict) else None
        task = Task(
            TaskID(unwrap(ti["task_id"]) or ""),
            fw.id,
            agent.id,
            str(ti.get("name", "")),
            role,
            res,
            ti,
            executor_id=eid,
        )
        task.statuses.append({"state": TaskState.TASK_STAGING, "timestamp": now})
        fw.tasks[task.task_id] = task
        agent.tasks[(fw.id, task.task_id)] = task
        self._count("tasks_launched")
        return task

    def _launch_group(
        self,
        fw: Framework,
        agent: Agent,
        role: Role,
        lg: dict[str, Any],
        available: Resources,
        ids: set[str],
        now: float,
    ) -> Resources:
        """LAUNCH_GROUP: all tasks of the group launch together or none does."""
        executor = lg["executor"]
        infos = lg["task_group"]["tasks"]
        why = ""
        try:
            total = self._new_executor_resources(fw, agent, executor, ids)
        except ResourceError as exc:
            total, why = Resources.empty(), f"Invalid executor: {exc}"
        checked: list[Resources] = []
        group_ids: set[str] = set(ids)
        for ti in infos if not why else []:
            why = self._check_identity(fw, agent, ti, group_ids)
            if why:
                break
            group_ids.add(unwrap(ti.get("task_id")) or "")
            try:
                res = Resources.from_mesos(ti.get("resources"))
            except ResourceError as exc:
                why = f"Task has invalid resources: {exc}"
                break
            checked.append(res)
            total = total + res
        if not why and not available.contains(total):
            why = f"Task group uses more resources {total} than available {available}"
        if why or not infos:
            for ti in infos:
                self._master_status(
                    fw,
                    unwrap(ti.get("task_id")) or "",
                    TaskState.TASK_ERROR,
                    agent.id,
                    now,
                    reason=Reason.REASON_TASK_INVALID,
                    message=why or "Empty task group",
                )
            return available
        for i, (ti, res) in enumerate(zip(infos, checked, strict=True)):
            ids.add(unwrap(ti.get("task_id")) or "")
            extra = (total - sum_resources(checked)) if i == 0 else Resources.empty()
            self._add_task(fw, agent, role, {**ti, "executor": executor}, res + extra, now)
        self._out.append(
            ToAgent(
                agent.id,
                {
                    "type": internal.RUN_TASK_GROUP,
                    "framework": fw.info,
                    "executor": executor,
                    "tasks": infos,
                },
            )
        )
        return available - total


def sum_resources(items: list[Resources]) -> Resources:
    total = Resources.empty()
    for r in items:
        total = total + r
    return total


def _all_task_infos(ops: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for op in ops:
        if op.get("type") == "LAUNCH":
            out.extend(op["launch"]["task_infos"])
        elif op.get("type") == "LAUNCH_GROUP":
            out.extend(op["launch_group"]["task_group"]["tasks"])
    return out


_ = AgentID
