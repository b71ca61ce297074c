"""HierarchicalAllocator: an agent statically reserved to a role is offered to it only."""

from __future__ import annotations

from dcos.allocator import MULTI_ROLE, Allocation, HierarchicalAllocator
from dcos.protocol.ids import AgentID, FrameworkID, Role
from dcos.protocol.resources import Resources

STAR, PUBLIC = Role("*"), Role("slave_public")
RES = Resources.parse("cpus:4;mem:1024;ports:[31000-32000]")


def _by_agent(allocs: list[Allocation]) -> dict[str, tuple[str, str]]:
    return {a.agent_id: (a.framework_id, a.role) for a in allocs}


def test_reserved_agent_goes_to_its_role_only_unreserved_to_everyone() -> None:
    al = HierarchicalAllocator(seed=3)
    al.add_framework(FrameworkID("star"), [STAR])
    al.add_agent(AgentID("pub"), RES, reserved_role=PUBLIC)
    al.add_agent(AgentID("priv"), RES)
    assert _by_agent(al.allocate(0)) == {"priv": ("star", "*")}  # nobody wants "pub"
    al.add_framework(FrameworkID("public"), [PUBLIC])
    assert _by_agent(al.allocate(1)) == {"pub": ("public", "slave_public")}
    al.recover(FrameworkID("star"), AgentID("priv"), STAR, RES)
    al.recover(FrameworkID("public"), AgentID("pub"), PUBLIC, RES)
    al.remove_framework(FrameworkID("star"))
    # the slave_public framework also gets the unreserved agent (Marathon on DC/OS)
    assert _by_agent(al.allocate(2)) == {
        "pub": ("public", "slave_public"), "priv": ("public", "slave_public"),
    }  # fmt: skip


def test_multi_role_framework_is_offered_the_reserved_agent_under_that_role() -> None:
    al = HierarchicalAllocator(seed=1)
    al.add_framework(FrameworkID("m"), [STAR, PUBLIC], capabilities=[MULTI_ROLE])
    al.add_agent(AgentID("pub"), RES, reserved_role=PUBLIC)
    (a,) = al.allocate(0)
    assert (a.agent_id, a.role, a.resources) == ("pub", PUBLIC, RES)


def test_star_reservation_is_unreserved() -> None:
    al = HierarchicalAllocator()
    al.add_framework(FrameworkID("f"), [STAR])
    al.add_agent(AgentID("a"), RES, reserved_role=STAR)
    assert _by_agent(al.allocate(0)) == {"a": ("f", "*")}


def test_quota_stages_keep_reserved_agents_to_their_role() -> None:
    al = HierarchicalAllocator(seed=2)
    al.set_quota(Role("q"), Resources.parse("cpus:2"))
    al.add_framework(FrameworkID("fq"), [Role("q")])
    al.add_framework(FrameworkID("star"), [STAR])
    al.add_agent(AgentID("pub"), RES, reserved_role=PUBLIC)
    assert al.allocate(0) == []
    al.add_framework(FrameworkID("public"), [PUBLIC])
    assert _by_agent(al.allocate(1)) == {"pub": ("public", "slave_public")}
