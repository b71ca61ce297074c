"""The agent follows the leading master: its detector's new leader, no leader, a standby's
redirect (fake masters over the real internal channel on loopback; a `FakeDetector` stands
for ZooKeeper, which tests/integration/test_follow_leader.py uses for real)."""

from __future__ import annotations

import asyncio

import pytest
from aiohttp import web

from dcos.agent.__main__ import config_from_args
from dcos.agent.agent import Agent
from dcos.agent.config import AgentConfig
from dcos.agent.containerizer.process import ProcessContainerizer
from dcos.agent.http.state import state_json
from dcos.protocol import internal
from dcos.testing.agent import FakeMaster
from dcos.testing.detector import FakeDetector

from .conftest import FRAMEWORK, make_task

pytestmark = pytest.mark.timeout(30)


@pytest.fixture
async def master2():
    m = FakeMaster()
    await m.start()
    yield m
    await m.stop()


def _config(master: str, tmp_path) -> AgentConfig:
    return AgentConfig(master=master, port=0, work_dir=str(tmp_path), detect=False,
                       resources="cpus:2;mem:1024;disk:1024;ports:[31000-31100]")  # fmt: skip


async def _until(check) -> None:
    while not check():
        await asyncio.sleep(0.01)


async def test_a_new_leader_gets_the_agent_with_its_id_and_running_task(master, master2, tmp_path):
    detector = FakeDetector(master.address)
    agent = Agent(_config("zk://127.0.0.1:1/dcos", tmp_path), ProcessContainerizer(),
                  detector=detector)  # fmt: skip
    await agent.start()
    try:
        await agent.registered.wait()
        await master.subscribes.get()
        master.send({"type": internal.RUN_TASKS, "framework": FRAMEWORK,
                     "tasks": [make_task("t1", "exec sleep 60")]})  # fmt: skip
        assert (await master.updates.get())["status"]["state"] == "TASK_STARTING"
        assert (await master.updates.get())["status"]["state"] == "TASK_RUNNING"
        [cid] = agent.containerizer.containers()

        detector.set_leader(master2.address)  # master 1 is still up: the agent leaves it anyway
        sub = await master2.subscribes.get()
        assert sub["agent"]["id"] == "agent-1"
        [rec] = sub["tasks"]
        assert (rec["framework_id"], rec["state"]) == ("fw-1", "TASK_RUNNING")
        assert agent.containerizer.containers() == {cid}
        assert agent.master_address is not None and agent.master_address.port == master2.port
        await _until(lambda: agent.registered.is_set())
        state = state_json(agent)
        assert state["master_hostname"] == "127.0.0.1"
        assert state["flags"]["master"] == "zk://127.0.0.1:1/dcos"

        master2.send({"type": internal.KILL_TASK, "framework_id": "fw-1", "task_id": "t1"})
        assert (await master2.updates.get())["status"]["state"] == "TASK_KILLED"
        assert master.subscribes.empty()  # never went back to the old one
    finally:
        await agent.stop()
    assert detector.closed is False  # a detector given to the agent is the giver's to close


async def test_without_a_leader_the_agent_waits_for_one_without_polling(master, tmp_path):
    detector = FakeDetector(None, start_failures=2)  # ZooKeeper unreachable at first, too
    agent = Agent(_config("zk://127.0.0.1:1/dcos", tmp_path), ProcessContainerizer(),
                  detector=detector)  # fmt: skip
    agent.config.reconnect_min = agent.config.reconnect_max = 0.01
    await agent.start()
    try:
        await _until(lambda: detector.waiting == 1)
        assert detector.started == 1
        await asyncio.sleep(0.1)  # ten backoff periods: a polling loop would call again
        assert detector.changed_calls == 1 and master.subscribes.empty()
        assert state_json(agent)["master_hostname"] == ""

        detector.set_leader(master.address)
        sub = await master.subscribes.get()
        assert sub["type"] == internal.SUBSCRIBE
        await agent.registered.wait()

        detector.set_leader(None)  # the leader is gone: the stream is dropped, the agent waits
        await _until(lambda: not agent.registered.is_set() and detector.waiting >= 1)
        detector.set_leader(master.address)
        assert (await master.subscribes.get())["agent"]["id"] == "agent-1"
    finally:
        await agent.stop()


async def test_a_backoff_wait_ends_when_another_master_leads(master, master2, tmp_path):
    detector = FakeDetector(master.address)
    agent = Agent(_config("zk://127.0.0.1:1/dcos", tmp_path), ProcessContainerizer(),
                  detector=detector)  # fmt: skip
    await master.stop()  # the leader died: every attempt fails, then a 60 s wait
    agent.config.reconnect_min = agent.config.reconnect_max = 60.0
    await agent.start()
    try:
        assert agent.master is not None
        backoff = agent.master.backoff
        await _until(lambda: backoff.attempts == 1 and detector.waiting == 1)  # in the wait
        detector.set_leader(master2.address)
        await master2.subscribes.get()  # at once, not after the wait (the test's timeout: 30 s)
        await agent.registered.wait()
    finally:
        await agent.stop()


class _Standby:
    """A standby master: answers every internal call with 307 to the leader (Mesos' form)."""

    def __init__(self, leader_port: int) -> None:
        self.leader_port = leader_port
        self.calls = 0
        self.runner: web.AppRunner | None = None
        self.port = 0

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post(internal.PATH, self._redirect)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", 0).start()
        self.port = self.runner.addresses[0][1]

    async def _redirect(self, request: web.Request) -> web.Response:
        self.calls += 1
        location = f"//127.0.0.1:{self.leader_port}{internal.PATH}"
        return web.Response(status=307, headers={"Location": location})

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()


async def test_a_standby_master_redirects_the_agent_to_the_leader(master, tmp_path):
    standby = _Standby(master.port)
    await standby.start()
    agent = Agent(_config(f"127.0.0.1:{standby.port}", tmp_path), ProcessContainerizer())
    await agent.start()
    try:
        await agent.registered.wait()
        await master.subscribes.get()
        assert standby.calls == 1
        assert agent.master_address is not None and agent.master_address.port == master.port
        master.send({"type": internal.RUN_TASKS, "framework": FRAMEWORK,
                     "tasks": [make_task("t1", "true")]})  # fmt: skip
        states = [(await master.updates.get())["status"]["state"] for _ in range(3)]
        assert states == ["TASK_STARTING", "TASK_RUNNING", "TASK_FINISHED"]  # calls follow too
        assert standby.calls == 1

        await master.restart()  # stream lost: the next attempt starts at the standby again
        assert (await master.subscribes.get())["agent"]["id"] == "agent-1"
        assert standby.calls == 2
    finally:
        await agent.stop()
        await standby.stop()


def test_master_flag_takes_a_zookeeper_url(tmp_path):
    config, _ = config_from_args(["--master", "zk://z1:2181,z2:2181/dcos", "--work-dir",
                                  str(tmp_path)], environ={})  # fmt: skip
    assert config.master == "zk://z1:2181,z2:2181/dcos"
    config, _ = config_from_args(["--work-dir", str(tmp_path)],
                                 environ={"MESOS_MASTER": "mesos://zk://z1:2181/mesos"})  # fmt: skip
    assert config.master == "zk://z1:2181/mesos"


@pytest.mark.parametrize("bad", ["zk://z1:2181", "zk://z1:99999/dcos", "zk:///dcos"])
def test_a_bad_zookeeper_url_is_a_usage_error(bad, tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        config_from_args(["--master", bad, "--work-dir", str(tmp_path)], environ={})
    assert exc.value.code == 2
    assert "--master" in capsys.readouterr().err
