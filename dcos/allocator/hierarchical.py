"""`HierarchicalAllocator`: Mesos' hierarchical DRF allocator, sans-IO.

Called by: the master core. It tells the allocator facts (frameworks, agents, recovered
resources, suppress/revive, quota, weights) and calls `allocate(now)` once per batch
interval and when resources were freed; each returned `Allocation` becomes one offer.

Decisions, as in Mesos:
- Agents are visited in a seeded shuffled order each cycle. For each agent, roles are taken
  by weighted DRF (role sorter), then the frameworks of the role by DRF (one sorter per role);
  the first framework that wants offers and is not filtered on the agent gets everything
  available on it. At most one `Allocation` per (agent, role) per cycle.
- Quota: a role's unmet guarantee is offered to it first (stage 1) and is held back from
  every other role (stage 2 never cuts into the headroom still needed by quota roles).
- Refusal filters per (framework, agent) until `refuse_until`; an agent with gpus only goes
  to frameworks with the GPU_RESOURCES capability; an offer must be min-allocatable.
- Static reservation of a whole agent (`add_agent(..., reserved_role=R)`): its resources go
  only to role R (frameworks subscribed with R, allocated under R); unreserved agents go to
  every role. (Quota headroom counts reserved agents' free resources as Mesos does not.)

Incremental: per-agent available resources are kept up to date on every event; sorters are
updated per allocation change; only agents touched since the last cycle ("dirty") are
visited (an untouched agent either had nothing left or nobody wanting it, and neither can
change without an event that marks it dirty). With quota configured every agent is visited.
"""

from __future__ import annotations

import heapq
import itertools
import random
from collections.abc import Iterable, Iterator, Mapping
from typing import cast

from dcos.allocator.interface import Allocation
from dcos.allocator.quota import allocate_with_quota
from dcos.allocator.sorter import DRFSorter, RandomSorter, ResourcePool
from dcos.allocator.state import (
    EMPTY,
    AgentState,
    Filter,
    FrameworkState,
    RoleState,
    add_scalars,
    allocatable,
)
from dcos.protocol.ids import AgentID, FrameworkID, Role
from dcos.protocol.resources import Resources

Sorter = DRFSorter | RandomSorter


