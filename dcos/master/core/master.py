"""`MasterCore`: the sans-IO master (frameworks, agents, offers, tasks in one object).

Called by the master shell (`dcos.master.shell.MasterShell`): `recover` once at start with
the registry, then `subscribe` / `scheduler_call` / `framework_disconnected` for schedulers,
`agent_subscribe` / `agent_call` / `agent_disconnected` for agents, `operator_call` for
operators' writes, `observe` when operator subscribers come and go, `allocate(now)` every allocation interval (and soon after an
`AllocateSoon` action), and `tick(now)` about once a second for timers. Each takes typed
inputs (`dcos.master.core.calls`, `dcos.protocol.internal`) and returns the actions to
carry out (`model.Action`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dcos.master.core.agent_ops import AgentOpsMixin
from dcos.master.core.agents import AgentOutcome, AgentsMixin
from dcos.master.core.base import CallOutcome
from dcos.master.core.calls import (
    Accept,
    Acknowledge,
    Decline,
    Ignored,
    Kill,
    Message,
    Reconcile,
    Revive,
    SchedulerCall,
    Shutdown,
    Suppress,
    Teardown,
)
from dcos.master.core.frameworks import FrameworksMixin, SubscribeOutcome
from dcos.master.core.model import Action, Framework, Persist
from dcos.master.core.offers import OffersMixin
from dcos.master.core.operator_calls import (
    DeactivateAgent,
    MarkAgentGone,
    OperatorWrite,
    ReactivateAgent,
    RemoveQuota,
    SetQuota,
    TeardownFramework,
    UpdateWeights,
)
from dcos.master.core.tasks import TasksMixin
from dcos.protocol import internal
from dcos.protocol.ids import Role
from dcos.protocol.internal import (
    AgentCall,
    AgentUpdate,
    ExecutorExited,
    ExecutorMessage,
    Pong,
)
from dcos.protocol.resources import Resources
from dcos.state.registry import Registry, SetWeight
from dcos.state.registry import SetQuota as PersistQuota

__all__ = ["AgentOutcome", "CallOutcome", "MasterCore", "SubscribeOutcome"]


ACCEPTED = CallOutcome()
OK = CallOutcome(200)

_NOT_THE_AGENT = (
    "Unknown agent, or the call does not carry the agent's session secret "
    f"({internal.SECRET_HEADER}): re-register"
)
STANDARD_SCALARS = frozenset({"cpus", "mem", "disk", "gpus"})

_CallHandler = Callable[["MasterCore", Framework, Any, float], None]
_AgentHandler = Callable[["MasterCore", Any, float], None]


class MasterCore(FrameworksMixin, AgentsMixin, AgentOpsMixin, OffersMixin, TasksMixin):
    def recover(self, registry: Registry, now: float) -> list[Action]:
        """Load the registry at start: weights, quota, agents and frameworks to expect."""
        self._begin()
        for role, w in registry.weights.items():
            self.allocator.set_weight(Role(role), w)
            self.weights[role] = w
        for role, q in registry.quota.items():
            self.quota[role] = Resources.from_dict(q)
            self.allocator.set_quota(Role(role), self.quota[role])
        self._recover_agents(
            registry.agents, registry.removed_agents, now, registry.deactivated_agents
        )
        self._recover_frameworks(registry.frameworks, registry.completed_frameworks, now)
        return self._end()

    def scheduler_call(
        self, call: SchedulerCall, stream_id: str | None, now: float
    ) -> tuple[CallOutcome, list[Action]]:
        """Any call but SUBSCRIBE (typed by `parse_call`); answered through `_CALLS`."""
        self._begin()
        fw = self.frameworks.get(call.framework_id)
        if fw is None or not fw.connected:
            return CallOutcome(403, "Framework is not subscribed"), self._end()
        if stream_id is None:
            return CallOutcome(
                400, "All non-subscribe calls should include the 'Mesos-Stream-Id' header"
            ), self._end()
        if stream_id != fw.stream_id:
            return CallOutcome(
                400,
                f"The stream ID '{stream_id}' included in this request "
                "didn't match the stream ID currently associated with "
                f"framework ID {fw.id}",
            ), self._end()
        _CALLS[type(call)](self, fw, call, now)
        return ACCEPTED, self._end()

    def agent_call(
        self, msg: AgentCall, now: float, secret: str | None = None
    ) -> tuple[CallOutcome, list[Action]]:
        """UPDATE, PONG, MESSAGE, EXITED_EXECUTOR from an agent (typed by
        `dcos.protocol.internal.parse_agent_call`); answered through `_AGENT_CALLS`.
        `secret` is the session secret the call carried: 403 and nothing changes unless it
        is the registered agent's own."""
        self._begin()
        if not self._agent_seen(msg.agent_id, secret, now):
            return CallOutcome(403, _NOT_THE_AGENT), self._end()
        _AGENT_CALLS[type(msg)](self, msg, now)
        return ACCEPTED, self._end()

    def operator_call(self, call: OperatorWrite, now: float) -> tuple[CallOutcome, list[Action]]:
        """UPDATE_WEIGHTS, SET_QUOTA, REMOVE_QUOTA, TEARDOWN, DEACTIVATE_AGENT,
        REACTIVATE_AGENT, MARK_AGENT_GONE (typed by `parse_operator_write`), answered through
        `_OPERATOR_CALLS`: tell the allocator and persist; 400 for removing a quota that is
        not set or tearing down an unknown framework; unknown agents: `agent_ops`."""
        self._begin()
        outcome = _OPERATOR_CALLS[type(call)](self, call, now)
        return outcome, self._end()

    def update_weights(self, call: UpdateWeights, now: float) -> CallOutcome:
        for role, w in call.weights.items():
            self.allocator.set_weight(Role(role), w)
            self._out.append(Persist(SetWeight(role, w)))
            self.weights[role] = w
        self._allocate()
        return OK

    def set_quota(self, call: SetQuota, now: float) -> CallOutcome:
        """SET_QUOTA, unless the guarantee names a resource no agent has or (without
        `force`) the cluster cannot satisfy every role's quota (`_quota_error`)."""
        why = self._quota_error(call)
        if why:
            return CallOutcome(400, why)
        self.allocator.set_quota(Role(call.role), call.guarantee)
        self.quota[call.role] = call.guarantee
        self._out.append(Persist(PersistQuota(call.role, call.guarantee.to_dict() or None)))
        self._allocate()
        return OK

    def _quota_error(self, call: SetQuota) -> str:
        """Mesos' capacity heuristic: the sum of every role's guarantee, this one's new one
        included, must fit in the total resources of the registered agents ('' when it
        does, or when `force` says to skip it)."""
        total = Resources.empty()
        for agent in self.agents.values():
            total = total + agent.total
        unknown = sorted(set(call.guarantee.scalars) - set(total.scalars) - STANDARD_SCALARS)
        if unknown:
            return f"Quota guarantee names unknown resources: {', '.join(unknown)}"
        if call.force:
            return ""
        wanted = call.guarantee
        for role, q in self.quota.items():
            if role != call.role:
                wanted = wanted + q
        if not total.contains(wanted):
            return (
                "Not enough available cluster capacity to reasonably satisfy quota request: "
                f"the quota of all roles would be {wanted} but the agents have {total}; "
                "the 'force' flag can be used to override this check"
            )
        return ""

    def remove_quota(self, call: RemoveQuota, now: float) -> CallOutcome:
        if call.role not in self.quota:
            return CallOutcome(400, "Expecting 'remove_quota.role' to name a role with quota")
        self.allocator.remove_quota(Role(call.role))
        del self.quota[call.role]
        self._out.append(Persist(PersistQuota(call.role, None)))
        self._allocate()
        return OK

    def teardown_framework(self, call: TeardownFramework, now: float) -> CallOutcome:
        """The operator's TEARDOWN: remove the framework (connected, disconnected, or
        recovered from the registry and not re-subscribed yet) and kill its tasks."""
        fw = self.frameworks.get(call.framework_id)
        if fw is None:
            return CallOutcome(400, "No framework found with specified ID")
        self._remove_framework(fw, now)
        return OK

    def observe(self, on: bool) -> int:
        """Operators subscribe (on: from now on every change also comes out as an
        `Observed` action, `dcos.master.core.observed`) or none is left (off: no such
        action is made, the hot path pays one flag test). Returns the number of the last
        observed event: a new subscriber's snapshot, taken now, shows everything up to it."""
        self.observed = on
        return self.observed_seq

    def tick(self, now: float) -> list[Action]:
        """Timers: offer timeouts, pings and ping timeouts, failover timeouts, heartbeats."""
        self._begin()
        self._tick_offers(now)
        self._tick_agents(now)
        self._tick_frameworks(now)
        return self._end()

    def ignored(self, fw: Framework, call: Ignored, now: float) -> None:
        """REQUEST, inverse offers, operation status calls, UPDATE_FRAMEWORK: accepted,
        nothing to do."""

    def pong(self, msg: Pong, now: float) -> None:
        """PONG: `agent_call` already noted the agent alive."""


