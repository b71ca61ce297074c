"""`dcos.state.zk` (zk:// URLs, kazoo client on asyncio) and the ZooKeeper test harness."""

from __future__ import annotations

import pytest
from kazoo.exceptions import NoNodeError

from dcos.state.zk import (
    ZkUrl,
    ZkUrlError,
    ensure_path,
    is_zk_url,
    new_client,
    parse_zk_url,
    start_client,
    stop_client,
    zk_await,
)
from dcos.testing.zookeeper import ZooKeeperServer


def test_parse_single_host_with_path() -> None:
    assert parse_zk_url("zk://127.0.0.1:2181/dcos") == ZkUrl("127.0.0.1:2181", "/dcos")


def test_parse_several_hosts_default_port_and_auth() -> None:
    url = parse_zk_url("zk://u:p@a:1,b,c:3/mesos/x/")
    assert url == ZkUrl("a:1,b:2181,c:3", "/mesos/x", "u:p")
    assert str(url) == "zk://u:p@a:1,b:2181,c:3/mesos/x"
    assert url.redacted() == "zk://u:***@a:1,b:2181,c:3/mesos/x"


def test_child_and_sibling_paths() -> None:
    url = parse_zk_url("zk://h:2181/dcos")
    assert str(url.child("leader")) == "zk://h:2181/dcos/leader"
    assert url.sibling("-state").path == "/dcos-state"


@pytest.mark.parametrize(
    "text",
    ["zk://h:2181", "zk://h:2181/", "http://h:2181/x", "zk://h:99999/x", "zk:///x", "zk://h/a//b",
     "zk://h/a/../b", "zk://nopass@h/x"],
)
def test_parse_rejects_bad_urls_with_clear_error(text: str) -> None:
    with pytest.raises(ZkUrlError, match="ZooKeeper URL|not a ZooKeeper URL"):
        parse_zk_url(text)


def test_is_zk_url() -> None:
    assert is_zk_url("ZK://h/x") and not is_zk_url("127.0.0.1:5050")


async def test_client_creates_and_reads_znodes(zk_url: str) -> None:
    url = parse_zk_url(zk_url)
    client = new_client(url, session_timeout=2.0)
    await start_client(client)
    try:
        await ensure_path(client, url.path + "/a")
        await zk_await(client.set_async(url.path + "/a", b"hello"))
        data, stat = await zk_await(client.get_async(url.path + "/a"))
        assert (data, stat.version) == (b"hello", 1)
        with pytest.raises(NoNodeError):
            await zk_await(client.get_async(url.path + "/missing"))
    finally:
        await stop_client(client)


async def test_start_client_times_out_with_hosts_in_message() -> None:
    client = new_client("zk://127.0.0.1:1/x", session_timeout=1.0)
    with pytest.raises(TimeoutError, match="127.0.0.1:1"):
        await start_client(client, timeout=0.5)
    client.close()


def test_server_restart_keeps_data(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from kazoo.client import KazooClient

    server = ZooKeeperServer(tmp_path / "zk").start()
    try:
        c = KazooClient(hosts=server.hosts)
        c.start(10)
        c.create("/kept", b"x")
        c.stop()
        c.close()
        server.restart()
        assert server.mode() == "standalone"
        c = KazooClient(hosts=server.hosts)
        c.start(10)
        assert c.get("/kept")[0] == b"x"
        c.stop()
        c.close()
    finally:
        server.stop()
    assert not server.running


async def test_store_on_an_ensemble_survives_losing_its_zookeeper_leader(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import asyncio

    from kazoo.exceptions import ConnectionLoss, SessionExpiredError

    from dcos.state.zookeeper import ZooKeeperStateStore
    from dcos.testing.zookeeper import ZooKeeperEnsemble

    ensemble = await asyncio.to_thread(ZooKeeperEnsemble(tmp_path / "ens", size=3).start)
    try:
        assert sorted(s.mode() or "" for s in ensemble.servers) == ["follower", "follower", "leader"]
        store = await ZooKeeperStateStore.open(ensemble.url("/ha"), session_timeout=6.0)
        await store.put("k", b"1", 0)
        lost = ensemble.leader_index()
        assert lost is not None
        await asyncio.to_thread(ensemble.stop_server, lost)

        async def write_when_reconnected() -> int:
            while True:  # the client moves to a live server; the quorum elects a new leader
                try:
                    return await store.put("k", b"2", 1)
                except (ConnectionLoss, SessionExpiredError):
                    await asyncio.sleep(0.1)

        assert await asyncio.wait_for(write_when_reconnected(), 30) == 2
        await asyncio.to_thread(ensemble.start_server, lost)  # it rejoins as a follower
        assert ensemble.servers[lost].mode() == "follower"
        assert (await store.get("k")).value == b"2"  # type: ignore[union-attr]
        await store.close()
    finally:
        await asyncio.to_thread(ensemble.stop)
    assert not any(s.running for s in ensemble.servers)


async def test_a_cancelled_start_stops_the_client_at_once() -> None:
    """A daemon stopping while ZooKeeper is down: the connect attempt ends with it (kazoo's
    thread stopped), instead of holding the process until the retry policy gives up."""
    import asyncio
    import socket
    import time

    from dcos.state.zk import new_client, start_client

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    client = new_client(f"zk://127.0.0.1:{port}/t", session_timeout=30)
    task = asyncio.ensure_future(start_client(client, timeout=30))
    await asyncio.sleep(0.5)
    began = time.monotonic()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert time.monotonic() - began < 5
    assert client._stopped.is_set()  # kazoo's own flag: its connection thread ends


async def test_a_start_that_times_out_names_the_hosts() -> None:
    import socket

    from dcos.state.zk import new_client, start_client

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    client = new_client(f"zk://127.0.0.1:{port}/t", session_timeout=10)
    with pytest.raises(TimeoutError, match=f"127.0.0.1:{port} within 0.5 s"):
        await start_client(client, timeout=0.5)
    assert client._stopped.is_set()
