"""A bug in an agent handler (an exception) never ends one of the agent's loops: the loop logs
the error with what it was handling, drops that input and goes on. Real HTTP on loopback
against a fake master, fake containers."""

from __future__ import annotations

import asyncio
import logging

import aiohttp
import orjson
import pytest

from dcos.agent import isolators
from dcos.agent.agent import Agent
from dcos.agent.config import AgentConfig
from dcos.agent.containerizer import ContainerConfig
from dcos.agent.containerizer.fake import FakeContainerizer
from dcos.agent.core.events import SendDueUpdates
from dcos.agent.health import HealthCheckSpec
from dcos.agent.isolators import disk
from dcos.agent.isolators.disk import DiskDuIsolator
from dcos.agent.logs import LogRotator
from dcos.common.clock import SimClock
from dcos.protocol import internal
from dcos.protocol.ids import ContainerID
from dcos.protocol.resources import Resources

from .conftest import FRAMEWORK, make_task
from .test_health import ScriptedRunner

pytestmark = pytest.mark.timeout(30)


def _config(master, tmp_path, **kw) -> AgentConfig:
    return AgentConfig(master=f"http://{master.address}", port=0, work_dir=str(tmp_path),
                       resources="cpus:2;mem:1024", detect=False, **kw)  # fmt: skip


@pytest.fixture
async def agent(master, tmp_path):
    a = Agent(_config(master, tmp_path), FakeContainerizer())
    await a.start()
    await a.registered.wait()
    yield a
    await a.stop()


async def test_a_master_event_whose_handler_raises_is_dropped_and_the_stream_goes_on(
    master, agent, caplog
):
    caplog.set_level(logging.ERROR, "dcos.agent")
    # "tasks" must be a list: the RUN_TASKS handler raises on this one
    master.send({"type": internal.RUN_TASKS, "framework": FRAMEWORK, "tasks": 5})
    master.send({"type": internal.PING})
    await asyncio.wait_for(master.pongs.get(), 5)  # the same stream still works
    assert master.subscribes.qsize() == 1  # never re-subscribed: the master saw no disconnect
    assert agent.errors == 1
    assert "master event" in caplog.text and "RUN_TASKS" in caplog.text
    # and the agent still runs tasks
    master.send({"type": internal.RUN_TASKS, "framework": FRAMEWORK,
                 "tasks": [make_task("t1", "sleep 100")]})  # fmt: skip
    update = await asyncio.wait_for(master.updates.get(), 5)
    assert update["status"]["state"] == "TASK_STARTING"


async def test_the_update_loop_survives_a_bug(master, agent, monkeypatch):
    real = agent.core.handle
    calls: list[float] = []

    def flaky(event, now: float):
        if isinstance(event, SendDueUpdates):
            calls.append(now)
            if len(calls) == 1:
                raise RuntimeError("boom")
        return real(event, now)

    monkeypatch.setattr(agent.core, "handle", flaky)
    master.send({"type": internal.RUN_TASKS, "framework": FRAMEWORK,
                 "tasks": [make_task("t1", "sleep 100")]})  # fmt: skip
    update = await asyncio.wait_for(master.updates.get(), 5)
    assert update["status"]["state"] == "TASK_STARTING"
    assert agent.errors == 1 and len(calls) >= 2


async def test_update_calls_do_not_wait_for_the_answer_to_the_previous_one(master, agent):
    """A slow answer from the master does not hold up the next UPDATE call (each task still
    has one update in flight)."""
    assert agent.master is not None
    link = agent.master.link
    real = link.call
    release = asyncio.Event()
    posted: list[dict] = []

    async def slow(body):
        posted.append(body)
        if len(posted) == 1:
            await release.wait()  # the master takes its time answering the first
        return await real(body)

    link.call = slow  # type: ignore[method-assign]
    try:
        master.send({"type": internal.RUN_TASKS, "framework": FRAMEWORK,
                     "tasks": [make_task("t1", "sleep 100")]})  # fmt: skip
        while not posted:
            await asyncio.sleep(0.01)
        master.send({"type": internal.RUN_TASKS, "framework": FRAMEWORK,
                     "tasks": [make_task("t2", "sleep 100")]})  # fmt: skip
        first = await asyncio.wait_for(master.updates.get(), 5)  # t2's, posted meanwhile
        assert first["status"]["task_id"]["value"] == "t2" and not release.is_set()
        release.set()
        second = await asyncio.wait_for(master.updates.get(), 5)
        assert second["status"]["task_id"]["value"] == "t1"
    finally:
        release.set()
        link.call = real  # type: ignore[method-assign]


