"""`ZooKeeperStateStore` beyond the shared contract: fencing, large values, several clients."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator

import pytest
from kazoo.exceptions import ConnectionLoss, SessionExpiredError

from dcos.state import VersionConflict
from dcos.state.zk import parse_zk_url, zk_await
from dcos.state.zookeeper import (
    MAGIC,
    Fenced,
    ZooKeeperStateStore,
    decode_value,
    encode_value,
    key_to_name,
    name_to_key,
)


@pytest.fixture
async def stores(zk_url: str) -> AsyncIterator[tuple[ZooKeeperStateStore, ZooKeeperStateStore]]:
    """Two stores on the same root, each with its own ZooKeeper session."""
    a = await ZooKeeperStateStore.open(zk_url, session_timeout=4.0)
    b = await ZooKeeperStateStore.open(zk_url, session_timeout=4.0)
    yield a, b
    await a.close()
    await b.close()


def test_key_names_round_trip_and_are_flat() -> None:
    for key in ["", ".", "..", "a/b", "x y%z", "agents/ü", "zookeeper"]:
        name = key_to_name(key)
        assert "/" not in name and name not in ("", ".", "..")
        assert name_to_key(name) == key


def test_values_with_the_marker_stay_unambiguous() -> None:
    tricky = MAGIC + b"not compressed"
    assert encode_value(tricky) != tricky
    assert decode_value(encode_value(tricky)) == tricky
    assert encode_value(b"small") == b"small"


async def test_fenced_write_fails_once_the_fence_znode_is_gone(stores, zk_url) -> None:
    a, _ = stores
    fence = parse_zk_url(zk_url).path + "-fence"
    await zk_await(a.client.create_async(fence, b"", ephemeral=True))
    a.fence(fence)
    assert await a.put("registry", b"v1", 0) == 1
    await zk_await(a.client.delete_async(fence))
    with pytest.raises(Fenced) as exc:
        await a.put("registry", b"v2", 1)
    assert isinstance(exc.value, VersionConflict)
    with pytest.raises(Fenced):
        await a.delete("registry", 1)
    got = await a.get("registry")
    assert (got.value, got.version) == (b"v1", 1)


async def test_fenced_write_still_checks_the_version(stores, zk_url) -> None:
    a, _ = stores
    fence = parse_zk_url(zk_url).path + "-fence2"
    await zk_await(a.client.create_async(fence, b""))
    a.fence(fence)
    await a.put("k", b"1", 0)
    with pytest.raises(VersionConflict) as exc:
        await a.put("k", b"2", 5)
    assert not isinstance(exc.value, Fenced) and exc.value.actual == 1


async def test_five_megabyte_value_round_trips(stores) -> None:
    a, b = stores
    blob = os.urandom(5 * 1024 * 1024)  # incompressible: stored as about 5 MB
    assert await a.put("big", blob, 0) == 1
    got = await b.get("big")
    assert got is not None and got.value == blob


async def test_large_compressible_value_is_stored_compressed(stores) -> None:
    a, _ = stores
    registry = b'{"agent": "0123456789abcdef", "resources": [1, 2, 3]}' * 200_000  # ~10 MB
    await a.put("registry", registry, 0)
    data, _stat = await zk_await(a.client.get_async(a._path("registry")))
    assert data.startswith(MAGIC) and len(data) < len(registry) // 10
    assert (await a.get("registry")).value == registry


async def test_two_clients_see_each_others_writes_and_conflicts(stores) -> None:
    a, b = stores
    await a.put("k", b"from a", 0)
    assert (await b.get("k")).value == b"from a"
    await b.put("k", b"from b", 1)
    with pytest.raises(VersionConflict) as exc:
        await a.put("k", b"stale", 1)
    assert exc.value.actual == 2
    assert await a.list("") == ["k"]


async def test_watch_sees_another_clients_changes(stores) -> None:
    a, b = stores
    await b.put("w/old", b"0", 0)
    it = a.watch("w/")
    await a.sync_watches()
    await b.put("w/1", b"x", 0)
    await b.put("other", b"-", 0)
    first = await asyncio.wait_for(it.__anext__(), 10)
    assert (first.key, first.value, first.version) == ("w/1", b"x", 1)
    await b.put("w/old", b"1", 1)
    changed = await asyncio.wait_for(it.__anext__(), 10)
    assert (changed.key, changed.value, changed.version) == ("w/old", b"1", 2)
    await b.delete("w/1", 1)
    gone = await asyncio.wait_for(it.__anext__(), 10)
    assert (gone.key, gone.value) == ("w/1", None)
    await it.aclose()


async def test_local_change_is_delivered_once_despite_the_remote_watch(stores) -> None:
    a, b = stores
    it = a.watch("")
    await a.sync_watches()
    await a.put("k", b"1", 0)
    await a.sync_watches()  # the data/children watch fired for our own write meanwhile
    await b.put("k", b"2", 1)
    seen = [await asyncio.wait_for(it.__anext__(), 10) for _ in range(2)]
    assert [(c.value, c.version) for c in seen] == [(b"1", 1), (b"2", 2)]
    await it.aclose()


async def test_watch_is_rearmed_after_the_server_restarts(tmp_path) -> None:
    """kazoo drops every watch on a disconnection: after reconnecting the store re-reads and
    re-arms them, so a change made by another client afterwards is still delivered."""
    from dcos.testing.zookeeper import ZooKeeperServer

    server = ZooKeeperServer(tmp_path / "zk").start()
    a = b = None
    try:
        a = await ZooKeeperStateStore.open(server.url("/s"), session_timeout=10.0)
        b = await ZooKeeperStateStore.open(server.url("/s"), session_timeout=10.0)
        await a.put("k", b"1", 0)
        it = a.watch("")
        await a.sync_watches()
        await asyncio.to_thread(server.restart)  # both sessions survive (shorter than 10 s)

        async def write_when_reconnected() -> None:
            while True:
                try:
                    await b.put("k", b"2", 1)
                    return
                except (ConnectionLoss, SessionExpiredError):
                    await asyncio.sleep(0.1)

        await asyncio.wait_for(write_when_reconnected(), 30)
        await b.put("new", b"n", 0)
        seen = [await asyncio.wait_for(it.__anext__(), 20) for _ in range(2)]
        assert sorted((c.key, c.value) for c in seen) == [("k", b"2"), ("new", b"n")]
        await it.aclose()
    finally:
        for s in (a, b):
            if s is not None:
                await s.close()
        server.stop()
