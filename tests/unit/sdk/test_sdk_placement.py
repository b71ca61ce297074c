"""The SDK placement chain (dcos/sdk/placement.py): filters, verdicts with reasons, place()."""

from __future__ import annotations

from dcos.sdk import Offer, TaskNeeds
from dcos.sdk.placement import OK, ResourceFilter, RoleFilter, Slot, Verdict, check, place
from dcos.testing import make_offer


def slot(agent: str, resources: str) -> Slot:
    return Slot.of(Offer(make_offer(agent_id=agent, hostname=f"h-{agent}", resources=resources)))


def test_taskneeds_of_builds_resources_ports_and_roles():
    n = TaskNeeds.of(cpus=0.5, mem=128, ports=2, fixed_ports=[8080], roles=["web"])
    assert n.resources.scalar("cpus") == 0.5 and n.resources.scalar("mem") == 128
    assert n.resources.ranges["ports"] == ((8080, 8080),)
    assert n.ports == 2 and n.roles == ("web",)
    assert n.needs is n
    assert TaskNeeds.of(cpus=1).resources.scalars == {"cpus": 1.0}


def test_resource_filter_reasons_name_the_missing_resource():
    s = slot("a1", "cpus:1;mem:64;ports:[31000-31001]")
    f = ResourceFilter()
    assert f.check(s, TaskNeeds.of(cpus=0.5, mem=32, ports=2)) == OK
    v = f.check(s, TaskNeeds.of(cpus=2, mem=32))
    assert v == Verdict(False, "h-a1: 1 cpus free, 2 needed", "InsufficientCpus")
    assert v.lasting
    assert f.check(s, TaskNeeds.of(cpus=1, mem=128)).code == "InsufficientMemory"
    assert f.check(s, TaskNeeds.of(ports=3)).reason == "h-a1: 2 free ports, 3 needed"
    fixed = f.check(s, TaskNeeds.of(fixed_ports=[80]))
    assert (fixed.code, fixed.reason) == ("InsufficientPorts", "h-a1: port(s) 80 not free")


def test_role_filter_checks_the_roles_of_the_offer():
    s = slot("a1", "cpus:1;mem:64")
    assert RoleFilter().check(s, TaskNeeds.of(cpus=1)) == OK
    assert RoleFilter().check(s, TaskNeeds.of(cpus=1, roles=["*", "web"])) == OK
    v = RoleFilter().check(s, TaskNeeds.of(cpus=1, roles=["web"]))
    assert v.code == "UnfulfilledRole" and "offers roles ['*']" in v.reason


def test_place_packs_best_scoring_slots_and_reports_every_rejection():
    slots = [slot("a1", "cpus:1;mem:64"), slot("a2", "cpus:4;mem:64"), slot("a3", "cpus:0.1;mem:8")]
    placed: list[str] = []
    result = place(
        slots, TaskNeeds.of(cpus=1, mem=16), 10, on_placed=lambda s: placed.append(s.agent.agent_id)
    )
    # most free cpus first: a2 (4, 3, 2 left; at 1 the tie goes to a1, listed first), a1, a2
    assert len(result.placements) == 5
    assert placed.count("a2") == 4 and placed.count("a1") == 1
    assert all(p.fit.ok and p.fit.resources for p in result.placements)
    assert set(result.rejections) == {s.offer.id for s in slots}
    assert result.rejections[slots[2].offer.id].code == "InsufficientCpus"
    assert check(slots[0], TaskNeeds.of(cpus=0.5)).code == "InsufficientCpus"


def test_place_with_custom_filter_and_scorer():
    class NotOnA1:
        def check(self, s: Slot, task: TaskNeeds) -> Verdict:
            return OK if s.agent.agent_id != "a1" else Verdict(False, "no a1", "Custom")

    class Fewest:
        def score(self, s: Slot, task: TaskNeeds) -> float:
            return -s.left.scalar("cpus")

    slots = [slot("a1", "cpus:8;mem:64"), slot("a2", "cpus:4;mem:64"), slot("a3", "cpus:2;mem:64")]
    result = place(
        slots, TaskNeeds.of(cpus=1), 1, filters=(ResourceFilter(), NotOnA1()), scorer=Fewest()
    )
    assert [p.slot.agent.agent_id for p in result.placements] == ["a3"]
