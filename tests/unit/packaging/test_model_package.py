"""dcos.packaging.model and dcos.packaging.index: a release's fields, the index entry round
trip, and reading an index with clear errors."""

from __future__ import annotations

import base64
import json

import pytest
from packaging_repo_factory import CONFIG, TEMPLATE, package_json

from dcos.packaging.index import InvalidIndex, dump_index, index_document, read_index
from dcos.packaging.model import License, ModelError, PackageRelease, from_package_json


def release(name: str = "hello", number: int = 0, version: str = "1.0.0", **fields: object
            ) -> PackageRelease:
    doc = package_json(name, version, **fields)
    return from_package_json(doc, release_version=number, config=CONFIG,
                             resource={"assets": {"uris": {"wheels": "assets/w.tar"}},
                                       "images": {"icon-small": "http://x/i.png"}},
                             marathon_template=TEMPLATE)


def test_fields_from_package_json() -> None:
    r = release(framework=True, selected=True, upgradesFrom=["0.9"], downgradesTo=["*"],
                licenses=[{"name": "Apache-2.0", "url": "https://apache.org/l"}],
                postInstallNotes="done", scm="https://git/x", website="https://w")
    assert r.name == "hello" and r.version == "1.0.0" and r.release_version == 0
    assert r.framework and r.selected and r.tags == ("demo",)
    assert r.licenses == (License("Apache-2.0", "https://apache.org/l"),)
    assert r.post_install_notes == "done" and r.pre_install_notes is None
    assert r.can_upgrade_from("0.9") and not r.can_upgrade_from("0.8")
    assert r.can_downgrade_to("anything")
    assert r.asset_uris() == {"wheels": "assets/w.tar"}
    assert r.images() == {"icon-small": "http://x/i.png"}


def test_unset_edges_allow_nothing() -> None:
    r = from_package_json({"name": "a", "version": "1"}, release_version=0)
    assert r.upgrades_from is None and not r.can_upgrade_from("0")
    assert r.asset_uris() == {} and r.images() == {}


def test_index_entry_round_trip() -> None:
    r = release(framework=True, upgradesFrom=["*"], licenses=[{"name": "MIT", "url": "https://m"}])
    entry = r.to_index_entry()
    assert entry["releaseVersion"] == 0
    assert base64.b64decode(entry["marathon"]["v2AppMustacheTemplate"]).decode() == TEMPLATE
    assert entry["config"] == CONFIG
    assert entry["upgradesFrom"] == ["*"]
    assert PackageRelease.from_index_entry(json.loads(json.dumps(entry))) == r


def test_index_round_trip_sorted_by_name_then_release() -> None:
    releases = [release("zeta", 1, "2"), release("alpha"), release("zeta", 0, "1")]
    doc = index_document(releases)
    assert [(p["name"], p["releaseVersion"]) for p in doc["packages"]] == [
        ("alpha", 0), ("zeta", 0), ("zeta", 1)]
    index = read_index(dump_index(releases), "file:///x/index.json")
    assert index.packages == tuple(sorted(releases, key=lambda r: (r.name, r.release_version)))
    assert index.names() == ["alpha", "zeta"]
    assert index.latest("zeta") == releases[0]
    assert index.find("zeta", "1") == releases[2]
    assert index.find("zeta", "3") is None and index.latest("nope") is None


def test_unknown_keys_are_kept_and_older_packaging_versions_read() -> None:
    entry = {"packagingVersion": "3.0", "name": "old", "version": "0.1", "releaseVersion": 2,
             "maintainer": "m", "description": "d", "tags": [], "manager": "x"}
    index = read_index({"packages": [entry]})
    (r,) = index.packages
    assert r.extra == {"manager": "x"} and r.marathon_template is None
    assert r.to_index_entry()["manager"] == "x"


@pytest.mark.parametrize("data, fragment", [
    (b"{not json", "not JSON"),
    (b"[]", 'not a JSON object with "packages"'),
    (b'{"packages": {}}', '"packages" must be an array'),
])
def test_invalid_index_top_level(data: bytes, fragment: str) -> None:
    with pytest.raises(InvalidIndex) as info:
        read_index(data, "http://repo/index.json")
    assert "http://repo/index.json" in str(info.value) and fragment in str(info.value)


def test_invalid_index_names_each_entry_and_field() -> None:
    good = release().to_index_entry()
    bad_tags = dict(good, name="b", tags=["has space"])
    bad_release = dict(good, name="c", releaseVersion="1")
    bad_template = dict(good, name="d", marathon={"v2AppMustacheTemplate": "@@@"})
    no_name = {"version": "1", "releaseVersion": 0, "packagingVersion": "4.0"}
    with pytest.raises(InvalidIndex) as info:
        read_index({"packages": [good, bad_tags, bad_release, bad_template, no_name, good]}, "R")
    problems = info.value.problems
    assert any(p.startswith("packages[1] (b): /tags/0:") for p in problems)
    assert any(p.startswith("packages[2] (c): /releaseVersion:") for p in problems)
    assert any(p.startswith("packages[3] (d): /marathon/v2AppMustacheTemplate:") for p in problems)
    assert any(p.startswith("packages[4]: /: 'name' is a required property") for p in problems)
    assert any("packages[5] (hello): duplicates packages[0]" in p for p in problems)


def test_template_that_is_base64_but_not_utf8() -> None:
    entry = dict(release().to_index_entry(),
                 marathon={"v2AppMustacheTemplate": base64.b64encode(b"\xff\xfe").decode()})
    with pytest.raises(InvalidIndex, match="not base64 of UTF-8"):
        read_index({"packages": [entry]})
    with pytest.raises(ModelError):
        PackageRelease.from_index_entry(entry)


def test_the_same_bytes_are_parsed_once() -> None:
    data = dump_index([release("cached-a"), release("cached-b")])
    first = read_index(data, "one")
    assert read_index(data, "two") is first
    assert read_index(data.decode(), "three") is first
    assert read_index(json.loads(data), "four") == first
