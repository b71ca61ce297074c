"""Counting many copies at once (frameworks/webapp/fit_place.py): the same count as the
placement chain copy by copy, on random agents and apps; a million instances answered at once;
GROUP_BY stops at the budget and says so."""

from __future__ import annotations

import random
from typing import Any

import pytest

from dcos.protocol.resources import Resources
from frameworks.webapp.api.http import parse_app
from frameworks.webapp.fit import AgentFree, fit
from frameworks.webapp.fit_place import CHAIN_BUDGET, place_many, spread
from frameworks.webapp.launch import task_request
from frameworks.webapp.placement import place

CONSTRAINTS: list[list[list[str]]] = [
    [], [["rack", "LIKE", "r[01]"]], [["rack", "UNLIKE", "r0"]], [["rack", "IS", "r2"]],
    [["rack", "CLUSTER"]], [["rack", "CLUSTER", "r1"]], [["hostname", "UNIQUE"]], [["rack", "UNIQUE"]],
    [["rack", "MAX_PER", "3"]], [["hostname", "MAX_PER", "2"], ["rack", "LIKE", "r[12]"]],
]  # fmt: skip


def agents(rng: random.Random, n: int) -> list[AgentFree]:
    out = []
    for i in range(n):
        cpus, mem = rng.choice([0.5, 1, 2, 3.3]), rng.choice([128, 512, 2048])
        ports = rng.choice(["", ";ports:[31000-31002]", ";ports:[31000-31099]"])
        attrs = {"rack": f"r{rng.randrange(4)}"} if rng.random() < 0.9 else {}
        host = f"h{rng.randrange(max(1, n // 2))}"
        out.append(AgentFree(f"a{i}", host, attrs, Resources.parse(f"cpus:{cpus};mem:{mem}{ports}")))
    return out


def app(**fields: Any):
    spec, errs = parse_app({"id": "/a", "cmd": "x", **fields})
    assert spec is not None, errs
    return spec


@pytest.mark.parametrize("seed", range(40))
def test_the_same_count_as_the_chain(seed):
    rng = random.Random(seed)
    pool = agents(rng, rng.randrange(1, 9))
    spec = app(cpus=rng.choice([0.1, 0.25, 0.7]), mem=rng.choice([16, 100, 600]),
               instances=rng.randrange(1, 60), constraints=rng.choice(CONSTRAINTS),
               portDefinitions=[{"port": 0}] * rng.randrange(0, 3))  # fmt: skip
    chain_slots = [a.slot() for a in pool]
    cluster = {str(s.agent.agent_id): s.agent for s in chain_slots}
    by_chain = len(place(chain_slots, task_request(spec, (), cluster), spec.instances).placements)
    slots = [a.slot() for a in pool]
    fast = place_many(slots, task_request(spec, (), cluster), spec.instances)
    assert fast.count == by_chain, (spec.constraints, [str(a.free) for a in pool])
    assert bool(fast.verdicts) == (by_chain < spec.instances)
    # what is left in the slots is what the placed copies did not take
    used = sum(a.free.scalar("cpus") for a in pool) - sum(s.left.scalar("cpus") for s in slots)
    assert used == pytest.approx(fast.count * spec.cpus)


def test_spread_is_even_within_the_caps():
    assert spread([5, 5, 5], 7) == [2, 2, 3]
    assert spread([0, 10, 1], 6) == [0, 5, 1]
    assert spread([2, 2], 4) == [2, 2]
    assert sum(spread([3, 100, 7, 0], 50)) == 50


def test_a_million_instances_are_counted_at_once():
    pool = [AgentFree(f"a{i}", f"h{i}", {}, Resources.parse("cpus:4;mem:4096;ports:[31000-31999]"))
            for i in range(100)]  # fmt: skip
    [a] = fit(pool, [app(cpus=0.01, mem=1, instances=1_000_000)]).apps
    assert a.placeable == 40_000
    assert a.reasons[0].reason == "insufficient cpus: needs 0.01, best agent has 0"
    [a] = fit(pool, [app(cpus=0.001, mem=0.1, instances=1_000_000, constraints=[["hostname", "MAX_PER", "5000"]])]).apps
    assert a.placeable == 100_000  # ports: 1,000 per agent
    assert a.reasons[0].code == "InsufficientPorts"


def test_group_by_stops_at_the_budget_and_says_so():
    pool = [AgentFree(f"a{i}", f"h{i}", {"rack": f"r{i % 4}"}, Resources.parse("cpus:64;mem:65536"))
            for i in range(50)]  # fmt: skip
    [a] = fit(pool, [app(cpus=0.01, mem=1, instances=100_000, portDefinitions=[],
                         constraints=[["rack", "GROUP_BY"]])]).apps  # fmt: skip
    assert a.placeable == CHAIN_BUDGET // 50 and not a.fits
    assert [r.code for r in a.reasons] == ["NotChecked"]
    assert a.reasons[0].reason.startswith(f"not checked past {CHAIN_BUDGET // 50} instances")
