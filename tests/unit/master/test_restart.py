"""A master restart with SQLite in the work dir: the registry survives, agents re-register
with their tasks, frameworks re-subscribe with their id and reconcile; no task is lost."""

from __future__ import annotations

import aiohttp

from dcos.master.app import start_master
from dcos.master.config import MasterConfig
from dcos.protocol import internal
from dcos.protocol.ids import wrap
from dcos.testing.master import (
    agent_subscribe,
    call,
    command_task,
    executor_status,
    launch,
    send_status,
    subscribe,
)


async def test_registry_survives_restart_and_tasks_are_kept(tmp_path):
    work = str(tmp_path / "master")
    m = await start_master(MasterConfig(port=0, work_dir=work, allocation_interval=0.05))
    async with aiohttp.ClientSession() as s:
        astream, aid = await agent_subscribe(s, m.url)
        fstream, fid, sid = await subscribe(s, m.url, name="keeper")
        offer = (await fstream.next("OFFERS"))["offers"]["offers"][0]
        task = command_task("t1", aid, "sleep 1000")
        await launch(s, m.url, fid, sid, offer["id"], [task])
        run = await astream.next(internal.RUN_TASKS)
        status = executor_status("t1", aid)
        await send_status(s, m.url, aid, fid, status)
        await fstream.next("UPDATE")
        await fstream.close()
        await astream.close()
    await m.stop()

    m2 = await start_master(MasterConfig(port=0, work_dir=work, allocation_interval=0.05))
    try:
        core = m2.shell.core
        assert aid in core.recovered_agents and fid in core.frameworks
        async with aiohttp.ClientSession() as s:
            fstream, fid2, sid = await subscribe(s, m2.url, name="keeper", framework_id=fid)
            assert fid2 == fid
            record = {
                "framework_id": fid,
                "task": run["tasks"][0],
                "state": "TASK_RUNNING",
                "status": status,
            }
            astream, aid2 = await agent_subscribe(
                s, m2.url, agent_id=aid, tasks=[record], frameworks=[run["framework"]]
            )
            assert aid2 == aid
            await call(s, m2.url, fid, sid, {"type": "RECONCILE", "reconcile": {"tasks": []}})
            upd = await fstream.next("UPDATE")
            st = upd["update"]["status"]
            assert (st["task_id"], st["state"], st["reason"]) == (
                wrap("t1"),
                "TASK_RUNNING",
                "REASON_RECONCILIATION",
            )
            async with s.get(f"{m2.url}/master/tasks") as r:
                assert [t["state"] for t in (await r.json())["tasks"]] == ["TASK_RUNNING"]
            await fstream.close()
            await astream.close()
    finally:
        await m2.stop()


async def test_removed_framework_stays_removed_after_restart(tmp_path):
    work = str(tmp_path / "master")
    m = await start_master(MasterConfig(port=0, work_dir=work))
    async with aiohttp.ClientSession() as s:
        fstream, fid, sid = await subscribe(s, m.url)
        await call(s, m.url, fid, sid, {"type": "TEARDOWN"})
        await fstream.ended.wait()
    await m.stop()
    m2 = await start_master(MasterConfig(port=0, work_dir=work))
    try:
        async with aiohttp.ClientSession() as s:
            body = {
                "type": "SUBSCRIBE",
                "framework_id": wrap(fid),
                "subscribe": {"framework_info": {"user": "u", "name": "fw"}},
            }
            async with s.post(f"{m2.url}/api/v1/scheduler", json=body) as r:
                assert r.status == 200
                text = await r.read()
                assert b'"ERROR"' in text and b"removed" in text
    finally:
        await m2.stop()


async def test_weights_and_quota_persist_across_restart(tmp_path):
    work = str(tmp_path / "master")
    m = await start_master(MasterConfig(port=0, work_dir=work))
    async with aiohttp.ClientSession() as s:
        async with s.post(
            f"{m.url}/api/v1",
            json={
                "type": "UPDATE_WEIGHTS",
                "update_weights": {"weight_infos": [{"role": "web", "weight": 2.5}]},
            },
        ) as r:
            assert r.status == 200
        async with s.post(
            f"{m.url}/api/v1",
            json={
                "type": "SET_QUOTA",
                "set_quota": {
                    "quota_request": {
                        "role": "web",
                        "guarantee": [{"name": "cpus", "type": "SCALAR", "scalar": {"value": 1}}],
                        "force": True,  # no agent yet: past the capacity check
                    }
                },
            },
        ) as r:
            assert r.status == 200
        async with s.post(
            f"{m.url}/api/v1",
            json={
                "type": "UPDATE_WEIGHTS",
                "update_weights": {"weight_infos": [{"role": "web", "weight": -1}]},
            },
        ) as r:
            assert r.status == 400
    await m.stop()
    m2 = await start_master(MasterConfig(port=0, work_dir=work))
    try:
        async with aiohttp.ClientSession() as s:
            async with s.post(f"{m2.url}/api/v1", json={"type": "GET_WEIGHTS"}) as r:
                assert (await r.json())["get_weights"]["weight_infos"] == [
                    {"role": "web", "weight": 2.5}
                ]
            async with s.post(f"{m2.url}/api/v1", json={"type": "GET_QUOTA"}) as r:
                (info,) = (await r.json())["get_quota"]["status"]["infos"]
                assert info["role"] == "web" and info["guarantee"][0]["scalar"]["value"] == 1
    finally:
        await m2.stop()