async def test_a_launch_that_raises_fails_its_task_instead_of_leaving_it_starting(
    master, agent, monkeypatch
):
    async def broken(container_id, config):
        raise RuntimeError("containerizer bug")

    monkeypatch.setattr(agent.containerizer, "launch", broken)
    master.send({"type": internal.RUN_TASKS, "framework": FRAMEWORK,
                 "tasks": [make_task("t1", "sleep 100")]})  # fmt: skip
    states = [(await asyncio.wait_for(master.updates.get(), 5))["status"] for _ in range(2)]
    assert [s["state"] for s in states] == ["TASK_STARTING", "TASK_FAILED"]
    assert "containerizer bug" in states[1]["message"]


async def _post(agent: Agent, body: dict) -> tuple[int, str]:
    async with aiohttp.ClientSession() as s:
        async with s.post(agent.url + "/api/v1/executor", data=orjson.dumps(body),
                          headers={"Content-Type": "application/json"}) as resp:  # fmt: skip
            return resp.status, await resp.text()


def _call(kind: str, **body) -> dict:
    return {"type": kind, "framework_id": {"value": "fw-1"}, "executor_id": {"value": "ex-1"},
            **body}  # fmt: skip


async def test_bad_executor_input_gets_400_and_an_agent_bug_500_and_the_agent_goes_on(
    master, agent, monkeypatch
):
    status, text = await _post(agent, _call("SUBSCRIBE", subscribe={
        "unacknowledged_tasks": [], "unacknowledged_updates": 5}))  # fmt: skip
    assert status == 400 and "unacknowledged_updates" in text
    assert agent.core.executors == {}  # nothing changed

    def broken(*args):
        raise RuntimeError("core bug")

    monkeypatch.setattr(agent.core.calls, "message", broken)
    status, text = await _post(agent, _call("MESSAGE", message={"data": "aGk="}))
    assert status == 500 and "MESSAGE" in text
    status, _ = await _post(agent, _call("HEARTBEAT"))
    assert status == 202  # still serving
    master.send({"type": internal.PING})
    await asyncio.wait_for(master.pongs.get(), 5)


async def test_executor_calls_wait_until_the_agent_has_recovered(master, tmp_path):
    a = Agent(_config(master, tmp_path), FakeContainerizer())
    assert not a.recovered
    from dcos.agent.http.app import start_http

    runner, port = await start_http(a, "127.0.0.1", 0)
    a.core.info.port = port
    try:
        status, text = await _post(a, _call("SUBSCRIBE", subscribe={}))
        assert status == 503 and "recovering" in text
        assert a.core.executors == {}  # not adopted as an unknown executor
    finally:
        await runner.cleanup()


async def test_a_health_callback_that_raises_does_not_stop_the_checks(caplog):
    clock = SimClock(start=0)
    r = ScriptedRunner([(True, "ok"), (False, "returned 500")], clock)
    seen: list = []

    def changed(cid, healthy):
        seen.append(healthy)
        if healthy:
            raise RuntimeError("callback bug")

    r.on_changed = changed
    r.on_kill = lambda cid, message: seen.append(message)
    s = HealthCheckSpec.parse({"type": "TCP", "tcp": {"port": 1}, "delay_seconds": 1,
                               "interval_seconds": 1, "consecutive_failures": 1,
                               "grace_period_seconds": 0})  # fmt: skip
    r.start(ContainerID("c1"), s, "/tmp", {})
    await clock.advance(5)
    assert seen[:2] == [True, False] and "1 consecutive failure" in seen[2]
    assert "callback bug" in caplog.text
    await r.close()


async def test_the_disk_watch_survives_a_failed_measurement(tmp_path, monkeypatch):
    iso = DiskDuIsolator(interval=0.01)
    calls: list[str] = []

    def flaky(path: str) -> int:
        calls.append(path)
        if len(calls) == 1:
            raise RuntimeError("du bug")
        return 10 * 1024 * 1024

    monkeypatch.setattr(disk, "disk_usage_bytes", flaky)
    cid = ContainerID("c1")
    await iso.prepare(cid, ContainerConfig([], {}, str(tmp_path), Resources.parse("disk:1")))
    limitation = await asyncio.wait_for(iso.watch(cid), 5)
    assert isinstance(limitation, isolators.Limitation) and len(calls) >= 2


async def test_log_rotation_survives_a_bug(master, tmp_path):
    class Flaky(LogRotator):
        def rotate_sandboxes(self, sandboxes):  # type: ignore[override]
            rounds.append(list(sandboxes))
            if len(rounds) == 1:
                raise RuntimeError("rotation bug")
            return 0

    rounds: list = []
    a = Agent(_config(master, tmp_path), FakeContainerizer())
    a.log_rotator = Flaky(max_size=10, max_files=2, interval=0.01)
    await a.start()
    await a.registered.wait()
    try:
        master.send({"type": internal.RUN_TASKS, "framework": FRAMEWORK,
                     "tasks": [make_task("t1", "sleep 100")]})  # fmt: skip
        for _ in range(500):
            if len(rounds) >= 2:
                break
            await asyncio.sleep(0.01)
        assert len(rounds) >= 2 and a.errors == 1
    finally:
        await a.stop()
