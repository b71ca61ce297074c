"""`MasterCore`: the sans-IO master (frameworks, agents, offers, tasks in one object).

Called by the master shell (`dcos.master.app`): `recover` once at start with the registry,
then `subscribe` / `scheduler_call` / `framework_disconnected` for schedulers,
`agent_subscribe` / `agent_updates` / `agent_seen` / `agent_disconnected` for agents,
`allocate(now)` every allocation interval (and soon after `take_allocation_request()` says
resources were freed), and `tick(now)` about once a second for timers. Each returns the
actions to carry out.
"""

from __future__ import annotations

from typing import Any

from dcos.master.core.agents import AgentError, AgentOutcome, AgentsMixin
from dcos.master.core.calls import Call, refuse_seconds
from dcos.master.core.frameworks import FrameworksMixin, SubscribeOutcome
from dcos.master.core.model import Action, Persist
from dcos.master.core.offers import OffersMixin
from dcos.master.core.tasks import TasksMixin
from dcos.protocol.ids import FrameworkID, Role
from dcos.protocol.resources import Resources
from dcos.state.registry import Registry, SetQuota, SetWeight

__all__ = ["AgentError", "AgentOutcome", "CallOutcome", "MasterCore", "SubscribeOutcome"]


class CallOutcome:
    """HTTP-level answer to a non-SUBSCRIBE call: 202, or an error status and message."""

    __slots__ = ("status", "message")

    def __init__(self, status: int = 202, message: str = "") -> None:
        self.status = status
        self.message = message


ACCEPTED = CallOutcome()


class MasterCore(FrameworksMixin, AgentsMixin, OffersMixin, TasksMixin):
    def recover(self, registry: Registry, now: float) -> None:
        """Load the registry at start: weights, quota, agents and frameworks to expect."""
        for role, w in registry.weights.items():
            self.allocator.set_weight(Role(role), w)
            self.weights[role] = w
        for role, q in registry.quota.items():
            self.quota[role] = Resources.from_dict(q)
            self.allocator.set_quota(Role(role), self.quota[role])
        self.recover_agents(registry.agents, registry.removed_agents, now)
        self.recover_frameworks(registry.frameworks, registry.completed_frameworks, now)

    def scheduler_call(
        self, call: Call, stream_id: str | None, now: float
    ) -> tuple[CallOutcome, list[Action]]:
        """Any call but SUBSCRIBE, already shape-checked by `parse_call`."""
        fw = self.frameworks.get(FrameworkID(call.framework_id or ""))
        if fw is None or not fw.connected:
            return CallOutcome(403, "Framework is not subscribed"), self._drain()
        if stream_id is None:
            return CallOutcome(
                400, "All non-subscribe calls should include the 'Mesos-Stream-Id' header"
            ), self._drain()
        if stream_id != fw.stream_id:
            return CallOutcome(
                400,
                f"The stream ID '{stream_id}' included in this request "
                "didn't match the stream ID currently associated with "
                f"framework ID {fw.id}",
            ), self._drain()
        b = call.body
        t = call.type
        if t == "ACCEPT":
            self.accept(fw, b, refuse_seconds(b), now)
        elif t == "DECLINE":
            self.decline(fw, [o["value"] for o in b["offer_ids"]], refuse_seconds(b), now)
        elif t == "ACKNOWLEDGE":
            self.acknowledge(fw, b)
        elif t == "KILL":
            self.kill(fw, b, now)
        elif t == "RECONCILE":
            self.reconcile(fw, b, now)
        elif t == "REVIVE":
            self.revive(fw, b.get("roles") or None)
        elif t == "SUPPRESS":
            self.suppress(fw, b.get("roles") or None)
        elif t == "TEARDOWN":
            self.teardown(fw, now)
        elif t == "MESSAGE":
            self.framework_message(fw, b)
        elif t == "SHUTDOWN":
            self.shutdown_executor(fw, b)
        # REQUEST, inverse offers, operation status calls, UPDATE_FRAMEWORK: accepted, no-op
        return ACCEPTED, self._drain()

    def set_weights(self, weights: dict[str, float]) -> list[Action]:
        """Operator UPDATE_WEIGHTS: tell the allocator and persist."""
        for role, w in weights.items():
            self.allocator.set_weight(Role(role), w)
            self._out.append(Persist(SetWeight(role, w)))
            self.weights[role] = w
        self.allocation_requested = True
        return self._drain()

    def set_quota(self, role: str, guarantee: Resources | None) -> list[Action]:
        """Operator SET_QUOTA / REMOVE_QUOTA (guarantee None)."""
        if guarantee is None:
            self.allocator.remove_quota(Role(role))
            self.quota.pop(role, None)
        else:
            self.allocator.set_quota(Role(role), guarantee)
            self.quota[role] = guarantee
        self._out.append(Persist(SetQuota(role, guarantee.to_dict() if guarantee else None)))
        self.allocation_requested = True
        return self._drain()

    def tick(self, now: float) -> list[Action]:
        """Timers: offer timeouts, pings and ping timeouts, failover timeouts, heartbeats."""
        self._tick_offers(now)
        self._tick_agents(now)
        self._tick_frameworks(now)
        return self._drain()

    def framework(self, framework_id: str) -> Any:
        return self.frameworks.get(FrameworkID(framework_id))
