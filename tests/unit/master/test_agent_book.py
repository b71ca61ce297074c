"""`AgentBook`'s address index and its record of what the registry holds for each agent
(`dcos.master.core.books`): a new registration finds the agent it replaces by address, and a
re-registration that changes nothing in the registry writes nothing (after a failover every
agent comes back to the new leader at once)."""

from __future__ import annotations

from dcos.master.core.books import AgentBook
from dcos.master.core.model import Agent
from dcos.protocol.ids import AgentID
from dcos.protocol.resources import Resources
from dcos.state.registry import Registry
from dcos.testing.master import T0, CoreHarness, agent_info


def _agent(aid: str, port: int) -> Agent:
    return Agent(AgentID(aid), {"id": aid}, f"h{port}", "127.0.0.1", port,
                 Resources.parse("cpus:1"), {}, T0, T0, T0)  # fmt: skip


def test_at_address_follows_add_replace_and_loss() -> None:
    book = AgentBook()
    a, b = _agent("a", 5051), _agent("b", 5052)
    book.add(a)
    book.add(b)
    assert book.at_address("127.0.0.1", 5051) == [a]
    moved = _agent("a", 5053)  # the same id re-registered from another port
    book.add(moved)
    assert book.at_address("127.0.0.1", 5051) == []
    assert book.at_address("127.0.0.1", 5053) == [moved]
    book.lost(b, T0, unreachable=True)
    assert book.at_address("127.0.0.1", 5052) == []
    assert list(book.registered) == ["a"]


def test_admission_changes_only_when_the_entry_differs() -> None:
    book = AgentBook()
    info = {"id": "a", "hostname": "h", "port": 5051}
    book.recover({"a": {"info": info, "unreachable_time": None, "secret_hash": "x"}}, [], T0)
    assert not book.admission_changes(AgentID("a"), dict(info), "x")
    assert book.admission_changes(AgentID("a"), dict(info), "y")  # a new secret
    assert not book.admission_changes(AgentID("a"), dict(info), "y")
    assert book.admission_changes(AgentID("a"), {**info, "port": 5052}, "y")
    assert book.admission_changes(AgentID("b"), {"id": "b"}, None)  # never admitted


def test_reregistration_after_a_master_restart_writes_nothing() -> None:
    h = CoreHarness()
    aid = h.agent()
    reg = Registry()
    for a in h.actions:
        op = getattr(a, "op", None)
        if op is not None:
            op.apply(reg)
    h2 = CoreHarness()
    h2.core.recover(reg, T0 + 5)
    info = {**agent_info(5051), "id": aid}
    out = h2.agent_subscribe(info, now=T0 + 6, secret=h.secrets[aid])
    assert out.agent_id == aid
    assert not [a for a in h2.actions if getattr(a, "op", None) is not None]
    assert h2.core.agents[aid].connected


def test_a_new_registration_replaces_the_agent_at_its_address() -> None:
    h = CoreHarness()
    first = h.agent(port=5051)
    other = h.agent(port=5052)
    again = h.agent(port=5051, now=T0 + 1)
    assert again != first
    assert set(h.core.agents) == {other, again}
