"""The agent's /api/v1/executor endpoint against a fake master (real HTTP on loopback, fake
containers): the test plays the custom executor."""

import asyncio
import base64
import os

import aiohttp
import orjson
import pytest
from aiohttp import web

from dcos.agent.agent import Agent
from dcos.agent.config import AgentConfig
from dcos.agent.containerizer.fake import FakeContainerizer
from dcos.protocol import internal
from dcos.protocol.codec import loads_msgpack
from dcos.protocol.recordio import Decoder
from dcos.testing.agent import FakeMaster

from .conftest import FRAMEWORK, make_task

pytestmark = pytest.mark.timeout(30)

EXECUTOR = {
    "executor_id": {"value": "ex-1"},
    "name": "my executor",
    "command": {"value": "run-my-executor"},
    "resources": [{"name": "cpus", "type": "SCALAR", "scalar": {"value": 0.1}}],
}


class RecordingMaster(FakeMaster):
    """FakeMaster that also records MESSAGE and EXITED_EXECUTOR calls."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: asyncio.Queue = asyncio.Queue()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = loads_msgpack(await request.read())
        if body.get("type") in (internal.MESSAGE, internal.EXITED_EXECUTOR):
            self.calls.put_nowait(body)
            return web.Response(status=202)
        return await super()._handle(request)  # aiohttp caches the body it read


@pytest.fixture
async def master():
    m = RecordingMaster()
    await m.start()
    yield m
    await m.stop()


@pytest.fixture
async def agent(master, tmp_path):
    config = AgentConfig(
        master=f"http://{master.address}", port=0, work_dir=str(tmp_path),
        resources="cpus:2;mem:1024", attributes="rack:r1", detect=False,
        executor_registration_timeout=30.0,
    )  # fmt: skip
    a = Agent(config, FakeContainerizer())
    await a.start()
    await a.registered.wait()
    yield a
    await a.stop()


def _task(tid: str) -> dict:
    task = make_task(tid, None)
    task["executor"] = EXECUTOR
    return task


async def _executor_container(agent, timeout=5.0):
    fake = agent.containerizer
    for _ in range(int(timeout / 0.01)):
        for cid, cfg in fake.configs.items():
            if cfg.env.get("MESOS_EXECUTOR_ID") == "ex-1":
                return cid, cfg
        await asyncio.sleep(0.01)
    raise AssertionError("the executor was not launched")


def _launched_token(agent) -> str | None:
    """The token the agent put in the environment of the executor ex-1 it launched."""
    for cfg in agent.containerizer.configs.values():
        if cfg.env.get("MESOS_EXECUTOR_ID") == "ex-1":
            return cfg.env.get("MESOS_EXECUTOR_AUTHENTICATION_TOKEN")
    return None


class ExecutorClient:
    """Plays the executor: one SUBSCRIBE stream plus calls, with the token the agent gave
    the executor it launched (`token` set: that one instead; "" sends none)."""

    def __init__(self, agent) -> None:
        self.agent = agent
        self.url = agent.url + "/api/v1/executor"
        self.session = aiohttp.ClientSession()
        self.resp = None
        self.decoder = Decoder()
        self.pending: list[dict] = []
        self.token: str | None = None

    def headers(self, content_type: str = "application/json") -> dict[str, str]:
        token = self.token if self.token is not None else _launched_token(self.agent)
        auth = {"Authorization": f"Bearer {token}"} if token else {}
        return {"Content-Type": content_type, **auth}

    async def post(self, body, content_type="application/json") -> aiohttp.ClientResponse:
        data = body if isinstance(body, bytes) else orjson.dumps(body)
        resp = await self.session.post(self.url, data=data, headers=self.headers(content_type))
        await resp.read()
        return resp

    async def subscribe(self, **extra) -> dict:
        body = {"type": "SUBSCRIBE", "framework_id": {"value": "fw-1"},
                "executor_id": {"value": "ex-1"},
                "subscribe": {"unacknowledged_tasks": [], "unacknowledged_updates": []}}
        body["subscribe"].update(extra)
        self.resp = await self.session.post(
            self.url, data=orjson.dumps(body), headers={**self.headers(), "Connection": "close"},
        )  # fmt: skip
        assert self.resp.status == 200, await self.resp.text()
        assert self.resp.headers.get("Transfer-Encoding") == "chunked"
        return await self.event()

    async def event(self) -> dict:
        while not self.pending:
            chunk = await asyncio.wait_for(self.resp.content.readany(), 10)
            assert chunk, "stream ended"
            self.pending += [orjson.loads(r) for r in self.decoder.feed(chunk)]
        return self.pending.pop(0)

    def call(self, kind: str, **body) -> dict:
        return {"type": kind, "framework_id": {"value": "fw-1"},
                "executor_id": {"value": "ex-1"}, **body}  # fmt: skip

    async def close(self) -> None:
        if self.resp is not None:
            self.resp.close()
        await self.session.close()


@pytest.fixture
async def client(agent):
    c = ExecutorClient(agent)
    yield c
    await c.close()


async def test_executor_starts_with_mesos_environment(master, agent):
    master.send({"type": internal.RUN_TASKS, "framework": FRAMEWORK, "tasks": [_task("t1")]})
    _, cfg = await _executor_container(agent)
    env = cfg.env
    assert env["MESOS_AGENT_ENDPOINT"] == f"127.0.0.1:{agent.core.info.port}"
    assert env["MESOS_FRAMEWORK_ID"] == "fw-1"
    assert env["MESOS_EXECUTOR_ID"] == "ex-1"
    assert env["MESOS_DIRECTORY"] == env["MESOS_SANDBOX"] == cfg.sandbox
    assert "/executors/ex-1/runs/" in cfg.sandbox
    assert env["MESOS_CHECKPOINT"] == "1"  # every framework is checkpointed here
    assert env["MESOS_RECOVERY_TIMEOUT"] == "15mins"
    assert env["MESOS_SUBSCRIPTION_BACKOFF_MAX"] == "2secs"
    assert env["MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD"] == "5secs"
    assert env["MESOS_SLAVE_ID"] == env["MESOS_AGENT_ID"] == "agent-1"
    assert env["MESOS_HTTP_COMMAND_EXECUTOR"] == "0"
    assert "MESOS_TASK_ID" not in env
    assert cfg.argv == ["/bin/sh", "-c", "run-my-executor"]


async def test_subscribed_shape_then_queued_launch(master, agent, client):
    master.send({"type": internal.RUN_TASKS, "framework": FRAMEWORK, "tasks": [_task("t1")]})
    cid, _ = await _executor_container(agent)
    sub = await client.subscribe()
    assert sub["type"] == "SUBSCRIBED"
    s = sub["subscribed"]
    assert s["executor_info"]["executor_id"] == {"value": "ex-1"}
    assert s["executor_info"]["framework_id"] == {"value": "fw-1"}
    assert s["framework_info"]["id"] == {"value": "fw-1"}
    assert s["framework_info"]["name"] == "test-fw"
    assert s["agent_info"]["id"] == {"value": "agent-1"}
    assert s["agent_info"]["hostname"] == "127.0.0.1"
    assert {"name": "rack", "type": "TEXT", "text": {"value": "r1"}} in s["agent_info"]["attributes"]
    assert s["container_id"] == {"value": cid}
    launch = await client.event()
    assert launch["type"] == "LAUNCH"
    assert launch["launch"]["task"]["task_id"] == {"value": "t1"}
    # a later task goes straight to the subscribed executor
    master.send({"type": internal.RUN_TASKS, "framework": FRAMEWORK, "tasks": [_task("t2")]})
    assert (await client.event())["launch"]["task"]["task_id"] == {"value": "t2"}
    state = await (await client.session.get(agent.url + "/state")).json()
    [ex] = state["frameworks"][0]["executors"]
    assert ex["id"] == "ex-1" and ex["container"] == cid
    assert sorted(t["id"] for t in ex["tasks"]) == ["t1", "t2"]


async def test_update_gets_agent_id_and_ack_comes_back(master, agent, client):
    master.send({"type": internal.RUN_TASKS, "framework": FRAMEWORK, "tasks": [_task("t1")]})
    await _executor_container(agent)
    await client.subscribe()
    await client.event()  # LAUNCH
    uuid = base64.b64encode(os.urandom(16)).decode()
    status = {"task_id": {"value": "t1"}, "state": "TASK_RUNNING", "uuid": uuid,
              "source": "SOURCE_EXECUTOR", "timestamp": 1700000000}  # fmt: skip
    resp = await client.post(client.call("UPDATE", update={"status": status}))
    assert resp.status == 202
    forwarded = (await master.updates.get())["status"]
    assert forwarded["agent_id"] == {"value": "agent-1"}
    assert forwarded["executor_id"] == {"value": "ex-1"}
    assert forwarded["uuid"] == uuid and forwarded["state"] == "TASK_RUNNING"
    assert forwarded["source"] == "SOURCE_EXECUTOR"
    ack = await client.event()  # the fake master acknowledged it
    assert ack == {"type": "ACKNOWLEDGED",
                   "acknowledged": {"task_id": {"value": "t1"}, "uuid": uuid}}  # fmt: skip


async def test_messages_both_ways_and_kill(master, agent, client):
    master.send({"type": internal.RUN_TASKS, "framework": FRAMEWORK, "tasks": [_task("t1")]})
    await _executor_container(agent)
    await client.subscribe()
    await client.event()  # LAUNCH
    data = base64.b64encode(b"hello scheduler").decode()
    resp = await client.post(client.call("MESSAGE", message={"data": data}))
    assert resp.status == 202
    msg = await master.calls.get()
    assert msg == {"type": "MESSAGE", "agent_id": "agent-1", "framework_id": "fw-1",
                   "executor_id": "ex-1", "data": data}  # fmt: skip
    back = base64.b64encode(b"hello executor").decode()
    master.send({"type": internal.FRAMEWORK_MESSAGE, "framework_id": "fw-1",
                 "executor_id": "ex-1", "data": back})  # fmt: skip
    assert await client.event() == {"type": "MESSAGE", "message": {"data": back}}
    master.send({"type": internal.KILL_TASK, "framework_id": "fw-1", "task_id": "t1"})
    assert await client.event() == {"type": "KILL", "kill": {"task_id": {"value": "t1"}}}


async def test_shutdown_then_exit_fails_nothing_and_tells_master(master, agent, client):
    master.send({"type": internal.RUN_TASKS, "framework": FRAMEWORK, "tasks": [_task("t1")]})
    cid, _ = await _executor_container(agent)
    await client.subscribe()
    await client.event()  # LAUNCH
    master.send({"type": internal.SHUTDOWN_EXECUTOR, "framework_id": "fw-1",
                 "executor_id": "ex-1"})  # fmt: skip
    assert await client.event() == {"type": "SHUTDOWN"}
    agent.containerizer.finish(cid, 0)
    exited = await master.calls.get()
    assert exited["type"] == "EXITED_EXECUTOR" and exited["executor_id"] == "ex-1"
    assert exited["status"] == 0
    killed = (await master.updates.get())["status"]
    assert killed["state"] == "TASK_KILLED"
    assert killed["reason"] == "REASON_EXECUTOR_TERMINATED"


async def test_executor_exit_fails_its_tasks(master, agent, client):
    master.send({"type": internal.RUN_TASKS, "framework": FRAMEWORK, "tasks": [_task("t1")]})
    cid, _ = await _executor_container(agent)
    agent.containerizer.finish(cid, 3)
    failed = (await master.updates.get())["status"]
    assert (failed["state"], failed["reason"]) == ("TASK_FAILED", "REASON_EXECUTOR_TERMINATED")
    assert failed["executor_id"] == {"value": "ex-1"}
    assert "status 3" in failed["message"]
    exited = await master.calls.get()
    assert exited["status"] == 3 << 8


async def test_bad_calls_get_400_or_415_and_change_nothing(master, agent, client):
    assert (await client.post(b"{}", "text/plain")).status == 415
    assert (await client.post(b"not json")).status == 400
    assert (await client.post({"type": "UPDATE"})).status == 400
    r = await client.post(client.call("UPDATE", update={"status": {}}))
    assert r.status == 400  # no such executor here
    master.send({"type": internal.RUN_TASKS, "framework": FRAMEWORK, "tasks": [_task("t1")]})
    await _executor_container(agent)
    await client.subscribe()
    await client.event()
    bad = {"task_id": {"value": "t1"}, "state": "TASK_RUNNING", "uuid": "short"}
    r = await client.post(client.call("UPDATE", update={"status": bad}))
    assert r.status == 400 and "uuid" in await r.text()
    bad = {"task_id": {"value": "t1"}, "state": "TASK_BOGUS",
           "uuid": base64.b64encode(os.urandom(16)).decode()}  # fmt: skip
    assert (await client.post(client.call("UPDATE", update={"status": bad}))).status == 400
    assert (await client.post(client.call("MESSAGE", message={"data": 5}))).status == 400
    assert (await client.post(client.call("BOGUS"))).status == 400
    assert master.updates.empty()
    assert agent.core.frameworks["fw-1"].tasks["t1"].state == "TASK_STAGING"


# -- executor authentication (issue 9: phantom executors adopted and checkpointed) ---------


def _executor_files(tmp_path) -> list[str]:
    root = tmp_path / "meta" / "frameworks"
    return sorted(str(p.relative_to(root)) for p in root.rglob("*.executor")) if root.exists() else []


async def test_executors_the_agent_never_launched_are_refused_and_leave_nothing(
    master, agent, client, tmp_path
):
    data = base64.b64encode(b"hi").decode()
    for i in range(14):  # what a fuzz run left behind as phantom executors
        body = {"type": "SUBSCRIBE", "framework_id": {"value": f"fw-{i}"},
                "executor_id": {"value": f"phantom-{i}"}, "subscribe": {}}  # fmt: skip
        r = await client.post(body)
        assert r.status == 400 and "not known" in await r.text()
    # the real framework's id, an executor it never had: no MESSAGE reaches its scheduler
    master.send({"type": internal.RUN_TASKS, "framework": FRAMEWORK, "tasks": [make_task("c", "x")]})
    while "fw-1" not in agent.core.frameworks:
        await asyncio.sleep(0.01)
    client.token = "forged"
    r = await client.post({**client.call("MESSAGE", message={"data": data}),
                           "executor_id": {"value": "phantom"}})  # fmt: skip
    assert r.status == 400 and "phantom" in await r.text()
    r = await client.post({**client.call("SUBSCRIBE", subscribe={}),
                           "executor_id": {"value": "phantom"}})  # fmt: skip
    assert r.status == 400
    assert agent.core.executors == {} and master.calls.empty()
    await agent.checkpointer.sync()
    assert _executor_files(tmp_path) == []
    state = await (await client.session.get(agent.url + "/state")).json()
    shown = [ex["id"] for fw in state["frameworks"] for ex in fw["executors"]]
    assert "phantom" not in shown and not any(e.startswith("phantom-") for e in shown)


async def test_a_call_without_the_token_is_401_and_with_a_wrong_one_403(master, agent, client):
    master.send({"type": internal.RUN_TASKS, "framework": FRAMEWORK, "tasks": [_task("t1")]})
    cid, cfg = await _executor_container(agent)
    token = cfg.env["MESOS_EXECUTOR_AUTHENTICATION_TOKEN"]
    assert len(token) == 64
    ex = agent.core.executors[("fw-1", "ex-1")]
    sub = client.call("SUBSCRIBE", subscribe={})
    client.token = ""  # none: the test process has no token in its environment either
    r = await client.post(sub)
    assert r.status == 401 and "MESOS_EXECUTOR_AUTHENTICATION_TOKEN" in await r.text()
    assert r.headers["WWW-Authenticate"].startswith("Bearer")
    for wrong in ("0" * 64, token[:-1], "é" * 10):
        client.token = wrong
        r = await client.post(sub)
        assert r.status == 403 and "invalid authentication token" in await r.text()
    # another executor's token (same framework) does not work for ex-1
    from dcos.agent.core.custom_executor import executor_token

    client.token = executor_token(agent.core.site.executor_secret, "fw-1", "ex-2", cid)
    assert (await client.post(sub)).status == 403
    status = {"task_id": {"value": "t1"}, "state": "TASK_RUNNING",
              "uuid": base64.b64encode(os.urandom(16)).decode()}  # fmt: skip
    assert (await client.post(client.call("UPDATE", update={"status": status}))).status == 403
    client.token = ""
    assert (await client.post(client.call("UPDATE", update={"status": status}))).status == 401
    assert (await client.post(client.call("MESSAGE", message={"data": "aGk="}))).status == 401
    assert ex.state != "RUNNING" and ex.queued  # nothing changed: t1 still waits for ex-1
    assert master.updates.empty() and master.calls.empty()
    client.token = None  # the real token
    assert (await client.subscribe())["type"] == "SUBSCRIBED"
    assert (await client.event())["type"] == "LAUNCH"


async def test_an_executor_speaks_only_for_its_own_tasks(master, agent, client):
    master.send({"type": internal.RUN_TASKS, "framework": FRAMEWORK,
                 "tasks": [_task("t1"), make_task("cmd", "sleep 1")]})  # fmt: skip
    await _executor_container(agent)
    await client.subscribe()
    await client.event()  # LAUNCH t1
    for tid, code in (("cmd", 403), ("nope", 400)):
        status = {"task_id": {"value": tid}, "state": "TASK_KILLED",
                  "uuid": base64.b64encode(os.urandom(16)).decode()}  # fmt: skip
        r = await client.post(client.call("UPDATE", update={"status": status}))
        assert r.status == code, await r.text()
    assert agent.core.frameworks["fw-1"].tasks["cmd"].state != "TASK_KILLED"


async def test_the_token_never_shows_in_debug_stimuli(master, agent, client):
    master.send({"type": internal.RUN_TASKS, "framework": FRAMEWORK, "tasks": [_task("t1")]})
    _, cfg = await _executor_container(agent)
    await client.subscribe()
    text = await (await client.session.get(agent.url + "/debug/stimuli")).text()
    assert "Launch" in text and cfg.env["MESOS_EXECUTOR_AUTHENTICATION_TOKEN"] not in text