class HierarchicalAllocator:
    """The allocator the master uses (see module docstring); `sorter` is "drf" or "random"."""

    def __init__(self, seed: int = 0, sorter: str = "drf") -> None:
        if sorter not in ("drf", "random"):
            raise ValueError(f"unknown sorter {sorter!r}: expected 'drf' or 'random'")
        self._seed = seed
        self._kind = sorter
        self._rng = random.Random(seed)
        self._pool = ResourcePool()
        self.role_sorter: Sorter = self._new_sorter("")
        self._roles: dict[Role, RoleState] = {}
        self._frameworks: dict[FrameworkID, FrameworkState] = {}
        self._agents: dict[AgentID, AgentState] = {}
        # where each framework (known or not yet added) holds allocations
        self._fw_agents: dict[FrameworkID, set[AgentID]] = {}
        self._dirty: set[AgentID] = set()
        self._all_dirty = False
        self._filter_heap: list[tuple[float, int, FrameworkID, AgentID]] = []
        self._counter = itertools.count()
        self._quota_roles: set[Role] = set()

    # -- frameworks ------------------------------------------------------------------

    def add_framework(
        self,
        framework_id: FrameworkID,
        roles: Iterable[Role],
        *,
        active: bool = True,
        suppressed_roles: Iterable[Role] = (),
        capabilities: Iterable[str] = (),
    ) -> None:
        """A framework subscribed. Allocations recorded for it earlier (agents re-registering
        with `used` before it re-subscribed) are attributed to it now. Adding a known
        framework again updates it."""
        fw = self._frameworks.get(framework_id)
        if fw is not None:
            self.update_framework(
                framework_id, roles, suppressed_roles=suppressed_roles, capabilities=capabilities
            )
            fw.active = active
            self._sync_all(fw)
            return
        fw = FrameworkState(
            framework_id, set(roles), set(suppressed_roles), frozenset(capabilities), active
        )
        self._frameworks[framework_id] = fw
        for role in sorted(fw.roles):
            self._track(fw, role)
        held = self._fw_agents.get(framework_id, set())
        for aid in sorted(held, key=lambda a: self._agents[a].seq):
            agent = self._agents[aid]
            for key in [k for k in agent.alloc if k[0] == framework_id]:
                self._track(fw, key[1])
                res = agent.merged(key)
                self._roles[key[1]].sorter.allocated(framework_id, aid, res)
        self._all_dirty = True

    def update_framework(
        self,
        framework_id: FrameworkID,
        roles: Iterable[Role],
        *,
        suppressed_roles: Iterable[Role] = (),
        capabilities: Iterable[str] = (),
    ) -> None:
        """The framework changed its roles, suppressed roles or capabilities (an unknown
        framework is added, active)."""
        fw = self._frameworks.get(framework_id)
        if fw is None:
            self.add_framework(
                framework_id, roles, suppressed_roles=suppressed_roles, capabilities=capabilities
            )
            return
        fw.roles = set(roles)
        fw.suppressed = set(suppressed_roles)
        fw.capabilities = frozenset(capabilities)
        for role in sorted(fw.roles):
            self._track(fw, role)
        self._sync_all(fw)
        self._all_dirty = True

    def remove_framework(self, framework_id: FrameworkID) -> None:
        """Forget the framework; its allocations go back to their agents, its filters go."""
        for aid in sorted(self._fw_agents.pop(framework_id, set())):
            agent = self._agents[aid]
            for key in [k for k in agent.alloc if k[0] == framework_id]:
                res = agent.merged(key)
                del agent.alloc[key]
                agent.available = agent.available + res
                self.role_sorter.unallocated(key[1], aid, res)
                if self._roles[key[1]].quota is not None:
                    add_scalars(self._roles[key[1]].alloc, res, -1)
            self._dirty.add(aid)
        fw = self._frameworks.pop(framework_id, None)
        if fw is None:
            return
        for role in fw.tracked:
            r = self._roles[role]
            if role in fw.eligible:
                self._set_eligible(fw, r, False)
            r.sorter.remove(framework_id)
        for aid in fw.filter_agents:
            self._agents[aid].filters.pop(framework_id, None)

    def activate_framework(self, framework_id: FrameworkID) -> None:
        fw = self._frameworks.get(framework_id)
        if fw is not None:
            fw.active = True
            self._sync_all(fw)

    def deactivate_framework(self, framework_id: FrameworkID) -> None:
        """No offers while deactivated; its allocations and filters are kept."""
        fw = self._frameworks.get(framework_id)
        if fw is not None:
            fw.active = False
            self._sync_all(fw)

    # -- agents ----------------------------------------------------------------------

    def add_agent(
        self,
        agent_id: AgentID,
        total: Resources,
        used: Mapping[FrameworkID, Iterable[tuple[Role, Resources]]] | None = None,
        reserved_role: Role | None = None,
    ) -> None:
        """An agent (re-)registered with `total`, part of it in use by frameworks (which
        may be unknown yet); `reserved_role`: the whole agent is statically reserved to that
        role (offered to it only; None or ``*``: unreserved). A known agent is replaced."""
        if agent_id in self._agents:
            self.remove_agent(agent_id)
        seq = next(self._counter)
        reserved = reserved_role if reserved_role and reserved_role != "*" else None
        agent = AgentState(
            agent_id, seq, total, EMPTY, gpus=total.scalar("gpus") > 0, reserved=reserved
        )
        self._agents[agent_id] = agent
        used_sum = EMPTY
        for fid, items in (used or {}).items():
            for role, res in items:
                if not res:
                    continue
                agent.alloc.setdefault((fid, role), []).append(res)
                used_sum = used_sum + res
                self._account(agent, fid, self._role(role), res, +1)
        agent.available = total - used_sum
        self._pool.add_agent(agent_id, total)
        self._dirty.add(agent_id)

    def update_agent(self, agent_id: AgentID, total: Resources) -> None:
        """The agent's total changed; allocations are kept, available is recomputed."""
        agent = self._agents.get(agent_id)
        if agent is None:
            return
        agent.total = total
        agent.gpus = total.scalar("gpus") > 0
        agent.available = total - agent.allocated_total()
        self._pool.add_agent(agent_id, total)
        self._dirty.add(agent_id)

    def remove_agent(self, agent_id: AgentID) -> None:
        """The agent is gone: its allocations and filters are dropped."""
        agent = self._agents.pop(agent_id, None)
        if agent is None:
            return
        for key in list(agent.alloc):
            fid, role = key
            res = agent.merged(key)
            self._account(agent, fid, self._roles[role], res, -1)
            held = self._fw_agents.get(fid)
            if held is not None:
                held.discard(agent_id)
                if not held:
                    del self._fw_agents[fid]
        for fid in agent.filters:
            self._frameworks[fid].filter_agents.discard(agent_id)
        self._pool.remove_agent(agent_id)
        self._dirty.discard(agent_id)

    def activate_agent(self, agent_id: AgentID) -> None:
        agent = self._agents.get(agent_id)
        if agent is not None:
            agent.active = True
            self._dirty.add(agent_id)

    def deactivate_agent(self, agent_id: AgentID) -> None:
        """No offers of this agent while deactivated (disconnected, unreachable)."""
        agent = self._agents.get(agent_id)
        if agent is not None:
            agent.active = False

    # -- resources back, suppress/revive ----------------------------------------------

    def recover(
        self,
        framework_id: FrameworkID,
        agent_id: AgentID,
        role: Role,
        resources: Resources,
        refuse_until: float | None = None,
    ) -> None:
        """Give back `resources` (never more than the framework holds there under `role`);
        with `refuse_until`, install a refusal filter for (framework, agent)."""
        agent = self._agents.get(agent_id)
        if agent is None or not resources:
            return
        key = (framework_id, role)
        cur = agent.merged(key)
        if cur:
            if resources is cur or resources == cur:  # a whole offer declined
                left, back = EMPTY, cur
            else:
                left = cur - resources
                back = cur - left
            if left:
                agent.alloc[key] = [left]
            else:
                del agent.alloc[key]
                if not any(k[0] == framework_id for k in agent.alloc):
                    held = self._fw_agents[framework_id]
                    held.discard(agent_id)
                    if not held:
                        del self._fw_agents[framework_id]
            if back:
                agent.available = agent.available + back
                self._account(agent, framework_id, self._roles[role], back, -1)
                self._dirty.add(agent_id)
        fw = self._frameworks.get(framework_id)
        if refuse_until is not None and fw is not None:
            agent.filters[framework_id] = Filter(resources, refuse_until)
            fw.filter_agents.add(agent_id)
            entry = (refuse_until, next(self._counter), framework_id, agent_id)
            heapq.heappush(self._filter_heap, entry)

    def suppress(self, framework_id: FrameworkID, roles: Iterable[Role] | None = None) -> None:
        fw = self._frameworks.get(framework_id)
        if fw is not None:
            fw.suppressed |= set(fw.roles if roles is None else roles)
            self._sync_all(fw)

    def revive(self, framework_id: FrameworkID, roles: Iterable[Role] | None = None) -> None:
        """Undo suppress (for these roles) and clear every refusal filter of the framework."""
        fw = self._frameworks.get(framework_id)
        if fw is None:
            return
        fw.suppressed -= set(fw.roles if roles is None else roles)
        for aid in fw.filter_agents:
            self._agents[aid].filters.pop(framework_id, None)
            self._dirty.add(aid)
        fw.filter_agents.clear()
        self._sync_all(fw)

    # -- quota and weights ------------------------------------------------------------

    def set_quota(self, role: Role, guarantee: Resources) -> None:
        """Guarantee `guarantee` to `role`: held back from other roles until it is used."""
        r = self._role(role)
        if r.quota is None and guarantee:
            r.alloc = self._role_allocation(role)  # tracked only while the role has quota
        r.quota = guarantee if guarantee else None
        if r.quota is None:
            r.alloc = {}
            self._quota_roles.discard(role)
        else:
            self._quota_roles.add(role)
        self._all_dirty = True

    def remove_quota(self, role: Role) -> None:
        r = self._roles.get(role)
        if r is not None:
            r.quota = None
            r.alloc = {}
        self._quota_roles.discard(role)
        self._all_dirty = True

    def set_weight(self, role: Role, weight: float) -> None:
        """Role weight for DRF (share / weight); must be positive."""
        if not weight > 0:
            raise ValueError(f"weight must be positive, got {weight!r}")
        r = self._role(role)
        r.weight = float(weight)
        self.role_sorter.update_weight(role, r.weight)

    # -- the decision ------------------------------------------------------------------

    def allocate(self, now: float) -> list[Allocation]:
        """Decide this cycle's offers (see module docstring); deterministic for the same
        history of events, `now` and seed."""
        self._expire_filters(now)
        if self._quota_roles:
            cand = [a for a in self._agents.values() if a.active]
        elif self._all_dirty:
            cand = [a for a in self._agents.values() if a.active and allocatable(a.available)]
        else:
            agents = self._agents
            cand = [agents[aid] for aid in self._dirty]
            cand = [a for a in cand if a.active and allocatable(a.available)]
            cand.sort(key=_seq)
        self._dirty.clear()
        self._all_dirty = False
        self._rng.shuffle(cand)
        out: list[Allocation] = []
        if self._quota_roles:
            allocate_with_quota(self, cand, now, out)
            return out
        role_order = self.role_sorter.iter_sorted
        roles = self._roles
        frameworks = self._frameworks
        for agent in cand:
            avail = agent.available
            filters = agent.filters
            gpus = agent.gpus
            chosen = None
            reserved = agent.reserved
            for role in role_order() if reserved is None else _only(roles, reserved):
                r = roles[role]  # type: ignore[index]
                for fid in cast(Iterator[FrameworkID], r.sorter.iter_sorted()):
                    f = filters.get(fid)
                    if f is not None and now < f.until:
                        refused = f.refused  # often the very object offered and declined
                        if refused is avail or refused.contains(avail):
                            continue
                    if gpus and not frameworks[fid].gpu:
                        continue
                    chosen = fid
                    break
                if chosen is not None:
                    self.grant(agent, r, chosen, avail, out)
                    break
        return out

    # -- the quota stage's view (`dcos.allocator.quota.QuotaView`) -----------------------

    def quota_roles(self) -> list[RoleState]:
        return [self._roles[role] for role in sorted(self._quota_roles)]

    def role_state(self, role: Role) -> RoleState:
        return self._roles[role]

    def roles_by_share(self) -> list[str]:
        return self.role_sorter.sort()


    def grant(
        self, agent: AgentState, r: RoleState, fid: FrameworkID, res: Resources, out: list
    ) -> None:
        """Allocate `res` of `agent` to framework `fid` under role `r` (one offer)."""
        chunks = agent.alloc.get((fid, r.name))
        if chunks is None:
            agent.alloc[(fid, r.name)] = [res]
        else:
            chunks.append(res)
        agent.available = EMPTY if res is agent.available else agent.available - res
        held = self._fw_agents.get(fid)
        if held is None:
            self._fw_agents[fid] = {agent.id}
        else:
            held.add(agent.id)
        self.role_sorter.allocated(r.name, agent.id, res)
        r.sorter.allocated(fid, agent.id, res)
        if r.quota is not None:
            add_scalars(r.alloc, res, 1)
        out.append(Allocation(fid, agent.id, r.name, res))

    def is_filtered(self, fid: FrameworkID, agent: AgentState, res: Resources, now: float) -> bool:
        """True when (framework, agent) must be skipped: gpus without the capability, or
        a live refusal filter that contains `res`."""
        if agent.gpus and not self._frameworks[fid].gpu:
            return True
        f = agent.filters.get(fid)
        return f is not None and now < f.until and f.refused.contains(res)

    def _account(
        self, agent: AgentState, fid: FrameworkID, r: RoleState, res: Resources, sign: int
    ) -> None:
        """Book `res` as allocated (+1) or released (-1) in the sorters and role totals."""
        fw = self._frameworks.get(fid)
        if sign > 0:
            held = self._fw_agents.setdefault(fid, set())
            held.add(agent.id)
            self.role_sorter.allocated(r.name, agent.id, res)
            if fw is not None:
                self._track(fw, r.name)
                r.sorter.allocated(fid, agent.id, res)
        else:
            self.role_sorter.unallocated(r.name, agent.id, res)
            if fw is not None and r.name in fw.tracked:
                r.sorter.unallocated(fid, agent.id, res)
        if r.quota is not None:
            add_scalars(r.alloc, res, sign)

    def _role_allocation(self, role: Role) -> dict[str, float]:
        """The scalars allocated to `role`, summed from scratch (on set_quota only)."""
        out: dict[str, float] = {}
        for agent in self._agents.values():
            for key in list(agent.alloc):
                if key[1] == role:
                    add_scalars(out, agent.merged(key), 1)
        return out

    def _new_sorter(self, name: str) -> Sorter:
        if self._kind == "drf":
            return DRFSorter(self._pool)
        return RandomSorter(f"{self._seed}/{name}")

    def _role(self, role: Role) -> RoleState:
        r = self._roles.get(role)
        if r is None:
            r = RoleState(role, self._new_sorter(role))
            self._roles[role] = r
            self.role_sorter.add(role)
            self.role_sorter.deactivate(role)  # active only while a framework wants offers
        return r

    def _track(self, fw: FrameworkState, role: Role) -> None:
        """Make sure the role's sorter holds `fw`, then sync its active state."""
        if role not in fw.tracked:
            r = self._role(role)
            r.sorter.add(fw.id)
            r.sorter.deactivate(fw.id)
            fw.tracked.add(role)
        self._sync(fw, role)

    def _sync_all(self, fw: FrameworkState) -> None:
        for role in sorted(fw.tracked):
            self._sync(fw, role)

    def _sync(self, fw: FrameworkState, role: Role) -> None:
        want = fw.wants_offers(role)
        if want != (role in fw.eligible):
            self._set_eligible(fw, self._roles[role], want)

    def _set_eligible(self, fw: FrameworkState, r: RoleState, on: bool) -> None:
        if on:
            r.sorter.activate(fw.id)
            fw.eligible.add(r.name)
            r.eligible += 1
            if r.eligible == 1:
                self.role_sorter.activate(r.name)
            self._all_dirty = True
        else:
            r.sorter.deactivate(fw.id)
            fw.eligible.discard(r.name)
            r.eligible -= 1
            if r.eligible == 0:
                self.role_sorter.deactivate(r.name)

    def _expire_filters(self, now: float) -> None:
        heap = self._filter_heap
        while heap and heap[0][0] <= now:
            _, _, fid, aid = heapq.heappop(heap)
            agent = self._agents.get(aid)
            f = agent.filters.get(fid) if agent is not None else None
            if f is not None and f.until <= now:
                del agent.filters[fid]  # type: ignore[union-attr]
                self._frameworks[fid].filter_agents.discard(aid)
                self._dirty.add(aid)

    # -- read-only views (master /state, tests) -----------------------------------------

    def available(self, agent_id: AgentID) -> Resources:
        """What is neither allocated nor offered on the agent (empty if unknown)."""
        agent = self._agents.get(agent_id)
        return agent.available if agent is not None else EMPTY

    def allocation(self, agent_id: AgentID) -> dict[tuple[FrameworkID, Role], Resources]:
        """Allocated + offered resources on the agent, per (framework, role)."""
        agent = self._agents.get(agent_id)
        if agent is None:
            return {}
        return {k: agent.merged(k) for k in list(agent.alloc)}

    def framework_allocation(self, fid: FrameworkID) -> dict[tuple[AgentID, Role], Resources]:
        out = {}
        for aid in sorted(self._fw_agents.get(fid, ())):
            for (f, role), _ in list(self._agents[aid].alloc.items()):
                if f == fid:
                    out[(aid, role)] = self._agents[aid].merged((f, role))
        return out

    def has_filter(self, fid: FrameworkID, agent_id: AgentID) -> bool:
        agent = self._agents.get(agent_id)
        return agent is not None and fid in agent.filters

    def framework_sorter(self, role: Role) -> Sorter | None:
        r = self._roles.get(role)
        return r.sorter if r is not None else None

    def quota(self, role: Role) -> Resources | None:
        r = self._roles.get(role)
        return r.quota if r is not None else None

    def weight(self, role: Role) -> float:
        r = self._roles.get(role)
        return r.weight if r is not None else 1.0


def _only(roles: Mapping[Role, RoleState], role: Role) -> list[Role]:
    """The role order of an agent reserved to `role`: that role alone, if it is known."""
    return [role] if role in roles else []


def _seq(agent: AgentState) -> int:
    return agent.seq
