"""Tasks in the master core: status updates from agents, acknowledgements, KILL (the master
finds the agent), reconciliation (explicit and implicit), framework messages.

Called by the internal agent channel (UPDATE, MESSAGE, EXITED_EXECUTOR) and the scheduler
API (ACKNOWLEDGE, KILL, RECONCILE, MESSAGE, SHUTDOWN).
"""

from __future__ import annotations

from typing import Any

from dcos.master.core.base import CoreBase, log
from dcos.master.core.model import Framework, Task
from dcos.protocol import internal
from dcos.protocol.ids import AgentID, FrameworkID, TaskID, unwrap, wrap
from dcos.protocol.mesos import task_status
from dcos.protocol.states import Reason, Source, TaskState, is_terminal


class TasksMixin(CoreBase):
    def agent_updates(self, agent_id: str, updates: list[Any], now: float) -> list[Any]:
        """Status updates from an agent (several per call): record the task's latest state,
        free resources of terminal tasks, forward each update to its framework."""
        agent = self.agents.get(AgentID(agent_id))
        if agent is None:
            return self._drain()
        agent.last_seen = now
        for u in updates:
            if not isinstance(u, dict) or not isinstance(u.get("status"), dict):
                continue
            fid, status = u.get("framework_id"), u["status"]
            tid = unwrap(status.get("task_id"))
            state = status.get("state")
            if not isinstance(fid, str) or tid is None or not isinstance(state, str):
                continue
            status.setdefault("agent_id", wrap(agent.id))
            fw = self.frameworks.get(FrameworkID(fid))
            if fw is None:
                if fid in self.removed_framework_ids:
                    self._to_agent(
                        agent, {"type": internal.SHUTDOWN_FRAMEWORK, "framework_id": fid}
                    )
                continue
            task = fw.tasks.get(TaskID(tid))
            if task is not None and task.agent_id == agent.id:
                self._set_task_status(task, status)
                if is_terminal(state):
                    self._release_task(task)
            self._to_framework(fw, {"type": "UPDATE", "update": {"status": status}})
            self._count("status_updates")
        return self._drain()

    def acknowledge(self, fw: Framework, body: dict[str, Any]) -> None:
        """ACKNOWLEDGE: forward to the agent (it stops retrying); acknowledgements of
        master-generated updates end here."""
        uuid = body["uuid"]
        if uuid in self._master_uuids:
            del self._master_uuids[uuid]
            return
        agent = self.agents.get(AgentID(unwrap(body["agent_id"]) or ""))
        self._to_agent(agent, {
            "type": internal.ACKNOWLEDGE, "framework_id": fw.id,
            "task_id": unwrap(body["task_id"]), "uuid": uuid,
        })  # fmt: skip

    def kill(self, fw: Framework, body: dict[str, Any], now: float) -> None:
        """KILL: find the task (agent_id is optional) and ask its agent; an unknown task is
        answered as reconciliation would answer it."""
        tid = unwrap(body["task_id"]) or ""
        task = fw.tasks.get(TaskID(tid))
        if task is None and TaskID(tid) in fw.unreachable_tasks:
            t = fw.unreachable_tasks[TaskID(tid)]
            self._send_reconcile(fw, tid, t.state, t.agent_id, now, t)
            return
        if task is None:
            log.info("framework %s: kill of unknown task %s; reconciling", fw.id, tid)
            self._reconcile_unknown(fw, tid, unwrap(body.get("agent_id")), now)
            return
        event: dict[str, Any] = {"type": internal.KILL_TASK, "framework_id": fw.id, "task_id": tid}
        if isinstance(body.get("kill_policy"), dict):
            event["kill_policy"] = body["kill_policy"]
        self._to_agent(self.agents.get(task.agent_id), event)

    def reconcile(self, fw: Framework, body: dict[str, Any], now: float) -> None:
        """RECONCILE: explicit for the listed tasks, implicit (every known task) when the
        list is empty. Answers carry REASON_RECONCILIATION and no uuid."""
        tasks = body.get("tasks") or []
        if not tasks:
            for task in list(fw.tasks.values()) + list(fw.unreachable_tasks.values()):
                self._send_reconcile(fw, task.task_id, task.state, task.agent_id, now, task)
            return
        for t in tasks:
            tid = unwrap(t["task_id"]) or ""
            found = self._find_task(fw, tid) or fw.completed_tasks.get(TaskID(tid))
            if found is not None:
                self._send_reconcile(fw, tid, found.state, found.agent_id, now, found)
            else:
                self._reconcile_unknown(fw, tid, unwrap(t.get("agent_id")), now)

    def _reconcile_unknown(self, fw: Framework, tid: str, agent_id: str | None, now: float) -> None:
        """Mesos' answers for a task the master does not know."""
        pa = fw.partition_aware
        if agent_id is not None:
            aid = AgentID(agent_id)
            if aid in self.recovered_agents:
                return  # the agent may still re-register with it: no answer yet
            if aid in self.agents:
                state = TaskState.TASK_GONE if pa else TaskState.TASK_LOST
            elif aid in self.unreachable_agents:
                state = TaskState.TASK_UNREACHABLE if pa else TaskState.TASK_LOST
            else:
                state = TaskState.TASK_UNKNOWN if pa else TaskState.TASK_LOST
        else:
            if self.recovered_agents:
                return
            state = TaskState.TASK_UNKNOWN if pa else TaskState.TASK_LOST
        self._send_reconcile(fw, tid, state, agent_id, now, None)

    def _reconcile_status(
        self, tid: str, state: str, agent_id: str | None, now: float, task: Task | None
    ) -> dict[str, Any]:
        pa_state = state
        status = task_status(
            tid, pa_state, agent_id=agent_id, source=Source.SOURCE_MASTER, timestamp=now,
            reason=Reason.REASON_RECONCILIATION, message="Reconciliation: Latest task state",
            executor_id=task.executor_id if task else None,
        )  # fmt: skip
        if task is not None and task.status is not None:
            for key in ("healthy", "labels", "container_status", "data"):
                if key in task.status:
                    status[key] = task.status[key]
        return status

    def _send_reconcile(
        self,
        fw: Framework,
        tid: str,
        state: str,
        agent_id: str | None,
        now: float,
        task: Task | None,
    ) -> None:
        if task is not None and state == TaskState.TASK_UNREACHABLE and not fw.partition_aware:
            state = TaskState.TASK_LOST
        status = self._reconcile_status(tid, state, agent_id, now, task)
        self._to_framework(fw, {"type": "UPDATE", "update": {"status": status}})

    def framework_message(self, fw: Framework, body: dict[str, Any]) -> None:
        """Scheduler MESSAGE -> the executor on that agent."""
        agent = self.agents.get(AgentID(unwrap(body["agent_id"]) or ""))
        self._to_agent(agent, {
            "type": internal.FRAMEWORK_MESSAGE, "framework_id": fw.id,
            "executor_id": unwrap(body["executor_id"]), "data": body["data"],
        })  # fmt: skip

    def shutdown_executor(self, fw: Framework, body: dict[str, Any]) -> None:
        """SHUTDOWN of an executor: the agent sends it SHUTDOWN and kills it after its grace
        period (a command executor's task is simply killed)."""
        aid, eid = unwrap(body["agent_id"]), unwrap(body["executor_id"])
        agent = self.agents.get(AgentID(aid or ""))
        if agent is None:
            return
        self._to_agent(agent, {
            "type": internal.SHUTDOWN_EXECUTOR, "framework_id": fw.id, "executor_id": eid,
        })  # fmt: skip

    def agent_message(self, agent_id: str, msg: dict[str, Any], now: float) -> list[Any]:
        """Executor -> scheduler framework message (internal MESSAGE)."""
        if not self.agent_seen(agent_id, now):
            return self._drain()
        fw = self.frameworks.get(FrameworkID(str(msg.get("framework_id"))))
        if fw is not None and isinstance(msg.get("data"), str):
            self._to_framework(fw, {"type": "MESSAGE", "message": {
                "agent_id": wrap(agent_id), "executor_id": wrap(str(msg.get("executor_id"))),
                "data": msg["data"],
            }})  # fmt: skip
        return self._drain()

    def agent_exited_executor(self, agent_id: str, msg: dict[str, Any], now: float) -> list[Any]:
        """An executor ended: FAILURE with executor_id and status to its framework."""
        if not self.agent_seen(agent_id, now):
            return self._drain()
        fw = self.frameworks.get(FrameworkID(str(msg.get("framework_id"))))
        status = msg.get("status")
        if fw is not None and msg.get("executor_id"):
            self._to_framework(fw, {"type": "FAILURE", "failure": {
                "agent_id": wrap(agent_id), "executor_id": wrap(str(msg["executor_id"])),
                "status": status if isinstance(status, int) else 0,
            }})  # fmt: skip
        return self._drain()
