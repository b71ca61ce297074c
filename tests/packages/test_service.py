"""The package service on a real cluster (`pkg_cluster`), with the small test repository of
tests/packages/testrepo.py added to it: every endpoint with its media types, install to
healthy (the asset fetched by the agent through /package/resource), refusals that create
nothing, upgrade through /cosmos/service/update as a rolling deployment, uninstall leaving
nothing, and repository changes that fail leaving the list as it was."""

from __future__ import annotations

import time
from collections.abc import Generator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import orjson
import pytest

from dcos.packaging import mediatypes as mt
from tests.packages.conftest import CosmosError, PkgCluster, get_json, http
from tests.packages.testrepo import write_repo

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def repo(pkg_cluster: PkgCluster, tmp_path_factory: pytest.TempPathFactory,
         ) -> Generator[Path, None, None]:
    """The test repository, added last (lowest priority) for this module, then removed."""
    index = write_repo(tmp_path_factory.mktemp("svc-repo"))
    pkg_cluster.rpc("/package/repository/add", {"name": "svc-test", "uri": index.as_uri()})
    try:
        yield index
    finally:
        pkg_cluster.rpc("/package/repository/delete", {"name": "svc-test"})


def repo_names(c: PkgCluster) -> list[str]:
    return [r["name"] for r in c.rpc("/package/repository/list", {})["repositories"]]


def task_port(app: dict[str, Any]) -> int:
    return int(app["tasks"][0]["ports"][0])


def test_read_endpoints_and_media_types(pkg_cluster: PkgCluster, repo: Path) -> None:
    c = pkg_cluster
    status, headers, raw = http("GET", c.package_url + "/capabilities",
                                headers={"Accept": mt.CAPABILITIES_RESPONSE})
    assert status == 200 and headers["Content-Type"] == mt.CAPABILITIES_RESPONSE
    found = c.rpc("/package/search", {"query": "tiny python"})["packages"]
    assert [p["name"] for p in found] == ["pyhttp"]
    assert found[0]["versions"] == {"1.0.0": "0", "2.0.0": "1"}
    status, headers, raw = http("POST", c.package_url + "/package/describe",
                                {"packageName": "pyhttp", "packageVersion": "1.0.0"},
                                {"Content-Type": mt.DESCRIBE_REQUEST,
                                 "Accept": mt.DESCRIBE_RESPONSE_V3})
    assert headers["Content-Type"] == mt.DESCRIBE_RESPONSE_V3
    assert orjson.loads(raw)["package"]["releaseVersion"] == 0
    v2 = c.rpc("/package/describe", {"packageName": "pyhttp"}, accept=mt.DESCRIBE_RESPONSE_V2)
    assert v2["version"] == "2.0.0" and "package" not in v2
    assert c.rpc("/package/list-versions", {"packageName": "pyhttp",
                                            "includePackageVersions": True}) == {
        "results": {"1.0.0": "0", "2.0.0": "1"}}
    app = c.rpc("/package/render", {"packageName": "pyhttp", "appId": "/rendered"})["marathonJson"]
    assert app["id"] == "/rendered" and app["labels"]["DCOS_PACKAGE_NAME"] == "pyhttp"
    assert not c.apps_of("/rendered")  # render creates nothing
    status, _, body = http("GET", app["fetch"][0]["uri"])
    assert (status, body) == (200, b"payload\n")


def test_header_errors_and_resource_refusals(pkg_cluster: PkgCluster, repo: Path) -> None:
    c = pkg_cluster
    with pytest.raises(CosmosError) as info:
        c.rpc("/package/install", {"packageName": "pyhttp"}, content_type=mt.SEARCH_REQUEST)
    assert info.value.status == 400 and info.value.content_type == mt.ERROR
    assert info.value.body["type"] == "not_valid"
    with pytest.raises(CosmosError) as info:
        c.rpc("/package/search", {}, accept="text/html")
    assert info.value.body["type"] == "not_valid"
    for bad in [(repo.parent / "secret.txt").as_uri(),
                (repo.parent / "assets" / "payload.txt").as_uri() + "/../../secret.txt",
                "file:///etc/passwd", f"{c.master_url}/master/state"]:
        status, headers, raw = http("GET", f"{c.package_url}/package/resource?url="
                                    + quote(bad, safe=""))
        assert status == 404 and headers["Content-Type"] == mt.ERROR, bad
        assert orjson.loads(raw)["type"] == "ResourceNotFound"
    assert not c.apps_of("/pyhttp")


