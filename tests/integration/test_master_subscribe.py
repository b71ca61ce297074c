"""Integration: the v1 operator API's SUBSCRIBE on a real master process, followed while a
real agent registers and an SDK framework runs a task (what the web UI's live view reads
through the gateway)."""

from __future__ import annotations

import aiohttp
import pytest

from dcos.protocol.codec import loads_json
from dcos.protocol.ids import wrap
from dcos.sdk import SchedulerDriver
from dcos.testing import QUICK_MASTER_FLAGS, ProcessCluster, RecordingScheduler
from dcos.testing.master import Stream

pytestmark = pytest.mark.integration


def keys(obj: object) -> object:
    """The key structure of `obj` (lists by their first item)."""
    if isinstance(obj, dict):
        return {k: keys(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [keys(obj[0])] if obj else []
    return None


async def next_of(stream: Stream, etype: str) -> dict:
    """The next event of type `etype` (skipping HEARTBEATs and others)."""
    return await stream.next(etype)


async def test_subscribe_follows_agent_framework_and_task(tmp_path):
    cluster = ProcessCluster(
        tmp_path, agents=1, master_flags=[*QUICK_MASTER_FLAGS, "--heartbeat-interval", "1"]
    ).start()
    driver: SchedulerDriver | None = None
    try:
        async with aiohttp.ClientSession() as s:
            resp = await s.post(
                cluster.url + "/api/v1",
                json={"type": "SUBSCRIBE"},
                headers={"Accept": "application/json"},
            )
            assert resp.status == 200, await resp.text()
            assert resp.headers["Content-Type"].startswith("application/json")
            assert resp.headers["Transfer-Encoding"] == "chunked"
            stream = Stream(resp, loads_json)
            first = await stream.next()
            assert first["type"] == "SUBSCRIBED"
            snap = first["subscribed"]["get_state"]
            assert first["subscribed"]["heartbeat_interval_seconds"] == 1
            async with s.post(cluster.url + "/api/v1", json={"type": "GET_STATE"}) as r:
                state = (await r.json())["get_state"]
            assert keys(snap) == keys(state)
            assert snap["get_agents"] == state["get_agents"]  # nothing ran in between
            assert len(snap["get_agents"]["agents"]) == 1

            cluster.start_agent(1)
            added = (await next_of(stream, "AGENT_ADDED"))["agent_added"]["agent"]
            assert added.keys() == snap["get_agents"]["agents"][0].keys()
            assert added["active"] and added["agent_info"]["port"] == cluster.agent_ports[1]

            sched = RecordingScheduler()
            [tid] = sched.submit("sleep 30")
            driver = SchedulerDriver(sched, {"name": "subscribe-itest"}, cluster.master)
            await driver.start()
            fw = (await next_of(stream, "FRAMEWORK_ADDED"))["framework_added"]["framework"]
            assert fw["framework_info"]["name"] == "subscribe-itest" and fw["connected"]
            fid = fw["framework_info"]["id"]

            task = (await next_of(stream, "TASK_ADDED"))["task_added"]["task"]
            assert task["task_id"] == wrap(tid) and task["framework_id"] == fid
            assert task["state"] == "TASK_STAGING"
            while True:
                upd = (await next_of(stream, "TASK_UPDATED"))["task_updated"]
                assert upd["framework_id"] == fid
                st = upd["status"]
                assert st["task_id"] == wrap(tid) and st["agent_id"] == task["agent_id"]
                assert st["state"] == upd["state"] and isinstance(st["timestamp"], float)
                if upd["state"] == "TASK_RUNNING":
                    break
                assert upd["state"] == "TASK_STARTING"
            await sched.wait_states([tid], "TASK_RUNNING")
            assert (await stream.next()) == {"type": "HEARTBEAT"}  # idle for 1 s

            await driver.stop()  # TEARDOWN: the task is killed, the framework removed
            driver = None
            upd = (await next_of(stream, "TASK_UPDATED"))["task_updated"]
            assert upd["status"]["task_id"] == wrap(tid) and upd["state"] == "TASK_KILLED"
            removed = await next_of(stream, "FRAMEWORK_REMOVED")
            assert removed["framework_removed"]["framework_info"]["id"] == fid
            await stream.close()
    finally:
        if driver is not None:
            await driver.stop()
        cluster.stop()
