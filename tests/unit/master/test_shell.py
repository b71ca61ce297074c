"""The master's HTTP shell on a real loopback socket: scheduler stream shape, call answers,
malformed input, the internal agent channel, operator endpoints."""

from __future__ import annotations

import pytest

from dcos.protocol import internal
from dcos.protocol.ids import wrap
from dcos.testing.master import (
    agent_call,
    agent_subscribe,
    call,
    command_task,
    executor_status,
    launch,
    send_status,
    subscribe,
)


async def test_subscribe_stream_shape(env):
    m, s = env
    body = {
        "type": "SUBSCRIBE",
        "subscribe": {"framework_info": {"user": "u", "name": "x"}},
        "unknown_key": 1,
    }
    async with s.post(
        f"{m.url}/api/v1/scheduler",
        json=body,
        headers={"Connection": "close", "Authorization": "Basic Tm9uZTpOb25l"},
    ) as r:
        assert r.status == 200
        assert r.headers["Transfer-Encoding"] == "chunked"
        assert r.headers["Content-Type"].startswith("application/json")
        assert r.headers["Mesos-Stream-Id"]
        first = await r.content.readuntil(b"\n")
        length = int(first)
        record = await r.content.readexactly(length)
        import orjson

        ev = orjson.loads(record)
        assert ev["type"] == "SUBSCRIBED"
        assert ev["subscribed"]["framework_id"]["value"]
        assert ev["subscribed"]["heartbeat_interval_seconds"] == 15
        assert ev["subscribed"]["master_info"]["version"] == "1.11.0"


async def test_calls_answer_202_with_empty_body(env):
    m, s = env
    stream, fid, sid = await subscribe(s, m.url)
    for body in (
        {"type": "REVIVE"},
        {"type": "SUPPRESS", "suppress": {"roles": ["*"]}},
        {"type": "REQUEST", "request": {"requests": []}},
        {"type": "RECONCILE", "reconcile": {"tasks": []}},
    ):
        async with s.post(
            f"{m.url}/api/v1/scheduler",
            json={"framework_id": wrap(fid), **body},
            headers={"Mesos-Stream-Id": sid},
        ) as r:
            assert r.status == 202
            assert await r.read() == b""
    await stream.close()


@pytest.mark.parametrize(
    "raw",
    [
        b"not json",
        b"[1, 2]",
        b'{"type": 5}',
        b'{"type": "FROBNICATE", "framework_id": {"value": "x"}}',
        b'{"type": "REVIVE"}',
        b'{"type": "KILL", "framework_id": {"value": "F"}, "kill": {"task_id": 7}}',
        b'{"type": "DECLINE", "framework_id": {"value": "F"}, "decline": {"offer_ids": "x"}}',
        b'{"type": "ACKNOWLEDGE", "framework_id": {"value": "F"}, "acknowledge": {'
        b'"agent_id": {"value": "a"}, "task_id": {"value": "t"}, "uuid": "short"}}',
        b'{"type": "SUBSCRIBE", "subscribe": {"framework_info": {"user": "u"}}}',
        b'{"type": "ACCEPT", "framework_id": {"value": "F"}, "accept": {"offer_ids": [],'
        b' "filters": {"refuse_seconds": "soon"}}}',
    ],
)
async def test_malformed_calls_get_400_and_change_nothing(env, raw):
    m, s = env
    stream, fid, sid = await subscribe(s, m.url)
    before = m.shell.core.frameworks[fid].info
    raw = raw.replace(b'"F"', b'"%s"' % fid.encode())
    async with s.post(
        f"{m.url}/api/v1/scheduler",
        data=raw,
        headers={"Content-Type": "application/json", "Mesos-Stream-Id": sid},
    ) as r:
        assert r.status == 400
        assert (await r.text()).strip()
    assert list(m.shell.core.frameworks) == [fid]
    assert m.shell.core.frameworks[fid].info == before
    assert not m.shell.core.frameworks[fid].suppressed_roles
    await stream.close()


async def test_stream_id_checked_and_unsubscribed_is_403(env):
    m, s = env
    stream, fid, sid = await subscribe(s, m.url)
    assert (await call(s, m.url, fid, None, {"type": "REVIVE"})).status == 400
    assert (await call(s, m.url, fid, "wrong", {"type": "REVIVE"})).status == 400
    assert (await call(s, m.url, "nobody", sid, {"type": "REVIVE"})).status == 403
    await stream.close()


async def test_second_subscribe_replaces_the_old_stream(env):
    m, s = env
    old, fid, sid = await subscribe(s, m.url)
    new, fid2, sid2 = await subscribe(s, m.url, framework_id=fid)
    assert fid2 == fid and sid2 != sid
    err = await old.next("ERROR")
    assert "failed over" in err["error"]["message"]
    await old.ended.wait()
    assert (await call(s, m.url, fid, sid, {"type": "REVIVE"})).status == 400
    assert (await call(s, m.url, fid, sid2, {"type": "REVIVE"})).status == 202
    assert m.shell.core.frameworks[fid].connected
    await new.close()


