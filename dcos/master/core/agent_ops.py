"""The operator's agent calls in the master core: DEACTIVATE_AGENT, REACTIVATE_AGENT and
MARK_AGENT_GONE (Mesos 1.9 semantics).

Called by `MasterCore.operator_call` (the v1 operator API, `dcos.master.http.operator_api`,
typed by `dcos.master.core.operator_calls.parse_operator_write`); the installer's
``--remove-agent`` (`dcos.installer.nodes`) deactivates an agent before it moves its tasks
away, then marks it gone once the host is uninstalled.

- A deactivated agent gets no offers (the allocator's `deactivate_agent`; its outstanding
  offers are rescinded); its tasks keep running. The id is kept in the registry, so the
  agent stays deactivated across a master failover and when it re-registers. Deactivating
  or reactivating twice changes nothing (200).
- A gone agent is removed: its tasks are TASK_GONE_BY_OPERATOR to their frameworks
  (REASON_SLAVE_REMOVED_BY_OPERATOR), frameworks get FAILURE, a connected agent is told to
  shut its frameworks down and its stream ends, and its id is written to the registry's
  removed agents: a later SUBSCRIBE with that id is refused (403), so the agent kills what
  it still runs and could only register anew, with a new id. Marking a gone agent gone
  again is 200 and changes nothing.
- An id the master does not know (not registered, expected after a restart, or
  unreachable): DEACTIVATE / REACTIVATE 400 ``Unknown agent '<id>'``, MARK_AGENT_GONE 404
  ``Agent '<id>' not found`` (Mesos' answers); nothing changes.
"""

from __future__ import annotations

from dcos.master.core.base import CallOutcome, CoreBase, log
from dcos.master.core.model import CloseAgent, Persist, Task, ToAgent
from dcos.master.core.observed import AgentAdded, AgentRemoved
from dcos.master.core.operator_calls import DeactivateAgent, MarkAgentGone, ReactivateAgent
from dcos.protocol import internal
from dcos.protocol.ids import AgentID, FrameworkID, wrap
from dcos.protocol.states import Reason, TaskState
from dcos.state import registry as ops


def _outcome(status: int, message: str = "") -> CallOutcome:
    return CallOutcome(status, message)


class AgentOpsMixin(CoreBase):
    def _unknown_agent(self, agent_id: AgentID) -> CallOutcome | None:
        if self.agent_book.known(agent_id):
            return None
        return _outcome(400, f"Unknown agent '{agent_id}'")

    def deactivate_agent(self, call: DeactivateAgent, now: float) -> CallOutcome:
        """DEACTIVATE_AGENT: no more offers of it; outstanding ones are rescinded."""
        aid = call.agent_id
        unknown = self._unknown_agent(aid)
        if unknown is not None:
            return unknown
        if aid in self.agent_book.deactivated:
            return _outcome(200)
        self.agent_book.deactivated.add(aid)
        agent = self.agents.get(aid)
        if agent is not None:
            agent.deactivated = True
            self._rescind_offers(agent.offers)
            self.allocator.deactivate_agent(aid)
            if self.observed:
                self._observe(AgentAdded(agent))
        self._out.append(Persist(ops.DeactivateAgent(aid)))
        log.info("agent %s deactivated by the operator", aid)
        return _outcome(200)

    def reactivate_agent(self, call: ReactivateAgent, now: float) -> CallOutcome:
        """REACTIVATE_AGENT: its resources are offered again (once it is connected)."""
        aid = call.agent_id
        unknown = self._unknown_agent(aid)
        if unknown is not None:
            return unknown
        if aid not in self.agent_book.deactivated:
            return _outcome(200)
        self.agent_book.deactivated.discard(aid)
        agent = self.agents.get(aid)
        if agent is not None:
            agent.deactivated = False
            if agent.connected:
                self.allocator.activate_agent(aid)
                self._allocate()
            if self.observed:
                self._observe(AgentAdded(agent))
        self._out.append(Persist(ops.ReactivateAgent(aid)))
        log.info("agent %s reactivated by the operator", aid)
        return _outcome(200)

    def mark_agent_gone(self, call: MarkAgentGone, now: float) -> CallOutcome:
        """MARK_AGENT_GONE: remove the agent for good (see the module docstring)."""
        aid = call.agent_id
        book = self.agent_book
        if aid in book.removed:
            return _outcome(200)
        if not book.known(aid):
            return _outcome(404, f"Agent '{aid}' not found")
        agent = self.agents.get(aid)
        gone: list[Task] = []
        if agent is not None:
            self._rescind_offers(agent.offers)
            self.allocator.remove_agent(aid)
            self._allocate()
            gone.extend(agent.tasks.values())
            frameworks = {t.framework_id for t in agent.tasks.values()}
            self._shut_down(aid, frameworks, agent.connected)
            agent.tasks.clear()
        for task in book.unreachable_tasks.pop(aid, []):
            fw = self.frameworks.get(task.framework_id)
            if fw is not None and fw.unreachable_tasks.get(task.task_id) is task:
                gone.append(task)
        for task in gone:
            self._task_gone(task, now)
        if agent is not None or aid in book.unreachable:
            for fw in self.frameworks.values():
                self._to_framework(fw, {"type": "FAILURE", "failure": {"agent_id": wrap(aid)}})
        book.forget(aid)
        self._out.append(Persist(ops.RemoveAgent(aid)))
        if self.observed and agent is not None:
            self._observe(AgentRemoved(aid))
        self._count("agents_marked_gone")
        log.info("agent %s marked gone by the operator (%d tasks gone)", aid, len(gone))
        return _outcome(200)

    def _shut_down(self, aid: AgentID, frameworks: set[FrameworkID], connected: bool) -> None:
        """A connected agent kills the tasks of `frameworks`, then its stream ends."""
        if not connected:
            return
        for fid in sorted(frameworks):
            self._out.append(
                ToAgent(aid, {"type": internal.SHUTDOWN_FRAMEWORK, "framework_id": fid})
            )
        self._out.append(CloseAgent(aid))

    def _task_gone(self, task: Task, now: float) -> None:
        """TASK_GONE_BY_OPERATOR to the task's framework; the task is completed."""
        state = TaskState.TASK_GONE_BY_OPERATOR
        self._set_task_status(task, {"state": state, "timestamp": now})
        fw = self.frameworks.get(task.framework_id)
        if fw is not None:
            fw.complete(task)
        self._master_status(
            fw, task.task_id, state, task.agent_id, now,
            reason=Reason.REASON_AGENT_REMOVED_BY_OPERATOR,
            message=f"Agent {task.agent_id} was marked gone by the operator",
        )  # fmt: skip
