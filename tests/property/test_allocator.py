"""Stateful property tests of HierarchicalAllocator against a small model of the facts.

The machine drives the allocator with random events and checks after every step:
- per agent, allocated (offered included) + available never exceeds the total;
- nothing is offered to an inactive or suppressed framework, or from an inactive agent,
  or a gpu agent to a framework without GPU_RESOURCES, and at most one offer per (agent, role);
- a refusal filter holds until it expires, and (without quota) an agent that some framework
  wants and is not filtered for gets offered (so filters do not outlive their expiry);
- the DRF order of roles and of each role's frameworks matches a brute-force reference.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from dcos.allocator import GPU_RESOURCES, HierarchicalAllocator
from dcos.allocator.state import allocatable
from dcos.protocol.ids import AgentID, FrameworkID, Role
from dcos.protocol.resources import Resources

FRAMEWORKS = [FrameworkID(f"f{i}") for i in range(4)]
AGENTS = [AgentID(f"a{i}") for i in range(5)]
ROLES = [Role("r1"), Role("r2"), Role("*")]
TOTALS = [
    Resources.parse("cpus:4;mem:1024;ports:[31000-31010]"),
    Resources.parse("cpus:2;mem:512;disk:100"),
    Resources.parse("cpus:8;mem:256;gpus:1"),
    Resources.parse("cpus:0.005;mem:16"),
]
USED = [Resources.parse("cpus:1;mem:128"), Resources.parse("cpus:0.5;mem:64;ports:[31000-31002]")]


@dataclass
class FwModel:
    roles: set[Role]
    suppressed: set[Role] = field(default_factory=set)
    active: bool = True
    gpu: bool = False

    def wants(self, role: Role) -> bool:
        return self.active and role in self.roles and role not in self.suppressed


def dominant(alloc: dict[str, float], totals: dict[str, float], weight: float) -> float:
    best = 0.0
    for k, v in alloc.items():
        if totals.get(k):
            best = max(best, v / totals[k])
    return best / weight


def add_into(d: dict[str, float], r: Resources) -> None:
    for k, v in r.scalars.items():
        d[k] = round(d.get(k, 0.0) + v, 3)


class AllocatorMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.al = HierarchicalAllocator(seed=1)
        self.now = 0.0
        self.fws: dict[FrameworkID, FwModel] = {}
        self.agents: dict[AgentID, Resources] = {}
        self.agent_active: dict[AgentID, bool] = {}
        self.filters: dict[tuple[FrameworkID, AgentID], tuple[Resources, float]] = {}
        self.weights: dict[Role, float] = {}
        self.has_quota = False
        self.last_offers: list = []

    @initialize(n_agents=st.integers(1, 3), n_frameworks=st.integers(1, 2))
    def populate(self, n_agents, n_frameworks) -> None:
        """Start with a few agents and frameworks so that offers happen early."""
        for i in range(n_frameworks):
            self.add_framework(FRAMEWORKS[i], {ROLES[i % 2]}, True, i == 0)
        for i in range(n_agents):
            self.add_agent(AGENTS[i], TOTALS[i % 2], {})

    # -- frameworks --------------------------------------------------------------------

    @rule(
        fid=st.sampled_from(FRAMEWORKS),
        roles=st.sets(st.sampled_from(ROLES), min_size=1, max_size=2),
        active=st.booleans(),
        gpu=st.booleans(),
    )
    def add_framework(self, fid, roles, active, gpu) -> None:
        if fid in self.fws:
            return
        caps = [GPU_RESOURCES] if gpu else []
        self.al.add_framework(fid, roles, active=active, capabilities=caps)
        self.fws[fid] = FwModel(set(roles), active=active, gpu=gpu)

    @rule(fid=st.sampled_from(FRAMEWORKS))
    def remove_framework(self, fid) -> None:
        self.al.remove_framework(fid)
        self.fws.pop(fid, None)
        self.filters = {k: v for k, v in self.filters.items() if k[0] != fid}

    @rule(fid=st.sampled_from(FRAMEWORKS), on=st.booleans())
    def set_framework_active(self, fid, on) -> None:
        if fid in self.fws:
            (self.al.activate_framework if on else self.al.deactivate_framework)(fid)
            self.fws[fid].active = on

    @rule(fid=st.sampled_from(FRAMEWORKS), roles=st.none() | st.sets(st.sampled_from(ROLES)))
    def suppress(self, fid, roles) -> None:
        if fid in self.fws:
            self.al.suppress(fid, roles)
            fw = self.fws[fid]
            fw.suppressed |= fw.roles if roles is None else roles

    @rule(fid=st.sampled_from(FRAMEWORKS), roles=st.none() | st.sets(st.sampled_from(ROLES)))
    def revive(self, fid, roles) -> None:
        if fid in self.fws:
            self.al.revive(fid, roles)
            fw = self.fws[fid]
            fw.suppressed -= fw.roles if roles is None else roles
            self.filters = {k: v for k, v in self.filters.items() if k[0] != fid}

    # -- agents --------------------------------------------------------------------------

    @rule(
        aid=st.sampled_from(AGENTS),
        total=st.sampled_from(TOTALS),
        used=st.dictionaries(
            st.sampled_from([*FRAMEWORKS, FrameworkID("ghost")]),
            st.tuples(st.sampled_from(ROLES), st.sampled_from(USED)).map(lambda t: [t]),
            max_size=2,
        ),
    )
    def add_agent(self, aid, total, used) -> None:
        if aid in self.agents:
            return
        if not all(total.contains(u) for items in used.values() for _, u in items):
            used = {}
        self.al.add_agent(aid, total, used=used)
        self.agents[aid] = total
        self.agent_active[aid] = True

    @rule(aid=st.sampled_from(AGENTS))
    def remove_agent(self, aid) -> None:
        self.al.remove_agent(aid)
        self.agents.pop(aid, None)
        self.filters = {k: v for k, v in self.filters.items() if k[1] != aid}

    @rule(aid=st.sampled_from(AGENTS), on=st.booleans())
    def set_agent_active(self, aid, on) -> None:
        if aid in self.agents:
            (self.al.activate_agent if on else self.al.deactivate_agent)(aid)
            self.agent_active[aid] = on

    # -- resources back ------------------------------------------------------------------

    @rule(
        data=st.data(),
        half=st.booleans(),
        refuse=st.none() | st.sampled_from([0.0, 0.5, 1.0, 1e9]),
    )
    def recover(self, data, half, refuse) -> None:
        held = [
            (fid, aid, role, res)
            for aid in sorted(self.agents)
            for (fid, role), res in sorted(self.al.allocation(aid).items())
        ]
        if not held:
            return
        fid, aid, role, res = data.draw(st.sampled_from(held))
        if half:
            res = Resources({k: round(v / 2, 3) for k, v in res.scalars.items()})
        until = None if refuse is None else self.now + refuse
        self.al.recover(fid, aid, role, res, refuse_until=until)
        if until is not None and fid in self.fws and res:
            self.filters[(fid, aid)] = (res, until)

    @rule(refuse=st.none() | st.sampled_from([0.0, 0.5, 1.0, 1e9]))
    def decline_last_offers(self, refuse) -> None:
        """Decline every offer of the last cycle (with a filter), as DeclineOffers does."""
        for o in self.last_offers:
            if (o.framework_id, o.role) not in self.al.allocation(o.agent_id):
                continue
            until = None if refuse is None else self.now + refuse
            self.al.recover(o.framework_id, o.agent_id, o.role, o.resources, refuse_until=until)
            if until is not None and o.framework_id in self.fws:
                self.filters[(o.framework_id, o.agent_id)] = (o.resources, until)
        self.last_offers = []

    # -- quota and weights ---------------------------------------------------------------

    @rule(role=st.sampled_from(ROLES), w=st.sampled_from([0.5, 1.0, 2.0, 5.0]))
    def set_weight(self, role, w) -> None:
        self.al.set_weight(role, w)
        self.weights[role] = w

    @precondition(lambda self: not self.has_quota)
    @rule(role=st.sampled_from(ROLES))
    def set_quota(self, role) -> None:
        self.al.set_quota(role, Resources.parse("cpus:2;mem:256"))
        self.has_quota = True

    # -- the decision --------------------------------------------------------------------

    @rule(dt=st.sampled_from([0.0, 0.5, 1.0, 5.0]))
    def allocate(self, dt) -> None:
        self.now += dt
        now = self.now
        before = {aid: self.al.available(aid) for aid in self.agents}
        offers = self.al.allocate(now)
        self.last_offers = offers
        pairs = [(o.agent_id, o.role) for o in offers]
        assert len(pairs) == len(set(pairs))
        offered = set()
        for o in offers:
            fw = self.fws[o.framework_id]
            assert fw.wants(o.role), "offer to an inactive/suppressed framework or role"
            assert self.agent_active[o.agent_id], "offer from a deactivated agent"
            assert fw.gpu or self.agents[o.agent_id].scalar("gpus") == 0
            assert allocatable(o.resources)
            f = self.filters.get((o.framework_id, o.agent_id))
            if f is not None:
                refused, until = f
                assert not (now < until and refused.contains(before[o.agent_id])), "filtered"
            offered.add(o.agent_id)
        self._check_liveness(before, offered)

    def _check_liveness(self, before: dict[AgentID, Resources], offered: set[AgentID]) -> None:
        """Without quota, an agent someone wants (and is not filtered for) gets offered."""
        if self.has_quota:
            return
        for aid, avail in before.items():
            if aid in offered or not self.agent_active[aid] or not allocatable(avail):
                continue
            gpus = self.agents[aid].scalar("gpus") > 0
            for fid, fw in self.fws.items():
                if gpus and not fw.gpu:
                    continue
                f = self.filters.get((fid, aid))
                if f is not None and self.now < f[1] and f[0].contains(avail):
                    continue
                assert not any(fw.wants(r) for r in fw.roles), f"{aid} not offered to {fid}"

    # -- invariants ------------------------------------------------------------------------

    @invariant()
    def allocated_plus_available_fits_total(self) -> None:
        for aid, total in self.agents.items():
            used: dict[str, float] = {}
            for res in self.al.allocation(aid).values():
                add_into(used, res)
            add_into(used, self.al.available(aid))
            for k, v in used.items():
                assert v <= total.scalar(k) + 1e-9, (aid, k, v, total)
            assert total.contains(self.al.available(aid))

    @invariant()
    def drf_order_matches_brute_force(self) -> None:
        totals: dict[str, float] = {}
        for total in self.agents.values():
            add_into(totals, total)
        role_alloc: dict[Role, dict[str, float]] = {}
        fw_alloc: dict[tuple[Role, FrameworkID], dict[str, float]] = {}
        for aid in self.agents:
            for (fid, role), res in self.al.allocation(aid).items():
                add_into(role_alloc.setdefault(role, {}), res)
                add_into(fw_alloc.setdefault((role, fid), {}), res)
        active_roles = {r for fw in self.fws.values() for r in fw.roles if fw.wants(r)}
        expect = sorted(
            active_roles,
            key=lambda r: (dominant(role_alloc.get(r, {}), totals, self.weights.get(r, 1.0)), r),
        )
        assert self.al.role_sorter.sort() == expect
        for role in active_roles:
            fids = [f for f, fw in self.fws.items() if fw.wants(role)]
            expect_fw = sorted(
                fids, key=lambda f: (dominant(fw_alloc.get((role, f), {}), totals, 1.0), f)
            )
            sorter = self.al.framework_sorter(role)
            assert sorter is not None and sorter.sort() == expect_fw


TestAllocatorMachine = AllocatorMachine.TestCase
TestAllocatorMachine.settings = settings(
    max_examples=int(os.environ.get("ALLOC_EXAMPLES", "100")),
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


@settings(max_examples=60, deadline=None)
@given(
    refuse=st.floats(0.0, 100.0, allow_nan=False),
    probes=st.lists(st.floats(0.0, 150.0, allow_nan=False), min_size=1, max_size=8),
    others_free=st.booleans(),
)
def test_refusal_filter_holds_exactly_until_expiry(refuse, probes, others_free) -> None:
    """The only framework, an otherwise free agent: offered again iff now >= refuse_until."""
    al = HierarchicalAllocator(seed=2)
    al.add_framework(FRAMEWORKS[0], [ROLES[0]])
    al.add_agent(AGENTS[0], TOTALS[0])
    if others_free:
        al.add_agent(AGENTS[1], TOTALS[1])
    for o in al.allocate(0.0):
        until = refuse if o.agent_id == AGENTS[0] else None
        al.recover(o.framework_id, o.agent_id, o.role, o.resources, refuse_until=until)
    for t in sorted(probes):
        offered = {o.agent_id for o in al.allocate(t)}
        assert (AGENTS[0] in offered) == (t >= refuse)
        if AGENTS[0] in offered:
            break
