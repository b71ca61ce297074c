"""Master detectors: a fixed address, and the leader of a real ZooKeeper election."""

from __future__ import annotations

import asyncio

import pytest

from dcos.common.addresses import MasterAddress, MasterAddressError
from dcos.state.detector import (
    StaticDetector,
    ZooKeeperDetector,
    master_detector,
    resolve_master,
)
from dcos.state.election import ZooKeeperLeaderElector
from dcos.state.leader import MasterInfo
from dcos.state.zk import ZkUrlError, new_client, parse_zk_url, start_client, stop_client

WAIT = 20.0


def info(i: int) -> MasterInfo:
    return MasterInfo(id=f"m{i}", ip=f"127.0.0.{i + 1}", port=5050 + i, hostname=f"h{i}", version="1")


def addr(i: int) -> MasterAddress:
    return MasterAddress("http", f"127.0.0.{i + 1}", 5050 + i)


async def test_static_detector_reports_its_address_once() -> None:
    d = master_detector("127.0.0.1:5050")
    assert isinstance(d, StaticDetector)
    await d.start()
    assert d.current() == MasterAddress("http", "127.0.0.1", 5050)
    assert await d.changed(None) == d.current()
    assert await d.wait_leader(0.1) == d.current()
    waiting = asyncio.ensure_future(d.changed(d.current()))
    await asyncio.sleep(0.05)
    assert not waiting.done()
    waiting.cancel()
    await d.close()


async def two_masters(detector: ZooKeeperDetector) -> None:
    """Return once the second contender shows up in `masters()` (callers bound the wait)."""
    while len(detector.masters()) < 2:
        await asyncio.sleep(0.02)


def test_bad_master_texts_raise_their_own_errors() -> None:
    with pytest.raises(ZkUrlError):
        master_detector("zk://h:2181")
    with pytest.raises(MasterAddressError):
        resolve_master("")


async def test_zookeeper_detector_follows_the_leader(zk_url: str) -> None:
    path = parse_zk_url(zk_url).path
    clients = [new_client(zk_url, session_timeout=4.0) for _ in range(2)]
    for c in clients:
        await start_client(c)
    detector = master_detector(zk_url, session_timeout=4.0)
    assert isinstance(detector, ZooKeeperDetector)
    await detector.start()
    try:
        with pytest.raises(TimeoutError, match="no leading master in zk://"):
            await detector.wait_leader(0.3)
        electors = [ZooKeeperLeaderElector(c, path, info(i)) for i, c in enumerate(clients)]
        await asyncio.wait_for(electors[0].campaign(), WAIT)
        second = asyncio.ensure_future(electors[1].campaign())
        assert await detector.wait_leader(WAIT) == addr(0)
        await asyncio.wait_for(two_masters(detector), WAIT)
        assert [m.id for m in detector.masters()] == ["m0", "m1"]
        assert await asyncio.to_thread(resolve_master, zk_url, 5.0) == addr(0)
        await stop_client(clients[0])  # the leader dies
        assert await asyncio.wait_for(detector.changed(addr(0)), WAIT) == addr(1)
        await asyncio.wait_for(second, WAIT)
        assert await asyncio.to_thread(resolve_master, zk_url, 5.0) == addr(1)
        await electors[1].withdraw()
        assert await asyncio.wait_for(detector.changed(addr(1)), WAIT) is None
    finally:
        await detector.close()
        for c in clients:
            await stop_client(c)


def test_resolve_master_times_out_without_a_leader(zk_url: str) -> None:
    with pytest.raises(TimeoutError, match="no leading master"):
        resolve_master(zk_url, 0.3)


def test_resolve_master_times_out_without_zookeeper() -> None:
    with pytest.raises(TimeoutError, match="could not connect to ZooKeeper"):
        resolve_master("zk://127.0.0.1:1/dcos", 0.3)
