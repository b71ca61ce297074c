"""Sorter contract (DRF and random) and DRF specifics."""

from __future__ import annotations

import pytest

from dcos.allocator import DRFSorter, RandomSorter, ResourcePool
from dcos.protocol.ids import AgentID
from dcos.protocol.resources import Resources

A1 = AgentID("a1")


def R(text: str) -> Resources:
    return Resources.parse(text)


@pytest.fixture(params=["drf", "random"])
def sorter(request):
    return DRFSorter() if request.param == "drf" else RandomSorter(seed=7)


def test_sort_returns_only_active_clients(sorter) -> None:
    sorter.add_agent(A1, R("cpus:10;mem:100"))
    for c in ("a", "b", "c"):
        sorter.add(c)
    sorter.deactivate("b")
    assert sorted(sorter.sort()) == ["a", "c"]
    sorter.activate("b")
    assert sorted(sorter.sort()) == ["a", "b", "c"]


def test_removed_client_is_not_sorted(sorter) -> None:
    sorter.add("a")
    sorter.add("b")
    sorter.remove("a")
    assert sorter.sort() == ["b"]


def test_weight_must_be_positive(sorter) -> None:
    sorter.add("a")
    with pytest.raises(ValueError):
        sorter.update_weight("a", 0)


def test_drf_orders_by_dominant_share_then_name() -> None:
    s = DRFSorter()
    s.add_agent(A1, R("cpus:10;mem:1000"))
    for c in ("c", "b", "a"):
        s.add(c)
    assert s.sort() == ["a", "b", "c"]  # all zero: by name
    s.allocated("a", A1, R("cpus:5"))  # share 0.5
    s.allocated("b", A1, R("mem:100"))  # share 0.1
    assert s.sort() == ["c", "b", "a"]
    s.unallocated("a", A1, R("cpus:5"))
    assert s.sort() == ["a", "c", "b"]


def test_drf_dominant_resource_is_the_largest_fraction() -> None:
    s = DRFSorter()
    s.add_agent(A1, R("cpus:10;mem:1000"))
    s.add("x")
    s.add("y")
    s.allocated("x", A1, R("cpus:1;mem:600"))  # dominant mem 0.6
    s.allocated("y", A1, R("cpus:5;mem:10"))  # dominant cpus 0.5
    assert s.share("x") == pytest.approx(0.6)
    assert s.sort() == ["y", "x"]


def test_drf_weights_divide_the_share() -> None:
    s = DRFSorter()
    s.add_agent(A1, R("cpus:10"))
    s.add("heavy")
    s.add("light")
    s.update_weight("heavy", 4)
    s.allocated("heavy", A1, R("cpus:4"))  # 0.4 / 4 = 0.1
    s.allocated("light", A1, R("cpus:2"))  # 0.2
    assert s.sort() == ["heavy", "light"]


def test_drf_pool_change_rescales_every_share() -> None:
    s = DRFSorter()
    s.add_agent(A1, R("cpus:10;mem:100"))
    s.add("c")
    s.add("m")
    s.allocated("c", A1, R("cpus:4"))  # 0.4
    s.allocated("m", A1, R("mem:50"))  # 0.5
    assert s.sort() == ["c", "m"]
    s.add_agent(AgentID("a2"), R("mem:900"))  # mem total 1000: m -> 0.05
    assert s.sort() == ["m", "c"]
    s.remove_agent(AgentID("a2"))
    assert s.sort() == ["c", "m"]


def test_drf_shared_pool_updates_all_sorters() -> None:
    pool = ResourcePool()
    s1, s2 = DRFSorter(pool), DRFSorter(pool)
    pool.add_agent(A1, R("cpus:10"))
    for s in (s1, s2):
        s.add("a")
        s.allocated("a", A1, R("cpus:5"))
    assert s1.share("a") == s2.share("a") == pytest.approx(0.5)


def test_drf_inactive_client_keeps_its_allocation() -> None:
    s = DRFSorter()
    s.add_agent(A1, R("cpus:10"))
    s.add("a")
    s.add("b")
    s.deactivate("a")
    s.allocated("a", A1, R("cpus:9"))
    s.activate("a")
    assert s.sort() == ["b", "a"]


def test_random_sorter_is_deterministic_for_a_seed() -> None:
    def orders(seed: int) -> list[list[str]]:
        s = RandomSorter(seed)
        for c in "abcdefgh":
            s.add(c)
        return [s.sort() for _ in range(5)]

    assert orders(3) == orders(3)
    assert orders(3) != orders(4)


def test_random_sorter_favours_heavier_clients() -> None:
    s = RandomSorter(1)
    s.add("heavy")
    s.add("light")
    s.update_weight("heavy", 50)
    firsts = [s.sort()[0] for _ in range(200)]
    assert firsts.count("heavy") > 150
