"""The package service's HTTP shell (dcos/packaging/api.py): Cosmos' media types in and out,
header and body errors as Cosmos answered them, error bodies, /capabilities, /health and
/package/resource (only listed assets, streamed), and `python -m dcos.packaging` flags."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer
from pkg_service_fakes import make_service

from dcos.packaging import mediatypes as mt
from dcos.packaging.__main__ import parse_args
from dcos.packaging.api import build_app


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[tuple[TestClient, Any, Path]]:
    async with aiohttp.ClientSession() as session:
        svc, webapp, _, index = await make_service(tmp_path, session)
        async with TestClient(TestServer(build_app(svc, session))) as c:
            yield c, webapp, index


def headers(path: str) -> dict[str, str]:
    ep = mt.ENDPOINTS[path]
    assert ep.request is not None
    return {"Content-Type": ep.request, "Accept": ",".join(ep.responses)}


async def test_media_types_in_and_out(client) -> None:
    c, webapp, _ = client
    r = await c.post("/package/install", json={"packageName": "pyhttp"},
                     headers=headers("/package/install"))
    assert r.status == 200 and r.headers["Content-Type"] == mt.INSTALL_RESPONSE_V2
    assert (await r.json(content_type=None))["appId"] == "/pyhttp"
    r = await c.post("/package/describe", json={"packageName": "pyhttp"},
                     headers={"Content-Type": mt.DESCRIBE_REQUEST,
                              "Accept": f"{mt.DESCRIBE_RESPONSE_V2};q=0.1,"
                                        f"{mt.DESCRIBE_RESPONSE_V3};q=0.9"})
    assert r.headers["Content-Type"] == mt.DESCRIBE_RESPONSE_V3
    assert "package" in await r.json(content_type=None)
    r = await c.post("/package/describe", json={"packageName": "pyhttp"},
                     headers={"Content-Type": mt.DESCRIBE_REQUEST,
                              "Accept": mt.DESCRIBE_RESPONSE_V2})
    assert r.headers["Content-Type"] == mt.DESCRIBE_RESPONSE_V2
    assert (await r.json(content_type=None))["name"] == "pyhttp"
    for path in mt.ENDPOINTS:
        if path == "/capabilities":
            continue
        r = await c.post(path, json={}, headers=headers(path))
        assert r.headers["Content-Type"] in (*mt.ENDPOINTS[path].responses, mt.ERROR), path
        assert r.status in (200, 400, 404), path


async def test_header_and_body_errors_as_cosmos(client) -> None:
    c, webapp, _ = client
    r = await c.post("/package/install", data=b"", skip_auto_headers=["Accept", "Content-Type"])
    assert r.status == 400 and r.headers["Content-Type"] == mt.ERROR
    body = await r.json(content_type=None)
    assert body["type"] == "multiple_errors"
    assert [e["type"] for e in body["data"]["errors"]] == ["not_present"] * 3
    assert body["data"]["errors"][0]["message"] == "Item header 'Accept' not present but required"
    r = await c.post("/package/install", json={"packageName": "pyhttp"},
                     headers={"Content-Type": mt.DESCRIBE_REQUEST,
                              "Accept": mt.DESCRIBE_RESPONSE_V3})
    body = await r.json(content_type=None)
    assert r.status == 400 and [e["type"] for e in body["data"]["errors"]] == ["not_valid"] * 2
    assert mt.INSTALL_REQUEST in body["data"]["errors"][1]["message"]
    r = await c.post("/package/install", json={"packageName": "pyhttp"},
                     headers={**headers("/package/install"), "Accept": "text/html"})
    body = await r.json(content_type=None)
    assert (r.status, body["type"]) == (400, "not_valid")
    r = await c.post("/package/install", data=b"{nope", headers=headers("/package/install"))
    body = await r.json(content_type=None)
    assert (r.status, body["type"], body["data"]["type"]) == (400, "json_error", "parse")
    r = await c.post("/package/install", json=[1], headers=headers("/package/install"))
    assert (await r.json(content_type=None))["type"] == "json_error"
    assert webapp.by_id == {}


async def test_cosmos_error_bodies_and_statuses(client) -> None:
    c, webapp, _ = client
    h = headers("/package/install")
    r = await c.post("/package/install", json={"packageName": "nope"}, headers=h)
    assert (r.status, r.headers["Content-Type"]) == (400, mt.ERROR)
    assert await r.json(content_type=None) == {
        "type": "PackageNotFound", "message": "Package [nope] not found",
        "data": {"packageName": "nope"}}
    r = await c.post("/package/install", json={"packageName": "pyhttp", "options": {
        "service": {"instances": 9}}}, headers=h)
    body = await r.json(content_type=None)
    assert body["type"] == "JsonSchemaMismatch"
    assert [e["path"] for e in body["data"]["errors"]] == ["/service/instances"]
    await c.post("/package/install", json={"packageName": "pyhttp"}, headers=h)
    r = await c.post("/package/install", json={"packageName": "pyhttp"}, headers=h)
    assert r.status == 409 and (await r.json(content_type=None))["type"] == \
        "PackageAlreadyInstalled"


async def test_capabilities_health_and_resource(client) -> None:
    c, _, index = client
    r = await c.get("/capabilities", headers={"Accept": mt.CAPABILITIES_RESPONSE})
    assert r.headers["Content-Type"] == mt.CAPABILITIES_RESPONSE
    assert {"name": "PACKAGE_MANAGEMENT"} in (await r.json(content_type=None))["capabilities"]
    r = await c.get("/health")
    assert r.status == 200 and (await r.json())["repositories"] == 1
    payload = (index.parent / "assets" / "payload.txt").as_uri()
    r = await c.get("/package/resource", params={"url": payload})
    assert r.status == 200 and await r.read() == b"payload\n"
    for bad in [(index.parent / "secret.txt").as_uri(), payload + "/../../secret.txt",
                "file:///etc/passwd"]:
        r = await c.get("/package/resource", params={"url": bad})
        assert r.status == 404 and r.headers["Content-Type"] == mt.ERROR
        assert (await r.json(content_type=None))["type"] == "ResourceNotFound"
    r = await c.get("/package/resource/payload.txt", params={"url": payload})
    assert r.status == 200 and await r.read() == b"payload\n"
    r = await c.get("/package/resource/other.txt", params={"url": payload})
    assert r.status == 404
    r = await c.get("/package/resource")
    assert r.status == 400


def test_flags(monkeypatch) -> None:
    args, repos = parse_args(["--default-repo", "U=file:///x/index.json",
                              "--default-repo", "P=https://a:b@h/i.json", "--port", "7171"])
    assert [r.name for r in repos] == ["U", "P"] and args.ip == "127.0.0.1"
    assert args.port == 7171
    with pytest.raises(SystemExit):
        parse_args(["--default-repo", "nameonly"])
    with pytest.raises(SystemExit):
        parse_args(["--zk", "http://not-zk"])
    monkeypatch.setenv("DCOS_PORT", "7272")
    assert parse_args([])[0].port == 7272
    monkeypatch.setenv("DCOS_DEFAULT_REPO", "E=file:///e/index.json")
    assert [r.name for r in parse_args([])[1]] == ["E"]
    assert [r.name for r in parse_args(["--default-repo", "F=file:///f.json"])[1]] == ["E", "F"]


BAD_VALUES: list[Any] = [None, 0, -1, 1.5, True, "", "x" * 300, [], {}, ["a"], {"a": {"b": []}},
                         "../../etc/passwd", "/", "//", "A B"]
FIELDS = ["packageName", "packageVersion", "options", "appId", "all", "query", "name", "uri",
          "index", "token", "replace", "includePackageVersions"]


async def test_no_bad_body_gets_a_500_or_changes_anything(client) -> None:
    c, webapp, _ = client
    for path in mt.ENDPOINTS:
        if path == "/capabilities":
            continue
        for field in FIELDS:
            for value in BAD_VALUES:
                body = {"packageName": "pyhttp", field: value}
                before = dict(webapp.by_id)
                r = await c.post(path, json=body, headers=headers(path))
                assert r.status < 500, (path, body, await r.text())
                if r.status != 200:
                    assert webapp.by_id == before, (path, body)
                webapp.by_id.clear()  # a request that was valid after all (an install)
        for raw in [b"null", b"[]", b"1", b'"s"', b"{}", b'{"packageName": {}}']:
            r = await c.post(path, data=raw, headers=headers(path))
            assert r.status < 500, (path, raw, await r.text())
    assert webapp.by_id == {}
