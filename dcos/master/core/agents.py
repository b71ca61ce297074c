"""Agent lifecycle in the master core: (re-)registration, pings, disconnection,
unreachability and return.

Called through the shell (`MasterShell.subscribe_agent` -> `agent_subscribe`,
`agent_stream_ended` -> `agent_disconnected`; every agent call marks it seen via
`MasterCore.agent_call`) and by `tick` (ping timeouts, agents that do not re-register after
a master restart).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from dcos.master.core.base import CoreBase, log
from dcos.master.core.model import (
    Action,
    Agent,
    CloseAgent,
    Framework,
    Persist,
    Task,
    ToAgent,
)
from dcos.master.core.observed import AgentAdded, AgentRemoved, FrameworkAdded, TaskAdded
from dcos.protocol import internal
from dcos.protocol.ids import AgentID, FrameworkID, Role, TaskID, new_agent_id, wrap
from dcos.protocol.internal import AgentInfo, AgentSubscribe, TaskRecord
from dcos.protocol.mesos import FrameworkInfo
from dcos.protocol.resources import Resources
from dcos.protocol.states import Reason, TaskState, is_terminal
from dcos.state.registry import AdmitAgent, MarkReachable, MarkUnreachable


@dataclass(frozen=True)
class AgentOutcome:
    """`agent_id` on success; `error` when the master refuses the agent (403)."""

    agent_id: AgentID | None
    error: str | None = None


class AgentsMixin(CoreBase):
    def _recover_agents(
        self, agents: dict[str, dict[str, Any]], removed: list[str], now: float,
        deactivated: Sequence[str] = (),
    ) -> None:
        """At master start: admitted agents are expected to re-register within
        `agent_reregister_timeout`; unreachable ones stay unreachable until they return;
        deactivated ones (DEACTIVATE_AGENT) get no offers when they come back."""
        self.agent_book.recover(
            agents, removed, now + self.settings.agent_reregister_timeout, deactivated
        )

    def agent_subscribe(
        self,
        msg: AgentSubscribe,
        token: object,
        now: float,
        *,
        secret: str | None = None,
        peer: str | None = None,
    ) -> tuple[AgentOutcome, list[Action]]:
        """Internal SUBSCRIBE (checked by `dcos.protocol.internal.parse_agent_subscribe`):
        register (no id) or re-register with tasks. `token` tells this subscription's stream
        from later ones (see `agent_disconnected`); `secret` is the session secret the call
        carried (None: none), `peer` the host it came from (None: not known).

        A re-registration of an id the master admitted needs that id's secret; a new
        registration may not take the address of a connected agent from another host.
        Refusals change nothing. A new registration (or one of an id without a known
        secret) hands the agent a new secret; a re-registration that proved its secret
        keeps it, so that re-registering an agent whose registry entry it does not change
        writes nothing (after a failover every agent comes back at once)."""
        self._begin()
        info, total = msg.agent.info, msg.agent.resources
        aid = msg.agent.id
        if aid and aid in self.agent_book.removed:
            return AgentOutcome(None, f"agent {aid} was removed"), self._end()
        known = self.agent_book.secret_hashes.get(aid) if aid else None
        if known is not None and not internal.secret_matches(secret, known):
            log.warning("re-registration of agent %s without its secret refused", aid)
            self._count("agent_calls_refused")
            return AgentOutcome(None, f"agent {aid} is registered; re-registering it needs "
                                f"its session secret ({internal.SECRET_HEADER})"), self._end()  # fmt: skip
        if not aid:
            why = self._replace_same_address(msg.agent, peer, now)
            if why:
                return AgentOutcome(None, why), self._end()
            aid = new_agent_id(self.master_id)
            reregistered = False
        else:
            reregistered = True
            old = self.agents.get(aid)
            if old is not None:
                self._drop_agent_offers(old)
                self.allocator.remove_agent(old.id)
        agent_id = aid
        self._recover_frameworks_from(msg.frameworks, now)
        agent = self._make_agent(agent_id, msg.agent, token, now, reregistered)
        agent.peer = peer
        if self.observed:
            self._observe(AgentAdded(agent))
        if known is not None and secret is not None:  # proved above: kept
            new_secret, hashed = secret, known
        else:
            new_secret = internal.new_secret()
            hashed = internal.secret_hash(new_secret)
        self.agent_book.secret_hashes[agent_id] = hashed
        self._adopt_tasks(agent, msg.tasks, now)
        used: dict[FrameworkID, list[tuple[Role, Resources]]] = {}
        for t in agent.tasks.values():
            used.setdefault(t.framework_id, []).append((t.role, t.resources))
        self.allocator.add_agent(agent_id, total, used, reserved_role=agent.reserved_role)
        if agent.deactivated:
            self.allocator.deactivate_agent(agent_id)
        self._allocate()
        was_unreachable = self.agent_book.admitted(agent_id)
        stored = {**info, "id": agent_id}
        if self.agent_book.admission_changes(agent_id, stored, hashed) or was_unreachable:
            self._out.append(Persist(AdmitAgent(agent_id, stored, hashed)))
        if was_unreachable:
            self._out.append(Persist(MarkReachable(agent_id)))
        self._to_agent(agent, {
            "type": internal.REGISTERED, "agent_id": agent_id, "master_id": self.master_id,
            "ping_interval": self.settings.agent_ping_timeout, "secret": new_secret,
        })  # fmt: skip
        log.info(
            "agent %s (%s) %s",
            agent_id,
            agent.hostname,
            "re-registered" if reregistered else "registered",
        )
        return AgentOutcome(agent_id), self._end()

    def _make_agent(
        self, agent_id: AgentID, info: AgentInfo, token: object, now: float, reregistered: bool
    ) -> Agent:
        old = self.agents.get(agent_id)
        agent = Agent(
            agent_id, {**info.info, "id": agent_id}, info.hostname, info.ip, info.port,
            info.resources, info.attributes, registered_time=old.registered_time if old else now,
            last_seen=now, next_ping=now + self.settings.agent_ping_timeout,
            stream_token=token,
            reserved_role=Role(info.reserved_role) if info.reserved_role else None,
        )  # fmt: skip
        if reregistered:
            agent.reregistered_time = now
        agent.deactivated = agent_id in self.agent_book.deactivated
        if old is not None:
            agent.tasks = old.tasks
        self.agent_book.add(agent)
        return agent

    def _recover_frameworks_from(self, infos: tuple[FrameworkInfo, ...], now: float) -> None:
        """Frameworks the agent runs tasks for but this master does not know (master
        restarted, or it came back from unreachability): keep them until they re-subscribe."""
        for info in infos:
            fid = info.id
            if fid is None or fid in self.frameworks or fid in self.framework_book.removed:
                continue
            fw = Framework(fid, {}, (), frozenset(), registered_time=now, recovered=True)
            fw.take_info(info, dict(info.json))
            self.frameworks[fw.id] = fw
            self.allocator.add_framework(
                fw.id, fw.roles, active=False, capabilities=fw.capabilities
            )
            if self.observed:
                self._observe(FrameworkAdded(fw))

    def _adopt_tasks(self, agent: Agent, reported: tuple[TaskRecord, ...], now: float) -> None:
        """Make the master's view of the agent's tasks match what it reports."""
        seen: set[tuple[FrameworkID, TaskID]] = set()
        shutdown: set[FrameworkID] = set()
        for rec in reported:
            fid, tid, state, status = rec.framework_id, rec.task_id, rec.state, rec.status
            fw = self.frameworks.get(fid)
            if fw is None:
                if fid in self.framework_book.removed:
                    shutdown.add(fid)
                continue
            seen.add((fid, tid))
            task = fw.tasks.get(tid) or fw.unreachable_tasks.pop(tid, None)
            returning = task is not None and tid not in fw.tasks
            if (
                task is None
                and tid in fw.completed_tasks
                and fw.completed_tasks[tid].state == (TaskState.TASK_LOST)
            ):
                task, returning = fw.completed_tasks.pop(tid), True
            added = task is None
            if task is None:
                task = self._task_from_record(fw, agent.id, rec)
            st = status if status is not None else {"state": state, "timestamp": now}
            self._set_task_status(task, {**st, "state": state})
            if added and self.observed:
                self._observe(TaskAdded(task))
            if is_terminal(state):  # ended while the agent was down: free its resources
                agent.tasks.pop((fid, tid), None)
                fw.complete(task)
                continue
            fw.tasks[tid] = task
            agent.tasks[(fid, tid)] = task
            if returning:
                self._reconciled_update(fw, task, now)
        for key, task in list(agent.tasks.items()):
            if key not in seen:
                agent.tasks.pop(key)
                fw = self.frameworks.get(task.framework_id)
                state = TaskState.TASK_DROPPED if fw and fw.partition_aware else TaskState.TASK_LOST
                if fw is None:
                    self._set_task_status(task, {"state": state, "timestamp": now})
                else:
                    message = "Task unknown to the agent after it re-registered"
                    self._unknown_to_agent(fw, task, agent.id, state, now, message)
        for task in self.agent_book.unreachable_tasks.pop(agent.id, []):
            fw = self.frameworks.get(task.framework_id)
            if fw is None or (task.framework_id, task.task_id) in seen:
                continue
            if fw.unreachable_tasks.get(task.task_id) is task:
                state = TaskState.TASK_GONE if fw.partition_aware else TaskState.TASK_LOST
                message = "Task unknown to the agent after it returned"
                self._unknown_to_agent(fw, task, agent.id, state, now, message)
        for fid in shutdown:
            self._out.append(
                ToAgent(agent.id, {"type": internal.SHUTDOWN_FRAMEWORK, "framework_id": fid})
            )

    def _unknown_to_agent(
        self, fw: Framework, task: Task, agent_id: AgentID, state: str, now: float, message: str
    ) -> None:
        """Called by `_adopt_tasks` for a task the re-registering agent no longer reports:
        set its status to `state`, complete it and tell its framework."""
        self._set_task_status(task, {"state": state, "timestamp": now})
        fw.complete(task)
        self._master_status(
            fw, task.task_id, state, agent_id, now,
            reason=Reason.REASON_AGENT_RESTARTED, message=message,
        )  # fmt: skip

    def _task_from_record(self, fw: Framework, agent_id: AgentID, rec: TaskRecord) -> Task:
        """A task the master did not know, as the re-registering agent reports it."""
        role = Role(rec.allocation_role) if rec.allocation_role else fw.roles[0]
        return Task(
            rec.task_id, fw.id, agent_id, rec.name, role, rec.resources, rec.task,
            executor_id=rec.executor_id,
        )  # fmt: skip

    def _reconciled_update(self, fw: Framework, task: Task, now: float) -> None:
        """A task came back with its agent: tell the framework its current state."""
        self._to_framework(
            fw,
            {
                "type": "UPDATE",
                "update": {
                    "status": self._reconcile_status(
                        task.task_id, task.state, task.agent_id, now, task
                    )
                },
            },
        )

    def _replace_same_address(self, info: AgentInfo, peer: str | None, now: float) -> str:
        """A fresh registration from an ip:port that a registered agent holds means that
        agent restarted without its state: its tasks are gone. Unless the old agent is
        still connected from another host than the one this registration comes from: then
        the registration is refused (the message; '' when it may go on)."""
        same = self.agent_book.at_address(info.ip, info.port)
        for agent in same:
            if agent.connected and None not in (peer, agent.peer) and agent.peer != peer:
                self._count("agent_calls_refused")
                return (f"{info.ip}:{info.port} is the address of connected agent {agent.id}, "
                        "which registered from another host")  # fmt: skip
        for agent in same:
            log.info("agent %s replaced by a new agent at %s:%s", agent.id, agent.ip, agent.port)
            self._lose_agent(agent, now, Reason.REASON_AGENT_RESTARTED, unreachable=False)
        return ""

    def _drop_agent_offers(self, agent: Agent) -> None:
        self._rescind_offers(agent.offers)

    def agent_disconnected(self, agent_id: AgentID, token: object, now: float) -> list[Action]:
        """The agent's stream ended: no offers of it until it re-subscribes; its tasks stay
        and pings keep counting towards unreachability."""
        self._begin()
        agent = self.agents.get(agent_id)
        if agent is None or agent.stream_token is not token or not agent.connected:
            return self._end()
        agent.connected = False
        self._drop_agent_offers(agent)
        self.allocator.deactivate_agent(agent.id)
        log.info("agent %s disconnected", agent.id)
        return self._end()

    def _agent_seen(self, agent_id: AgentID, secret: str | None, now: float) -> bool:
        """Any message from the agent (PONG, UPDATE ...) with its session secret proves it
        alive; False if the agent is not registered or the secret is not its own. Called by
        `agent_call` for every call."""
        agent = self.agents.get(agent_id)
        hashed = self.agent_book.secret_hashes.get(agent_id)
        if agent is None or hashed is None or not internal.secret_matches(secret, hashed):
            self._count("agent_calls_refused")
            return False
        agent.last_seen = now
        return True

    def _tick_agents(self, now: float) -> None:
        """Pings and ping timeouts; agents that did not re-register after a restart."""
        s = self.settings
        limit = s.agent_ping_timeout * s.max_agent_ping_timeouts
        for agent in list(self.agents.values()):
            if now - agent.last_seen >= limit:
                log.warning(
                    "agent %s missed %d pings: unreachable", agent.id, s.max_agent_ping_timeouts
                )
                self._lose_agent(agent, now, Reason.REASON_AGENT_REMOVED, unreachable=True)
            elif now >= agent.next_ping:
                self._to_agent(agent, {"type": internal.PING})
                agent.next_ping = now + s.agent_ping_timeout
        for aid in self.agent_book.overdue(now):
            self._out.append(Persist(MarkUnreachable(aid, now)))

    def _lose_agent(self, agent: Agent, now: float, reason: str, *, unreachable: bool) -> None:
        """Agent unreachable (or replaced): TASK_UNREACHABLE to partition-aware frameworks,
        TASK_LOST to others; FAILURE to every framework."""
        self._drop_agent_offers(agent)
        self.allocator.remove_agent(agent.id)
        self._allocate()
        self.agent_book.lost(agent, now, unreachable=unreachable)
        message = (
            f"Agent {agent.hostname} is unreachable"
            if unreachable
            else (f"Agent {agent.hostname} restarted")
        )
        for task in list(agent.tasks.values()):
            fw = self.frameworks.get(task.framework_id)
            pa = fw is not None and fw.partition_aware
            state = TaskState.TASK_UNREACHABLE if pa and unreachable else TaskState.TASK_LOST
            self._set_task_status(task, {"state": state, "timestamp": now})
            if fw is not None:
                fw.tasks.pop(task.task_id, None)
                if unreachable:
                    fw.unreachable_tasks[task.task_id] = task
                    self.agent_book.unreachable_tasks.setdefault(agent.id, []).append(task)
                else:
                    fw.complete(task)
            self._master_status(
                fw, task.task_id, state, agent.id, now, reason=reason, message=message
            )
        agent.tasks.clear()
        for fw in self.frameworks.values():
            self._to_framework(fw, {"type": "FAILURE", "failure": {"agent_id": wrap(agent.id)}})
        if agent.connected:
            self._out.append(CloseAgent(agent.id))
        if unreachable:
            self._out.append(Persist(MarkUnreachable(agent.id, now)))
        if self.observed:
            self._observe(AgentRemoved(agent.id))
        self._count("agents_lost")
