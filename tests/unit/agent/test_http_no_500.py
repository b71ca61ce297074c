"""Bad input on the agent's HTTP APIs is a 4xx in the API's own format, never a 500 (issue 9):
raw requests with non-ASCII headers on /api/v1/executor, calls nested too deep, odd
/debug/stimuli limits, and /monitor/statistics racing a container's end."""

from __future__ import annotations

import asyncio
import socket

import orjson
import pytest

from dcos.agent.agent import Agent
from dcos.agent.config import AgentConfig
from dcos.agent.containerizer.fake import FakeContainerizer
from dcos.protocol import internal

from .conftest import FRAMEWORK, make_task

pytestmark = pytest.mark.timeout(30)


@pytest.fixture
async def agent(master, tmp_path):
    config = AgentConfig(master=f"http://{master.address}", port=0, work_dir=str(tmp_path),
                         resources="cpus:2;mem:1024", detect=False)  # fmt: skip
    a = Agent(config, FakeContainerizer())
    await a.start()
    await a.registered.wait()
    yield a
    await a.stop()


def _raw(port: int, head: bytes, body: bytes = b"") -> tuple[int, bytes]:
    """One request as raw bytes (headers that no client library would send); (status, body)."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(head + b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(body) + body)
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    status_line, _, rest = data.partition(b"\r\n")
    return int(status_line.split()[1]), rest.partition(b"\r\n\r\n")[2]


SUBSCRIBE = orjson.dumps({"type": "SUBSCRIBE", "framework_id": {"value": "fw-1"},
                          "executor_id": {"value": "ex-1"}, "subscribe": {}})  # fmt: skip


async def _with_executor(master, agent) -> None:
    task = make_task("t1", None)
    task["executor"] = {"executor_id": {"value": "ex-1"}, "command": {"value": "run"}}
    master.send({"type": internal.RUN_TASKS, "framework": FRAMEWORK, "tasks": [task]})
    while ("fw-1", "ex-1") not in agent.core.executors:
        await asyncio.sleep(0.01)


@pytest.mark.parametrize("headers,status", [
    (b"Content-Type: application/j\xc3\xa9son\r\n", 415),
    (b"Content-Type: \xff\xfe\r\n", 415),
    (b"Content-Type: application/json\r\nAuthorization: Bearer \xff\xfe\xc3\xa9\r\n", 403),
    (b"Content-Type: application/json\r\nAuthorization: \xff\r\n", 401),
    (b"Content-Type: application/json\r\nMesos-Stream-Id: \xff\r\n", 401),
])  # fmt: skip
async def test_non_ascii_headers_on_the_executor_api(master, agent, headers, status):
    await _with_executor(master, agent)
    head = b"POST /api/v1/executor HTTP/1.1\r\nHost: x\r\n" + headers
    got, body = await asyncio.to_thread(_raw, agent.core.info.port, head, SUBSCRIBE)
    assert got == status, body
    assert agent.core.executors[("fw-1", "ex-1")].state != "RUNNING"


async def test_a_call_nested_too_deep_is_400(master, agent):
    nested: object = {}
    for _ in range(100):
        nested = {"labels": [nested]}
    body = orjson.dumps({"type": "UPDATE", "framework_id": {"value": "fw-1"},
                         "executor_id": {"value": "ex-1"},
                         "update": {"status": {"task_id": {"value": "t"}, "data": nested}}})  # fmt: skip
    head = b"POST /api/v1/executor HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    got, text = await asyncio.to_thread(_raw, agent.core.info.port, head, body)
    assert got == 400 and b"deeper" in text


@pytest.mark.parametrize("limit,status", [("x", 400), ("9" * 5000, 400), ("-5", 200),
                                          ("99999999999999999999", 200), ("%ff", 400)])  # fmt: skip
async def test_debug_stimuli_limits(agent, limit, status):
    head = b"GET /debug/stimuli?limit=" + limit.encode() + b" HTTP/1.1\r\nHost: x\r\n"
    got, _ = await asyncio.to_thread(_raw, agent.core.info.port, head)
    assert got == status


async def test_statistics_of_a_container_that_ends_while_read_are_left_out(master, agent):
    master.send({"type": internal.RUN_TASKS, "framework": FRAMEWORK,
                 "tasks": [make_task("t1", "sleep 100")]})  # fmt: skip
    while not agent.containerizer.containers():
        await asyncio.sleep(0.01)

    async def gone(container_id):
        raise FileNotFoundError(2, "No such file", "/sys/fs/cgroup/x/cpu.stat")

    agent.containerizer.usage = gone  # type: ignore[method-assign]
    got, body = await asyncio.to_thread(
        _raw, agent.core.info.port, b"GET /monitor/statistics HTTP/1.1\r\nHost: x\r\n")
    assert got == 200
    [entry] = orjson.loads(body)
    assert entry["executor_id"] == "t1" and "timestamp" in entry["statistics"]
