"""Calls from custom executors (sans-IO): SUBSCRIBE, UPDATE, MESSAGE, and stream ends.

`ExecutorCalls` is part of `dcos.agent.core.AgentCore`, which hands it the executor events
(`ExecutorSubscribe`, `ExecutorUpdate`, `ExecutorMessage`, `ExecutorDisconnected`, parsed by
the ``/api/v1/executor`` endpoint, `dcos.agent.http.executor_api`). A call that must be
refused answers ``[Refuse(reason)]`` (a 400 for the executor) and changes nothing.
"""

from __future__ import annotations

import logging
from typing import Any

from dcos.agent.core.actions import Action, Refuse, SendToMaster, ToExecutor
from dcos.agent.core.custom_executor import agent_info_json
from dcos.agent.core.events import (
    ExecutorDisconnected,
    ExecutorMessage,
    ExecutorStatus,
    ExecutorSubscribe,
    ExecutorUpdate,
)
from dcos.agent.core.ledger import TaskLedger
from dcos.agent.core.model import REGISTERING, RUNNING, TERMINATED, TERMINATING, ExecutorRecord
from dcos.agent.core.supervisor import ExecutorSupervisor
from dcos.protocol import internal
from dcos.protocol.ids import ExecutorID, FrameworkID, TaskID, new_container_id, unwrap, wrap
from dcos.protocol.states import Source, is_terminal

log = logging.getLogger(__name__)


class ExecutorCalls:
    def __init__(self, supervisor: ExecutorSupervisor, ledger: TaskLedger) -> None:
        self.supervisor = supervisor
        self.ledger = ledger

    def subscribe(self, call: ExecutorSubscribe, now: float) -> list[Action]:
        """SUBSCRIBE: SUBSCRIBED first, then the queued launches and the re-sent updates."""
        fid, eid = call.framework_id, call.executor_id
        ex = self.supervisor.executors.get((fid, eid))
        if ex is None or ex.state == TERMINATED:
            ex = self._adopt(call)
        if ex.kind != "custom":
            return [Refuse(f"executor {eid} is run by the agent itself")]
        if ex.state == TERMINATING:
            return [Refuse(f"executor {eid} is shutting down")]
        fw = self.ledger.frameworks[fid]
        ex.state = RUNNING
        ex.registration_deadline = None
        framework_info = {**fw.info, "id": wrap(fid)}
        executor_info = {**ex.info, "executor_id": wrap(eid), "framework_id": wrap(fid)}
        out: list[Action] = [ToExecutor(ex.key, {"type": "SUBSCRIBED", "subscribed": {
            "executor_info": executor_info, "framework_info": framework_info,
            "agent_info": agent_info_json(self.ledger.info),
            "container_id": wrap(ex.container_id),
        }})]  # fmt: skip
        known = {unwrap(t.get("task_id")) for t in call.unacknowledged_tasks}
        queued, ex.queued = ex.queued, []
        self.supervisor.mark(ex)
        for group, ids in queued:
            # delivered before an agent restart that forgot it did: not sent twice
            for tid in [t for t in ids if t in known]:
                rec = fw.tasks.get(tid)
                if rec is not None:
                    rec.launched = True
            ids = [t for t in ids if t not in known and t in fw.tasks]
            if ids:
                out.append(self.supervisor.deliver(ex, group, ids))
        for status in call.unacknowledged_updates:
            if status.uuid not in ex.unacked:
                more = self._update(ex, status, now)
                if more and isinstance(more[0], Refuse):
                    log.info("dropping unacknowledged update from %s: %s", eid, more[0].reason)
                    continue
                out += more
        return out

    def _adopt(self, call: ExecutorSubscribe) -> ExecutorRecord:
        """An executor this agent did not start (it restarted): take it on as it is."""
        fid, eid = call.framework_id, call.executor_id
        log.info("executor %s of framework %s subscribed unannounced; adopting it", eid, fid)
        fw = self.ledger.frameworks.get(fid) or self.ledger.framework({"id": wrap(fid)}, fid)
        info = {"executor_id": wrap(eid), "framework_id": wrap(fid)}
        ex = ExecutorRecord(fid, eid, info, new_container_id(), "", state=REGISTERING, adopted=True)
        self.supervisor.executors[ex.key] = ex
        for task in call.unacknowledged_tasks:
            tid = unwrap(task.get("task_id"))
            if tid and TaskID(tid) not in fw.tasks:
                rec = self.supervisor.new_task_record(fw, task, ex)
                rec.launched = True
                if isinstance(task.get("executor"), dict):
                    ex.info = {**task["executor"], **info}
        return ex

    def _running(self, fid: FrameworkID, eid: ExecutorID) -> ExecutorRecord | None:
        ex = self.supervisor.executors.get((fid, eid))
        return None if ex is None or ex.state == TERMINATED else ex

    def update(self, call: ExecutorUpdate, now: float) -> list[Action]:
        """UPDATE from an executor: queued for the master ([]), or refused."""
        ex = self._running(call.framework_id, call.executor_id)
        if ex is None or ex.kind != "custom":
            return [Refuse(f"executor {call.executor_id} of framework {call.framework_id} "
                           "is not running here")]  # fmt: skip
        return self._update(ex, call.status, now)

    def _update(self, ex: ExecutorRecord, update: ExecutorStatus, now: float) -> list[Action]:
        if update.uuid in ex.unacked:
            return []  # a resend of what is on its way already
        fid, tid = ex.framework_id, update.task_id
        status: dict[str, Any] = dict(update.status)
        status["agent_id"] = wrap(self.ledger.agent_id or "")
        status["executor_id"] = wrap(ex.executor_id)
        status.setdefault("source", str(Source.SOURCE_EXECUTOR))
        if not isinstance(status.get("timestamp"), (int, float)):
            status["timestamp"] = now
        fw = self.ledger.frameworks.get(fid)
        if fw is None:
            return [Refuse(f"unknown framework {fid}")]
        rec = fw.tasks.get(tid)
        if rec is None and self.ledger.was_completed(fw, tid):
            # resent after an agent restart, though the scheduler acknowledged it (a task
            # completes only then): acknowledge it again so the executor forgets it
            return [ToExecutor(ex.key, {"type": "ACKNOWLEDGED", "acknowledged": {
                "task_id": wrap(tid), "uuid": update.uuid}})]  # fmt: skip
        if rec is not None and is_terminal(rec.state):
            return [Refuse(f"task {tid} is already {rec.state}")]
        self.ledger.record_status(rec, status, update.state)
        self.ledger.mark(fid, tid)
        ex.unacked[update.uuid] = tid
        self.supervisor.mark(ex)
        self.ledger.queue_update(fid, status, now)
        return []

    def message(self, call: ExecutorMessage) -> list[Action]:
        """MESSAGE from an executor: a framework message for its scheduler."""
        if self._running(call.framework_id, call.executor_id) is None:
            return [Refuse(f"executor {call.executor_id} of framework {call.framework_id} "
                           "is not running here")]  # fmt: skip
        if not self.ledger.agent_id:
            return [Refuse("the agent is not registered with a master yet")]
        return [SendToMaster({
            "type": internal.MESSAGE, "agent_id": self.ledger.agent_id,
            "framework_id": call.framework_id, "executor_id": call.executor_id,
            "data": call.data,
        })]  # fmt: skip

    def disconnected(self, call: ExecutorDisconnected) -> list[Action]:
        """The executor's stream ended; tasks for it wait until it subscribes again."""
        ex = self.supervisor.executors.get(call.key)
        if ex is not None and ex.state == RUNNING:
            ex.state = REGISTERING
        return []
