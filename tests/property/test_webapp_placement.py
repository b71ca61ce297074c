"""Property tests of placement: constraints are never violated, resources never
over-committed, and never more tasks placed than asked."""

import re
from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from dcos.sdk import Offer
from dcos.testing import make_offer
from frameworks.webapp.placement import AgentView, Slot, TaskRequest, constraint_verdict, place

CONSTRAINTS = st.sampled_from([
    ["hostname", "UNIQUE"], ["rack", "UNIQUE"], ["rack", "MAX_PER", "2"], ["rack", "CLUSTER", "r1"],
    ["rack", "IS", "r2"], ["rack", "LIKE", "r[12]"], ["rack", "UNLIKE", "r1"], ["rack", "GROUP_BY"],
    ["hostname", "CLUSTER"], ["zone", "GROUP_BY", "2"],
])


def offers_for(n_agents, cpus, seed):
    out = []
    for i in range(n_agents):
        attrs = {"rack": f"r{(i + seed) % 3 + 1}"}
        if i % 3:
            attrs["zone"] = f"z{i % 2}"
        o = make_offer(agent_id=f"a{i}", hostname=f"h{i}", resources=f"cpus:{cpus[i % len(cpus)]};mem:1024;ports:[31000-31003]",
                       attributes=attrs)
        out.append(Offer(o))
    return out


def holds(con, agents):
    vals = [a.value(con[0]) for a in agents]
    op = con[1]
    if op == "UNIQUE":
        return len(vals) == len(set(vals)) and None not in vals
    if op == "MAX_PER":
        return all(c <= int(con[2]) for c in Counter(vals).values())
    if op == "CLUSTER":
        return len(set(vals)) <= 1 and (len(con) < 3 or all(v == con[2] for v in vals))
    if op == "IS":
        return all(v == con[2] for v in vals)
    if op == "LIKE":
        return all(v is not None and re.fullmatch(con[2], v) for v in vals)
    if op == "UNLIKE":
        return all(v is None or not re.fullmatch(con[2], v) for v in vals)
    if op == "GROUP_BY":
        return None not in vals
    return True


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 8), st.lists(st.sampled_from([0.5, 1, 2, 4]), min_size=1, max_size=4),
       st.lists(CONSTRAINTS, max_size=2), st.integers(0, 12), st.integers(0, 5),
       st.floats(0.1, 3), st.integers(0, 3))
def test_placement_respects_constraints_and_resources(n_agents, cpus, cons, count, seed, want, ports):
    slots = [Slot.of(o) for o in offers_for(n_agents, cpus, seed)]
    cluster = {s.agent.agent_id: s.agent for s in slots}
    task = TaskRequest("/app", want, 16, port_count=ports, constraints=cons, cluster=cluster)
    result = place(slots, task, count)
    assert len(result.placements) <= count
    agents = [p.slot.agent for p in result.placements]
    for con in cons:
        assert holds(con, agents), (con, [a.value(con[0]) for a in agents])
    used = Counter(p.slot.agent.agent_id for p in result.placements)
    for s in slots:
        # never more cpus than the agent offered, never a port twice (a task takes its cpus
        # in Mesos' fixed-point units, rounded to 0.001, as the SDK placement chain checks them)
        offered = float(dict(x.split(":") for x in [f"cpus:{cpus[int(s.agent.agent_id[1:]) % len(cpus)]}"])["cpus"])
        assert used[s.agent.agent_id] * round(want, 3) <= offered + 1e-9
    all_ports = [(p.slot.agent.agent_id, port) for p in result.placements for port in p.fit.ports]
    assert len(all_ports) == len(set(all_ports))
    if len(result.placements) < count:
        assert result.rejections  # every stop says why


def test_missing_attribute_matches_only_unlike():
    agent = AgentView("a", "h", {})
    task = TaskRequest("/x", 1, 1)
    assert not constraint_verdict(["rack", "LIKE", ".*"], agent, task).ok
    assert not constraint_verdict(["rack", "UNIQUE"], agent, task).ok
    assert constraint_verdict(["rack", "UNLIKE", "r1"], agent, task).ok


def test_unique_reason_in_words():
    from frameworks.webapp.launch_queue import OfferStats

    slots = [Slot.of(o) for o in offers_for(2, [4], 0)]
    task = TaskRequest("/x", 0.1, 16, constraints=[["hostname", "UNIQUE"]],
                       cluster={s.agent.agent_id: s.agent for s in slots})
    result = place(slots, task, 3)
    assert len(result.placements) == 2
    stats = OfferStats()
    stats.refused(0.0, slots, result.rejections, task)
    assert stats.reasons[0].startswith("hostname:UNIQUE satisfied by only 2 agents")
    summary = stats.summary()
    row = next(r for r in summary["rejectSummaryLastOffers"] if r["reason"] == "UnfulfilledConstraint")
    assert row["declined"] == 2


def test_cpu_reason_in_words():
    from frameworks.webapp.launch_queue import OfferStats

    slots = [Slot.of(o) for o in offers_for(3, [2], 0)]
    task = TaskRequest("/x", 4, 16)
    result = place(slots, task, 1)
    stats = OfferStats()
    stats.refused(0.0, slots, result.rejections, task)
    assert stats.reasons[0].startswith("no offer with 4 cpus")
