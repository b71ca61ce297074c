"""Offers in the master core: allocation -> OFFERS, DECLINE, ACCEPT (LAUNCH and
LAUNCH_GROUP; the TaskInfo checks that need the master's state), offer timeouts.

Called by the shell's allocation loop (`allocate`), from `MasterCore`'s scheduler call table
(`Accept`, `Decline`) and by `tick` (offer timeout).
"""

from __future__ import annotations

from typing import Any

from dcos.master.core.base import CoreBase, log
from dcos.master.core.calls import (
    Accept,
    Decline,
    ExecutorSpec,
    Launch,
    LaunchGroup,
    OtherOperation,
    TaskSpec,
)
from dcos.master.core.model import Action, Agent, Framework, Offer, Task, ToAgent
from dcos.master.core.observed import TaskAdded
from dcos.protocol import internal
from dcos.protocol.ids import FrameworkID, OfferID, Role, TaskID, wrap
from dcos.protocol.resources import Resources
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
    def allocate(self, now: float) -> list[Action]:
        """Run one allocation cycle and turn each allocation into one offer; offers to the
        same framework travel in one OFFERS event."""
        self._begin()
        self._count("allocation_runs")
        by_fw: dict[FrameworkID, list[dict[str, Any]]] = {}
        timeout = self.settings.offer_timeout
        for a in self.allocator.allocate(now):
            fw = self.frameworks.get(a.framework_id)
            agent = self.agents.get(a.agent_id)
            if fw is None or agent is None or not fw.connected or not agent.connected:
                self.allocator.recover(a.framework_id, a.agent_id, a.role, a.resources)
                continue
            offer = Offer(
                self.offers.next_id(),
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
        return self._end()

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
            "resources": offer.resources.to_mesos(
                agent.reserved_role or "*", allocation_role=offer.role
            ),
            "attributes": attributes_json(agent.attributes),
            "executor_ids": [wrap(e) for e in executor_ids],
            "allocation_info": {"role": offer.role},
        }

    def _tick_offers(self, now: float) -> None:
        for offer in self.offers.expired(now):
            log.debug("offer %s timed out", offer.id)
            self._rescind_offer(offer)

    def decline(self, fw: Framework, call: Decline, now: float) -> None:
        """DECLINE: give the offers back with a refusal filter (default 5 s)."""
        refuse = call.refuse_seconds
        secs = self.settings.default_refuse_seconds if refuse is None else refuse
        for oid in call.offer_ids:
            offer = self.offers.get(oid)
            if offer is None or offer.framework_id != fw.id:
                continue
            self._remove_offer(offer)
            until = now + secs if secs > 0 else None
            self.allocator.recover(fw.id, offer.agent_id, offer.role, offer.resources, until)
            if until is None:
                self._allocate()
            self._count("offers_declined")

    def accept(self, fw: Framework, call: Accept, now: float) -> None:
        """ACCEPT: consume the offers, launch the valid tasks, report invalid ones with
        TASK_ERROR (or TASK_DROPPED/LOST for invalid offers) and give back the rest."""
        offers, error = self._take_offers(fw, call.offer_ids)
        if error is not None:
            for o in offers:
                self.allocator.recover(fw.id, o.agent_id, o.role, o.resources)
            self._allocate()
            state = TaskState.TASK_DROPPED if fw.partition_aware else TaskState.TASK_LOST
            for op in call.operations:
                for t in op.tasks if not isinstance(op, OtherOperation) else ():
                    self._master_status(
                        fw, t.task_id, state, t.agent_id, now,
                        reason=Reason.REASON_INVALID_OFFERS, message=error,
                    )  # fmt: skip
            return
        agent = self.agents[offers[0].agent_id]
        role = offers[0].role
        available = sum_resources([o.resources for o in offers])
        launch: list[dict[str, Any]] = []
        ids: set[TaskID] = set()
        for op in call.operations:
            match op:
                case Launch(tasks=tasks):
                    for t in tasks:
                        available = self._launch_one(
                            fw, agent, role, t, available, ids, launch, now
                        )
                case LaunchGroup():
                    available = self._launch_group(fw, agent, role, op, available, ids, now)
                case OtherOperation(type=optype):
                    log.info("framework %s: operation %s not supported; ignored", fw.id, optype)
        if launch:
            self._out.append(ToAgent(agent.id, self._run_tasks_event(fw, launch)))
        refuse = call.refuse_seconds
        secs = self.settings.default_refuse_seconds if refuse is None else refuse
        if available:
            self.allocator.recover(
                fw.id, agent.id, role, available, now + secs if secs > 0 else None
            )
            if secs <= 0:
                self._allocate()

    def _take_offers(
        self, fw: Framework, offer_ids: tuple[OfferID, ...]
    ) -> tuple[list[Offer], str | None]:
        offers: list[Offer] = []
        error = None if offer_ids else "No offers specified"
        for oid in offer_ids:
            offer = self.offers.get(oid)
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
        self, fw: Framework, agent: Agent, t: TaskSpec, ids: set[TaskID], available: Resources
    ) -> tuple[Resources | None, str]:
        """The checks of one TaskInfo that need the master's state (the state-free ones were
        done by `parse_call`); returns (resources incl. a new executor's, '') or
        (None, reason)."""
        why = t.id_error or self._check_identity(fw, agent, t, ids) or t.shape_error
        if why:
            return None, why
        if t.resources is None:
            return None, f"Task has invalid resources: {t.resources_error}"
        res = t.resources
        if t.executor is not None:
            extra, error = self._new_executor_resources(fw, agent, t.executor)
            if extra is None:
                if t.executor.executor_id is None:  # missing or invalid id
                    return None, error
                return None, f"Task has invalid resources: {error}"
            res = res + extra
        if not res:
            return None, "Task uses no resources"
        if not available.contains(res):
            return None, f"Task uses more resources {res} than available {available}"
        return res, ""

    def _check_identity(self, fw: Framework, agent: Agent, t: TaskSpec, ids: set[TaskID]) -> str:
        """Unique task id and matching agent id; '' when fine."""
        tid = t.task_id
        if tid in ids or tid in fw.tasks or tid in fw.unreachable_tasks:
            return f"Task has duplicate ID: {tid}"
        if t.agent_id != agent.id:
            return f"Task uses agent {t.agent_id} but the offers are for {agent.id}"
        return ""

    def _new_executor_resources(
        self, fw: Framework, agent: Agent, executor: ExecutorSpec
    ) -> tuple[Resources | None, str]:
        """What launching on `executor` adds: nothing when it already runs there, else its
        resources; (None, why) when the ExecutorInfo is invalid."""
        eid = executor.executor_id
        if eid is None:
            return None, executor.error
        running = any(
            t.executor_id == eid and t.framework_id == fw.id for t in agent.tasks.values()
        )
        if running:
            return Resources.empty(), ""
        return executor.resources, executor.error

    def _launch_one(
        self,
        fw: Framework,
        agent: Agent,
        role: Role,
        t: TaskSpec,
        available: Resources,
        ids: set[TaskID],
        launch: list[dict[str, Any]],
        now: float,
    ) -> Resources:
        if t.unauthorized:
            res, why = None, t.unauthorized
        else:
            res, why = self._check_task(fw, agent, t, ids, available)
        if res is None:
            reason = (
                Reason.REASON_TASK_UNAUTHORIZED if t.unauthorized else Reason.REASON_TASK_INVALID
            )
            self._master_status(
                fw, t.task_id, TaskState.TASK_ERROR, agent.id, now, reason=reason, message=why,
            )  # fmt: skip
            self._count("invalid_tasks")
            return available
        ids.add(t.task_id)
        eid = t.executor.executor_id if t.executor is not None else None
        self._add_task(fw, agent, role, t, t.info, eid, res, now)
        launch.append(t.info)
        return available - res

    def _add_task(
        self,
        fw: Framework,
        agent: Agent,
        role: Role,
        t: TaskSpec,
        info: dict[str, Any],
        executor_id: str | None,
        res: Resources,
        now: float,
    ) -> Task:
        task = Task(t.task_id, fw.id, agent.id, t.name, role, res, info, executor_id=executor_id)
        task.statuses.append({"state": TaskState.TASK_STAGING, "timestamp": now})
        fw.tasks[task.task_id] = task
        agent.tasks[(fw.id, task.task_id)] = task
        self._count("tasks_launched")
        if self.observed:
            self._observe(TaskAdded(task))
        return task

    def _check_group(
        self, fw: Framework, agent: Agent, lg: LaunchGroup, ids: set[TaskID], available: Resources
    ) -> tuple[Resources, str]:
        """LAUNCH_GROUP checks: (the group's total incl. a new executor, '') or (_, why)."""
        total, error = self._new_executor_resources(fw, agent, lg.executor)
        if total is None:
            return Resources.empty(), f"Invalid executor: {error}"
        group_ids = set(ids)
        for t in lg.tasks:
            why = t.id_error or self._check_identity(fw, agent, t, group_ids)
            if why:
                return total, why
            group_ids.add(t.task_id)
            if t.resources is None:
                return total, f"Task has invalid resources: {t.resources_error}"
            total = total + t.resources
        if not available.contains(total):
            return total, f"Task group uses more resources {total} than available {available}"
        return total, ""

    def _launch_group(
        self,
        fw: Framework,
        agent: Agent,
        role: Role,
        lg: LaunchGroup,
        available: Resources,
        ids: set[TaskID],
        now: float,
    ) -> Resources:
        """LAUNCH_GROUP: all tasks of the group launch together or none does."""
        refused = next((t.unauthorized for t in lg.tasks if t.unauthorized), "")
        if refused:
            total, why = Resources.empty(), refused
        else:
            total, why = self._check_group(fw, agent, lg, ids, available)
        if why or not lg.tasks:
            reason = Reason.REASON_TASK_UNAUTHORIZED if refused else Reason.REASON_TASK_INVALID
            for t in lg.tasks:
                self._master_status(
                    fw, t.task_id, TaskState.TASK_ERROR, agent.id, now,
                    reason=reason, message=why or "Empty task group",
                )  # fmt: skip
            return available
        executor = lg.executor.info
        checked = [t.resources or Resources.empty() for t in lg.tasks]
        extra = total - sum_resources(checked)
        for i, (t, res) in enumerate(zip(lg.tasks, checked, strict=True)):
            ids.add(t.task_id)
            info = {**t.info, "executor": executor}
            self._add_task(
                fw, agent, role, t, info, lg.executor.executor_id,
                res + extra if i == 0 else res, now,
            )  # fmt: skip
        self._out.append(
            ToAgent(
                agent.id,
                {
                    "type": internal.RUN_TASK_GROUP,
                    "framework": fw.info,
                    "executor": executor,
                    "tasks": [t.info for t in lg.tasks],
                },
            )
        )
        return available - total


def sum_resources(items: list[Resources]) -> Resources:
    total = Resources.empty()
    for r in items:
        total = total + r
    return total
