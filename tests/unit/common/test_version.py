"""dcos.common.version: the real version and build, from the checkout or a build stamp."""

import json
import re

import pytest

from dcos.common import version


def test_from_this_checkout() -> None:
    if not (version.CHECKOUT / ".git").exists():
        pytest.skip("not running from a git checkout")
    info = version.version_info()
    assert re.fullmatch(r"\d+\.\d+.*", info.version)
    assert re.fullmatch(r"[0-9a-f]{40}", info.git_sha)
    assert info.build_time > 1.6e9 and re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", info.build_date)


def test_mesos_json_keeps_the_api_version() -> None:
    body = version.version_info().mesos_json("1.11.0")
    assert body["version"] == "1.11.0"
    assert body["git_sha"] == version.version_info().git_sha
    assert body["git_tag"] == body["dcos_py_version"] == version.version_info().version
    assert set(body) >= {"build_date", "build_time", "build_user"}


def test_stamp_when_not_a_checkout(tmp_path, monkeypatch) -> None:
    stamp = tmp_path / "_build_stamp.json"
    stamp.write_text(json.dumps({"git_sha": "ab" * 20, "build_time": 1.7e9, "build_user": "ci"}))
    monkeypatch.setattr(version, "CHECKOUT", tmp_path)
    monkeypatch.setattr(version, "STAMP", stamp)
    version.version_info.cache_clear()
    try:
        info = version.version_info()
        assert (info.git_sha, info.build_time, info.build_user) == ("ab" * 20, 1.7e9, "ci")
        assert info.build_date == "2023-11-14 22:13:20"
        stamp.unlink()
        version.version_info.cache_clear()
        assert version.version_info().git_sha == "unknown"
    finally:
        version.version_info.cache_clear()


def test_version_line() -> None:
    assert version.version_line().startswith(f"dcos-py {version.version_info().version} (")
