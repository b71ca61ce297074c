"""Repository list/add/delete of the package service core: URI rules, index checks before
anything is stored, priorities, persistence in the StateStore, credentials never listed, and
private repositories over HTTP (basic auth in the URI, bearer token)."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from pkg_service_fakes import make_service

from dcos.packaging.api import build_app
from dcos.packaging.errors import CosmosError
from dcos.packaging.repositories import Repository, RepositoryStore, mask_uri
from dcos.state.memory import MemoryStateStore


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


async def refused(coro: object) -> CosmosError:
    with pytest.raises(CosmosError) as info:
        await coro  # type: ignore[misc]
    return info.value


async def names(svc) -> list[str]:
    return [r["name"] for r in (await svc.repository_list({}))["repositories"]]


async def test_add_with_index_and_delete_by_name_or_uri(tmp_path: Path, session) -> None:
    svc, _, _, index = await make_service(tmp_path, session)
    other = tmp_path / "other" / "index.json"
    other.parent.mkdir()
    other.write_bytes(index.read_bytes())
    out = await svc.repository_add({"name": "first", "uri": other.as_uri(), "index": 0})
    assert [r["name"] for r in out["repositories"]] == ["first", "test"]
    assert await names(svc) == ["first", "test"]
    # the higher-priority repository wins: its index answers for pyhttp
    found = (await svc.catalog()).resolve("pyhttp")
    assert found.index.repo.name == "first"
    out = await svc.repository_delete({"uri": other.as_uri()})
    assert [r["name"] for r in out["repositories"]] == ["test"]
    out = await svc.repository_delete({"name": "test"})
    assert out["repositories"] == []
    assert (await svc.search({}))["packages"] == []


async def test_add_takes_a_string_index_as_the_dcos_cli_sends_it(tmp_path: Path, session) -> None:
    """`dcos package repo add --index=0 NAME URI` sends ``"index": "0"``; Cosmos' decoder took
    it, so does ours; a string that is no integer is still a decoding failure."""
    svc, _, _, index = await make_service(tmp_path, session)
    other = tmp_path / "other" / "index.json"
    other.parent.mkdir()
    other.write_bytes(index.read_bytes())
    err = await refused(svc.repository_add({"name": "first", "uri": other.as_uri(), "index": "x"}))
    assert "Int" in err.message
    out = await svc.repository_add({"name": "first", "uri": other.as_uri(), "index": "0"})
    assert [r["name"] for r in out["repositories"]] == ["first", "test"]


@pytest.mark.parametrize("uri, kind", [
    ("not a uri", "RepositoryUriSyntax"),
    ("http://", "RepositoryUriSyntax"),
    ("http://host:notaport/x", "RepositoryUriSyntax"),
    ("file://relative/index.json", "RepositoryUriSyntax"),
    ("ftp://host/index.json", "UnsupportedRepositoryUri"),
])
async def test_bad_uris_are_refused_and_change_nothing(tmp_path: Path, session, uri: str,
                                                        kind: str) -> None:
    svc, *_ = await make_service(tmp_path, session)
    err = await refused(svc.repository_add({"name": "bad", "uri": uri}))
    assert (err.type, err.status) == (kind, 400)
    assert await names(svc) == ["test"]


async def test_unreachable_and_invalid_indexes_change_nothing(tmp_path: Path, session) -> None:
    svc, *_ = await make_service(tmp_path, session)
    err = await refused(svc.repository_add({"name": "gone",
                                            "uri": (tmp_path / "nope.json").as_uri()}))
    assert err.type == "RepositoryUriConnection" and "gone" in err.message
    err = await refused(svc.repository_add({"name": "down", "uri": "http://127.0.0.1:1/x"}))
    assert err.type == "RepositoryUriConnection"
    for i, text in enumerate(['{"packages": [{"name": 3}]}', "[]", "not json",
                              '{"nothing": []}']):
        bad = tmp_path / f"bad{i}.json"
        bad.write_text(text)
        err = await refused(svc.repository_add({"name": f"bad{i}", "uri": bad.as_uri()}))
        assert (err.type, err.status) == ("IndexNotFound", 400), text
        assert err.data["reason"]
    assert await names(svc) == ["test"]


async def test_duplicates_bad_index_and_missing_fields(tmp_path: Path, session) -> None:
    svc, _, _, index = await make_service(tmp_path, session)
    err = await refused(svc.repository_add({"name": "test", "uri": "http://x/y"}))
    assert err.type == "RepositoryAlreadyPresent"
    err = await refused(svc.repository_add({"name": "again", "uri": index.as_uri()}))
    assert err.type == "RepositoryAlreadyPresent" and "URI" in err.message
    err = await refused(svc.repository_add({"name": "x", "uri": index.as_uri() + "?",
                                            "index": 5}))
    assert err.type == "RepositoryAddIndexOutOfBounds"
    err = await refused(svc.repository_add({"uri": index.as_uri()}))
    assert err.type == "json_error"
    err = await refused(svc.repository_delete({}))
    assert err.type == "RepoNameOrUriMissing"
    err = await refused(svc.repository_delete({"name": "nope"}))
    assert err.type == "RepositoryNotPresent"
    assert await names(svc) == ["test"]


async def test_store_seeds_once_and_persists(tmp_path: Path) -> None:
    store = RepositoryStore(MemoryStateStore())
    assert await store.seed([]) == []  # no default yet (catalog not built): nothing stored
    seeded = await store.seed([Repository("u", "file:///a/index.json")])
    assert [r.name for r in seeded] == ["u"]
    await store.replace([], 1)
    assert await store.seed([Repository("u", "file:///a/index.json")]) == []


def test_credentials_are_masked_and_sent_as_headers() -> None:
    basic = Repository("p", "https://alice:s3cret@repo.example:8443/index.json")
    assert basic.public_json() == {"name": "p",
                                   "uri": "https://alice:****@repo.example:8443/index.json"}
    assert basic.fetch_url() == "https://repo.example:8443/index.json"
    assert basic.auth_headers() == {
        "Authorization": "Basic " + base64.b64encode(b"alice:s3cret").decode()}
    token = Repository("t", "https://repo.example/index.json", token="tok")
    assert token.auth_headers() == {"Authorization": "Bearer tok"}
    assert "tok" not in str(token.public_json())
    assert mask_uri("http://host/x") == "http://host/x"


async def test_private_http_repository_basic_and_bearer(tmp_path: Path, session) -> None:
    svc, _, _, index = await make_service(tmp_path, session)
    body = index.read_bytes()
    good = {"Basic " + base64.b64encode(b"bob:pw").decode(), "Bearer T0K"}
    seen: list[str | None] = []

    async def serve(request: web.Request) -> web.Response:
        seen.append(request.headers.get("Authorization"))
        if request.headers.get("Authorization") not in good:
            return web.Response(status=401)
        if request.path.endswith("payload.txt"):
            return web.Response(body=b"private payload")
        return web.Response(body=body, content_type="application/json")

    app = web.Application()
    app.router.add_get("/{tail:.*}", serve)
    async with TestServer(app, host="127.0.0.1") as server:
        base = f"http://127.0.0.1:{server.port}/repo/index.json"
        err = await refused(svc.repository_add({"name": "anon", "uri": base}))
        assert (err.type, err.data["clientStatus"]) == ("UniverseClientHttpError", 401)
        with_basic = base.replace("http://", "http://bob:pw@")
        out = await svc.repository_add({"name": "basic", "uri": with_basic})
        assert out["repositories"][-1]["uri"] == base.replace("http://", "http://bob:****@")
        out = await svc.repository_add({"name": "bearer", "uri": base + "?t", "token": "T0K"})
        assert "T0K" not in str(out)
        assert seen[-2:] == sorted(good, key=lambda g: not g.startswith("Basic"))
        await svc.repository_delete({"name": "test"})
        # assets of a private repository: listed ones only, streamed with its credentials
        asset = f"http://127.0.0.1:{server.port}/repo/assets/payload.txt"
        repo, url = await svc.asset(asset)
        assert repo.name == "basic"
        async with TestClient(TestServer(build_app(svc, session))) as client:
            r = await client.get("/package/resource/payload.txt", params={"url": asset})
            assert r.status == 200 and await r.read() == b"private payload"
            assert seen[-1] == "Basic " + base64.b64encode(b"bob:pw").decode()
            r = await client.get("/package/resource", params={
                "url": f"http://127.0.0.1:{server.port}/repo/other.txt"})
            assert r.status == 404


async def test_a_broken_refresh_keeps_the_last_good_index(tmp_path: Path, session) -> None:
    svc, _, _, index = await make_service(tmp_path, session)
    assert len((await svc.search({}))["packages"]) == 4
    index.write_text("half-written")
    assert len((await svc.search({}))["packages"]) == 4
    index.unlink()
    assert len((await svc.search({}))["packages"]) == 4
