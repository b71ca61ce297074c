"""One contract suite for every StateStore implementation (memory, SQLite, ZooKeeper)."""

from __future__ import annotations

import asyncio

import pytest

from dcos.state import MemoryStateStore, SQLiteStateStore, VersionConflict
from dcos.state.zookeeper import ZooKeeperStateStore


@pytest.fixture(params=["memory", "sqlite", "zookeeper"])
async def store(request, tmp_path):
    if request.param == "memory":
        s = MemoryStateStore()
    elif request.param == "sqlite":
        s = SQLiteStateStore(str(tmp_path / "s.db"))
    else:  # a real ZooKeeper (the session's server), a fresh root per test
        s = await ZooKeeperStateStore.open(request.getfixturevalue("zk_url"), session_timeout=4.0)
    yield s
    await s.close()


async def test_get_missing_is_none(store):
    assert await store.get("nope") is None


async def test_create_requires_version_zero(store):
    assert await store.put("a", b"1", 0) == 1
    with pytest.raises(VersionConflict):
        await store.put("a", b"2", 0)
    got = await store.get("a")
    assert (got.value, got.version) == (b"1", 1)


async def test_update_with_matching_version(store):
    v1 = await store.put("a", b"1", 0)
    v2 = await store.put("a", b"2", v1)
    assert v2 == v1 + 1
    assert (await store.get("a")).value == b"2"


async def test_stale_version_changes_nothing(store):
    await store.put("a", b"1", 0)
    await store.put("a", b"2", 1)
    with pytest.raises(VersionConflict) as exc:
        await store.put("a", b"3", 1)
    assert exc.value.actual == 2
    assert (await store.get("a")).value == b"2"


async def test_delete_with_version(store):
    await store.put("a", b"1", 0)
    with pytest.raises(VersionConflict):
        await store.delete("a", 7)
    await store.delete("a", 1)
    assert await store.get("a") is None
    with pytest.raises(VersionConflict):
        await store.delete("a", 1)


async def test_list_prefix_sorted(store):
    for k in ["x/b", "x/a", "y/c", "x"]:
        await store.put(k, b"", 0)
    assert await store.list("x/") == ["x/a", "x/b"]
    assert await store.list("") == ["x", "x/a", "x/b", "y/c"]


async def test_watch_sees_later_changes_in_order(store):
    it = store.watch("w/")
    await store.put("other", b"0", 0)
    await store.put("w/1", b"a", 0)
    await store.put("w/1", b"b", 1)
    await store.delete("w/1", 2)
    seen = [await asyncio.wait_for(it.__anext__(), 1) for _ in range(3)]
    assert [(c.key, c.value, c.version) for c in seen] == [
        ("w/1", b"a", 1),
        ("w/1", b"b", 2),
        ("w/1", None, 2),
    ]
    await it.aclose()


async def test_binary_values_round_trip(store):
    blob = bytes(range(256))
    await store.put("b", blob, 0)
    assert (await store.get("b")).value == blob


async def test_sqlite_survives_reopen(tmp_path):
    path = str(tmp_path / "d" / "s.db")
    s = SQLiteStateStore(path)
    await s.put("k", b"v", 0)
    await s.close()
    s2 = SQLiteStateStore(path)
    got = await s2.get("k")
    assert (got.value, got.version) == (b"v", 1)
    await s2.close()
