"""Image URLs of search and describe (dcos/packaging/service.py, api.py `client_origin`): a
repository-held image is handed out as `<the client's origin>/package/resource/<file>?url=...`
(the gateway's when the request came through it, as Cosmos answered with the request's host),
and that URL serves the image with headers that keep it from running as a page."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer
from pkg_service_fakes import ADVERTISE, make_service

from dcos.packaging import mediatypes as mt
from dcos.packaging.api import build_app


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[tuple[TestClient, Any, Path]]:
    async with aiohttp.ClientSession() as session:
        svc, _, _, index = await make_service(tmp_path, session)
        async with TestClient(TestServer(build_app(svc, session))) as c:
            yield c, svc, index


async def rpc(c: TestClient, path: str, body: Any, **extra: str) -> Any:
    ep = mt.ENDPOINTS[path]
    assert ep.request is not None
    r = await c.post(path, json=body, headers={"Content-Type": ep.request,
                                               "Accept": ep.responses[0], **extra})
    assert r.status == 200, await r.text()
    return await r.json(content_type=None)


def icon_url(index: Path, origin: str) -> str:
    icon = (index.parent / "assets" / "icon.png").as_uri()
    return f"{origin}/package/resource/icon.png?url={quote(icon, safe='')}"


async def test_core_without_origin_uses_the_advertised_url(client) -> None:
    _, svc, index = client
    found = (await svc.search({"query": "pyhttp"}))["packages"][0]
    assert found["images"] == {"icon-small": icon_url(index, ADVERTISE)}
    described = await svc.describe({"packageName": "pyhttp"})
    assert described["package"]["resource"]["images"] == {"icon-small": icon_url(index, ADVERTISE)}
    # the rest of resource stays as the index has it
    assert described["package"]["resource"]["assets"] == {"uris": {"payload": "assets/payload.txt"}}


async def test_through_a_gateway_the_urls_are_the_gateways(client) -> None:
    c, _, index = client
    forwarded = {"X-Forwarded-Host": "gw.example:8000, inner:1", "X-Forwarded-Proto": "https"}
    want = icon_url(index, "https://gw.example:8000")
    found = await rpc(c, "/package/search", {"query": "pyhttp"}, **forwarded)
    assert found["packages"][0]["images"]["icon-small"] == want
    described = await rpc(c, "/package/describe", {"packageName": "pyhttp"}, **forwarded)
    assert described["package"]["resource"]["images"]["icon-small"] == want
    old = await rpc(c, "/package/describe", {"packageName": "pyhttp", "packageVersion": "1.0.0"},
                    **forwarded)
    assert old["package"]["resource"]["images"]["icon-small"] == want


async def test_asked_directly_the_urls_are_the_requests_own(client) -> None:
    c, _, index = client
    found = await rpc(c, "/package/search", {"query": "pyhttp"})
    url = found["packages"][0]["images"]["icon-small"]
    assert url == icon_url(index, f"http://{c.host}:{c.port}")
    # a Host that is no plain host[:port]: the advertised URL
    found = await rpc(c, "/package/search", {"query": "pyhttp"},
                      **{"X-Forwarded-Host": "evil/path?x=", "X-Forwarded-Proto": "http"})
    assert found["packages"][0]["images"]["icon-small"] == icon_url(index, ADVERTISE)
    # the URL answers with the image, marked as data that never runs
    parts = urlsplit(url)
    r = await c.get(f"{parts.path}?{parts.query}")
    assert r.status == 200 and r.headers["Content-Type"] == "image/png"
    assert (await r.read()).startswith(b"\x89PNG")
    assert "sandbox" in r.headers["Content-Security-Policy"]
    assert r.headers["X-Content-Type-Options"] == "nosniff"