def test_install_healthy_refusals_update_uninstall(pkg_cluster: PkgCluster, repo: Path) -> None:
    c = pkg_cluster
    app_id = "/svc/web"
    started = time.monotonic()
    out = c.install("pyhttp", {"message": "hi there"}, app_id=app_id, version="1.0.0")
    assert out == {"packageName": "pyhttp", "packageVersion": "1.0.0", "appId": app_id,
                   "postInstallNotes": "pyhttp up"}
    apps = c.wait_healthy(app_id, timeout=120)
    print(f"pyhttp install-to-healthy: {time.monotonic() - started:.2f} s")
    port = task_port(apps[0])
    assert http("GET", f"http://127.0.0.1:{port}/")[2].strip() == b"hi there"
    # the asset reached the sandbox through the package service and the agent's fetcher
    assert http("GET", f"http://127.0.0.1:{port}/payload.txt")[2] == b"payload\n"

    with pytest.raises(CosmosError) as info:
        c.install("pyhttp", app_id=app_id)
    assert (info.value.status, info.value.body["type"]) == (409, "PackageAlreadyInstalled")
    with pytest.raises(CosmosError) as info:
        c.install("pyhttp", {"service": {"instances": 0, "nope": 1}}, app_id="/svc/bad")
    assert info.value.body["type"] == "JsonSchemaMismatch"
    assert sorted(e["path"] for e in info.value.body["data"]["errors"]) == [
        "/service", "/service/instances"]
    assert not c.apps_of("/svc/bad")
    assert c.apps_of(app_id)[0]["labels"]["DCOS_PACKAGE_VERSION"] == "1.0.0"

    listed = c.rpc("/package/list", {"packageName": "pyhttp"})["packages"]
    assert [p["appId"] for p in listed] == [app_id]
    described = c.rpc("/cosmos/service/describe", {"appId": app_id})
    assert described["upgradesTo"] == ["2.0.0"]
    assert described["userProvidedOptions"] == {"message": "hi there"}

    old_tasks = {t["id"] for t in apps[0]["tasks"]}
    update = c.rpc("/cosmos/service/update", {"appId": app_id, "packageVersion": "2.0.0",
                                              "options": {"service": {"instances": 2}}})
    assert update["marathonDeploymentId"]
    apps = c.wait_healthy(app_id, timeout=120)
    assert apps[0]["instances"] == 2 and apps[0]["env"]["VERSION"] == "2"
    assert not old_tasks & {t["id"] for t in apps[0]["tasks"]}  # rolled to new tasks
    assert apps[0]["labels"]["DCOS_PACKAGE_VERSION"] == "2.0.0"
    port = task_port(apps[0])
    assert http("GET", f"http://127.0.0.1:{port}/")[2].strip() == b"hi there"

    result = c.uninstall("pyhttp", app_id=app_id)
    assert result["results"][0]["appId"] == app_id
    c.assert_clean(app_id)
    assert c.rpc("/package/list", {"packageName": "pyhttp"})["packages"] == []


def test_group_package_installs_and_uninstalls_as_one(pkg_cluster: PkgCluster,
                                                      repo: Path) -> None:
    c = pkg_cluster
    out = c.install("pygroup", app_id="/svc-group")
    assert out["appId"] == "/svc-group"
    apps = c.wait_healthy("/svc-group", timeout=90)
    assert sorted(a["id"] for a in apps) == ["/svc-group/one", "/svc-group/two"]
    listed = c.rpc("/package/list", {"packageName": "pygroup"})["packages"]
    assert [p["appId"] for p in listed] == ["/svc-group"]
    c.uninstall("pygroup")
    c.assert_clean("/svc-group")
    status, _, _ = http("GET", c.webapp_url + "/v2/groups/svc-group")
    assert status == 404


def test_failed_repository_changes_leave_the_list(pkg_cluster: PkgCluster, repo: Path,
                                                  tmp_path: Path) -> None:
    c = pkg_cluster
    before = repo_names(c)
    invalid = tmp_path / "invalid.json"
    invalid.write_text('{"packages": [{"name": "x"}]}')
    cases = [("gone", (tmp_path / "missing.json").as_uri(), "RepositoryUriConnection"),
             ("down", "http://127.0.0.1:1/repo/index.json", "RepositoryUriConnection"),
             ("invalid", invalid.as_uri(), "IndexNotFound"),
             ("syntax", "http://bad host/x", "RepositoryUriSyntax"),
             ("scheme", "ftp://example.com/index.json", "UnsupportedRepositoryUri")]
    for name, uri, kind in cases:
        with pytest.raises(CosmosError) as info:
            c.rpc("/package/repository/add", {"name": name, "uri": uri})
        assert (info.value.status, info.value.body["type"]) == (400, kind), uri
        assert repo_names(c) == before
    with pytest.raises(CosmosError) as info:
        c.rpc("/package/repository/delete", {"name": "never-added"})
    assert info.value.body["type"] == "RepositoryNotPresent" and repo_names(c) == before
    health = get_json(c.package_url + "/health")
    assert health["repositories"] == len(before)
