"""The /v2 API through aiohttp's test client, on a service with no master (the core plans,
nothing is launched): shapes, status codes, Marathon quirks (doubled slashes, True/False)."""

import asyncio

import orjson

from frameworks.webapp.model.json import APP_KEYS, TASK_KEYS

APP = {"id": "/shop/web", "cmd": "sleep 100", "cpus": 0.1, "mem": 16, "instances": 2}


async def test_create_returns_201_with_a_deployment(client):
    r = await client.post("/v2/apps", json=APP)
    assert r.status == 201
    body = await r.json()
    assert body["id"] == "/shop/web" and len(body["deployments"]) == 1
    assert set(body) <= APP_KEYS
    assert body["portDefinitions"][0]["port"] == 10000 and body["ports"] == [10000]
    assert body["version"].endswith("Z")
    deps = await (await client.get("/v2/deployments")).json()
    assert isinstance(deps, list) and deps[0]["affectedApps"] == ["/shop/web"]
    assert [a["action"] for s in deps[0]["steps"] for a in s["actions"]] == [
        "StartApplication", "ScaleApplication"]
    # the app is waiting for 2 tasks: the queue says so
    q = await (await client.get("/v2/queue")).json()
    assert q["queue"][0]["count"] == 2 and isinstance(q["queue"][0]["delay"], dict)


async def test_second_app_with_same_id_conflicts_and_invalid_is_422(client):
    assert (await client.post("/v2/apps", json=APP)).status == 201
    r = await client.post("/v2/apps", json=APP)
    assert r.status == 409
    r = await client.post("/v2/apps", json={"id": "/x", "cmd": "y", "mem": "lots"})
    assert r.status == 422
    body = await r.json()
    assert body["message"] and body["details"][0]["path"] == "/mem"
    assert (await client.get("/v2/apps/x")).status == 404
    r = await client.post("/v2/apps", data=b"{nope")
    assert r.status == 422


async def test_doubled_slashes_nested_ids_and_python_booleans(client):
    await client.post("/v2/apps", json=APP)
    r = await client.get("/v2/apps//shop/web")
    assert r.status == 200
    app = (await r.json())["app"]
    assert app["tasks"] == [] and len(app["deployments"]) == 1
    # a second change while the first deployment runs: 409, then forced with True
    r = await client.put("/v2/apps//shop/web?force=False", json={"instances": 3})
    assert r.status == 409
    assert (await r.json())["deployments"]
    r = await client.put("/v2/apps//shop/web?force=True", json={"instances": 3})
    assert r.status == 200
    body = await r.json()
    assert set(body) == {"deploymentId", "version"}
    app = (await (await client.get("/v2/apps/shop/web")).json())["app"]
    assert app["instances"] == 3 and app["cmd"] == "sleep 100"  # partial merge
    assert len(await (await client.get("/v2/deployments")).json()) == 1


async def test_put_with_partial_update_false_replaces_the_definition(client):
    await client.post("/v2/apps", json={**APP, "env": {"A": "1"}, "labels": {"L": "x"}})
    r = await client.put("/v2/apps/shop/web?force=true&partialUpdate=false",
                         json={"cmd": "sleep 7", "cpus": 0.1, "mem": 16, "instances": 1})
    assert r.status == 200
    app = (await (await client.get("/v2/apps/shop/web")).json())["app"]
    assert app["cmd"] == "sleep 7" and app["instances"] == 1
    assert app["env"] == {} and app["labels"] == {}  # left out: back to the defaults
    await client.put("/v2/apps/shop/web?force=true", json={"env": {"B": "2"}})
    app = (await (await client.get("/v2/apps/shop/web")).json())["app"]
    assert app["env"] == {"B": "2"} and app["cmd"] == "sleep 7"  # the default still merges


async def test_versions_and_rollback_by_version(client):
    await client.post("/v2/apps", json=APP)
    await client.put("/v2/apps/shop/web?force=true", json={"cmd": "sleep 5"})
    versions = (await (await client.get("/v2/apps/shop/web/versions")).json())["versions"]
    assert len(versions) == 2
    old = await (await client.get(f"/v2/apps/shop/web/versions/{versions[-1]}")).json()
    assert old["cmd"] == "sleep 100"
    r = await client.put("/v2/apps/shop/web?force=true", json={"version": versions[-1]})
    assert r.status == 200
    app = (await (await client.get("/v2/apps/shop/web")).json())["app"]
    assert app["cmd"] == "sleep 100"


