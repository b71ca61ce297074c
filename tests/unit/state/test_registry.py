"""The registry: operations applied as one CAS, persisted, recovered after a restart."""

from __future__ import annotations

import pytest

from dcos.state import (
    AddFramework,
    AdmitAgent,
    EmbeddedLeaderElector,
    MarkReachable,
    MarkUnreachable,
    MasterInfo,
    MemoryStateStore,
    Registrar,
    RemoveAgent,
    RemoveFramework,
    SetQuota,
    SetWeight,
    SQLiteStateStore,
    VersionConflict,
)


async def test_operations_apply_and_persist_in_one_write():
    store = MemoryStateStore()
    reg = Registrar(store)
    await reg.recover()
    await reg.apply([AdmitAgent("a1", {"hostname": "h"}), AddFramework("f1", {"name": "x"})])
    assert (await store.get("master/registry")).version == 1
    await reg.apply(
        [MarkUnreachable("a1", 5.0), SetWeight("r", 2.0), SetQuota("r", {"s": {"cpus": 1}})]
    )
    r = reg.registry
    assert r.agents["a1"]["unreachable_time"] == 5.0
    assert r.weights == {"r": 2.0} and r.quota == {"r": {"s": {"cpus": 1}}}
    await reg.apply([MarkReachable("a1"), RemoveFramework("f1")])
    assert reg.registry.agents["a1"]["unreachable_time"] is None
    assert reg.registry.frameworks == {} and reg.registry.completed_frameworks == ["f1"]


async def test_removed_agent_cannot_be_admitted_again():
    reg = Registrar(MemoryStateStore())
    await reg.recover()
    await reg.apply([AdmitAgent("a1", {}), RemoveAgent("a1")])
    await reg.apply([AdmitAgent("a1", {})])
    assert "a1" not in reg.registry.agents


async def test_noop_writes_nothing():
    store = MemoryStateStore()
    reg = Registrar(store)
    await reg.recover()
    await reg.apply([MarkReachable("missing")])
    assert await store.get("master/registry") is None


async def test_conflicting_writer_raises_and_changes_nothing(tmp_path):
    """Another master wrote the registry (it leads now): no re-read and retry, the stale
    writer gets VersionConflict and the other's write stays."""
    store = SQLiteStateStore(str(tmp_path / "s.db"))
    a, b = Registrar(store), Registrar(store)
    await a.recover()
    await b.recover()
    await a.apply([AdmitAgent("a1", {})])
    with pytest.raises(VersionConflict):
        await b.apply([AdmitAgent("a2", {})])
    assert set(b.registry.agents) == set()
    assert set((await Registrar(store).recover()).agents) == {"a1"}
    await store.close()


async def test_registry_survives_restart(tmp_path):
    path = str(tmp_path / "s.db")
    s = SQLiteStateStore(path)
    reg = Registrar(s)
    await reg.recover()
    await reg.apply([AdmitAgent("a1", {"hostname": "h"}), AddFramework("f1", {"name": "x"})])
    await s.close()
    s2 = SQLiteStateStore(path)
    again = await Registrar(s2).recover()
    assert again.agents["a1"]["info"] == {"hostname": "h"} and "f1" in again.frameworks
    await s2.close()


async def test_embedded_elector_is_always_leader():
    info = MasterInfo("m", "127.0.0.1", 5050, "localhost", "1.11.0")
    e = EmbeddedLeaderElector(info)
    async with await e.campaign() as lead:
        assert e.leader() == info
        assert not lead.lost.is_set()
    assert info.to_json()["address"] == {"hostname": "localhost", "ip": "127.0.0.1", "port": 5050}
