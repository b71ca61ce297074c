"""Tasks in the master core: status updates from agents, acknowledgements, KILL (the master
finds the agent), reconciliation (explicit and implicit), framework messages.

Called from `MasterCore`'s dispatch tables with typed inputs: agent calls (`AgentUpdate`,
`ExecutorMessage`, `ExecutorExited`) and scheduler calls (`Acknowledge`, `Kill`,
`Reconcile`, `Message`, `Shutdown`).
"""

from __future__ import annotations

from typing import Any

from dcos.master.core.base import CoreBase, log
from dcos.master.core.books import Whereabouts
from dcos.master.core.calls import Acknowledge, Kill, Message, Reconcile, Shutdown
from dcos.master.core.model import Framework, Task
from dcos.protocol import internal
from dcos.protocol.ids import AgentID, FrameworkID, wrap
from dcos.protocol.internal import AgentUpdate, ExecutorExited, ExecutorMessage
from dcos.protocol.states import TaskState, is_terminal

_UNKNOWN_TASK_STATE = {
    Whereabouts.REGISTERED: TaskState.TASK_GONE,
    Whereabouts.UNREACHABLE: TaskState.TASK_UNREACHABLE,
    Whereabouts.UNKNOWN: TaskState.TASK_UNKNOWN,
}


