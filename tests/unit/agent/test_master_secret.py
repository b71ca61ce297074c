"""Issue 9: the agent's end of the session secret, against a real master: the agent sends
the secret it was handed with every call, keeps it in its meta directory, and a restarted
agent process re-registers its checkpointed id with it."""

from __future__ import annotations

import asyncio
import os

import pytest

from dcos.agent.agent import Agent
from dcos.agent.config import AgentConfig
from dcos.agent.containerizer.fake import FakeContainerizer
from dcos.agent.master_session import SECRET_FILE
from dcos.protocol import internal
from dcos.testing.master import master

pytestmark = pytest.mark.timeout(30)


def _config(url: str, work_dir: str) -> AgentConfig:
    return AgentConfig(
        master=url, port=0, work_dir=work_dir, resources="cpus:2;mem:1024;disk:1024",
        detect=False, serve_http=False, reconnect_min=0.05, reconnect_max=0.2,
    )  # fmt: skip


async def _wait(predicate, timeout: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        assert loop.time() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


async def test_restarted_agent_reregisters_its_id_with_the_kept_secret(tmp_path) -> None:
    m = await master(tmp_path / "m")
    work = str(tmp_path / "agent")
    agent = Agent(_config(m.url, work), FakeContainerizer())
    try:
        await agent.start()
        await asyncio.wait_for(agent.registered.wait(), 10)
        aid = agent.core.agent_id
        assert aid is not None and agent.master is not None
        path = os.path.join(work, "meta", SECRET_FILE)
        assert os.path.exists(path) and os.stat(path).st_mode & 0o077 == 0
        assert agent.master.link.secret
        hashed = m.shell.core.agent_book.secret_hashes[aid]
        assert internal.secret_matches(agent.master.link.secret, hashed)
        await agent.stop(kill_tasks=False)

        again = Agent(_config(m.url, work), FakeContainerizer())
        try:
            await again.start()
            await asyncio.wait_for(again.registered.wait(), 10)
            assert again.core.agent_id == aid
            assert list(m.shell.core.agents) == [aid]
            assert m.shell.core.agents[aid].connected
            # the re-registration proved the saved secret: the master keeps it
            assert m.shell.core.agent_book.secret_hashes[aid] == hashed
            assert again.master is not None
            assert internal.secret_matches(again.master.link.secret, hashed)
        finally:
            await again.stop()
    finally:
        await agent.stop()
        await m.stop()


async def test_restarted_agent_without_its_secret_cannot_take_the_id(tmp_path) -> None:
    m = await master(tmp_path / "m")
    work = str(tmp_path / "agent")
    agent = Agent(_config(m.url, work), FakeContainerizer())
    try:
        await agent.start()
        await asyncio.wait_for(agent.registered.wait(), 10)
        aid = agent.core.agent_id
        await agent.stop(kill_tasks=False)
        os.unlink(os.path.join(work, "meta", SECRET_FILE))

        again = Agent(_config(m.url, work), FakeContainerizer())
        try:
            await again.start()
            await _wait(lambda: again.core.agent_id not in (None, aid) and again.core.registered)
            # it registered anew; at the same address, it replaced the old agent (a restart
            # without its state), which is what the master does for any stateless restart
            assert list(m.shell.core.agents) == [again.core.agent_id]
        finally:
            await again.stop()
    finally:
        await agent.stop()
        await m.stop()
