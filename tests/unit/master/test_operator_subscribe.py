"""The v1 operator API's SUBSCRIBE on a master serving on loopback: wire shape (chunked JSON
RecordIO, SUBSCRIBED with GET_STATE's snapshot first), the events of an agent, a framework
and a task, heartbeats, 406 without JSON, a slow subscriber dropped, streams closed when
the master stops leading."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import aiohttp
import orjson
import pytest

from dcos.master.core import Observed
from dcos.master.core.observed import FrameworkRemoved
from dcos.master.http.operator_feed import FEED, accepts_json
from dcos.protocol.codec import loads_json
from dcos.protocol.ids import wrap
from dcos.testing.master import (
    Stream,
    agent_subscribe,
    call,
    command_task,
    executor_status,
    launch,
    master,
    send_status,
    subscribe,
)
from dcos.testing.waiting import async_wait_until


async def operator_subscribe(
    s: aiohttp.ClientSession, url: str, path: str = "/api/v1"
) -> tuple[Stream, dict[str, Any]]:
    resp = await s.post(
        url + path, json={"type": "SUBSCRIBE"}, headers={"Accept": "application/json"}
    )
    assert resp.status == 200, await resp.text()
    assert resp.headers["Content-Type"].startswith("application/json")
    assert resp.headers["Transfer-Encoding"] == "chunked"
    stream = Stream(resp, loads_json)
    first = await stream.next()
    assert first["type"] == "SUBSCRIBED"
    return stream, first["subscribed"]


async def get_state(s: aiohttp.ClientSession, url: str) -> dict[str, Any]:
    async with s.post(f"{url}/api/v1", json={"type": "GET_STATE"}) as r:
        return (await r.json())["get_state"]


def shape(obj: Any) -> Any:
    """The keys of `obj`, recursively (lists by their first item)."""
    if isinstance(obj, dict):
        return {k: shape(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [shape(obj[0])] if obj else []
    return type(obj).__name__


async def test_subscribed_snapshot_then_live_events(env):
    m, s = env
    astream, aid = await agent_subscribe(s, m.url)
    fstream, fid, sid = await subscribe(s, m.url)
    offers = (await fstream.next("OFFERS"))["offers"]["offers"]  # nothing changes from here
    ostream, subscribed = await operator_subscribe(s, m.url, "/master/api/v1")
    assert subscribed["heartbeat_interval_seconds"] == 15
    snap = subscribed["get_state"]
    assert snap == await get_state(s, m.url)
    assert [a["agent_info"]["id"] for a in snap["get_agents"]["agents"]] == [wrap(aid)]
    assert [f["framework_info"]["id"] for f in snap["get_frameworks"]["frameworks"]] == [wrap(fid)]
    assert (
        await launch(s, m.url, fid, sid, offers[0]["id"], [command_task("t1", aid)])
    ).status == 202
    added = (await ostream.next())["task_added"]["task"]
    assert (added["task_id"], added["state"], added["agent_id"]) == (
        wrap("t1"), "TASK_STAGING", wrap(aid)
    )  # fmt: skip
    await send_status(s, m.url, aid, fid, executor_status("t1", aid))
    ev = await ostream.next()
    assert ev["type"] == "TASK_UPDATED"
    upd = ev["task_updated"]
    assert upd["framework_id"] == wrap(fid) and upd["state"] == "TASK_RUNNING"
    st = upd["status"]
    assert (st["task_id"], st["agent_id"], st["state"]) == (wrap("t1"), wrap(aid), "TASK_RUNNING")
    assert isinstance(st["timestamp"], float)
    # the task as GET_STATE shows it now is what TASK_ADDED + TASK_UPDATED make of it
    (now,) = (await get_state(s, m.url))["get_tasks"]["tasks"]
    assert shape(now) == shape({**added, "statuses": [st]})
    # a second agent, then the framework torn down
    a2stream, aid2 = await agent_subscribe(s, m.url, port=5052)
    ev = await ostream.next()
    assert ev["type"] == "AGENT_ADDED"
    assert ev["agent_added"]["agent"]["agent_info"]["id"] == wrap(aid2)
    assert ev["agent_added"]["agent"].keys() == snap["get_agents"]["agents"][0].keys()
    await call(s, m.url, fid, sid, {"type": "TEARDOWN"})
    killed = await ostream.next()
    assert killed["task_updated"]["state"] == "TASK_KILLED"
    removed = await ostream.next()
    assert removed == {
        "type": "FRAMEWORK_REMOVED",
        "framework_removed": {"framework_info": snap["get_frameworks"]["frameworks"][0][
            "framework_info"]},
    }  # fmt: skip
    for st_ in (ostream, fstream, astream, a2stream):
        await st_.close()


async def test_framework_added_and_updated(env):
    m, s = env
    ostream, _ = await operator_subscribe(s, m.url, "/api/v1/operator")
    fstream, fid, _sid = await subscribe(s, m.url)
    ev = await ostream.next()
    assert ev["type"] == "FRAMEWORK_ADDED"
    fw = ev["framework_added"]["framework"]
    assert fw["framework_info"]["id"] == wrap(fid) and fw["connected"] and fw["active"]
    await fstream.close()
    ev = await ostream.next()
    assert ev["type"] == "FRAMEWORK_UPDATED"
    assert not ev["framework_updated"]["framework"]["connected"]
    fstream, _, _ = await subscribe(s, m.url, framework_id=fid)
    ev = await ostream.next()
    assert ev["type"] == "FRAMEWORK_UPDATED"
    assert ev["framework_updated"]["framework"]["connected"]
    await fstream.close()
    await ostream.close()


async def test_heartbeats_when_idle(tmp_path):
    m = await master(tmp_path, heartbeat_interval=0.2)
    try:
        async with aiohttp.ClientSession() as s:
            ostream, subscribed = await operator_subscribe(s, m.url)
            assert subscribed["heartbeat_interval_seconds"] == 0.2
            assert await ostream.next() == {"type": "HEARTBEAT"}
            await ostream.close()
    finally:
        await m.stop()


@pytest.mark.parametrize(
    "accept,ok",
    [
        ("", True), ("*/*", True), ("application/json", True),
        ("text/html, application/*;q=0.5", True), ("application/x-protobuf", False),
        ("application/json;q=0", False), ("text/plain", False),
    ],
)  # fmt: skip
def test_accepts_json(accept, ok):
    assert accepts_json(accept) is ok


async def test_protobuf_only_is_406(env):
    m, s = env
    for body in ({"type": "SUBSCRIBE"}, {"type": "GET_STATE"}):
        async with s.post(
            f"{m.url}/api/v1", json=body, headers={"Accept": "application/x-protobuf"}
        ) as r:
            assert r.status == 406
            assert "application/json" in await r.text()


async def test_slow_subscriber_is_dropped_and_others_go_on(env, caplog):
    m, s = env
    feed = m.shell.app[FEED]
    feed.limit = 64 * 1024
    # a subscriber that never reads (a small receive buffer: its socket fills soon)
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", m.port))
    sock.setblocking(False)
    _reader, writer = await asyncio.open_connection(sock=sock)
    body = orjson.dumps({"type": "SUBSCRIBE"})
    writer.write(
        b"POST /api/v1 HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
    )
    await writer.drain()
    await async_wait_until(lambda: len(feed.streams) == 1, what="the silent subscriber")
    silent = feed.streams[0]
    ostream, _ = await operator_subscribe(s, m.url)
    big = {"name": "x" * 10_000}
    seq = m.shell.core.observed_seq
    for _ in range(2000):  # 20 MB of events, one at a time: the reader keeps up
        seq += 1
        m.shell.dispatch([Observed(seq, FrameworkRemoved(big))])
        await asyncio.sleep(0)
        if silent.dropped:
            break
    await async_wait_until(lambda: silent not in feed.streams, what="the silent subscriber dropped")
    assert "bytes of events unread" in (silent.dropped or "")
    assert "operator subscriber 127.0.0.1 dropped" in caplog.text
    assert feed.streams == [ostream_feed(feed)] and m.shell.core.observed
    ev = await ostream.next("FRAMEWORK_REMOVED")  # the reader goes on
    assert ev["framework_removed"]["framework_info"] == big
    writer.close()
    await ostream.close()


def ostream_feed(feed):
    (stream,) = feed.streams
    return stream


async def test_streams_close_when_leadership_is_lost(env):
    m, s = env
    ostream, _ = await operator_subscribe(s, m.url)
    m.shell.step_down("test", loud=False)
    await asyncio.wait_for(ostream.ended.wait(), 5)
    assert m.shell.app[FEED].streams == []
    async with s.post(f"{m.url}/api/v1", json={"type": "SUBSCRIBE"}) as r:
        assert r.status == 503  # no leader known in embedded mode once it stepped down
    await ostream.close()


async def test_unsubscribing_turns_observation_off(env):
    m, s = env
    ostream, _ = await operator_subscribe(s, m.url)
    assert m.shell.core.observed
    await ostream.close()
    await async_wait_until(lambda: not m.shell.core.observed, what="observation off")
