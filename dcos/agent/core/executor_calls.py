"""Calls from custom executors (sans-IO): SUBSCRIBE, UPDATE, MESSAGE, and stream ends.

`ExecutorCalls` is part of `dcos.agent.core.AgentCore`, which hands it the executor events
(`ExecutorSubscribe`, `ExecutorUpdate`, `ExecutorMessage`, `ExecutorDisconnected`, parsed by
the ``/api/v1/executor`` endpoint, `dcos.agent.http.executor_api`). A call that must be
refused answers ``[Refuse(reason, status)]`` and changes nothing.

Only executors this agent launched are accepted (`_authenticate`): a call naming a framework
or executor the agent does not run is refused (400, as Mesos' "Executor cannot be found"; an
unknown executor is never adopted), and a call must present the executor run's token
(`dcos.agent.core.custom_executor.executor_token`, given to the executor in its environment):
none is 401, a wrong one 403. Executors started by an agent version without tokens (recovered
from its checkpoint, ``token_auth`` False) are accepted without one until they end.
"""

from __future__ import annotations

import logging
from typing import Any

from dcos.agent.core.actions import Action, Refuse, SendToMaster, ToExecutor
from dcos.agent.core.custom_executor import TOKEN_ENV, agent_info_json, token_valid
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
from dcos.protocol.ids import ExecutorID, FrameworkID, unwrap, wrap
from dcos.protocol.states import Source, is_terminal

log = logging.getLogger(__name__)


class ExecutorCalls:
    def __init__(self, supervisor: ExecutorSupervisor, ledger: TaskLedger) -> None:
        self.supervisor = supervisor
        self.ledger = ledger

    def subscribe(self, call: ExecutorSubscribe, now: float) -> list[Action]:
        """SUBSCRIBE: SUBSCRIBED first, then the queued launches and the re-sent updates."""
        fid, eid = call.framework_id, call.executor_id
        ex = self._authenticate(fid, eid, call.token)
        if isinstance(ex, Refuse):
            return [ex]
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

    def _authenticate(self, fid: FrameworkID, eid: ExecutorID,
                      token: str | None) -> ExecutorRecord | Refuse:  # fmt: skip
        """The live custom executor a call names, when the caller proved to be it (the run's
        token); else why not, as the `Refuse` to answer. Called for every executor call."""
        if fid not in self.ledger.frameworks:
            return Refuse(f"framework {fid} is not known to this agent")
        ex = self.supervisor.executors.get((fid, eid))
        if ex is None or ex.state == TERMINATED:
            return Refuse(f"executor {eid} of framework {fid} is not running on this agent")
        if ex.kind != "custom":
            return Refuse(f"executor {eid} is run by the agent itself")
        if not ex.token_auth:  # started by an agent without tokens: it has none to present
            if ex.adopted or not ex.launched:
                return Refuse(f"executor {eid} of framework {fid} was not launched by this "
                              "agent", 403)  # fmt: skip
            return ex
        if token is None:
            return Refuse("missing executor authentication token: expecting 'Authorization: "
                          f"Bearer <{TOKEN_ENV}>'", 401)  # fmt: skip
        if not token_valid(self.supervisor.site.executor_secret, fid, eid, ex.container_id, token):
            log.warning("refused a call for executor %s of framework %s: wrong token", eid, fid)
            return Refuse(f"invalid authentication token for executor {eid} of framework {fid}",
                          403)  # fmt: skip
        return ex

    def update(self, call: ExecutorUpdate, now: float) -> list[Action]:
        """UPDATE from an executor: queued for the master ([]), or refused."""
        ex = self._authenticate(call.framework_id, call.executor_id, call.token)
        if isinstance(ex, Refuse):
            return [ex]
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
        if rec is None:
            return [Refuse(f"task {tid} of framework {fid} is not known to this agent")]
        if rec.executor_id != ex.executor_id:  # an executor speaks for its own tasks only
            return [Refuse(f"task {tid} does not run on executor {ex.executor_id}", 403)]
        if is_terminal(rec.state):
            return [Refuse(f"task {tid} is already {rec.state}")]
        self.ledger.record_status(rec, status, update.state)
        self.ledger.mark(fid, tid)
        ex.unacked[update.uuid] = tid
        self.supervisor.mark(ex)
        self.ledger.queue_update(fid, status, now)
        return []

    def message(self, call: ExecutorMessage) -> list[Action]:
        """MESSAGE from an executor: a framework message for its scheduler."""
        ex = self._authenticate(call.framework_id, call.executor_id, call.token)
        if isinstance(ex, Refuse):
            return [ex]
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
