"""The SDK's ExecutorDriver against a real agent (fake master, fake containers) on loopback:
subscribe, updates forwarded with agent_id, ACKNOWLEDGED back, SHUTDOWN stops the driver."""

import asyncio

import pytest

from dcos.agent.agent import Agent
from dcos.agent.config import AgentConfig
from dcos.agent.containerizer.fake import FakeContainerizer
from dcos.protocol import internal
from dcos.sdk import Executor, ExecutorDriver
from dcos.testing.agent import FakeMaster

from .conftest import FRAMEWORK, make_task


class Echo(Executor):
    def __init__(self) -> None:
        self.events: asyncio.Queue = asyncio.Queue()

    async def registered(self, driver, executor_info, framework_info, agent_info):
        self.events.put_nowait(("registered", executor_info["executor_id"], agent_info["id"]))

    async def launch_task(self, driver, task):
        tid = task["task_id"]["value"]
        await driver.send_status_update(tid, "TASK_RUNNING")
        await driver.send_status_update(tid, "TASK_FINISHED", message="done")

    async def acknowledged(self, driver, task_id, uuid):
        self.events.put_nowait(("acked", task_id))

    async def shutdown(self, driver):
        self.events.put_nowait(("shutdown",))


@pytest.mark.timeout(20)
async def test_driver_against_a_real_agent(tmp_path):
    master = FakeMaster()
    await master.start()
    agent = Agent(AgentConfig(master=master.address, port=0, work_dir=str(tmp_path),
                              resources="cpus:2;mem:1024", detect=False), FakeContainerizer())  # fmt: skip
    await agent.start()
    driver = None
    try:
        await agent.registered.wait()
        task = make_task("t1", None)
        task["executor"] = {"executor_id": {"value": "ex-1"}, "command": {"value": "exec"}}
        master.send({"type": internal.RUN_TASKS, "framework": FRAMEWORK, "tasks": [task]})
        while not agent.containerizer.configs:
            await asyncio.sleep(0.01)
        [config] = agent.containerizer.configs.values()
        executor = Echo()
        driver = ExecutorDriver(executor, env=config.env)
        await driver.start()
        assert await executor.events.get() == ("registered", {"value": "ex-1"},
                                               {"value": "agent-1"})  # fmt: skip
        states = [(await master.updates.get())["status"] for _ in range(2)]
        assert [s["state"] for s in states] == ["TASK_RUNNING", "TASK_FINISHED"]
        assert all(s["agent_id"] == {"value": "agent-1"} for s in states)
        assert await executor.events.get() == ("acked", "t1")
        assert await executor.events.get() == ("acked", "t1")
        assert driver.core.updates == {} and driver.core.tasks == {}
        master.send({"type": internal.SHUTDOWN_EXECUTOR, "framework_id": "fw-1",
                     "executor_id": "ex-1"})  # fmt: skip
        assert await executor.events.get() == ("shutdown",)
        assert await asyncio.wait_for(driver.join(), 5) == "DRIVER_STOPPED"
    finally:
        if driver is not None:
            await driver.stop()
        await agent.stop()
        await master.stop()


def test_the_driver_sends_the_token_and_its_tasks_do_not_inherit_it(monkeypatch):
    for name, value in {"MESOS_AGENT_ENDPOINT": "127.0.0.1:1", "MESOS_FRAMEWORK_ID": "fw-1",
                        "MESOS_EXECUTOR_ID": "ex-1",
                        "MESOS_EXECUTOR_AUTHENTICATION_TOKEN": "tok"}.items():  # fmt: skip
        monkeypatch.setenv(name, value)
    driver = ExecutorDriver(Echo())
    assert driver._auth == {"Authorization": "Bearer tok"}
    import os

    assert "MESOS_EXECUTOR_AUTHENTICATION_TOKEN" not in os.environ