class TasksMixin(CoreBase):
    def agent_updates(self, msg: AgentUpdate, now: float) -> None:
        """UPDATE: status updates from an agent (several per call): record the task's latest
        state, free resources of terminal tasks, forward each update to its framework.

        Only updates of tasks this agent holds count: a live task on it, or one that ended
        there (its update is still forwarded so that the framework acknowledges it and the
        agent stops retrying). Updates of tasks it does not hold, or of frameworks it runs
        nothing for, are dropped (Mesos' invalid status updates)."""
        agent = self.agents[msg.agent_id]
        for u in msg.updates:
            fid, tid, state, status = u.framework_id, u.task_id, u.state, u.status
            fw = self.frameworks.get(fid)
            if fw is None:
                if fid in self.framework_book.removed:
                    self._to_agent(
                        agent, {"type": internal.SHUTDOWN_FRAMEWORK, "framework_id": fid}
                    )
                continue
            task = fw.tasks.get(tid)
            if task is None:
                task = fw.unreachable_tasks.get(tid) or fw.completed_tasks.get(tid)
                if task is None or task.agent_id != agent.id:
                    self._invalid_update(agent.id, fid, tid)
                    continue
            elif task.agent_id != agent.id:
                self._invalid_update(agent.id, fid, tid)
                continue
            else:
                self._set_task_status(task, status)
                if is_terminal(state):
                    self._release_task(task)
            status["agent_id"] = wrap(agent.id)
            self._to_framework(fw, {"type": "UPDATE", "update": {"status": status}})
            self._count("status_updates")

    def _invalid_update(self, agent_id: AgentID, fid: str, tid: str) -> None:
        log.warning("agent %s sent an update of task %s of %s, which it does not hold; "
                    "dropped", agent_id, tid, fid)  # fmt: skip
        self._count("invalid_status_updates")

    def _runs_executor(self, agent_id: AgentID, fid: FrameworkID, eid: str) -> bool:
        """The agent runs (or ran) a task of `fid` on executor `eid` (`eid` a task id for a
        command executor)."""
        fw = self.frameworks.get(fid)
        if fw is None:
            return False
        agent = self.agents.get(agent_id)
        if agent is not None:
            for (f, tid), t in agent.tasks.items():
                if f == fid and (t.executor_id == eid or tid == eid):
                    return True
        return any(
            t.agent_id == agent_id and (t.executor_id == eid or t.task_id == eid)
            for t in fw.completed_tasks.values()
        )

    def acknowledge(self, fw: Framework, call: Acknowledge, now: float) -> None:
        """ACKNOWLEDGE: forward to the agent (it stops retrying); acknowledgements of
        master-generated updates end here."""
        uuid = call.uuid
        if self.master_updates.acknowledge(uuid):
            return
        self._to_agent(self.agents.get(call.agent_id), {
            "type": internal.ACKNOWLEDGE, "framework_id": fw.id,
            "task_id": call.task_id, "uuid": uuid,
        })  # fmt: skip

    def kill(self, fw: Framework, call: Kill, now: float) -> None:
        """KILL: find the task (agent_id is optional) and ask its agent; an unknown task is
        answered as reconciliation would answer it."""
        tid = call.task_id
        task = fw.tasks.get(tid)
        if task is None and tid in fw.unreachable_tasks:
            t = fw.unreachable_tasks[tid]
            self._send_reconcile(fw, tid, t.state, t.agent_id, now, t)
            return
        if task is None:
            log.info("framework %s: kill of unknown task %s; reconciling", fw.id, tid)
            self._reconcile_unknown(fw, tid, call.agent_id, now)
            return
        event: dict[str, Any] = {"type": internal.KILL_TASK, "framework_id": fw.id, "task_id": tid}
        if call.kill_policy is not None:
            event["kill_policy"] = call.kill_policy
        self._to_agent(self.agents.get(task.agent_id), event)

    def reconcile(self, fw: Framework, call: Reconcile, now: float) -> None:
        """RECONCILE: explicit for the listed tasks, implicit (every known task) when the
        list is empty. Answers carry REASON_RECONCILIATION and no uuid."""
        if not call.tasks:
            for task in list(fw.tasks.values()) + list(fw.unreachable_tasks.values()):
                self._send_reconcile(fw, task.task_id, task.state, task.agent_id, now, task)
            return
        for tid, agent_id in call.tasks:
            found = self._find_task(fw, tid) or fw.completed_tasks.get(tid)
            if found is not None:
                self._send_reconcile(fw, tid, found.state, found.agent_id, now, found)
            else:
                self._reconcile_unknown(fw, tid, agent_id, now)

    def _reconcile_unknown(
        self, fw: Framework, tid: str, agent_id: AgentID | None, now: float
    ) -> None:
        """Mesos' answers for a task the master does not know."""
        pa = fw.partition_aware
        if agent_id is None:
            if self.agent_book.expected:
                return  # an expected agent may still re-register with it: no answer yet
            state = TaskState.TASK_UNKNOWN if pa else TaskState.TASK_LOST
        else:
            where = self.agent_book.whereabouts(agent_id)
            if where is Whereabouts.EXPECTED:
                return
            state = TaskState.TASK_LOST if not pa else _UNKNOWN_TASK_STATE[where]
        self._send_reconcile(fw, tid, state, agent_id, now, None)

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

    def framework_message(self, fw: Framework, call: Message, now: float) -> None:
        """Scheduler MESSAGE -> the executor on that agent."""
        self._to_agent(self.agents.get(call.agent_id), {
            "type": internal.FRAMEWORK_MESSAGE, "framework_id": fw.id,
            "executor_id": call.executor_id, "data": call.data,
        })  # fmt: skip

    def shutdown_executor(self, fw: Framework, call: Shutdown, now: float) -> None:
        """SHUTDOWN of an executor: the agent sends it SHUTDOWN and kills it after its grace
        period (a command executor's task is simply killed)."""
        self._to_agent(self.agents.get(call.agent_id), {
            "type": internal.SHUTDOWN_EXECUTOR, "framework_id": fw.id,
            "executor_id": call.executor_id,
        })  # fmt: skip

    def executor_message(self, msg: ExecutorMessage, now: float) -> None:
        """Executor -> scheduler framework message (internal MESSAGE)."""
        fw = self.frameworks.get(msg.framework_id)
        if not self._runs_executor(msg.agent_id, msg.framework_id, msg.executor_id):
            self._count("invalid_executor_messages")
            return
        if fw is not None and msg.data is not None:
            self._to_framework(fw, {"type": "MESSAGE", "message": {
                "agent_id": wrap(msg.agent_id), "executor_id": wrap(msg.executor_id),
                "data": msg.data,
            }})  # fmt: skip

    def executor_exited(self, msg: ExecutorExited, now: float) -> None:
        """An executor ended: FAILURE with executor_id and status to its framework."""
        fw = self.frameworks.get(msg.framework_id)
        if not self._runs_executor(msg.agent_id, msg.framework_id, msg.executor_id):
            self._count("invalid_executor_messages")
            return
        if fw is not None and msg.executor_id:
            self._to_framework(fw, {"type": "FAILURE", "failure": {
                "agent_id": wrap(msg.agent_id), "executor_id": wrap(msg.executor_id),
                "status": msg.status,
            }})  # fmt: skip
