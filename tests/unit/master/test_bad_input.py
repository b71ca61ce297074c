"""Issue 9: bad input to any master endpoint is a 4xx with a message, never a 500, and
changes nothing."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import pytest

from dcos.protocol import internal
from dcos.protocol.codec import dumps_msgpack
from dcos.testing.master import agent_subscribe, subscribe


def _raw_post(port: int, path: str, headers: dict[str, bytes], body: bytes) -> int:
    """POST with header bytes sent as they are (aiohttp would refuse non-ASCII ones)."""
    head = [f"POST {path} HTTP/1.1".encode(), b"Host: 127.0.0.1", b"Connection: close"]
    head += [k.encode() + b": " + v for k, v in headers.items()]
    head.append(b"Content-Length: " + str(len(body)).encode())
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(b"\r\n".join(head) + b"\r\n\r\n" + body)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return int(answer.split(b" ", 2)[1])


@pytest.mark.parametrize(
    "headers",
    [
        {"Content-Type": "application/é".encode()},
        {"Content-Type": b"text/\xff\xfe"},
        {"Content-Type": b"application/json", "Mesos-Stream-Id": "é".encode()},
        {"Content-Type": b"application/json", "Mesos-Stream-Id": b"\xff\xfe"},
    ],
)
async def test_scheduler_api_with_non_ascii_headers_is_4xx(env, headers: dict[str, bytes]):
    m, s = env
    fstream, fid, sid = await subscribe(s, m.url)
    body = f'{{"type": "REVIVE", "framework_id": {{"value": "{fid}"}}}}'.encode()
    status = await asyncio.to_thread(_raw_post, m.port, "/api/v1/scheduler", headers, body)
    assert status in (400, 415)
    await fstream.close()


@pytest.mark.parametrize(
    "call",
    [
        {"type": "REMOVE_QUOTA", "remove_quota": "x"},
        {"type": "UPDATE_WEIGHTS", "update_weights": "x"},
        {"type": "SET_QUOTA", "set_quota": "x"},
        {"type": "SET_QUOTA", "set_quota": {"quota_request": "x"}},
        {"type": "SET_QUOTA", "set_quota": {"quota_request": {"role": "r", "guarantee": [1]}}},
        {"type": "UPDATE_WEIGHTS", "update_weights": {"weight_infos": [[]]}},
        {"type": "REMOVE_QUOTA", "remove_quota": ["x"]},
        {"type": "SET_QUOTA", "set_quota": {"quota_request": {
            "role": "r", "guarantee": [{"name": "cpus", "type": "SCALAR", "scalar": "x"}]}}},
        {"type": "SET_QUOTA", "set_quota": {"quota_request": {
            "role": "r", "guarantee": [{"name": "cpus", "scalar": {"value": 1e308}}]}}},
    ],
)  # fmt: skip
async def test_operator_writes_with_wrong_types_are_400(env, call: dict[str, Any]):
    m, s = env
    async with s.post(f"{m.url}/api/v1", json=call) as r:
        assert r.status == 400, await r.text()
        assert await r.text()
    assert not m.shell.core.quota and not m.shell.core.weights


async def test_quota_of_1e308_is_refused_and_offers_keep_flowing(env):
    m, s = env
    astream, aid = await agent_subscribe(s, m.url)
    call = {"type": "SET_QUOTA", "set_quota": {"quota_request": {
        "role": "web", "guarantee": [{"name": "cpus", "type": "SCALAR",
                                      "scalar": {"value": 1e308}}]}}}  # fmt: skip
    async with s.post(f"{m.url}/api/v1", json=call) as r:
        assert r.status == 400
        assert "force" in await r.text()
    fstream, fid, sid = await subscribe(s, m.url)
    assert (await fstream.next("OFFERS"))["offers"]["offers"]
    await fstream.close()
    await astream.close()


@pytest.mark.parametrize(
    "path",
    [
        "/master/tasks?limit=x", "/master/tasks?limit=-1", "/master/tasks?offset=1.5",
        "/master/tasks?order=up", "/debug/stimuli?limit=x", "/debug/stimuli?limit=-3",
        "/master/tasks?limit=%C3%A9", "/debug/stimuli?limit=99999999999999999999999",
    ],
)  # fmt: skip
async def test_bad_query_parameters_are_400(env, path: str):
    m, s = env
    async with s.get(m.url + path) as r:
        assert r.status == 400, await r.text()


async def test_tasks_limit_offset_order(env):
    m, s = env
    async with s.get(f"{m.url}/master/tasks?limit=5&offset=0&order=des") as r:
        assert r.status == 200 and (await r.json()) == {"tasks": []}


@pytest.mark.parametrize(
    "body",
    [
        b"\x81\x91\x01\x02",  # a map with an unhashable key
        b"\xd4\x01\x02",  # an extension type
        dumps_msgpack({"type": internal.SUBSCRIBE, "agent": {
            "hostname": "h", "ip": "1.2.3.4", "port": 1, "resources": {},
            "attributes": {"a": b"\x00"}}, "tasks": [], "frameworks": []}),
        dumps_msgpack({"type": internal.SUBSCRIBE, "agent": {
            "hostname": "h", "ip": "1.2.3.4", "port": 1, "resources": {}},
            "tasks": [{"framework_id": "f", "task": {"task_id": {"value": "t"},
                                                     "resources": 5}, "state": "TASK_RUNNING"}],
            "frameworks": []}),
    ],
)  # fmt: skip
async def test_agent_channel_garbage_is_not_a_500(env, body: bytes):
    m, s = env
    async with s.post(
        f"{m.url}{internal.PATH}", data=body, headers={"Content-Type": "application/x-msgpack"}
    ) as r:
        assert r.status < 500  # a task record whose resources are not a list is still read
    async with s.get(f"{m.url}/master/state") as r:
        assert r.status == 200


async def test_agent_attributes_that_json_cannot_sort_do_not_break_the_state(env):
    m, s = env
    msg = {"type": internal.SUBSCRIBE, "agent": {
        "hostname": "h", "ip": "1.2.3.4", "port": 1, "resources": {},
        "attributes": {1: "x", "b": "y"}}, "tasks": [], "frameworks": []}  # fmt: skip
    async with s.post(
        f"{m.url}{internal.PATH}", data=dumps_msgpack(msg),
        headers={"Content-Type": "application/x-msgpack"},
    ) as r:  # fmt: skip
        assert r.status in (200, 400)
    async with s.get(f"{m.url}/master/state") as r:
        assert r.status == 200
