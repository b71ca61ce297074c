"""The agent's Prometheus metrics (read at scrape time) and its stimulus log endpoint, over
real HTTP on loopback against a fake master, fake containers."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

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


async def _running(master) -> None:
    master.send({"type": internal.RUN_TASKS, "framework": FRAMEWORK,
                 "tasks": [make_task("t1", "sleep 100")]})  # fmt: skip
    for _ in range(2):
        update = await asyncio.wait_for(master.updates.get(), 5)
    assert update["status"]["state"] == "TASK_RUNNING"


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


async def test_prometheus_metrics_are_read_at_scrape_time(master, agent):
    async with aiohttp.ClientSession() as http:
        async with http.get(agent.url + "/metrics") as r:
            assert r.status == 200 and r.content_type == "text/plain"
            before = _samples(await r.text())
        assert before[("dcos_agent_registered", ())] == 1.0
        assert before[("dcos_agent_tasks", (("state", "TASK_RUNNING"),))] == 0.0
        assert before[("dcos_agent_resources_total", (("resource", "cpus"),))] == 2.0
        await _running(master)
        async with http.get(agent.url + "/metrics/prometheus") as r:
            after = _samples(await r.text())
    assert after[("dcos_agent_tasks", (("state", "TASK_RUNNING"),))] == 1.0
    assert after[("dcos_agent_resources_used", (("resource", "cpus"),))] == pytest.approx(0.1)
    assert after[("dcos_agent_resources_used", (("resource", "mem"),))] == 32.0
    assert after[("dcos_agent_containers", ())] == 1.0
    assert after[("dcos_agent_executors", (("kind", "custom"),))] == 0.0
    assert ("dcos_agent_status_updates_pending", ()) in after
    assert after[("dcos_agent_frameworks", ())] == 1.0


async def test_debug_stimuli_lists_the_core_events_and_their_actions(master, agent):
    await _running(master)
    async with aiohttp.ClientSession() as http:
        async with http.get(agent.url + "/debug/stimuli?limit=50") as r:
            assert r.status == 200
            body = await r.json()
        async with http.get(agent.url + "/debug/stimuli?limit=x") as r:
            assert r.status == 400
    assert body["capacity"] >= 50 and body["recorded"] >= len(body["entries"])
    events = [e["event"]["type"] for e in body["entries"]]
    assert "MasterRegistered" in events and "RunTasks" in events
    run = next(e for e in body["entries"] if e["event"]["type"] == "RunTasks")
    assert [a["type"] for a in run["actions"]][0] == "Launch"
    assert any(e["event"]["type"] == "ContainerLaunched" for e in body["entries"])
