"""HierarchicalAllocator: the Mesos semantics, one test each."""

from __future__ import annotations

import pytest

from dcos.allocator import GPU_RESOURCES, Allocation, HierarchicalAllocator
from dcos.protocol.ids import AgentID, FrameworkID, Role
from dcos.protocol.resources import Resources

STAR = Role("*")


def R(text: str) -> Resources:
    return Resources.parse(text)


def F(n: int | str) -> FrameworkID:
    return FrameworkID(f"f{n}")


def A(n: int | str) -> AgentID:
    return AgentID(f"a{n}")


def offers_by_fw(allocs: list[Allocation]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for a in allocs:
        out.setdefault(a.framework_id, []).append(a.agent_id)
    return out


def test_single_framework_gets_the_whole_agent_once() -> None:
    al = HierarchicalAllocator()
    al.add_framework(F(1), [STAR])
    al.add_agent(A(1), R("cpus:4;mem:1024;ports:[31000-32000]"))
    assert al.allocate(0) == [
        Allocation(F(1), A(1), STAR, R("cpus:4;mem:1024;ports:[31000-32000]"))
    ]
    assert al.allocate(1) == []  # offered resources count as allocated
    assert al.available(A(1)) == Resources.empty()


def test_recover_makes_resources_offerable_again() -> None:
    al = HierarchicalAllocator()
    al.add_framework(F(1), [STAR])
    al.add_agent(A(1), R("cpus:4;mem:1024"))
    (offer,) = al.allocate(0)
    al.recover(F(1), A(1), STAR, R("cpus:1;mem:256"))  # the unused part of an accepted offer
    assert al.available(A(1)) == R("cpus:1;mem:256")
    (again,) = al.allocate(1)
    assert again.resources == R("cpus:1;mem:256")
    assert al.allocation(A(1)) == {(F(1), STAR): R("cpus:4;mem:1024")}


def test_recover_never_returns_more_than_allocated() -> None:
    al = HierarchicalAllocator()
    al.add_framework(F(1), [STAR])
    al.add_agent(A(1), R("cpus:4;mem:1024"))
    al.allocate(0)
    al.recover(F(1), A(1), STAR, R("cpus:40;mem:1024;disk:5"))
    assert al.available(A(1)) == R("cpus:4;mem:1024")


def test_drf_fairest_framework_gets_the_next_agent() -> None:
    al = HierarchicalAllocator()
    al.add_framework(F(1), [STAR])
    al.add_framework(F(2), [STAR])
    al.add_agent(A(1), R("cpus:4;mem:1024"), used={F(1): [(STAR, R("cpus:2;mem:512"))]})
    al.add_agent(A(2), R("cpus:4;mem:1024"))
    # f1 already holds 25%; f2 holds nothing: f2 first, then f1 (f2 now at 50%) gets a1's rest
    allocs = al.allocate(0)
    by = {a.agent_id: a.framework_id for a in allocs}
    assert len(allocs) == 2
    assert sorted(by.values()) == [F(1), F(2)]


def test_role_weights_split_agents_in_proportion() -> None:
    al = HierarchicalAllocator()
    al.add_framework(F("big"), [Role("big")])
    al.add_framework(F("small"), [Role("small")])
    al.set_weight(Role("big"), 3.0)
    for i in range(8):
        al.add_agent(A(i), R("cpus:4;mem:1024"))
    roles = [a.role for a in al.allocate(0)]
    assert roles.count(Role("big")) == 6 and roles.count(Role("small")) == 2


def test_roles_are_sorted_before_frameworks() -> None:
    al = HierarchicalAllocator()
    # role "a" holds a lot through one framework; role "b"'s framework is the fairest
    al.add_framework(F("a1"), [Role("a")])
    al.add_framework(F("a2"), [Role("a")])
    al.add_framework(F("b1"), [Role("b")])
    al.add_agent(A(0), R("cpus:8;mem:2048"), used={F("a1"): [(Role("a"), R("cpus:8;mem:2048"))]})
    al.add_agent(A(1), R("cpus:8;mem:2048"), used={F("b1"): [(Role("b"), R("cpus:4;mem:1024"))]})
    al.add_agent(A(2), R("cpus:1;mem:256"))
    # a2 has share 0 but its role a (0.47) is behind b (0.24): b1 gets the free agent first
    first = al.allocate(0)[0]
    assert first.framework_id == F("b1")


def test_weight_must_be_positive() -> None:
    al = HierarchicalAllocator()
    with pytest.raises(ValueError):
        al.set_weight(Role("r"), -1)


def test_inactive_framework_gets_nothing_until_activated() -> None:
    al = HierarchicalAllocator()
    al.add_framework(F(1), [STAR], active=False)
    al.add_agent(A(1), R("cpus:4;mem:1024"))
    assert al.allocate(0) == []
    al.activate_framework(F(1))
    assert len(al.allocate(1)) == 1
    al.recover(F(1), A(1), STAR, R("cpus:4;mem:1024"))
    al.deactivate_framework(F(1))
    assert al.allocate(2) == []


def test_deactivated_agent_is_not_offered() -> None:
    al = HierarchicalAllocator()
    al.add_framework(F(1), [STAR])
    al.add_agent(A(1), R("cpus:4;mem:1024"))
    al.deactivate_agent(A(1))
    assert al.allocate(0) == []
    al.activate_agent(A(1))
    assert [a.agent_id for a in al.allocate(1)] == [A(1)]


def test_suppress_and_revive_per_role() -> None:
    al = HierarchicalAllocator()
    al.add_framework(F(1), [Role("a"), Role("b")])
    al.add_agent(A(1), R("cpus:4;mem:1024"))
    al.suppress(F(1), [Role("a")])
    (offer,) = al.allocate(0)
    assert offer.role == Role("b")
    al.recover(F(1), A(1), Role("b"), offer.resources)
    al.suppress(F(1))
    assert al.allocate(1) == []
    al.revive(F(1), [Role("a")])
    (offer,) = al.allocate(2)
    assert offer.role == Role("a")


def test_suppressed_roles_at_subscription() -> None:
    al = HierarchicalAllocator()
    al.add_framework(F(1), [STAR], suppressed_roles=[STAR])
    al.add_agent(A(1), R("cpus:4;mem:1024"))
    assert al.allocate(0) == []
    al.update_framework(F(1), [STAR])
    assert len(al.allocate(1)) == 1


def test_refusal_filter_holds_until_expiry() -> None:
    al = HierarchicalAllocator()
    al.add_framework(F(1), [STAR])
    al.add_agent(A(1), R("cpus:4;mem:1024"))
    (offer,) = al.allocate(0)
    al.recover(F(1), A(1), STAR, offer.resources, refuse_until=10.0)
    assert al.allocate(5) == []
    assert al.allocate(9.999) == []
    assert [a.framework_id for a in al.allocate(10.0)] == [F(1)]


def test_refusal_filter_lets_other_frameworks_have_the_agent() -> None:
    al = HierarchicalAllocator()
    al.add_framework(F(1), [STAR])
    al.add_agent(A(1), R("cpus:4;mem:1024"))
    (offer,) = al.allocate(0)
    al.add_framework(F(2), [STAR])
    al.recover(F(1), A(1), STAR, offer.resources, refuse_until=100.0)
    assert [a.framework_id for a in al.allocate(1)] == [F(2)]


def test_refusal_filter_does_not_apply_when_more_is_available() -> None:
    al = HierarchicalAllocator()
    al.add_framework(F(1), [STAR])
    al.add_framework(F(2), [STAR], active=False)
    al.add_agent(A(1), R("cpus:4;mem:1024"), used={F(2): [(STAR, R("cpus:2;mem:512"))]})
    (offer,) = al.allocate(0)
    assert offer.resources == R("cpus:2;mem:512")
    al.recover(F(1), A(1), STAR, offer.resources, refuse_until=100.0)
    assert al.allocate(1) == []
    al.recover(F(2), A(1), STAR, R("cpus:2;mem:512"))  # more is free than was refused
    (offer,) = al.allocate(2)
    assert offer.framework_id == F(1) and offer.resources == R("cpus:4;mem:1024")


def test_revive_clears_refusal_filters() -> None:
    al = HierarchicalAllocator()
    al.add_framework(F(1), [STAR])
    al.add_agent(A(1), R("cpus:4;mem:1024"))
    (offer,) = al.allocate(0)
    al.recover(F(1), A(1), STAR, offer.resources, refuse_until=1e12)
    assert al.allocate(1) == []
    al.revive(F(1))
    assert not al.has_filter(F(1), A(1))
    assert len(al.allocate(2)) == 1


def test_gpu_agent_only_goes_to_gpu_capable_frameworks() -> None:
    al = HierarchicalAllocator()
    al.add_framework(F(1), [STAR])
    al.add_agent(A(1), R("cpus:4;mem:1024;gpus:1"))
    al.add_agent(A(2), R("cpus:4;mem:1024"))
    assert [a.agent_id for a in al.allocate(0)] == [A(2)]
    al.add_framework(F(2), [STAR], capabilities=[GPU_RESOURCES])
    (offer,) = al.allocate(1)
    assert (offer.framework_id, offer.agent_id) == (F(2), A(1))


def test_min_allocatable_resources() -> None:
    al = HierarchicalAllocator()
    al.add_framework(F(1), [STAR])
    al.add_agent(A(1), R("cpus:0.001;mem:31;disk:100"))
    al.add_agent(A(2), R("cpus:0.01"))
    al.add_agent(A(3), R("mem:32"))
    assert sorted(a.agent_id for a in al.allocate(0)) == [A(2), A(3)]


def test_at_most_one_allocation_per_agent_and_role() -> None:
    al = HierarchicalAllocator()
    for i in range(5):
        al.add_framework(F(i), [STAR, Role("x")])
    for i in range(20):
        al.add_agent(A(i), R("cpus:4;mem:1024"))
    allocs = al.allocate(0)
    pairs = [(a.agent_id, a.role) for a in allocs]
    assert len(pairs) == len(set(pairs)) == 20


def test_same_history_and_seed_give_the_same_result() -> None:
    def run(seed: int) -> list[list[Allocation]]:
        al = HierarchicalAllocator(seed=seed)
        for i in range(10):
            al.add_framework(F(i), [STAR])
        for i in range(50):
            al.add_agent(A(i), R("cpus:4;mem:1024"))
        rounds = []
        for t in range(3):
            allocs = al.allocate(float(t))
            for a in allocs:
                al.recover(a.framework_id, a.agent_id, a.role, a.resources, refuse_until=t + 1.5)
            rounds.append(allocs)
        return rounds

    assert run(1) == run(1)
    assert run(1) != run(2)  # agents are shuffled with the seed


def test_random_sorter_allocator_is_deterministic() -> None:
    def run() -> list[Allocation]:
        al = HierarchicalAllocator(seed=3, sorter="random")
        for i in range(4):
            al.add_framework(F(i), [STAR])
        for i in range(10):
            al.add_agent(A(i), R("cpus:1;mem:64"))
        return al.allocate(0)

    assert run() == run()
    with pytest.raises(ValueError):
        HierarchicalAllocator(sorter="nope")


def test_used_by_unknown_framework_is_kept_and_attributed_later() -> None:
    al = HierarchicalAllocator()
    al.add_agent(A(1), R("cpus:4;mem:1024"), used={F(9): [(STAR, R("cpus:3;mem:768"))]})
    assert al.available(A(1)) == R("cpus:1;mem:256")
    al.add_framework(F(9), [STAR])
    assert al.framework_allocation(F(9)) == {(A(1), STAR): R("cpus:3;mem:768")}
    sorter = al.framework_sorter(STAR)
    assert sorter is not None and sorter.share(F(9)) == pytest.approx(0.75)
    al.recover(F(9), A(1), STAR, R("cpus:3;mem:768"))
    assert al.available(A(1)) == R("cpus:4;mem:1024")


def test_remove_framework_releases_its_allocations_and_filters() -> None:
    al = HierarchicalAllocator()
    al.add_framework(F(1), [STAR])
    al.add_agent(A(1), R("cpus:4;mem:1024"))
    (offer,) = al.allocate(0)
    al.remove_framework(F(1))
    assert al.available(A(1)) == offer.resources
    al.add_framework(F(2), [STAR])
    assert [a.framework_id for a in al.allocate(1)] == [F(2)]


def test_remove_agent_releases_shares() -> None:
    al = HierarchicalAllocator()
    al.add_framework(F(1), [STAR])
    al.add_agent(A(1), R("cpus:4;mem:1024"))
    al.add_agent(A(2), R("cpus:4;mem:1024"))
    al.allocate(0)
    al.remove_agent(A(1))
    assert (A(1), STAR) not in al.framework_allocation(F(1))
    al.recover(F(1), A(1), STAR, R("cpus:4"))  # a late recover for a gone agent is ignored
    assert al.allocate(1) == []


def test_update_agent_recomputes_available() -> None:
    al = HierarchicalAllocator()
    al.add_framework(F(1), [STAR])
    al.add_agent(A(1), R("cpus:4;mem:1024"), used={F(1): [(STAR, R("cpus:1;mem:256"))]})
    al.update_agent(A(1), R("cpus:8;mem:1024"))
    assert al.available(A(1)) == R("cpus:7;mem:768")


def test_quota_guarantee_is_held_back_from_other_roles() -> None:
    al = HierarchicalAllocator()
    al.add_framework(F("q"), [Role("q")], active=False)
    al.add_framework(F("o"), [Role("o")])
    al.set_quota(Role("q"), R("cpus:6;mem:1536"))
    for i in range(4):
        al.add_agent(A(i), R("cpus:4;mem:1024"))
    allocs = al.allocate(0)
    got = sum(a.resources.scalar("cpus") for a in allocs)
    assert {a.framework_id for a in allocs} == {F("o")}
    assert got == pytest.approx(16 - 6)  # 6 cpus stay free for role q
    al.activate_framework(F("q"))
    allocs = al.allocate(1)
    assert {a.role for a in allocs} == {Role("q")}
    assert sum(a.resources.scalar("cpus") for a in allocs) == pytest.approx(6)


def test_quota_role_gets_its_guarantee_first() -> None:
    al = HierarchicalAllocator()
    al.add_framework(F("q"), [Role("q")])
    al.add_framework(F("o"), [Role("o")])
    al.set_weight(Role("o"), 100.0)  # DRF alone would favour o
    al.set_quota(Role("q"), R("cpus:4;mem:1024"))
    al.add_agent(A(1), R("cpus:4;mem:1024"))
    (offer,) = al.allocate(0)
    assert offer.role == Role("q")


def test_remove_quota_releases_the_held_back_resources() -> None:
    al = HierarchicalAllocator()
    al.add_framework(F("o"), [Role("o")])
    al.set_quota(Role("q"), R("cpus:4"))
    al.add_agent(A(1), R("cpus:4;mem:1024"))
    (offer,) = al.allocate(0)
    assert offer.resources.scalar("cpus") == 0
    al.recover(F("o"), A(1), Role("o"), offer.resources)
    al.remove_quota(Role("q"))
    assert al.quota(Role("q")) is None
    (offer,) = al.allocate(1)
    assert offer.resources == R("cpus:4;mem:1024")