async def test_list_filters_and_embeds(client):
    await client.post("/v2/apps", json={**APP, "labels": {"HAPROXY_GROUP": "external"}})
    await client.post("/v2/apps", json={"id": "/db", "cmd": "postgres", "cpus": 0.1, "mem": 16})
    apps = (await (await client.get("/v2/apps?label=HAPROXY_GROUP==external")).json())["apps"]
    assert [a["id"] for a in apps] == ["/shop/web"]
    apps = (await (await client.get("/v2/apps?cmd=postgres&embed=apps.tasks&embed=apps.counts")).json())["apps"]
    assert [a["id"] for a in apps] == ["/db"] and apps[0]["tasks"] == []
    assert "tasks" not in (await (await client.get("/v2/apps")).json())["apps"][0]


async def test_delete_app_and_deployment_rollback(client):
    await client.post("/v2/apps", json=APP)
    did = (await (await client.get("/v2/deployments")).json())[0]["id"]
    r = await client.delete(f"/v2/deployments/{did}")
    assert r.status == 200 and "deploymentId" in await r.json()
    # rolled back: the app did not exist before
    assert (await client.get("/v2/apps/shop/web")).status == 404
    assert (await client.delete("/v2/deployments/nope")).status == 404
    await client.post("/v2/apps", json={**APP, "id": "/other"})
    r = await client.delete("/v2/apps/other?force=true")
    assert r.status == 200
    assert (await client.delete("/v2/apps/other")).status == 404


async def test_groups_with_dependencies_and_cycles(client):
    group = {"id": "/shop", "apps": [
        {"id": "web", "cmd": "x", "cpus": 0.1, "mem": 8, "dependencies": ["/shop/db"]},
        {"id": "db", "cmd": "x", "cpus": 0.1, "mem": 8}]}
    r = await client.post("/v2/groups", json=group)
    assert r.status == 201
    deps = await (await client.get("/v2/deployments")).json()
    steps = [[a["app"] for a in s["actions"]] for s in deps[0]["steps"]]
    assert steps.index(["/shop/db"]) < steps.index(["/shop/web"])
    root = await (await client.get("/v2/groups")).json()
    assert root["id"] == "/" and root["groups"][0]["id"] == "/shop"
    assert {a["id"] for a in root["groups"][0]["apps"]} == {"/shop/web", "/shop/db"}
    cyc = {"id": "/loop", "apps": [{"id": "a", "cmd": "x", "dependencies": ["/loop/b"]},
                                   {"id": "b", "cmd": "x", "dependencies": ["/loop/a"]}]}
    r = await client.post("/v2/groups", json=cyc)
    assert r.status == 422 and "cycle" in (await r.json())["details"][0]["errors"][0]
    assert (await client.get("/v2/apps/loop/a")).status == 404


async def test_info_leader_ping_metrics(client):
    info = await (await client.get("/v2/info")).json()
    for key in ("http_config", "marathon_config", "zookeeper_config"):
        assert isinstance(info[key], dict)
    assert (await (await client.get("/v2/leader")).json())["leader"]
    assert await (await client.get("/ping")).text() == "pong"
    assert "gauges" in await (await client.get("/metrics")).json()


async def test_event_stream(client):
    resp = await client.get("/v2/events", headers={"Accept": "text/event-stream"})
    assert resp.headers["Content-Type"].startswith("text/event-stream")
    first = await asyncio.wait_for(resp.content.readuntil(b"\n\n"), 5)
    assert first.startswith(b"event: event_stream_attached\ndata: ")
    await client.post("/v2/apps", json=APP)
    kinds = []
    while "deployment_info" not in kinds:
        frame = await asyncio.wait_for(resp.content.readuntil(b"\n\n"), 5)
        head, data = frame.split(b"\n", 1)
        body = orjson.loads(data.removeprefix(b"data: "))
        assert body["eventType"] == head.removeprefix(b"event: ").decode()
        assert body["timestamp"].endswith("Z")
        kinds.append(body["eventType"])
    assert "api_post_event" in kinds
    resp.close()


async def test_task_json_keys():
    from frameworks.webapp.api.render import task_json
    from frameworks.webapp.instances import Instance

    inst = Instance("a.1", "/a", "v", "v", "agent-1", "h", [31000], [10000], 1.0)
    assert set(task_json(inst, False)) <= TASK_KEYS
