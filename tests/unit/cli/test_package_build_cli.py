"""`dcos-py package build DIR`: every faulty file with its reason (exit 1), or the index."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from dcos.cli.main import app

runner = CliRunner()

TEMPLATE = ('{"id": "{{service.name}}", "cmd": "sleep 1000", "cpus": 0.1, "mem": 32, '
            '"instances": {{service.instances}}}')
CONFIG = {"type": "object", "properties": {"service": {"type": "object", "properties": {
    "name": {"type": "string", "default": "demo"},
    "instances": {"type": "integer", "default": 1, "minimum": 0}}}}}


def package(root: Path, name: str, template: str = TEMPLATE, **fields: object) -> Path:
    folder = root / "packages" / name / "0"
    folder.mkdir(parents=True)
    pkg = {"packagingVersion": "4.0", "name": name, "version": "1.0.0",
           "maintainer": "t@example.com", "description": f"{name} package", "tags": ["t"],
           "upgradesFrom": [], "downgradesTo": [], "minDcosReleaseVersion": "1.10", **fields}
    (folder / "package.json").write_text(json.dumps(pkg))
    (folder / "config.json").write_text(json.dumps(CONFIG))
    (folder / "marathon.json.mustache").write_text(template)
    return folder


def test_build_writes_the_index(tmp_path: Path) -> None:
    package(tmp_path, "demo")
    result = runner.invoke(app, ["package", "build", str(tmp_path), "--skip-assets"])
    assert result.exit_code == 0, result.output
    index = json.loads((tmp_path / "build" / "index.json").read_text())
    assert [p["name"] for p in index["packages"]] == ["demo"]
    assert "1 release(s) of 1 package(s)" in result.output


def test_build_reports_every_broken_package_with_its_file(tmp_path: Path) -> None:
    package(tmp_path, "demo")
    broken = package(tmp_path, "broken", template='{"id": "x", "cmd": {{service.name}')
    mismatched = package(tmp_path, "other", description=5)
    out = tmp_path / "out"
    result = runner.invoke(app, ["package", "build", str(tmp_path), "--out", str(out),
                                 "--skip-assets"])
    assert result.exit_code == 1
    text = result.output
    assert text.startswith("dcos-py: 2 problem(s) in the package repository"), text
    assert f"  {broken / 'marathon.json.mustache'}: " in text
    assert f"  {mismatched / 'package.json'}: /description: 5 is not of type 'string'" in text
    assert "demo" not in text and not out.exists()


def test_build_of_a_missing_folder(tmp_path: Path) -> None:
    result = runner.invoke(app, ["package", "build", str(tmp_path / "nope")])
    assert result.exit_code == 1 and "is not a folder" in result.output
