"""The allocator contract: the master tells it facts and asks it for decisions.

Called by: the master core (`dcos.master`), only. The master calls the fact methods as
things happen (framework subscribed, agent registered, offer declined, task ended, ...)
and calls `allocate(now)` once per allocation batch interval (default 1 s) and promptly
when resources were freed. `allocate` returns at most one `Allocation` per (agent, role) --
the master turns each into one offer.

Accounting: offered resources count as allocated to the framework from the moment
`allocate` returns them until the master gives them back with `recover` (declined,
rescinded, or the unused part of an accepted offer; and later, when a task ends, the
task's resources). Resources in use when an agent (re-)registers are passed to
`add_agent` as `used`, also for frameworks the allocator does not know yet (after a master
failover agents often re-register before their frameworks re-subscribe).

The same state, the same `now` and the same seed give the same result (deterministic).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Protocol

from dcos.protocol.ids import AgentID, FrameworkID, Role
from dcos.protocol.resources import Resources

GPU_RESOURCES = "GPU_RESOURCES"
MULTI_ROLE = "MULTI_ROLE"

# Mesos' defaults: an offer must carry at least this much cpus OR mem to be made.
MIN_ALLOCATABLE_CPUS = 0.01
MIN_ALLOCATABLE_MEM = 32.0


@dataclass(frozen=True, slots=True)
class Allocation:
    """Resources of one agent granted to one framework under one of its roles."""

    framework_id: FrameworkID
    agent_id: AgentID
    role: Role
    resources: Resources


class Sorter(Protocol):
    """Orders clients (roles, or frameworks within a role) fairest-first.

    Used twice, as in Mesos: once over roles, once over the frameworks of each role.
    Implementations: DRF (weighted dominant resource fairness) and random.
    """

    def add(self, client: str) -> None: ...
    def remove(self, client: str) -> None: ...
    def activate(self, client: str) -> None: ...
    def deactivate(self, client: str) -> None: ...
    def update_weight(self, client: str, weight: float) -> None: ...
    def allocated(self, client: str, agent: AgentID, resources: Resources) -> None: ...
    def unallocated(self, client: str, agent: AgentID, resources: Resources) -> None: ...
    def add_agent(self, agent: AgentID, totals: Resources) -> None: ...
    def remove_agent(self, agent: AgentID) -> None: ...
    def sort(self) -> list[str]:
        """Active clients, fairest (lowest weighted dominant share) first."""
        ...

    def iter_sorted(self) -> Iterator[str]:
        """Like `sort()` without a copy (the allocator's hot loop); the caller must not
        change the sorter while it iterates."""
        ...


class Allocator(Protocol):
    def add_framework(
        self,
        framework_id: FrameworkID,
        roles: Iterable[Role],
        *,
        active: bool = True,
        suppressed_roles: Iterable[Role] = (),
        capabilities: Iterable[str] = (),
    ) -> None: ...

    def update_framework(
        self,
        framework_id: FrameworkID,
        roles: Iterable[Role],
        *,
        suppressed_roles: Iterable[Role] = (),
        capabilities: Iterable[str] = (),
    ) -> None: ...

    def remove_framework(self, framework_id: FrameworkID) -> None:
        """Forget the framework; its allocations are released."""
        ...

    def activate_framework(self, framework_id: FrameworkID) -> None: ...
    def deactivate_framework(self, framework_id: FrameworkID) -> None:
        """No offers while deactivated (scheduler disconnected, within failover timeout)."""
        ...

    def add_agent(
        self,
        agent_id: AgentID,
        total: Resources,
        used: Mapping[FrameworkID, Iterable[tuple[Role, Resources]]] | None = None,
        reserved_role: Role | None = None,
    ) -> None: ...

    def update_agent(self, agent_id: AgentID, total: Resources) -> None: ...
    def remove_agent(self, agent_id: AgentID) -> None: ...
    def activate_agent(self, agent_id: AgentID) -> None: ...
    def deactivate_agent(self, agent_id: AgentID) -> None:
        """No offers of this agent while deactivated (disconnected, unreachable)."""
        ...

    def recover(
        self,
        framework_id: FrameworkID,
        agent_id: AgentID,
        role: Role,
        resources: Resources,
        refuse_until: float | None = None,
    ) -> None:
        """Give `resources` back; with `refuse_until`, don't re-offer them to this framework
        on this agent before then (Mesos' refusal filter: an offer is filtered while what
        is available on the agent is contained in what was refused)."""
        ...

    def suppress(self, framework_id: FrameworkID, roles: Iterable[Role] | None = None) -> None:
        """Stop offers to the framework (for these roles; None = all its roles)."""
        ...

    def revive(self, framework_id: FrameworkID, roles: Iterable[Role] | None = None) -> None:
        """Undo suppress and clear every refusal filter of the framework (these roles)."""
        ...

    def set_quota(self, role: Role, guarantee: Resources) -> None: ...
    def remove_quota(self, role: Role) -> None: ...
    def set_weight(self, role: Role, weight: float) -> None: ...

    def allocate(self, now: float) -> list[Allocation]:
        """Decide this cycle's offers: roles by weighted DRF, then frameworks within each
        role; quota guarantees are held back for their roles; at most one allocation
        per (agent, role); nothing to inactive/suppressed frameworks or filtered agents."""
        ...
