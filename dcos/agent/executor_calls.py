"""Calls from custom executors (sans-IO): SUBSCRIBE, UPDATE, MESSAGE, and stream ends.

`ExecutorCallsMixin` is part of `dcos.agent.core.AgentCore` (through
`dcos.agent.default_executor.TaskGroupsMixin`); the ``/api/v1/executor`` endpoint
(`dcos.agent.executor_api`) calls `executor_subscribe`, `executor_update`, `executor_message`
and `executor_disconnected` and carries out the actions they return. Each call answers
``(error, actions)``: a non-empty error is a 400 for the executor and changes nothing.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from dcos.agent.executors import (
    REGISTERING,
    RUNNING,
    TERMINATED,
    TERMINATING,
    ExecutorKey,
    ExecutorRecord,
    ExecutorsMixin,
    ToExecutor,
    agent_info_json,
)
from dcos.agent.model import Call
from dcos.protocol import internal
from dcos.protocol.ids import ExecutorID, FrameworkID, TaskID, new_container_id, unwrap, wrap
from dcos.protocol.mesos import valid_status_uuid
from dcos.protocol.states import Source, TaskState, is_terminal

if TYPE_CHECKING:
    from dcos.agent.core import Action

log = logging.getLogger(__name__)


class ExecutorCallsMixin(ExecutorsMixin):
    # -- calls from the executor (the /api/v1/executor endpoint) ---------------------------

    def executor_subscribe(
        self,
        framework_id: FrameworkID,
        executor_id: ExecutorID,
        subscribe: dict[str, Any],
        now: float,
    ) -> tuple[str, list[Action]]:
        """SUBSCRIBE: ("", actions starting with SUBSCRIBED and the queued launches), or
        (error, []) for a call to refuse with 400."""
        ex = self.executors.get((framework_id, executor_id))
        if ex is None or ex.state == TERMINATED:
            ex = self._adopt(framework_id, executor_id, subscribe, now)
        if ex.kind != "custom":
            return f"executor {executor_id} is run by the agent itself", []
        if ex.state == TERMINATING:
            return f"executor {executor_id} is shutting down", []
        fw = self.frameworks[framework_id]
        ex.state = RUNNING
        ex.registration_deadline = None
        framework_info = {**fw.info, "id": wrap(framework_id)}
        executor_info = {**ex.info, "executor_id": wrap(executor_id),
                         "framework_id": wrap(framework_id)}  # fmt: skip
        out: list[Action] = [ToExecutor(ex.key, {"type": "SUBSCRIBED", "subscribed": {
            "executor_info": executor_info, "framework_info": framework_info,
            "agent_info": agent_info_json(self), "container_id": wrap(ex.container_id),
        }})]  # fmt: skip
        known = {unwrap(t.get("task_id")) for t in subscribe.get("unacknowledged_tasks") or []
                 if isinstance(t, dict)}  # fmt: skip
        queued, ex.queued = ex.queued, []
        self._mark_executor(ex)
        for group, ids in queued:
            # delivered before an agent restart that forgot it did: not sent twice
            for tid in [t for t in ids if t in known]:
                rec = fw.tasks.get(tid)
                if rec is not None:
                    rec.launched = True
            ids = [t for t in ids if t not in known and t in fw.tasks]
            if ids:
                out.append(self._deliver(ex, group, ids))
        for u in subscribe.get("unacknowledged_updates") or []:
            status = u.get("status") if isinstance(u, dict) else None
            if isinstance(status, dict) and status.get("uuid") not in ex.unacked:
                error, more = self.executor_update(framework_id, executor_id, status, now)
                if error:
                    log.info("dropping unacknowledged update from %s: %s", executor_id, error)
                out += more
        return "", out

    def _adopt(self, fid: FrameworkID, eid: ExecutorID, subscribe: dict[str, Any],
               now: float) -> ExecutorRecord:  # fmt: skip
        """An executor this agent did not start (it restarted): take it on as it is."""
        log.info("executor %s of framework %s subscribed unannounced; adopting it", eid, fid)
        fw = self.frameworks.get(fid) or self._framework({"id": wrap(fid)})
        assert fw is not None
        cid = new_container_id()
        info = {"executor_id": wrap(eid), "framework_id": wrap(fid)}
        ex = ExecutorRecord(fid, eid, info, cid, "", state=REGISTERING, adopted=True)
        self.executors[ex.key] = ex
        for task in subscribe.get("unacknowledged_tasks") or []:
            tid = unwrap(task.get("task_id")) if isinstance(task, dict) else None
            if tid and TaskID(tid) not in fw.tasks:
                rec = self._new_task_record(fw, task, ex)
                rec.launched = True
                if isinstance(task.get("executor"), dict):
                    ex.info = {**task["executor"], **info}
        return ex

    def executor_update(
        self, framework_id: FrameworkID, executor_id: ExecutorID, status: Any, now: float
    ) -> tuple[str, list[Action]]:
        """UPDATE from an executor: ("", []) when queued for the master, else (error, [])."""
        ex = self.executors.get((framework_id, executor_id))
        if ex is None or ex.kind != "custom" or ex.state == TERMINATED:
            return f"executor {executor_id} of framework {framework_id} is not running here", []
        if not isinstance(status, dict):
            return "expecting 'update.status' (object)", []
        tid = unwrap(status.get("task_id"))
        state = status.get("state")
        if not tid:
            return "expecting 'update.status.task_id'", []
        if not isinstance(state, str) or state not in TaskState.__members__ \
                or state == TaskState.TASK_STAGING:  # fmt: skip
            return f"invalid task state {state!r}", []
        uuid = status.get("uuid")
        if not valid_status_uuid(uuid):
            return "expecting 'update.status.uuid' (base64 of 16 bytes)", []
        assert isinstance(uuid, str)
        if uuid in ex.unacked:
            return "", []  # a resend of what is on its way already
        status = dict(status)
        status["agent_id"] = wrap(self.agent_id or "")
        status["executor_id"] = wrap(executor_id)
        status.setdefault("source", str(Source.SOURCE_EXECUTOR))
        if not isinstance(status.get("timestamp"), (int, float)):
            status["timestamp"] = now
        fw = self.frameworks.get(framework_id)
        if fw is None:
            return f"unknown framework {framework_id}", []
        rec = fw.tasks.get(TaskID(tid))
        if rec is None and any(t.task_id == tid for t in fw.completed):
            # resent after an agent restart, though the scheduler acknowledged it (a task
            # completes only then): acknowledge it again so the executor forgets it
            return "", [ToExecutor(ex.key, {"type": "ACKNOWLEDGED", "acknowledged": {
                "task_id": wrap(tid), "uuid": uuid}})]  # fmt: skip
        if rec is not None:
            if is_terminal(rec.state):
                return f"task {tid} is already {rec.state}", []
            rec.state = TaskState(state)
            rec.statuses.append(status)
            if is_terminal(state):
                self.terminal_counts[state] = self.terminal_counts.get(state, 0) + 1
        self.counters["valid_status_updates"] += 1
        mark = getattr(self, "_mark", None)  # checkpointing (dcos.agent.checkpoint), if any
        if mark is not None:
            mark(framework_id, TaskID(tid))
        ex.unacked[uuid] = TaskID(tid)
        self._mark_executor(ex)
        self.updates.add(framework_id, status, now)
        return "", []

    def executor_message(
        self, framework_id: FrameworkID, executor_id: ExecutorID, data: Any
    ) -> tuple[str, list[Action]]:
        """MESSAGE from an executor: a framework message for its scheduler."""
        ex = self.executors.get((framework_id, executor_id))
        if ex is None or ex.state == TERMINATED:
            return f"executor {executor_id} of framework {framework_id} is not running here", []
        if not isinstance(data, str):
            return "expecting 'message.data' (base64 string)", []
        if not self.agent_id:
            return "the agent is not registered with a master yet", []
        return "", [Call({
            "type": internal.MESSAGE, "agent_id": self.agent_id, "framework_id": framework_id,
            "executor_id": executor_id, "data": data,
        })]  # fmt: skip

    def executor_disconnected(self, key: ExecutorKey, now: float) -> list[Action]:
        """The executor's stream ended; tasks for it wait until it subscribes again."""
        ex = self.executors.get(key)
        if ex is not None and ex.state == RUNNING:
            ex.state = REGISTERING
        return []
