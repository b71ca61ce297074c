"""dcos.packaging.build: the index written from a source repository, wheel sets built once and
then skipped by their stamp, failures reported per set. No network: local projects are built
with the real pip (--no-index), PyPI lines through a fake runner."""

from __future__ import annotations

import json
import subprocess
import tarfile
from collections.abc import Sequence
from pathlib import Path

import pytest
from packaging_repo_factory import png_bytes, write_project, write_release, write_wheel_set

from dcos.packaging import build
from dcos.packaging.assets import read_wheel_sets, stamp
from dcos.packaging.build import AssetsFailed, build_repository
from dcos.packaging.index import read_index
from dcos.packaging.validate import RepositoryInvalid


def test_skip_assets_writes_the_index_in_src_build(tmp_path: Path) -> None:
    write_release(tmp_path, "zeta", 0)
    write_release(tmp_path, "alpha", 0)
    write_wheel_set(tmp_path, "never_built", ["six"])
    result = build_repository(tmp_path, skip_assets=True)
    assert result.index_path == tmp_path / "build" / "index.json"
    assert result.wheel_sets == {}
    doc = json.loads(result.index_path.read_text())
    assert [p["name"] for p in doc["packages"]] == ["alpha", "zeta"]
    index = read_index(result.index_path.read_bytes(), str(result.index_path))
    assert index.packages == result.releases
    assert not (tmp_path / "build" / "assets").exists()
    assert "2 release(s) of 2 package(s)" in result.summary()


def test_an_invalid_repository_writes_nothing(tmp_path: Path) -> None:
    write_release(tmp_path, "bad", 0, template="{{#x}}")
    with pytest.raises(RepositoryInvalid, match="marathon.json.mustache"):
        build_repository(tmp_path, tmp_path / "out", skip_assets=True)
    assert not (tmp_path / "out").exists()


def test_local_project_wheel_set_is_built_once_then_fresh(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PIP_NO_INDEX", "1")  # proves the build needs no package index
    project = write_project(tmp_path, "tinyproj")
    write_wheel_set(tmp_path, "tiny", ["src/tinyproj"])
    (tmp_path / "assets").mkdir()
    (tmp_path / "assets" / "icon.png").write_bytes(png_bytes(48, 48))
    write_release(tmp_path, "hello", 0, resource={"assets": {"uris": {"tiny": "assets/tiny.tar"}},
                                                  "images": {"icon-small": "assets/icon.png"}})
    out = tmp_path / "out"
    first = build_repository(tmp_path, out)
    assert first.wheel_sets == {"tiny": "built"}
    assert first.copied_assets == (out / "assets" / "icon.png",)
    with tarfile.open(out / "assets" / "tiny.tar") as tar:
        names = tar.getnames()
    assert names == ["tiny/tinyproj-0.1.0-py3-none-any.whl"]
    assert not (project / "build").exists()  # built from a copy: the source tree stays clean

    def no_pip(argv: Sequence[str]) -> subprocess.CompletedProcess[str]:
        raise AssertionError(f"pip ran although nothing changed: {argv}")

    second = build_repository(tmp_path, out, runner=no_pip)
    assert second.wheel_sets == {"tiny": "fresh"} and second.copied_assets == ()

    (project / "tinyproj" / "__init__.py").write_text("VALUE = 2\n")
    third = build_repository(tmp_path, out)
    assert third.wheel_sets == {"tiny": "built"}


def test_pypi_lines_use_pip_download_binary_only(tmp_path: Path) -> None:
    write_wheel_set(tmp_path, "deps", ["redis==8.2.0", "dnspython>=2"])
    write_release(tmp_path, "hello", 0)
    calls: list[list[str]] = []

    def fake_pip(argv: Sequence[str]) -> subprocess.CompletedProcess[str]:
        argv = list(argv)
        calls.append(argv)
        dest = Path(argv[argv.index("--dest") + 1])
        (dest / "redis-8.2.0-py3-none-any.whl").write_bytes(b"zip")
        requirements = Path(argv[argv.index("-r") + 1]).read_text().split()
        assert requirements == ["redis==8.2.0", "dnspython>=2"]
        return subprocess.CompletedProcess(argv, 0, "", "")

    result = build_repository(tmp_path, runner=fake_pip)
    assert result.wheel_sets == {"deps": "built"}
    (argv,) = calls
    assert argv[1:4] == ["-m", "pip", "download"] and "--only-binary=:all:" in argv


def test_failing_sets_are_all_reported_and_no_index_is_written(tmp_path: Path) -> None:
    write_wheel_set(tmp_path, "one", ["nosuchpackage-xyz==1"])
    write_wheel_set(tmp_path, "two", ["another-missing==2"])
    write_release(tmp_path, "hello", 0)
    output = "\n".join(f"line {i}" for i in range(40)) + "\nERROR: No matching distribution"

    def failing_pip(argv: Sequence[str]) -> subprocess.CompletedProcess[str]:
        return subprocess.CompletedProcess(list(argv), 1, "", output)

    with pytest.raises(AssetsFailed) as info:
        build_repository(tmp_path, runner=failing_pip)
    assert [e.set_name for e in info.value.errors] == ["one", "two"]
    message = str(info.value)
    assert "wheel set one: pip download failed (exit 1)" in message
    assert "ERROR: No matching distribution" in message and "line 39" in message
    assert "line 10\n" not in message  # only pip's last lines
    assert not (tmp_path / "build" / "index.json").exists()


def test_stamp_follows_requirements_and_sources(tmp_path: Path) -> None:
    project = write_project(tmp_path, "p")
    req = write_wheel_set(tmp_path, "s", ["src/p"])
    sets, _ = read_wheel_sets(tmp_path)
    before = stamp(sets["s"])
    (project / "build").mkdir()
    (project / "build" / "junk.py").write_text("x")
    (project / "p.egg-info").mkdir()
    assert stamp(sets["s"]) == before  # build output is not a source
    req.write_text("src/p\nsix\n")
    sets, _ = read_wheel_sets(tmp_path)
    assert stamp(sets["s"]) != before


def test_main_reports_problems_and_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                              ) -> None:
    write_release(tmp_path, "hello", 0)
    assert build.main([str(tmp_path), "--skip-assets", "--out", str(tmp_path / "o")]) == 0
    assert "1 release(s) of 1 package(s)" in capsys.readouterr().out
    write_release(tmp_path, "broken", 0, template='{"id": "/b", "cmd": 1}')
    assert build.main([str(tmp_path), "--skip-assets"]) == 1
    err = capsys.readouterr().err
    assert "package build failed" in err and "broken/0/marathon.json.mustache" in err
