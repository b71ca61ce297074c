"""The gateway's DC/OS compat endpoints (`dcos.gateway.metadata`) in the shapes the DC/OS CLIs
read: /metadata, dcos-version.json, the pkgpanda buildinfo (and its HEAD probe, which tells the
CLIs that security is off), cluster links and the auth endpoints with security off."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from dcos.common.version import version_info
from dcos.gateway.metadata import COMPONENTS, DCOS_RELEASE_VERSION, ClusterInfo, add_routes

CLUSTER_ID = "0f6b3b52-5e5f-4c55-9d0a-2b0c77d7c1a1"


@pytest.fixture
def info() -> ClusterInfo:
    return ClusterInfo(cluster_id=CLUSTER_ID, cluster_name="local", public_ip="127.0.0.1")


@pytest.fixture
async def client(info: ClusterInfo) -> AsyncIterator[TestClient]:
    app = web.Application()
    add_routes(app, info)
    async with TestClient(TestServer(app)) as c:
        yield c


def test_defaults_take_the_build_from_version_info(info: ClusterInfo) -> None:
    build = version_info()
    assert info.dcos_py_version == build.version
    assert info.git_sha.startswith(build.git_sha)
    assert info.dcos_version == DCOS_RELEASE_VERSION
    other = ClusterInfo(cluster_id="x", cluster_name="y", public_ip="10.0.0.1")
    assert other.bootstrap_id == info.bootstrap_id  # one per build, not per cluster
    assert len(info.bootstrap_id) == 40


def test_no_id_or_name_given_gets_a_uuid_and_the_default_name() -> None:
    a, b = ClusterInfo(cluster_id=None, cluster_name=None), ClusterInfo()
    assert a.id != b.id
    assert str(uuid.UUID(a.id)) == a.id
    assert a.name == a.cluster_name == "dcos-py"
    assert a.metadata()["CLUSTER_ID"] == a.id


async def test_metadata_has_the_public_ip_and_cluster_id(client: TestClient) -> None:
    resp = await client.get("/metadata")
    assert resp.status == 200
    assert resp.content_type == "application/json"
    body = await resp.json()
    assert body["PUBLIC_IPV4"] == "127.0.0.1"
    assert body["CLUSTER_ID"] == CLUSTER_ID
    assert body["CLUSTER_NAME"] == "local"


async def test_dcos_version_json_fields_the_clis_read(client: TestClient,
                                                      info: ClusterInfo) -> None:
    body = await (await client.get("/dcos-metadata/dcos-version.json")).json()
    assert body["version"] == DCOS_RELEASE_VERSION
    major, minor = (int(x) for x in body["version"].split(".")[:2])
    assert (major, minor) >= (1, 10)  # the Go CLI's plugin requirement
    assert body["dcos-variant"] == "open"
    assert body["dcos-image-commit"] == info.git_sha
    assert body["bootstrap-id"] == info.bootstrap_id
    assert body["dcos-py-version"] == info.dcos_py_version


async def test_buildinfo_lists_every_component_with_its_build(client: TestClient,
                                                              info: ClusterInfo) -> None:
    resp = await client.get("/pkgpanda/active.buildinfo.full.json")
    assert resp.status == 200
    body = await resp.json()
    assert set(body) == set(COMPONENTS)
    master = body["dcos-master"]
    assert master["package_version"] == info.dcos_py_version
    assert master["commit"] == info.git_sha
    assert master["module"] == "dcos.master"
    assert master["single_source"] == {"kind": "git", "ref": info.git_sha,
                                       "ref_origin": info.dcos_py_version}


async def test_head_probe_without_token_answers_200_with_no_challenge(client: TestClient) -> None:
    """Both CLIs: HEAD /pkgpanda/active.buildinfo.full.json without a token; 200 and no
    WWW-Authenticate header = authentication disabled, skip login."""
    resp = await client.head("/pkgpanda/active.buildinfo.full.json")
    assert resp.status == 200
    assert "WWW-Authenticate" not in resp.headers
    # a configured token is ignored, not refused
    resp = await client.head("/pkgpanda/active.buildinfo.full.json",
                             headers={"Authorization": "token=whatever"})
    assert resp.status == 200


async def test_no_linked_clusters(client: TestClient) -> None:
    assert await (await client.get("/cluster/v1/links")).json() == {"links": []}
    resp = await client.delete("/cluster/v1/links/other")
    assert resp.status == 404
    body = await resp.json()
    assert "other" in body["description"] and body["code"] and body["title"]
    resp = await client.post("/cluster/v1/links", json={"id": "x", "url": "http://x"})
    assert resp.status == 501
    assert "not supported" in (await resp.json())["description"]


async def test_auth_providers_empty_and_login_issues_no_token(client: TestClient) -> None:
    resp = await client.get("/acs/api/v1/auth/providers")
    assert resp.status == 200
    assert await resp.json() == {}
    resp = await client.post("/acs/api/v1/auth/login", json={"uid": "a", "password": "b"})
    assert resp.status == 501
    body = await resp.json()
    assert "token" not in body
    assert set(body) == {"title", "description", "code"}
    assert "security is off" in body["description"]


async def test_other_methods_are_refused(client: TestClient) -> None:
    assert (await client.post("/metadata")).status == 405
    assert (await client.get("/acs/api/v1/auth/login")).status == 405
