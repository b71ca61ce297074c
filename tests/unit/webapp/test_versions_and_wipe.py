"""Group versions and rollback (PUT /v2/groups/{id}/versions/{v}), task wipe (kill + expunge),
and the pre-serialised app listing, through aiohttp's test client on a service with no
master (the core plans, tasks are placed on fake offers by the tests)."""

import orjson

from dcos.sdk import Offer
from dcos.testing import make_offer
from frameworks.webapp.actions import TaskUpdate
from frameworks.webapp.api.render import app_json
from frameworks.webapp.scheduler import WebappService
from frameworks.webapp.store import WebappStore


def place_all(svc, n_agents=3):
    """Offer every waiting task a place and mark it running (as if the agents ran them)."""
    core = svc.core
    now = svc.time()
    core.evaluate(now)
    offers = [Offer(make_offer(agent_id=f"a{i}", hostname=f"h{i}",
                               resources="cpus:8;mem:8192;ports:[31000-31099]")) for i in range(n_agents)]
    core.offers(now, offers)
    for tid in list(core.tasks):
        core.status(now, TaskUpdate.of({"task_id": {"value": tid}, "state": "TASK_RUNNING"}))
    core.evaluate(now)


GROUP = {"id": "/shop", "apps": [
    {"id": "web", "cmd": "serve v1", "cpus": 0.1, "mem": 8, "instances": 2},
    {"id": "db", "cmd": "db", "cpus": 0.1, "mem": 8}]}


async def test_group_versions_listed_and_rolled_back_as_a_deployment(client):
    assert (await client.post("/v2/groups", json=GROUP)).status == 201
    place_all(client.svc)
    v1 = (await (await client.get("/v2/groups/shop/versions")).json())[0]
    changed = {"id": "/shop", "apps": [{"id": "web", "cmd": "serve v2", "cpus": 0.1, "mem": 8, "instances": 3},
                                       {"id": "cache", "cmd": "cache", "cpus": 0.1, "mem": 8}]}
    r = await client.put("/v2/groups/shop?force=true", json=changed)
    assert r.status == 200
    versions = await (await client.get("/v2/groups/shop/versions")).json()
    assert len(versions) == 2 and versions[-1] == v1  # newest first
    old = await (await client.get(f"/v2/groups/shop/versions/{v1}")).json()
    assert {a["id"] for a in old["apps"]} == {"/shop/web", "/shop/db"}
    # marathon-python's rollback_group: PUT /v2/groups/{id}/versions/{version}
    r = await client.put(f"/v2/groups//shop/versions/{v1}?force=true")
    assert r.status == 200
    body = await r.json()
    assert set(body) == {"deploymentId", "version"}
    deps = await (await client.get("/v2/deployments")).json()
    [d] = [d for d in deps if d["id"] == body["deploymentId"]]
    actions = {(a["action"], a["app"]) for s in d["steps"] for a in s["actions"]}
    assert ("StopApplication", "/shop/cache") in actions
    assert ("StartApplication", "/shop/db") in actions
    assert ("RestartApplication", "/shop/web") in actions
    web = (await (await client.get("/v2/apps/shop/web")).json())["app"]
    assert web["cmd"] == "serve v1" and web["instances"] == 2
    assert len(await (await client.get("/v2/groups/shop/versions")).json()) == 3  # a new version
    # the other rollback form, and unknown versions
    r = await client.put("/v2/groups/shop?force=true", json={"version": versions[0]})
    assert r.status == 200
    assert (await client.put("/v2/groups/shop/versions/nope?force=true")).status == 404
    assert (await client.get("/v2/groups/nothing/versions")).status == 404


async def test_group_versions_survive_a_restart(client):
    await client.post("/v2/groups", json=GROUP)
    versions = await (await client.get("/v2/groups/shop/versions")).json()
    again = WebappService(WebappStore(client.state_store), master="127.0.0.1:1")
    await again.load()
    assert [v["version"] for v in again.view.group_versions("/shop")] == versions
    assert set(again.core.group_version("/shop", versions[0])["apps"]) == {"/shop/web", "/shop/db"}


async def test_wipe_kills_and_expunges_and_keeps_the_instance_count(client):
    await client.post("/v2/apps", json={"id": "/web", "cmd": "x", "cpus": 0.1, "mem": 8, "instances": 2})
    place_all(client.svc)
    core = client.svc.core
    victim = sorted(core.tasks)[0]
    r = await client.delete(f"/v2/apps/web/tasks/{victim}?wipe=true")
    assert r.status == 200 and (await r.json())["task"]["id"] == victim
    assert victim not in core.tasks  # expunged at once, not waiting for TASK_KILLED
    listed = (await (await client.get("/v2/apps/web/tasks")).json())["tasks"]
    assert victim not in {t["id"] for t in listed} and len(listed) == 1
    assert core.apps["/web"].instances == 2 and core.app_state("/web").need == 1  # replaced now
    # its late TASK_KILLED is that of an unknown task: ignored, nothing changes
    assert core.status(client.svc.time(), TaskUpdate.of({"task_id": {"value": victim}, "state": "TASK_KILLED"})) == []
    # wipe for every task of the app; scale and wipe together are refused
    r = await client.delete("/v2/apps/web/tasks?wipe=true")
    assert r.status == 200 and len((await r.json())["tasks"]) == 1
    assert not core.instances.get("/web") and core.app_state("/web").need == 2
    r = await client.delete("/v2/apps/web/tasks?wipe=true&scale=true")
    assert r.status == 400
    assert (await r.json())["message"] == "You cannot use scale and wipe at the same time."
    r = await client.post("/v2/tasks/delete?wipe=true&scale=true", json={"ids": []})
    assert r.status == 400


async def test_listing_is_pre_serialised_and_never_stale(client):
    hc = [{"protocol": "MESOS_HTTP", "path": "/", "portIndex": 0}]
    await client.post("/v2/apps", json={"id": "/a", "cmd": "x", "cpus": 0.1, "mem": 8, "instances": 2,
                                        "healthChecks": hc})
    await client.post("/v2/apps", json={"id": "/b", "cmd": "y", "cpus": 0.1, "mem": 8})
    place_all(client.svc)
    core = client.svc.core

    async def listing():
        body = orjson.loads(await (await client.get("/v2/apps?embed=apps.tasks")).read())
        expect = [app_json(core, core.apps[a], {"apps.tasks"}) for a in sorted(core.apps)]
        assert body == orjson.loads(orjson.dumps({"apps": expect}))
        return body

    first = await listing()
    assert first["apps"][0]["tasksRunning"] == 2
    tid = sorted(core.instances["/a"])[0]
    core.status(client.svc.time(), TaskUpdate.of({"task_id": {"value": tid}, "state": "TASK_RUNNING", "healthy": False}))
    body = await listing()  # the changed task is rendered again
    [t] = [t for t in body["apps"][0]["tasks"] if t["id"] == tid]
    assert t["healthCheckResults"][0]["alive"] is False and body["apps"][0]["tasksUnhealthy"] == 1
    await client.put("/v2/apps/b?force=true", json={"cmd": "z"})
    assert (await listing())["apps"][1]["cmd"] == "z"  # a new definition is rendered again
    groups = await (await client.get("/v2/groups?embed=group.apps.tasks")).json()
    assert {a["id"] for a in groups["apps"]} == {"/a", "/b"}
