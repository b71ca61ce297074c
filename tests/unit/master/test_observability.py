"""The master's debug and metrics endpoints on a real loopback socket: the stimulus log
(`GET /debug/stimuli`), Prometheus text metrics (`/metrics`, `/metrics/prometheus`) and
`/version` with dcos-py's real build."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from dcos.common.version import version_info
from dcos.protocol import internal
from dcos.testing.master import (
    agent_subscribe,
    command_task,
    executor_status,
    launch,
    send_status,
    subscribe,
)


async def _running_task(m, s):
    astream, aid = await agent_subscribe(s, m.url)
    fstream, fid, sid = await subscribe(s, m.url)
    offer = (await fstream.next("OFFERS"))["offers"]["offers"][0]
    assert (await launch(s, m.url, fid, sid, offer["id"], [command_task("t1", aid)])).status == 202
    await astream.next(internal.RUN_TASKS)
    assert await send_status(s, m.url, aid, fid, executor_status("t1", aid)) == 202
    await fstream.next("UPDATE")
    return astream, fstream, aid, fid


async def test_stimuli_log_records_typed_events_and_their_actions(env):
    m, s = env
    astream, fstream, aid, fid = await _running_task(m, s)
    async with s.get(f"{m.url}/debug/stimuli") as r:
        assert r.status == 200
        body = await r.json()
    assert body["capacity"] > 0 and body["recorded"] >= len(body["entries"]) >= 4
    types = [e["event"]["type"] for e in body["entries"]]
    for expected in ("AgentSubscribe", "Subscribe", "Accept", "AgentUpdate"):
        assert expected in types, types
    accept = next(e for e in body["entries"] if e["event"]["type"] == "Accept")
    assert accept["event"]["framework_id"] == fid
    assert [a["type"] for a in accept["actions"]] == ["ToAgent"]
    update = next(e for e in body["entries"] if e["event"]["type"] == "AgentUpdate")
    assert any(a["type"] == "ToFramework" for a in update["actions"])
    async with s.get(f"{m.url}/debug/stimuli?limit=1") as r:
        assert len((await r.json())["entries"]) == 1
    async with s.get(f"{m.url}/debug/stimuli?limit=x") as r:
        assert r.status == 400
    await astream.close()
    await fstream.close()


async def test_prometheus_metrics_read_state_at_scrape_time(env):
    m, s = env
    astream, fstream, aid, fid = await _running_task(m, s)
    for path in ("/metrics", "/metrics/prometheus"):
        async with s.get(m.url + path) as r:
            assert r.status == 200
            assert r.headers["Content-Type"].startswith("text/plain")
            text = await r.text()
        samples = {
            (sm.name, tuple(sorted(sm.labels.items()))): sm.value
            for fam in text_string_to_metric_families(text)
            for sm in fam.samples
        }
        assert samples[("dcos_master_agents", (("status", "connected"),))] == 1
        assert samples[("dcos_master_frameworks", (("status", "active"),))] == 1
        assert samples[("dcos_master_tasks", (("state", "TASK_RUNNING"),))] == 1
        assert ("dcos_master_offers_outstanding", ()) in samples
        assert samples[("dcos_master_tasks_launched_total", ())] == 1
        assert samples[("dcos_master_allocation_runs_total", ())] >= 1
        assert all(name.startswith("dcos_master_") for name, _ in samples)
    await astream.close()
    await fstream.close()


async def test_version_reports_the_real_build(env):
    m, s = env
    async with s.get(f"{m.url}/version") as r:
        v = await r.json()
    info = version_info()
    assert v["git_sha"] == info.git_sha and v["git_tag"] == info.version
    assert v["git_sha"] != "0" * 40
