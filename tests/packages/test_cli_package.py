"""The real `dcos-py` CLI (a subprocess per command) against the shared package cluster:
`cluster setup` finds the webapp through the master and attaches the cluster, then `package
search|describe|install --yes` (waits until healthy) `|list --json|install --dry-run|uninstall`
act on it with no address given; bad options and a second install under one app id are one
line and exit 1; `package build` of a small repository, `repo add|list|remove` of its index;
`package build` of a broken repository names each faulty file and why."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.packages.conftest import PkgCluster

TEMPLATE = ('{"id": "{{service.name}}", "cmd": "sleep 1000", "cpus": 0.05, "mem": 32, '
            '"instances": {{service.instances}}}')
CONFIG = {"type": "object", "properties": {"service": {"type": "object", "properties": {
    "name": {"type": "string", "default": "cli-demo"},
    "instances": {"type": "integer", "default": 1, "minimum": 0}}}}}


class Cli:
    """Runs `python -m dcos.cli ARGS` with its own $DCOS_PY_HOME and no config file, and no
    DCOS_* address in the environment: only the attached cluster tells it where to go."""

    def __init__(self, home: Path) -> None:
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("DCOS_")}
        self.env.update({"DCOS_PY_HOME": str(home / "home"),
                         "DCOS_PY_CONFIG": str(home / "none.toml")})

    def __call__(self, *args: str, timeout: float = 240.0) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "dcos.cli", *args], env=self.env,
                              capture_output=True, text=True, timeout=timeout,
                              stdin=subprocess.DEVNULL)


def write_package(root: Path, name: str, template: str = TEMPLATE, **fields: object) -> Path:
    folder = root / "packages" / name / "0"
    folder.mkdir(parents=True)
    pkg = {"packagingVersion": "4.0", "name": name, "version": "1.0.0",
           "maintainer": "t@example.com", "description": f"{name}: a CLI test package",
           "tags": ["cli-test"], "upgradesFrom": [], "downgradesTo": [],
           "minDcosReleaseVersion": "1.10", **fields}
    (folder / "package.json").write_text(json.dumps(pkg))
    (folder / "config.json").write_text(json.dumps(CONFIG))
    (folder / "marathon.json.mustache").write_text(template)
    return folder


@pytest.fixture
def cli(pkg_cluster: PkgCluster, tmp_path: Path) -> Cli:
    run = Cli(tmp_path)
    setup = run("cluster", "setup", pkg_cluster.master_url, "--name", "pkg",
                "--package-service", pkg_cluster.package_url)
    assert setup.returncode == 0, setup.stderr
    listed = json.loads(run("cluster", "list", "--json").stdout)
    assert listed[0]["name"] == "pkg" and listed[0]["attached"] is True
    assert listed[0]["webapp"] == pkg_cluster.webapp_url  # found through the master
    return run


def test_search_describe_install_list_dry_run_uninstall(pkg_cluster: PkgCluster, cli: Cli,
                                                        tmp_path: Path) -> None:
    found = cli("package", "search", "hello")
    assert found.returncode == 0, found.stderr
    assert "hello-world" in found.stdout
    config = cli("package", "describe", "hello-world", "--config")
    assert config.returncode == 0, config.stderr
    assert "instances" in json.loads(config.stdout)["properties"]["service"]["properties"]

    opts = tmp_path / "opts.json"
    opts.write_text(json.dumps({"service": {"name": "cli-hello", "vhost": "cli-hello.dcos",
                                            "instances": 2}}))
    installed = cli("package", "install", "hello-world", "--yes", "--options", str(opts),
                    "--timeout", "180")
    assert installed.returncode == 0, installed.stdout + installed.stderr
    assert "hello-world runs a small HTTP service" in installed.stdout  # pre-install notes
    assert "/cli-hello is running: /cli-hello 2/2 healthy" in installed.stdout
    assert "hello-world answers its message" in installed.stdout  # post-install notes
    try:
        apps = pkg_cluster.wait_healthy("/cli-hello", timeout=5)
        assert apps[0]["tasksHealthy"] == 2

        listed = cli("package", "list", "--json")
        assert listed.returncode == 0, listed.stderr
        entry = next(p for p in json.loads(listed.stdout) if p["name"] == "hello-world")
        assert "/cli-hello" in entry["apps"]

        again = cli("package", "install", "hello-world", "--yes", "--options", str(opts))
        assert again.returncode == 1
        assert len(again.stderr.strip().splitlines()) == 1, again.stderr

        bad = tmp_path / "bad.json"
        bad.write_text(json.dumps({"service": {"instances": -1, "mem": 1}}))
        refused = cli("package", "install", "hello-world", "--yes", "--options", str(bad))
        assert refused.returncode == 1
        assert "/service/instances" in refused.stderr and "/service/mem" in refused.stderr

        dry = tmp_path / "dry.json"
        dry.write_text(json.dumps({"service": {"name": "cli-dry", "vhost": ""}}))
        dry_run = cli("package", "install", "hello-world", "--dry-run", "--options", str(dry))
        out = dry_run.stdout + dry_run.stderr
        assert '"id": "/cli-dry"' in out or '"id": "cli-dry"' in out, out
        assert dry_run.returncode == 0 and "fits now: yes (on 3 agent(s))" in out, out
        big = tmp_path / "big.json"
        big.write_text(json.dumps({"service": {"name": "cli-big", "vhost": "", "cpus": 100}}))
        too_big = cli("package", "install", "hello-world", "--dry-run", "--options", str(big))
        assert too_big.returncode == 1, too_big.stdout + too_big.stderr
        assert "fits now: no" in too_big.stdout and "cpus" in too_big.stdout, too_big.stdout
        assert pkg_cluster.apps_of("/cli-dry") == pkg_cluster.apps_of("/cli-big") == []
    finally:
        removed = cli("package", "uninstall", "hello-world", "--app-id", "/cli-hello")
    assert removed.returncode == 0, removed.stderr
    assert "Uninstalled package [hello-world]" in removed.stdout
    pkg_cluster.assert_clean("/cli-hello")


def test_build_and_repositories(cli: Cli, tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    write_package(repo, "cli-demo")
    built = cli("package", "build", str(repo), "--skip-assets")
    assert built.returncode == 0, built.stderr
    uri = (repo / "build" / "index.json").as_uri()
    before = json.loads(cli("package", "repo", "list", "--json").stdout)["repositories"]

    added = cli("package", "repo", "add", "cli-test", uri, "--index", "0")
    assert added.returncode == 0, added.stderr
    try:
        listed = json.loads(cli("package", "repo", "list", "--json").stdout)["repositories"]
        assert listed[0] == {"name": "cli-test", "uri": uri}
        assert listed[1:] == before
        found = cli("package", "search", "cli-demo")
        assert found.returncode == 0 and "cli-demo" in found.stdout, found.stderr
    finally:
        removed = cli("package", "repo", "remove", "cli-test")
    assert removed.returncode == 0, removed.stderr
    assert json.loads(cli("package", "repo", "list", "--json").stdout)["repositories"] == before

    missing = cli("package", "repo", "add", "nowhere", (tmp_path / "none.json").as_uri())
    assert missing.returncode == 1
    assert len(missing.stderr.strip().splitlines()) == 1, missing.stderr
    assert json.loads(cli("package", "repo", "list", "--json").stdout)["repositories"] == before


def test_build_of_a_broken_repository_names_each_file(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    write_package(repo, "fine")
    broken = write_package(repo, "broken", template='{"id": "x", "cmd": {{service.name}')
    nameless = write_package(repo, "nameless", description=7)
    result = Cli(tmp_path)("package", "build", str(repo), "--skip-assets")
    assert result.returncode == 1
    assert "problem(s) in the package repository" in result.stderr
    assert f"{broken / 'marathon.json.mustache'}: " in result.stderr
    assert f"{nameless / 'package.json'}: /description" in result.stderr
    assert not (repo / "build").exists()
