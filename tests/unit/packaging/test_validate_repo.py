"""dcos.packaging.validate: a source repository's faults are all reported at once, each with
its file and reason."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from packaging_repo_factory import (
    CONFIG,
    TEMPLATE,
    package_json,
    png_bytes,
    write_project,
    write_release,
    write_wheel_set,
)

import dcos
from dcos.packaging.validate import RepositoryInvalid, load_repository, validate_repository

SHIPPED = Path(dcos.__file__).resolve().parents[1] / "packages-repo"


def problems_of(root: Path) -> list[tuple[str, str]]:
    """(path relative to root, reason) of every problem."""
    _repo, problems = load_repository(root)
    return [(str(Path(p.path).relative_to(root)), p.reason) for p in problems]


def has(problems: list[tuple[str, str]], path: str, fragment: str) -> bool:
    return any(p == path and fragment in r for p, r in problems)


def test_a_good_repository(tmp_path: Path) -> None:
    write_release(tmp_path, "hello", 0)
    write_release(tmp_path, "hello", 1, package=package_json("hello", "1.1.0", upgradesFrom=["1.0.0"],
                                                             downgradesTo=["*"]))
    write_release(tmp_path, "plain", 0, config="none",
                  template='{"id": "/plain", "cmd": "sleep 1", "instances": 1}')
    repo = validate_repository(tmp_path)
    assert [(r.name, r.release_version) for r in repo.releases] == [
        ("hello", 0), ("hello", 1), ("plain", 0)]
    assert repo.releases[1].upgrades_from == ("1.0.0",)
    assert repo.releases[2].config is None


def test_every_broken_package_is_reported_with_file_and_reason(tmp_path: Path) -> None:
    write_release(tmp_path, "good", 0)
    # a template that renders to invalid JSON
    write_release(tmp_path, "broken-template", 0,
                  template='{"id": "/x", "cmd": "y", "instances": {{service.instances}},}')
    # a missing required field, a name that is not the folder's, an unknown key
    doc = package_json("other-name")
    del doc["maintainer"]
    doc["colour"] = "red"
    write_release(tmp_path, "misnamed", 0, package=doc)
    # defaults that break the schema
    config = json.loads(json.dumps(CONFIG))
    config["properties"]["service"]["properties"]["instances"]["default"] = -1
    write_release(tmp_path, "bad-defaults", 0, config=config)
    # a gap in the releases, a duplicate version, an upgrade edge to no version
    write_release(tmp_path, "gappy", 0)
    write_release(tmp_path, "gappy", 2, package=package_json("gappy", "1.0.0",
                                                             upgradesFrom=["0.5"]))
    # a resource with a bad asset name and a relative path nothing provides
    write_release(tmp_path, "assets", 0, resource={"assets": {"uris": {
        "bad-name": "http://x/a.tar", "wheels": "assets/nothing.tar", "up": "../etc/passwd",
        "ftp": "ftp://x/y"}}})
    # a template whose rendering is not a well-shaped app
    write_release(tmp_path, "shape", 0, template=TEMPLATE.replace(
        '"mem": 32', '"mem": "lots", "portDefinitions": [{"port": 70000}]').replace(
        '"cmd": "{{{service.cmd}}}",', ""))
    # package.json that is not JSON, and a missing template
    write_release(tmp_path, "notjson", 0, raw_package="{oops", template=None)
    # a stray file and a release folder with a bad name
    (tmp_path / "packages" / "good" / "latest").mkdir()
    (tmp_path / "packages" / "good" / "0" / "command.json").write_text("{}")

    problems = problems_of(tmp_path)
    assert has(problems, "packages/broken-template/0/marathon.json.mustache",
               "rendering with the default options: rendered template is not JSON")
    assert has(problems, "packages/misnamed/0/package.json", "'maintainer' is a required property")
    assert has(problems, "packages/misnamed/0/package.json",
               "name 'other-name' does not match its folder 'misnamed'")
    assert has(problems, "packages/misnamed/0/package.json", "'colour' was unexpected")
    assert has(problems, "packages/bad-defaults/0/config.json",
               "the defaults break the schema at '/service/instances'")
    assert has(problems, "packages/gappy", "missing 1")
    assert has(problems, "packages/gappy/2/package.json", "version 1.0.0 is already release 0's")
    assert has(problems, "packages/gappy/2/package.json", "upgradesFrom names '0.5'")
    assert has(problems, "packages/assets/0/resource.json", "asset name 'bad-name'")
    assert has(problems, "packages/assets/0/resource.json",
               "assets.uris.wheels: 'assets/nothing.tar': no wheel set builds it")
    assert has(problems, "packages/assets/0/resource.json", "assets.uris.up: '../etc/passwd'")
    assert has(problems, "packages/assets/0/resource.json", "assets.uris.ftp: 'ftp://x/y'")
    assert has(problems, "packages/shape/0/marathon.json.mustache",
               "rendered with the default options: /mem: got 'lots'")
    assert has(problems, "packages/shape/0/marathon.json.mustache",
               "/portDefinitions/0/port: got 70000")
    assert has(problems, "packages/shape/0/marathon.json.mustache", "needs cmd, args or a container")
    assert has(problems, "packages/notjson/0/package.json", "not JSON")
    assert has(problems, "packages/notjson/0/marathon.json.mustache", "missing")
    assert has(problems, "packages/good/latest", "release folders named 0, 1, 2")
    assert has(problems, "packages/good/0/command.json", "not a package file")
    assert not any(p.startswith("packages/good/0/package.json") for p, _ in problems)

    with pytest.raises(RepositoryInvalid) as info:
        validate_repository(tmp_path)
    message = str(info.value)
    assert f"{len(problems)} problem(s)" in message
    assert "broken-template/0/marathon.json.mustache" in message
    assert "misnamed/0/package.json" in message


def test_bad_config_schema(tmp_path: Path) -> None:
    write_release(tmp_path, "a", 0, config={"type": "array"})
    write_release(tmp_path, "b", 0, config={"type": "object", "properties": {"x": {"type": 5}}})
    problems = problems_of(tmp_path)
    assert has(problems, "packages/a/0/config.json", '"type": "object" at its root')
    assert has(problems, "packages/b/0/config.json", "config schema is invalid at '/properties/x/type'")


def test_wheel_sets_and_relative_assets(tmp_path: Path) -> None:
    write_project(tmp_path, "tinyproj")
    write_wheel_set(tmp_path, "tiny", ["# comment", "src/tinyproj", "six==1.16.0  # pinned"])
    write_wheel_set(tmp_path, "bad-name", ["six"])
    write_wheel_set(tmp_path, "opts", ["--index-url http://evil", "src/missing"])
    (tmp_path / "assets").mkdir()
    (tmp_path / "assets" / "icon.png").write_bytes(png_bytes(48, 48))
    write_release(tmp_path, "hello", 0, resource={
        "assets": {"uris": {"tiny": "assets/tiny.tar", "abs": "https://x/y.tar"}},
        "images": {"icon-small": "assets/icon.png", "icon-large": "assets/none.png"}})
    repo, problems = load_repository(tmp_path)
    found = [(str(Path(p.path).relative_to(tmp_path)), p.reason) for p in problems]
    assert has(found, "wheels/bad-name.txt", "must match [a-z0-9_]+")
    assert has(found, "wheels/opts.txt", "line 1: pip options (--index-url) are not allowed")
    assert has(found, "wheels/opts.txt", "line 2: src/missing is not a Python project")
    assert has(found, "packages/hello/0/resource.json", "images.icon-large: 'assets/none.png'")
    assert not any("icon-small" in r or "uris.tiny" in r for _, r in found)
    tiny = repo.wheel_sets["tiny"]
    assert tiny.requirements == ("six==1.16.0",)
    assert tiny.local_projects == (tmp_path / "src" / "tinyproj",)
    assert tiny.asset_path == "assets/tiny.tar"


def test_no_packages_folder(tmp_path: Path) -> None:
    assert has(problems_of(tmp_path), "packages", "no packages folder")


def test_a_framework_package_must_name_its_framework(tmp_path: Path) -> None:
    write_release(tmp_path, "fw", 0, package=package_json("fw", framework=True))
    group = ('{"id": "/g", "apps": [{"id": "a", "cmd": "x"}], "groups": [{"id": "/g/s", "apps":'
             ' [{"id": "b", "cmd": "y", "labels": {"DCOS_PACKAGE_FRAMEWORK_NAME": "fw-b"}}]}]}')
    write_release(tmp_path, "fwgroup", 0, package=package_json("fwgroup", framework=True),
                  template=group, config="none")
    problems = problems_of(tmp_path)
    assert has(problems, "packages/fw/0/marathon.json.mustache",
               "needs the label DCOS_PACKAGE_FRAMEWORK_NAME")
    assert not any(p.startswith("packages/fwgroup") for p, _ in problems)


def test_the_shipped_repository_is_valid() -> None:
    repo, problems = load_repository(SHIPPED)
    assert [str(p) for p in problems] == []
    names = {r.name for r in repo.releases}
    assert {"hello-world", "redis", "dask", "webapp", "batch-dispatcher", "tweeter",
            "tweeter-analytics"} <= names


def test_versions_are_checked_in_releases_that_are_broken_otherwise(tmp_path: Path) -> None:
    write_release(tmp_path, "twice", 0)
    write_release(tmp_path, "twice", 1, template="{{#unclosed}}",
                  package=package_json("twice", "1.0.0", downgradesTo=["0.1"]))
    problems = problems_of(tmp_path)
    assert has(problems, "packages/twice/1/marathon.json.mustache", "not valid Mustache")
    assert has(problems, "packages/twice/1/package.json", "version 1.0.0 is already release 0's")
    assert has(problems, "packages/twice/1/package.json", "downgradesTo names '0.1'")
