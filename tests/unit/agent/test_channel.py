"""The agent against a fake master over the internal msgpack channel (real HTTP, loopback)."""

import aiohttp
import pytest

from dcos.agent.agent import Agent
from dcos.agent.config import AgentConfig
from dcos.agent.containerizer.fake import FakeContainerizer
from dcos.agent.containerizer.process import ProcessContainerizer
from dcos.protocol import internal
from dcos.protocol.mesos import valid_status_uuid

from .conftest import FRAMEWORK, make_task

pytestmark = pytest.mark.timeout(30)


def _config(master, tmp_path, **kw) -> AgentConfig:
    return AgentConfig(
        master=f"http://{master.address}",
        port=0,
        work_dir=str(tmp_path),
        resources="cpus:2;mem:1024;disk:1024;ports:[31000-31100]",
        attributes="rack:r1;level:3",
        detect=False,
        status_update_retry=kw.pop("retry", 10.0),
        **kw,
    )


async def _states(master, n):
    out = []
    for _ in range(n):
        u = await master.updates.get()
        out.append((u["status"]["task_id"]["value"], u["status"]["state"]))
    return out


async def test_registers_answers_ping_and_runs_tasks(master, tmp_path):
    agent = Agent(_config(master, tmp_path), FakeContainerizer())
    await agent.start()
    try:
        sub = await master.subscribes.get()
        assert sub["type"] == internal.SUBSCRIBE and sub["agent"]["id"] is None
        assert sub["agent"]["attributes"] == {"rack": "r1", "level": 3.0}
        assert sub["agent"]["port"] == agent.core.info.port != 0
        await agent.registered.wait()
        assert agent.core.agent_id == "agent-1"
        master.send({"type": internal.PING})
        assert (await master.pongs.get())["agent_id"] == "agent-1"
        master.send({"type": internal.RUN_TASKS, "framework": FRAMEWORK,
                     "tasks": [make_task("t1", "true"), make_task("t2", "exit 2")]})  # fmt: skip
        got = await _states(master, 6)
        assert [s for t, s in got if t == "t1"] == [
            "TASK_STARTING",
            "TASK_RUNNING",
            "TASK_FINISHED",
        ]
        assert [s for t, s in got if t == "t2"] == ["TASK_STARTING", "TASK_RUNNING", "TASK_FAILED"]
    finally:
        await agent.stop()


async def test_updates_carry_mesos_fields_and_are_retried_until_acknowledged(master, tmp_path):
    master.auto_ack = False
    agent = Agent(_config(master, tmp_path, retry=0.05), FakeContainerizer())
    await agent.start()
    try:
        await agent.registered.wait()
        master.send({"type": internal.RUN_TASKS, "framework": FRAMEWORK,
                     "tasks": [make_task("t1", "sleep 999")]})  # fmt: skip
        first = await master.updates.get()
        again = await master.updates.get()  # no ack: the same update comes again
        assert again["status"]["uuid"] == first["status"]["uuid"]
        s = first["status"]
        assert first["framework_id"] == "fw-1"
        assert s["state"] == "TASK_STARTING" and s["source"] == "SOURCE_EXECUTOR"
        assert s["agent_id"] == {"value": "agent-1"} and valid_status_uuid(s["uuid"])
        assert isinstance(s["timestamp"], float)
        master.send({"type": internal.ACKNOWLEDGE, "framework_id": "fw-1", "task_id": "t1",
                     "uuid": s["uuid"]})  # fmt: skip
        while (u := await master.updates.get())["status"]["state"] == "TASK_STARTING":
            pass
        assert u["status"]["state"] == "TASK_RUNNING"
    finally:
        await agent.stop()


async def test_updates_of_many_tasks_are_batched(master, tmp_path):
    master.auto_ack = False
    agent = Agent(_config(master, tmp_path), FakeContainerizer())
    await agent.start()
    try:
        await agent.registered.wait()
        tasks = [make_task(f"t{i}", "sleep 999") for i in range(20)]
        master.send({"type": internal.RUN_TASKS, "framework": FRAMEWORK, "tasks": tasks})
        await _states(master, 20)
        assert len(master.update_calls) < 20  # several updates per UPDATE call
    finally:
        await agent.stop()


async def test_resubscribes_after_master_restart_with_tasks_kept_running(master, tmp_path):
    agent = Agent(_config(master, tmp_path), ProcessContainerizer())
    await agent.start()
    try:
        await agent.registered.wait()
        await master.subscribes.get()
        master.send({"type": internal.RUN_TASKS, "framework": FRAMEWORK,
                     "tasks": [make_task("t1", "exec sleep 60")]})  # fmt: skip
        assert await _states(master, 2) == [("t1", "TASK_STARTING"), ("t1", "TASK_RUNNING")]
        [cid] = agent.containerizer.containers()

        await master.restart()
        sub = await master.subscribes.get()
        assert sub["agent"]["id"] == "agent-1"
        [rec] = sub["tasks"]
        assert (rec["framework_id"], rec["state"]) == ("fw-1", "TASK_RUNNING")
        assert sub["frameworks"] == [FRAMEWORK]
        assert agent.containerizer.containers() == {cid}  # still running

        master.send({"type": internal.KILL_TASK, "framework_id": "fw-1", "task_id": "t1"})
        assert await _states(master, 1) == [("t1", "TASK_KILLED")]
    finally:
        await agent.stop()


