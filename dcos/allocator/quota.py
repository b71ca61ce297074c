"""The allocation cycle when quota guarantees exist (Mesos' two stages).

Called by: `HierarchicalAllocator.allocate` when at least one role has a quota.

- Headroom: `required[k]` is the sum over quota roles of their unmet guarantee of scalar k
  (guarantee - allocated, offered included); `free[k]` is what is unallocated on active agents.
- Stage 1: agent by agent (shuffled), quota roles with an unmet guarantee (DRF order) get up
  to their unmet guarantee of each guaranteed scalar, plus the other resources of the agent
  as far as they do not cut into the headroom other roles still need.
- Stage 2: every role (DRF order) may get what is left, except what must stay free for
  the unmet guarantees of other roles: an offer leaves ``free[k] >= required[k]``.
- At most one allocation per (agent, role): a role served in stage 1 on an agent is
  skipped there in stage 2.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from dcos.allocator.interface import Allocation
from dcos.allocator.state import AgentState, RoleState, allocatable
from dcos.protocol.ids import AgentID, FrameworkID, Role
from dcos.protocol.resources import Resources


class QuotaView(Protocol):
    """What the quota stages read of the allocator, and the one change they make through it
    (`grant`); `HierarchicalAllocator` provides it."""

    def quota_roles(self) -> Iterable[RoleState]:
        """The roles with a quota, in a stable order."""
        ...

    def role_state(self, role: Role) -> RoleState: ...

    def roles_by_share(self) -> list[str]:
        """Role names, fairest first (a copy: granting re-sorts roles)."""
        ...

    def is_filtered(
        self, fid: FrameworkID, agent: AgentState, res: Resources, now: float
    ) -> bool: ...

    def grant(
        self, agent: AgentState, r: RoleState, fid: FrameworkID, res: Resources, out: list
    ) -> None: ...


class _Headroom:
    """Unmet guarantees and free scalars, updated as this cycle allocates."""

    def __init__(self, alloc: QuotaView, agents: list[AgentState]) -> None:
        self.unmet: dict[Role, dict[str, float]] = {}
        self.required: dict[str, float] = {}
        for r in alloc.quota_roles():
            role = r.name
            assert r.quota is not None
            need = {}
            for k, v in r.quota.scalars.items():
                gap = round(v - r.alloc.get(k, 0.0), 3)
                if gap > 0:
                    need[k] = gap
                    self.required[k] = round(self.required.get(k, 0.0) + gap, 3)
            if need:
                self.unmet[role] = need
        self.free: dict[str, float] = {}
        for a in agents:
            for k, v in a.available.scalars.items():
                self.free[k] = self.free.get(k, 0.0) + v

    def spare_for(self, role: Role, k: str) -> float | None:
        """How much of scalar k `role` may take without hurting other roles' guarantees
        (None: no limit)."""
        req = self.required.get(k, 0.0)
        if req <= 0:
            return None
        own = self.unmet.get(role, {}).get(k, 0.0)
        return max(0.0, self.free.get(k, 0.0) - (req - own))

    def take(self, role: Role, res: Resources) -> None:
        need = self.unmet.get(role)
        for k, v in res.scalars.items():
            self.free[k] = self.free.get(k, 0.0) - v
            if need and k in need:
                used = min(v, need[k])
                need[k] = round(need[k] - used, 3)
                self.required[k] = round(self.required[k] - used, 3)
                if need[k] <= 0:
                    del need[k]
        if need is not None and not need:
            del self.unmet[role]


def _capped(res: Resources, caps: dict[str, float]) -> Resources:
    if not caps:
        return res
    scalars = {k: min(v, caps[k]) if k in caps else v for k, v in res.scalars.items()}
    return Resources(scalars, res.ranges, res.sets)


def _stage1_offer(h: _Headroom, r: RoleState, avail: Resources) -> Resources:
    """What a quota role with an unmet guarantee may get from `avail` in stage 1."""
    need = h.unmet[r.name]
    guaranteed = r.quota.scalars if r.quota is not None else {}
    caps: dict[str, float] = {}
    for k in avail.scalars:
        if k in guaranteed:
            caps[k] = need.get(k, 0.0)
        else:
            spare = h.spare_for(r.name, k)
            if spare is not None:
                caps[k] = spare
    return _capped(avail, caps)


def _stage2_offer(h: _Headroom, r: RoleState, avail: Resources) -> Resources:
    caps: dict[str, float] = {}
    for k in avail.scalars:
        spare = h.spare_for(r.name, k)
        if spare is not None:
            caps[k] = spare
    return _capped(avail, caps)


def _pick(
    alloc: QuotaView, r: RoleState, agent: AgentState, res: Resources, now: float
) -> FrameworkID | None:
    for name in r.sorter.iter_sorted():
        fid = FrameworkID(name)
        if not alloc.is_filtered(fid, agent, res, now):
            return fid
    return None


def allocate_with_quota(
    alloc: QuotaView, agents: list[AgentState], now: float, out: list[Allocation]
) -> None:
    """Run both stages over `agents` (active agents, already shuffled), appending to `out`."""
    h = _Headroom(alloc, agents)
    served: set[tuple[AgentID, Role]] = set()
    for stage in (1, 2):
        for agent in agents:
            for name in alloc.roles_by_share():
                role = Role(name)
                if not allocatable(agent.available):
                    break
                if stage == 1 and role not in h.unmet:
                    continue
                if stage == 2 and (agent.id, role) in served:
                    continue
                if agent.reserved is not None and role != agent.reserved:
                    continue  # statically reserved to another role
                r = alloc.role_state(role)
                offer = (_stage1_offer if stage == 1 else _stage2_offer)(h, r, agent.available)
                if not allocatable(offer):
                    continue
                if stage == 1 and not any(offer.scalar(k) > 0 for k in h.unmet[role]):
                    continue
                fid = _pick(alloc, r, agent, agent.available, now)
                if fid is None:
                    continue
                alloc.grant(agent, r, fid, offer, out)
                h.take(role, offer)
                served.add((agent.id, role))
