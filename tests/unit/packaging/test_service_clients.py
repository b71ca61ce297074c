"""The package service's HTTP clients (dcos/packaging/clients.py) against small stand-in
servers: webapp failover to the next instance, webapp answers mapped to Cosmos errors, and the
master's frameworks list and operator TEARDOWN call."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from dcos.common.addresses import parse_master
from dcos.common.sse import WebappEndpoints
from dcos.packaging.clients import HttpMaster, HttpWebapp
from dcos.packaging.errors import CosmosError
from dcos.state.detector import StaticDetector


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


def webapp_app(calls: list[tuple[str, str, Any]]) -> web.Application:
    async def handle(request: web.Request) -> web.Response:
        body = await request.json() if request.can_read_body else None
        calls.append((request.method, request.path_qs, body))
        if request.method == "GET" and request.path == "/v2/apps":
            return web.json_response({"apps": [{"id": "/a", "tasks": []}]})
        if request.method == "GET" and request.path.startswith("/v2/groups/"):
            return web.json_response({}, status=404 if "nope" in request.path else 200)
        if request.method == "POST" and body and body.get("id") == "/taken":
            return web.json_response({"message": "An app with id [/taken] already exists."},
                                     status=409)
        if request.method == "POST" and body and body.get("id") == "/invalid":
            return web.json_response({"message": "Object is not valid", "details": [
                {"path": "/mem", "errors": ["must be >= 0"]}]}, status=422)
        if request.method == "PUT":
            return web.json_response({"deploymentId": "d-1", "version": "v"})
        if request.method == "DELETE":
            return web.json_response({}, status=404 if "gone" in request.path else 200)
        return web.json_response({"id": body.get("id") if body else None}, status=201)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    return app


async def test_webapp_failover_and_answers(session) -> None:
    calls: list[tuple[str, str, Any]] = []
    async with TestServer(webapp_app(calls), host="127.0.0.1") as server:
        dead = "http://127.0.0.1:1"
        endpoints = WebappEndpoints(f"{dead},http://127.0.0.1:{server.port}")
        client = HttpWebapp(session, endpoints)
        assert [a["id"] for a in await client.apps()] == ["/a"]
        assert endpoints.current == f"http://127.0.0.1:{server.port}"  # moved on from the dead one
        assert await client.group_exists("/g") and not await client.group_exists("/nope")
        await client.create("app", {"id": "/new"})
        await client.create("group", {"id": "/grp", "apps": []})
        assert ("POST", "/v2/groups", {"id": "/grp", "apps": []}) in calls
        with pytest.raises(CosmosError) as info:
            await client.create("app", {"id": "/taken"})
        assert (info.value.type, info.value.status) == ("PackageAlreadyInstalled", 409)
        with pytest.raises(CosmosError) as info:
            await client.create("app", {"id": "/invalid"})
        assert info.value.type == "MarathonBadResponse"
        assert info.value.data["errors"] == [{"path": "/mem", "errors": ["must be >= 0"]}]
        assert await client.update("app", {"id": "/a/b", "instances": 2}) == "d-1"
        assert ("PUT", "/v2/apps/a/b?force=true&partialUpdate=false", {"instances": 2}) in calls
        assert await client.delete("group", "/grp") is True
        assert ("DELETE", "/v2/groups/grp?force=true", None) in calls
        assert await client.delete("app", "/gone") is False


async def test_no_webapp_answering_is_service_unavailable(session) -> None:
    client = HttpWebapp(session, WebappEndpoints("http://127.0.0.1:1,http://127.0.0.1:2"))
    with pytest.raises(CosmosError) as info:
        await client.apps()
    assert (info.value.type, info.value.status) == ("ServiceUnavailable", 503)


async def test_master_frameworks_and_teardown(session) -> None:
    seen: list[Any] = []

    async def frameworks(request: web.Request) -> web.Response:
        return web.json_response({"frameworks": [{"id": "f1", "name": "x", "active": False}],
                                  "completed_frameworks": [{"id": "old"}]})

    async def operator(request: web.Request) -> web.Response:
        call = await request.json()
        seen.append(call)
        fid = call["teardown"]["framework_id"]["value"]
        if fid == "unknown":
            return web.Response(status=400, text="No framework found with specified ID")
        if fid == "broken":
            return web.Response(status=503, text="no leader")
        return web.Response(status=200)

    app = web.Application()
    app.router.add_get("/master/frameworks", frameworks)
    app.router.add_post("/api/v1", operator)
    async with TestServer(app, host="127.0.0.1") as server:
        master = HttpMaster(session, StaticDetector(parse_master(f"127.0.0.1:{server.port}")))
        assert await master.frameworks() == [{"id": "f1", "name": "x", "active": False}]
        await master.teardown("f1")
        assert seen[-1] == {"type": "TEARDOWN", "teardown": {"framework_id": {"value": "f1"}}}
        await master.teardown("unknown")  # already gone: nothing to do
        with pytest.raises(CosmosError) as info:
            await master.teardown("broken")
        assert info.value.status == 503