_CALLS: dict[type, _CallHandler] = {
    Accept: MasterCore.accept,
    Decline: MasterCore.decline,
    Acknowledge: MasterCore.acknowledge,
    Kill: MasterCore.kill,
    Reconcile: MasterCore.reconcile,
    Revive: MasterCore.revive,
    Suppress: MasterCore.suppress,
    Teardown: MasterCore.teardown,
    Message: MasterCore.framework_message,
    Shutdown: MasterCore.shutdown_executor,
    Ignored: MasterCore.ignored,
}

_OPERATOR_CALLS: dict[type, Callable[[MasterCore, Any, float], CallOutcome]] = {
    UpdateWeights: MasterCore.update_weights,
    SetQuota: MasterCore.set_quota,
    RemoveQuota: MasterCore.remove_quota,
    TeardownFramework: MasterCore.teardown_framework,
    DeactivateAgent: MasterCore.deactivate_agent,
    ReactivateAgent: MasterCore.reactivate_agent,
    MarkAgentGone: MasterCore.mark_agent_gone,
}

_AGENT_CALLS: dict[type, _AgentHandler] = {
    AgentUpdate: MasterCore.agent_updates,
    Pong: MasterCore.pong,
    ExecutorMessage: MasterCore.executor_message,
    ExecutorExited: MasterCore.executor_exited,
}
