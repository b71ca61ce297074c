"""The package service core (dcos/packaging/service.py) against a fake webapp and master:
search, describe, list-versions, render, install, list, uninstall, service describe/update and
the asset check; every refusal leaves the webapp untouched."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import parse_qs, quote, urlsplit

import aiohttp
import orjson
import pytest
from pkg_service_fakes import ADVERTISE, make_service

from dcos.packaging import app_definition as labels
from dcos.packaging.errors import CosmosError


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


async def refused(coro: object) -> CosmosError:
    with pytest.raises(CosmosError) as info:
        await coro  # type: ignore[misc]
    return info.value


async def test_search_matches_name_description_and_tags(tmp_path: Path, session) -> None:
    svc, *_ = await make_service(tmp_path, session)
    everything = (await svc.search({}))["packages"]
    assert [p["name"] for p in everything] == ["brokenrender", "nooptions", "pygroup", "pyhttp"]
    pyhttp = everything[-1]
    assert pyhttp["currentVersion"] == "2.0.0"
    assert pyhttp["versions"] == {"1.0.0": "0", "2.0.0": "1"}
    assert pyhttp["tags"] == ["web", "test"] and pyhttp["framework"] is False
    icon = (tmp_path / "repo" / "assets" / "icon.png").as_uri()
    assert pyhttp["images"] == {"icon-small": f"{ADVERTISE}/package/resource/icon.png?url="
                                              + quote(icon, safe="")}
    assert [p["name"] for p in (await svc.search({"query": "HTTP"}))["packages"]] == ["pyhttp"]
    assert [p["name"] for p in (await svc.search({"query": "group"}))["packages"]] == ["pygroup"]
    assert [p["name"] for p in (await svc.search({"query": "py*"}))["packages"]] == [
        "pygroup", "pyhttp"]
    assert (await svc.search({"query": "nothing-like-it"}))["packages"] == []


async def test_describe_v3_v2_and_not_found(tmp_path: Path, session) -> None:
    svc, *_ = await make_service(tmp_path, session)
    v3 = await svc.describe({"packageName": "pyhttp"})
    assert v3["package"]["version"] == "2.0.0" and v3["package"]["releaseVersion"] == 1
    assert "v2AppMustacheTemplate" in v3["package"]["marathon"]
    old = await svc.describe({"packageName": "pyhttp", "packageVersion": "1.0.0"}, version=2)
    assert old["version"] == "1.0.0" and "releaseVersion" not in old and "package" not in old
    err = await refused(svc.describe({"packageName": "nope"}))
    assert (err.type, err.status, err.data) == ("PackageNotFound", 400, {"packageName": "nope"})
    err = await refused(svc.describe({"packageName": "pyhttp", "packageVersion": "9"}))
    assert err.type == "VersionNotFound" and err.message == \
        "Version [9] of package [pyhttp] not found"
    err = await refused(svc.describe({"packageName": 3}))
    assert err.type == "json_error" and err.data["path"] == "packageName"


async def test_list_versions(tmp_path: Path, session) -> None:
    svc, *_ = await make_service(tmp_path, session)
    got = await svc.list_versions({"packageName": "pyhttp", "includePackageVersions": True})
    assert got == {"results": {"1.0.0": "0", "2.0.0": "1"}}


async def test_render_labels_and_asset_urls(tmp_path: Path, session) -> None:
    svc, webapp, _, index = await make_service(tmp_path, session)
    app = (await svc.render({"packageName": "pyhttp", "appId": "team/web",
                             "options": {"service": {"instances": 2}}}))["marathonJson"]
    assert app["id"] == "/team/web" and app["instances"] == 2
    fetched = app["fetch"][0]["uri"]
    assert fetched.startswith(ADVERTISE + "/package/resource/payload.txt?url=")
    query = parse_qs(urlsplit(fetched).query)
    assert query["url"][0] == (index.parent / "assets" / "payload.txt").as_uri()
    stamp = query["v"][0]  # the file's version: a rebuilt asset gets a new fetch URL
    (index.parent / "assets" / "payload.txt").write_text("rebuilt, longer\n")
    again = (await svc.render({"packageName": "pyhttp"}))["marathonJson"]["fetch"][0]["uri"]
    assert parse_qs(urlsplit(again).query)["v"][0] != stamp
    lab = app["labels"]
    assert lab[labels.NAME] == "pyhttp" and lab[labels.VERSION] == "2.0.0"
    assert lab[labels.RELEASE] == "1" and lab[labels.SOURCE] == index.as_uri()
    assert orjson.loads(base64.b64decode(lab[labels.OPTIONS])) == {"service": {"instances": 2}}
    envelope = orjson.loads(base64.b64decode(lab[labels.DEFINITION]))
    assert envelope["metadata"]["Content-Encoding"] == "gzip"
    assert labels.open_envelope(envelope)["name"] == "pyhttp"
    assert webapp.by_id == {}  # render creates nothing


async def test_install_v2_and_v1_answers(tmp_path: Path, session) -> None:
    svc, webapp, *_ = await make_service(tmp_path, session)
    out = await svc.install({"packageName": "pyhttp", "packageVersion": "1.0.0"})
    assert out == {"packageName": "pyhttp", "packageVersion": "1.0.0", "appId": "/pyhttp",
                   "postInstallNotes": "pyhttp up"}
    out = await svc.install({"packageName": "pyhttp", "appId": "v1"}, version=1)
    assert out == {"packageName": "pyhttp", "packageVersion": "2.0.0", "appId": "/v1"}
    assert sorted(webapp.by_id) == ["/pyhttp", "/v1"]


async def test_install_same_app_id_twice_is_409_and_changes_nothing(tmp_path: Path,
                                                                    session) -> None:
    svc, webapp, *_ = await make_service(tmp_path, session)
    await svc.install({"packageName": "pyhttp", "appId": "/one"})
    before = dict(webapp.by_id)
    err = await refused(svc.install({"packageName": "pyhttp", "appId": "/one",
                                     "packageVersion": "1.0.0"}))
    assert (err.type, err.status) == ("PackageAlreadyInstalled", 409)
    assert webapp.by_id == before
    listed = (await svc.list_packages({}))["packages"]
    assert [(p["appId"], p["packageInformation"]["packageDefinition"]["version"])
            for p in listed] == [("/one", "2.0.0")]
    assert (await svc.list_packages({"packageName": "other"}))["packages"] == []


async def test_bad_options_name_every_path_and_create_nothing(tmp_path: Path, session) -> None:
    svc, webapp, *_ = await make_service(tmp_path, session)
    err = await refused(svc.install({"packageName": "pyhttp", "options": {
        "service": {"instances": 0, "cpus": "x", "bogus": 1}, "extra": True}}))
    assert (err.type, err.status, err.message) == ("JsonSchemaMismatch", 400,
                                                   "Options JSON failed validation")
    paths = sorted({e["path"] for e in err.data["errors"]})
    assert paths == ["", "/service", "/service/cpus", "/service/instances"]
    assert all(e["instance"]["pointer"] == e["path"] for e in err.data["errors"])
    assert webapp.by_id == {}
    err = await refused(svc.install({"packageName": "nooptions", "options": {"a": 1}}))
    assert err.type == "OptionsNotAllowed" and webapp.by_id == {}
    err = await refused(svc.install({"packageName": "brokenrender"}))
    assert err.type == "MarathonTemplateMustBeJsonObject" and webapp.by_id == {}
    err = await refused(svc.install({"packageName": "pyhttp", "appId": "Bad Id"}))
    assert err.type == "json_error" and webapp.by_id == {}


async def test_group_package_is_one_instance(tmp_path: Path, session) -> None:
    svc, webapp, master, _ = await make_service(tmp_path, session)
    out = await svc.install({"packageName": "pygroup", "appId": "/g1"})
    assert out["appId"] == "/g1"
    assert sorted(webapp.by_id) == ["/g1/one", "/g1/two"]
    assert {a["labels"][labels.GROUP_ID] for a in webapp.by_id.values()} == {"/g1"}
    listed = (await svc.list_packages({}))["packages"]
    assert [p["appId"] for p in listed] == ["/g1"]
    err = await refused(svc.install({"packageName": "pygroup", "appId": "/g1"}))
    assert err.status == 409
    err = await refused(svc.install({"packageName": "pyhttp", "appId": "/g1"}))
    assert (err.type, err.status) == ("PackageAlreadyInstalled", 409)
    res = await svc.uninstall({"packageName": "pygroup"})
    assert res == {"results": [{"packageName": "pygroup", "appId": "/g1",
                                "packageVersion": "1.0.0"}]}
    assert webapp.by_id == {} and master.webapp_tasks == []


async def test_uninstall_tears_down_framework_active_and_inactive(tmp_path: Path,
                                                                 session) -> None:
    svc, webapp, master, _ = await make_service(tmp_path, session)
    await svc.install({"packageName": "pyhttp", "appId": "/fw", "packageVersion": "1.0.0"})
    webapp.by_id["/fw"]["labels"][labels.FRAMEWORK_NAME] = "myfw"
    master.others = [{"id": "f1", "name": "myfw", "active": True, "tasks": []},
                     {"id": "f0", "name": "myfw", "active": False, "tasks": []},
                     {"id": "x", "name": "otherfw", "active": True, "tasks": []}]
    res = await svc.uninstall({"packageName": "pyhttp", "appId": "fw"})
    assert res["results"][0]["postUninstallNotes"] == "pyhttp gone"
    assert sorted(master.torn_down) == ["f0", "f1"]
    assert [f["name"] for f in master.others] == ["otherfw"]
    assert webapp.by_id == {}


async def test_uninstall_refusals(tmp_path: Path, session) -> None:
    svc, webapp, master, _ = await make_service(tmp_path, session)
    err = await refused(svc.uninstall({"packageName": "pyhttp"}))
    assert err.type == "PackageNotInstalled"
    await svc.install({"packageName": "pyhttp", "appId": "/a"})
    await svc.install({"packageName": "pyhttp", "appId": "/b"})
    err = await refused(svc.uninstall({"packageName": "pyhttp", "appId": "/c"}))
    assert err.type == "UninstallNonExistentAppForPackage"
    err = await refused(svc.uninstall({"packageName": "pyhttp"}))
    assert err.type == "AmbiguousAppId" and err.data["appIds"] == ["/a", "/b"]
    assert sorted(webapp.by_id) == ["/a", "/b"]
    res = await svc.uninstall({"packageName": "pyhttp", "all": True})
    assert [r["appId"] for r in res["results"]] == ["/a", "/b"] and webapp.by_id == {}


async def test_uninstall_that_leaves_tasks_is_incomplete(tmp_path: Path, session) -> None:
    svc, webapp, master, _ = await make_service(tmp_path, session)
    await svc.install({"packageName": "pyhttp"})
    webapp.keep_tasks_after_delete = True
    err = await refused(svc.uninstall({"packageName": "pyhttp"}))
    assert (err.type, err.status) == ("IncompleteUninstall", 503)


async def test_service_describe_and_update_follow_the_edges(tmp_path: Path, session) -> None:
    svc, webapp, *_ = await make_service(tmp_path, session)
    await svc.install({"packageName": "pyhttp", "packageVersion": "1.0.0",
                       "options": {"message": "hi"}})
    desc = await svc.service_describe({"appId": "/pyhttp"})
    assert desc["upgradesTo"] == ["2.0.0"] and desc["downgradesTo"] == []
    assert desc["userProvidedOptions"] == {"message": "hi"}
    assert desc["resolvedOptions"]["service"]["instances"] == 1
    out = await svc.service_update({"appId": "/pyhttp", "packageVersion": "2.0.0",
                                    "options": {"service": {"instances": 2}}})
    assert out["marathonDeploymentId"] == "deployment-1"
    assert out["resolvedOptions"]["message"] == "hi"
    kind, sent = webapp.updates[-1]
    assert kind == "app" and sent["instances"] == 2 and sent["env"]["VERSION"] == "2"
    assert sent["labels"][labels.VERSION] == "2.0.0"
    desc = await svc.service_describe({"appId": "/pyhttp"})
    assert desc["downgradesTo"] == ["1.0.0"] and desc["upgradesTo"] == []
    err = await refused(svc.service_update({"appId": "/nope"}))
    assert err.type == "MarathonAppNotFound"
    err = await refused(svc.service_update({"appId": "/pyhttp", "options": {
        "service": {"instances": 99}}}))
    assert err.type == "JsonSchemaMismatch" and len(webapp.updates) == 1


async def test_update_refused_without_an_edge(tmp_path: Path, session) -> None:
    svc, webapp, *_ = await make_service(tmp_path, session)
    await svc.install({"packageName": "pyhttp", "packageVersion": "2.0.0"})
    # 2.0.0 downgradesTo "*": allowed; then 1.0.0 -> 2.0.0 is in 2.0.0's upgradesFrom.
    await svc.service_update({"appId": "/pyhttp", "packageVersion": "1.0.0"})
    assert webapp.updates[-1][1]["labels"][labels.VERSION] == "1.0.0"
    # The stored definition (labels) now says 2.0.0 in the fake only if updated: the fake
    # keeps the new labels, so the instance is 1.0.0 and 1.0.0 has no downgradesTo.
    err = await refused(svc.service_update({"appId": "/pyhttp", "packageVersion": "0.9"}))
    assert err.type == "VersionNotFound"


async def test_asset_only_listed_urls(tmp_path: Path, session) -> None:
    svc, _, _, index = await make_service(tmp_path, session)
    payload = (index.parent / "assets" / "payload.txt").as_uri()
    repo, url = await svc.asset(payload)
    assert url == payload and repo.name == "test"
    assert (await svc.asset((index.parent / "assets" / "icon.png").as_uri()))[1].endswith(
        "icon.png")
    for bad in [(index.parent / "secret.txt").as_uri(),
                (index.parent / "assets" / ".." / "secret.txt").as_uri(),
                payload + "/../../secret.txt", "file:///etc/passwd", "http://evil/x"]:
        err = await refused(svc.asset(bad))
        assert (err.type, err.status) == ("ResourceNotFound", 404)


async def test_capabilities(tmp_path: Path, session) -> None:
    svc, *_ = await make_service(tmp_path, session)
    assert await svc.capabilities() == {"capabilities": [{"name": "PACKAGE_MANAGEMENT"}]}
