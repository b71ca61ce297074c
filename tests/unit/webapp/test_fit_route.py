"""``POST /v2/fit`` through aiohttp's test client, against a fake master that serves
``/master/slaves``: apps and groups, Marathon's 422 for what create refuses, 503 without a
master, and nothing created."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from dcos.state import MemoryStateStore
from frameworks.webapp.api.server import build_app
from frameworks.webapp.scheduler import WebappService
from frameworks.webapp.store import WebappStore


def slave(i: int, cpus: float, used_cpus: float = 0.0, **attrs: str) -> dict[str, Any]:
    total = {"cpus": cpus, "mem": 2048.0, "disk": 0.0, "gpus": 0.0, "ports": "[31000-31099]"}
    return {"id": f"S{i}", "hostname": "127.0.0.1", "resources": total, "unreserved_resources": total,
            "used_resources": {"cpus": used_cpus, "mem": 0.0}, "offered_resources": total,
            "reserved_resources": {}, "attributes": attrs, "active": True}  # fmt: skip


@pytest.fixture
async def env():
    """(webapp test client, the fake master's state: ``slaves`` list and ``status``)."""
    master: dict[str, Any] = {"slaves": [slave(0, 2.0, 1.5), slave(1, 1.0)], "status": 200, "hits": 0}

    async def slaves(request: web.Request) -> web.Response:
        master["hits"] += 1
        if master["status"] != 200:
            return web.Response(status=master["status"], text="not the leader")
        return web.json_response({"slaves": master["slaves"]})

    fake = web.Application()
    fake.router.add_get("/master/slaves", slaves)
    async with TestServer(fake) as ms:
        svc = WebappService(WebappStore(MemoryStateStore()), master=f"127.0.0.1:{ms.port}")
        async with TestClient(TestServer(build_app(svc))) as c:
            yield c, master


async def test_an_app_that_fits(env):
    c, master = env
    r = await c.post("/v2/fit", json={"id": "/web", "cmd": "sleep 1", "cpus": 0.5, "mem": 64, "instances": 3})
    assert r.status == 200
    body = await r.json()
    assert body == {"fits": True, "agents": 2, "apps": [
        {"id": "/web", "instances": 3, "placeable": 3, "fits": True, "reasons": []}]}  # fmt: skip
    assert master["hits"] == 1
    # nothing was created
    assert (await (await c.get("/v2/apps")).json())["apps"] == []
    assert await (await c.get("/v2/deployments")).json() == []


async def test_an_app_that_does_not_fit_says_why(env):
    c, _ = env
    r = await c.post("/v2/fit", json={"id": "web", "cmd": "x", "cpus": 1.5, "mem": 64,
                                      "constraints": [["hostname", "UNIQUE"]], "instances": 2})  # fmt: skip
    body = await r.json()
    assert r.status == 200 and body["fits"] is False
    [a] = body["apps"]
    assert a["id"] == "/web" and a["placeable"] == 0
    assert a["reasons"] == [{"reason": "insufficient cpus: needs 1.5, best agent has 1",
                             "code": "InsufficientCpus", "agents": 2}]  # fmt: skip
    r = await c.post("/v2/fit", json={"id": "web", "cmd": "x", "cpus": 0.1, "mem": 64,
                                      "constraints": [["hostname", "UNIQUE"]], "instances": 2})  # fmt: skip
    [a] = (await r.json())["apps"]
    assert a["placeable"] == 1 and a["reasons"][0]["reason"].startswith("constraint hostname:UNIQUE")


async def test_a_group(env):
    c, _ = env
    group = {"id": "/shop", "apps": [{"id": "db", "cmd": "x", "cpus": 1, "mem": 64}],
             "groups": [{"id": "front", "apps": [{"id": "web", "cmd": "x", "cpus": 0.5, "mem": 64,
                                                  "instances": 2}]}]}  # fmt: skip
    body = await (await c.post("/v2/fit", json=group)).json()
    assert body["fits"] is False
    assert [(a["id"], a["placeable"]) for a in body["apps"]] == [("/shop/db", 1), ("/shop/front/web", 1)]
    assert (await (await c.get("/v2/groups/shop")).json()) == {"message": "Group '/shop' does not exist"}


@pytest.mark.parametrize("body,path", [
    ({"id": "/x", "cmd": "y", "mem": "lots"}, "/mem"),
    ({"id": "/x", "cmd": "y", "constraints": [["hostname", "NOPE"]]}, "/constraints(0)"),
    ({"cmd": "y"}, "/id"),
    ({"id": "/g", "apps": [{"id": "a", "cmd": "y", "cpus": -1}]}, "/apps(0)/cpus"),
    ({"id": "/g", "apps": [{"id": "/elsewhere/a", "cmd": "y"}]}, "/apps(0)/id"),
    ({"id": "/g", "apps": [{"id": "a", "cmd": "y", "dependencies": ["/g/b"]},
                           {"id": "b", "cmd": "y", "dependencies": ["/g/a"]}]}, "/dependencies"),
])  # fmt: skip
async def test_bad_input_is_a_marathon_422_and_asks_no_master(env, body, path):
    c, master = env
    r = await c.post("/v2/fit", json=body)
    assert r.status == 422
    err = await r.json()
    assert err["message"] and path in [d["path"] for d in err["details"]]
    assert master["hits"] == 0


async def test_not_json_is_422(env):
    c, _ = env
    r = await c.post("/v2/fit", data=b"{nope")
    assert r.status == 422 and (await r.json())["message"] == "Invalid JSON"


async def test_an_existing_app_id_is_fine_and_unchanged(env):
    c, _ = env
    app = {"id": "/web", "cmd": "sleep 1", "cpus": 0.1, "mem": 16}
    assert (await c.post("/v2/apps", json=app)).status == 201
    r = await c.post("/v2/fit", json={**app, "cpus": 0.2})
    assert r.status == 200 and (await r.json())["fits"] is True
    assert (await (await c.get("/v2/apps/web")).json())["app"]["cpus"] == 0.1


async def test_master_refusing_or_gone_is_503(env):
    c, master = env
    master["status"] = 500
    r = await c.post("/v2/fit", json={"id": "/web", "cmd": "x"})
    assert r.status == 503 and "answered 500" in (await r.json())["message"]


async def test_no_master_is_503():
    svc = WebappService(WebappStore(MemoryStateStore()), master="127.0.0.1:1")
    async with TestClient(TestServer(build_app(svc))) as c:
        r = await c.post("/v2/fit", json={"id": "/web", "cmd": "x"})
        assert r.status == 503
        assert "could not be read" in (await r.json())["message"]