async def test_unacked_updates_are_sent_again_after_resubscribing(master, tmp_path):
    master.auto_ack = False
    agent = Agent(_config(master, tmp_path), FakeContainerizer())
    await agent.start()
    try:
        await agent.registered.wait()
        await master.subscribes.get()
        master.send({"type": internal.RUN_TASKS, "framework": FRAMEWORK,
                     "tasks": [make_task("t1", "sleep 999")]})  # fmt: skip
        first = await master.updates.get()
        await master.restart()
        sub = await master.subscribes.get()
        assert [u["status"]["uuid"] for u in sub["unacked"]][0] == first["status"]["uuid"]
        resent = await master.updates.get()  # flushed right after REGISTERED
        assert resent["status"]["uuid"] == first["status"]["uuid"]
    finally:
        await agent.stop()


async def test_refused_agent_registers_afresh(master, tmp_path):
    agent = Agent(_config(master, tmp_path), FakeContainerizer())
    await agent.start()
    try:
        await agent.registered.wait()
        await master.subscribes.get()
        master.refuse_next = True
        await master.restart()
        await master.subscribes.get()  # refused
        sub = await master.subscribes.get()  # registers again, without its old id
        assert sub["agent"]["id"] is None
    finally:
        await agent.stop()


async def test_stop_kills_running_process_groups(master, tmp_path):
    agent = Agent(_config(master, tmp_path, stop_grace_cap=0.2), ProcessContainerizer())
    await agent.start()
    await agent.registered.wait()
    master.send({"type": internal.RUN_TASKS, "framework": FRAMEWORK,
                 "tasks": [make_task("t1", "trap '' TERM; sleep 60 & wait")]})  # fmt: skip
    await _states(master, 2)
    [rec] = agent.core.live_tasks()
    pid = next(iter(agent.containerizer._containers.values())).pgid
    await agent.stop()
    from dcos.agent.containerizer.process import group_alive

    assert not group_alive(pid)
    assert rec.state == "TASK_KILLED"


async def test_http_state_health_version_and_metrics(master, tmp_path):
    agent = Agent(_config(master, tmp_path), FakeContainerizer())
    await agent.start()
    try:
        await agent.registered.wait()
        master.send({"type": internal.RUN_TASKS, "framework": FRAMEWORK,
                     "tasks": [make_task("t1", "sleep 999")]})  # fmt: skip
        await _states(master, 2)
        async with aiohttp.ClientSession() as http:
            for path in ("/state", "/slave(1)/state", "/state.json"):
                async with http.get(agent.url + path) as r:
                    assert r.status == 200
                    state = await r.json()
            assert state["id"] == "agent-1"
            assert state["pid"] == f"slave(1)@127.0.0.1:{agent.core.info.port}"
            assert (
                state["resources"]["cpus"] == 2 and state["resources"]["ports"] == "[31000-31100]"
            )
            assert state["attributes"] == {"rack": "r1", "level": 3.0}
            assert state["master_hostname"] == "127.0.0.1"
            [fw] = state["frameworks"]
            assert fw["id"] == "fw-1" and fw["name"] == "test-fw"
            [ex] = fw["executors"]
            assert ex["id"] == "t1" and ex["directory"].startswith(str(tmp_path))
            assert [t["state"] for t in ex["tasks"]] == ["TASK_RUNNING"]
            assert ex["queued_tasks"] == [] and ex["completed_tasks"] == []
            async with http.get(agent.url + "/health") as r:
                assert r.status == 200
            async with http.get(agent.url + "/version") as r:
                assert (await r.json())["version"].count(".") == 2
            async with http.get(agent.url + "/metrics/snapshot") as r:
                m = await r.json()
            assert m["slave/registered"] == 1 and m["slave/tasks_running"] == 1
            assert m["slave/cpus_used"] == 0.1 and m["slave/cpus_total"] == 2
    finally:
        await agent.stop()


class _StreamContent:
    """A master stream whose reads the test completes by hand."""

    def __init__(self) -> None:
        self.reads: list = []

    async def readany(self) -> bytes:
        import asyncio

        fut = asyncio.get_running_loop().create_future()
        self.reads.append(fut)
        return await fut


class _StreamSession:
    """Just enough of aiohttp.ClientSession for `MasterLink.subscribe`."""

    def __init__(self) -> None:
        self.content = _StreamContent()
        self.released = False

    def post(self, *args, **kwargs):
        session = self

        class _Ctx:
            async def __aenter__(self):
                resp = type("Resp", (), {})()
                resp.status = 200
                resp.content = session.content
                return resp

            async def __aexit__(self, *exc):
                session.released = True
                return False

        return _Ctx()


async def test_cancelled_subscription_ends_even_when_a_read_completes_at_the_same_time():
    """The agent-stop hang: a cancel landing as a stream read completed was swallowed (Python
    3.11's asyncio.wait_for), and the cancelled consumer went on reading the stream forever."""
    import asyncio

    from dcos.agent.channel import MasterLink
    from dcos.protocol import recordio
    from dcos.protocol.codec import dumps_msgpack

    session = _StreamSession()
    link = MasterLink("127.0.0.1:1", session)  # type: ignore[arg-type]
    seen: list = []

    async def consume() -> None:
        async for event in link.subscribe({"type": "SUBSCRIBE"}, [30.0]):
            seen.append(event)

    task = asyncio.ensure_future(consume())
    while not session.content.reads:
        await asyncio.sleep(0)
    session.content.reads[-1].set_result(recordio.encode(dumps_msgpack({"type": "PING"})))
    task.cancel()  # same loop turn as the read's completion
    done, _ = await asyncio.wait([task], timeout=2.0)
    assert done, "the cancelled subscription kept reading the stream"
    assert task.cancelled()
    assert session.released