async def test_offer_launch_update_acknowledge_round_trip(env):
    m, s = env
    astream, aid = await agent_subscribe(s, m.url)
    fstream, fid, sid = await subscribe(s, m.url)
    offers = (await fstream.next("OFFERS"))["offers"]["offers"]
    assert offers[0]["agent_id"] == wrap(aid)
    task = command_task("t1", aid, cpus=0.5)
    r = await launch(s, m.url, fid, sid, offers[0]["id"], [task])
    assert r.status == 202
    run = await astream.next(internal.RUN_TASKS)
    assert run["tasks"][0]["task_id"] == wrap("t1") and run["framework"]["id"] == wrap(fid)
    uuid = "AAAAAAAAAAAAAAAAAAAAAA=="
    assert await send_status(s, m.url, aid, fid, executor_status("t1", aid, uuid=uuid)) == 202
    upd = await fstream.next("UPDATE")
    assert upd["update"]["status"]["state"] == "TASK_RUNNING"
    assert upd["update"]["status"]["agent_id"] == wrap(aid)
    await call(
        s,
        m.url,
        fid,
        sid,
        {
            "type": "ACKNOWLEDGE",
            "acknowledge": {"agent_id": wrap(aid), "task_id": wrap("t1"), "uuid": uuid},
        },
    )
    ack = await astream.next(internal.ACKNOWLEDGE)
    assert ack["uuid"] == uuid and ack["task_id"] == "t1"
    await call(s, m.url, fid, sid, {"type": "KILL", "kill": {"task_id": wrap("t1")}})
    assert (await astream.next(internal.KILL_TASK))["task_id"] == "t1"
    assert await agent_call(s, m.url, {"type": internal.PONG, "agent_id": aid}) == 202
    async with s.get(f"{m.url}/master/tasks") as r:
        (t,) = (await r.json())["tasks"]
        assert (t["id"], t["state"], t["slave_id"]) == ("t1", "TASK_RUNNING", aid)
    await fstream.close()
    await astream.close()


async def test_agent_channel_rejects_malformed(env):
    m, s = env
    for data in (b"\xc1garbage", b"\x93\x01\x02\x03"):
        async with s.post(
            f"{m.url}/internal/agent", data=data, headers={"Content-Type": "application/x-msgpack"}
        ) as r:
            assert r.status == 400
    assert await agent_call(s, m.url, {"type": "SUBSCRIBE", "agent": {"hostname": 1}}) == 400
    assert await agent_call(s, m.url, {"type": "UPDATE"}) == 400
    assert m.shell.core.agents == {}


async def test_operator_endpoints(env):
    m, s = env
    astream, aid = await agent_subscribe(s, m.url)
    fstream, fid, sid = await subscribe(s, m.url, name="opfw")
    for path in ("/master/state", "/state", "/master/state.json", "/state.json"):
        async with s.get(m.url + path) as r:
            st = await r.json()
            assert st["version"] == "1.11.0" and st["activated_slaves"] == 1
            assert st["leader"] == st["pid"] and st["pid"].startswith("master@127.0.0.1:")
            assert st["slaves"][0]["id"] == aid
            assert st["slaves"][0]["resources"]["ports"] == "[31000-31009]"
            assert st["slaves"][0]["attributes"] == {"zone": "a"}
            assert st["frameworks"][0]["name"] == "opfw"
            for key in ("completed_frameworks", "orphan_tasks", "unregistered_frameworks", "flags"):
                assert key in st
    async with s.get(f"{m.url}/master/slaves") as r:
        assert [a["id"] for a in (await r.json())["slaves"]] == [aid]
    async with s.get(f"{m.url}/master/frameworks") as r:
        assert [f["id"] for f in (await r.json())["frameworks"]] == [fid]
    async with s.get(f"{m.url}/master/state-summary") as r:
        summ = await r.json()
        assert summ["slaves"][0]["TASK_RUNNING"] == 0 and summ["frameworks"][0]["id"] == fid
    async with s.get(f"{m.url}/master/redirect", allow_redirects=False) as r:
        assert r.status == 307 and r.headers["Location"] == f"//127.0.0.1:{m.port}"
    for path in ("/health", "/master/health"):
        async with s.get(m.url + path) as r:
            assert r.status == 200 and await r.read() == b""
    async with s.get(f"{m.url}/version") as r:
        v = await r.json()
        assert [int(x) for x in v["version"].split(".")] and "git_sha" in v
    async with s.get(f"{m.url}/metrics/snapshot") as r:
        met = await r.json()
        assert met["master/elected"] == 1 and met["master/slaves_active"] == 1
        assert met["master/cpus_total"] == 2 and met["master/frameworks_active"] == 1
        assert all(isinstance(v, int | float) for v in met.values())
    for path in ("/api/v1", "/api/v1/operator"):
        for ctype in (
            "GET_HEALTH",
            "GET_STATE",
            "GET_AGENTS",
            "GET_FRAMEWORKS",
            "GET_TASKS",
            "GET_VERSION",
        ):
            async with s.post(m.url + path, json={"type": ctype}) as r:
                body = await r.json()
                assert body["type"] == ctype and ctype.lower() in body
    async with s.post(f"{m.url}/api/v1", json={"type": "GET_AGENTS"}) as r:
        assert (await r.json())["get_agents"]["agents"][0]["agent_info"]["id"] == wrap(aid)
    async with s.post(f"{m.url}/api/v1", json={"type": "NOPE"}) as r:
        assert r.status == 400
    async with s.post(f"{m.url}/api/v1", data=b"{") as r:
        assert r.status == 400
    await fstream.close()
    await astream.close()


async def test_teardown_ends_stream_and_completes_framework(env):
    m, s = env
    stream, fid, sid = await subscribe(s, m.url)
    assert (await call(s, m.url, fid, sid, {"type": "TEARDOWN"})).status == 202
    await stream.ended.wait()
    async with s.get(f"{m.url}/master/frameworks") as r:
        body = await r.json()
        assert body["frameworks"] == [] and body["completed_frameworks"][0]["id"] == fid
