"""`dcos-py cluster setup|list|attach|remove` and the attached cluster's place in address
resolution (flag/env > attached cluster > config file > defaults)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_fakes import FRAMEWORKS, STATE
from typer.testing import CliRunner

from dcos.cli import clusters
from dcos.cli.config import (
    CliConfig,
    resolve_dispatcher,
    resolve_master,
    resolve_package_service,
    resolve_webapp,
)
from dcos.cli.errors import CliError
from dcos.cli.main import app
from dcos.testing.processes import free_port

runner = CliRunner()


def cluster(name: str = "prod", **kw: str) -> clusters.Cluster:
    values = {"master": "http://10.0.0.1:5050", "webapp": "http://10.0.0.1:8080",
              "package": "http://10.0.0.1:7070", **kw}
    return clusters.Cluster(name, **values)


def test_home_defaults_and_env(monkeypatch: pytest.MonkeyPatch) -> None:
    assert clusters.home({}) == Path("~/.dcos-py").expanduser()
    assert clusters.home({"DCOS_PY_HOME": "/x"}) == Path("/x")


def test_save_load_attach_remove(tmp_path: Path) -> None:
    assert clusters.names(tmp_path) == [] and clusters.attached_cluster(tmp_path) is None
    path = clusters.save(cluster("prod", dispatcher='http://d:7077/"q'), tmp_path)
    assert path == tmp_path / "clusters" / "prod" / "cluster.toml"
    assert clusters.load("prod", tmp_path).dispatcher == 'http://d:7077/"q'
    clusters.save(cluster("dev"), tmp_path)
    clusters.attach("prod", tmp_path)
    assert clusters.attached_name(tmp_path) == "prod"
    clusters.attach("dev", tmp_path)
    assert clusters.attached_name(tmp_path) == "dev"
    assert not (tmp_path / "clusters" / "prod" / "attached").exists()
    clusters.attach("local", tmp_path)  # no cluster named local: detach
    assert clusters.attached_cluster(tmp_path) is None
    clusters.attach("dev", tmp_path)
    assert clusters.remove("dev", tmp_path) is True
    assert clusters.names(tmp_path) == ["prod"]
    with pytest.raises(CliError, match="no cluster named 'dev'"):
        clusters.attach("dev", tmp_path)


@pytest.mark.parametrize("bad", ["", "../x", "a/b", ".hidden", "x" * 64])
def test_bad_names(bad: str, tmp_path: Path) -> None:
    with pytest.raises(CliError, match="invalid cluster name"):
        clusters.save(cluster(bad), tmp_path)


def test_broken_cluster_file_is_one_line(tmp_path: Path) -> None:
    folder = tmp_path / "clusters" / "x"
    folder.mkdir(parents=True)
    (folder / "cluster.toml").write_text('master = "m"\nwebapp = 3\n')
    with pytest.raises(CliError) as info:
        clusters.load("x", tmp_path)
    assert "cluster.toml" in info.value.message and "\n" not in info.value.message


def test_resolution_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tmp_path / "config.toml"
    cfg.write_text('master = "file:1"\nwebapp = "http://file:2"\npackage = "http://file:3"\n'
                   'dispatcher = "http://file:4"\n')
    monkeypatch.setenv("DCOS_PY_CONFIG", str(cfg))
    # no cluster attached: the config file
    assert resolve_master(None) == "http://file:1"
    assert resolve_package_service(None) == "http://file:3"
    clusters.save(cluster("prod"))
    clusters.attach("prod")
    # attached cluster over the file; the file fills what the cluster lacks
    assert resolve_master(None) == "http://10.0.0.1:5050"
    assert resolve_webapp(None) == "http://10.0.0.1:8080"
    assert resolve_package_service(None) == "http://10.0.0.1:7070"
    assert resolve_dispatcher(None) == "http://file:4"
    # the flag (or its env var) over everything
    assert resolve_master("flag:9") == "http://flag:9"
    assert resolve_package_service("flag:7") == "http://flag:7"
    # an explicit config (what a caller holds) is used as is
    assert resolve_package_service(None, CliConfig()) == "http://127.0.0.1:7070"
    with pytest.raises(CliError, match="invalid package service address"):
        resolve_package_service("http://x:notaport")


def test_setup_finds_the_webapp_and_attaches(fake_master) -> None:
    webapp = {**FRAMEWORKS[0], "webui_url": "http://127.0.0.1:18080/"}
    fake_master.routes["/master/state"] = (200, {**STATE, "frameworks": [webapp]})
    result = runner.invoke(app, ["cluster", "setup", fake_master.url, "--name", "lab"])
    assert result.exit_code == 0, result.output
    c = clusters.load("lab")
    assert c.master == fake_master.url and c.webapp == "http://127.0.0.1:18080"
    assert c.package == "http://127.0.0.1:7070"
    assert clusters.attached_name() == "lab"
    listed = json.loads(runner.invoke(app, ["cluster", "list", "--json"]).output)
    assert [(r["name"], r["attached"]) for r in listed] == [("lab", True), ("local", False)]
    # every command now acts on it: node list goes to the attached cluster's master
    fake_master.requests.clear()
    assert runner.invoke(app, ["node", "list", "--json"]).exit_code == 0
    assert "/master/slaves" in fake_master.requests
    again = runner.invoke(app, ["cluster", "setup", fake_master.url, "--name", "lab"])
    assert again.exit_code == 1 and "already set up" in again.output


def test_setup_with_given_urls_and_default_name(fake_master) -> None:
    result = runner.invoke(app, ["cluster", "setup", fake_master.url, "--webapp", "w:1",
                                 "--package-service", "p:2"])
    assert result.exit_code == 0, result.output
    name = fake_master.url.split("://")[1].replace(":", "-")
    c = clusters.load(name)
    assert (c.webapp, c.package) == ("http://w:1", "http://p:2")


def test_setup_without_a_webapp_framework_says_so(fake_master) -> None:
    result = runner.invoke(app, ["cluster", "setup", fake_master.url])
    assert result.exit_code == 1
    assert "pass --webapp URL" in result.output
    assert clusters.names() == []


def test_setup_of_nothing_is_unreachable() -> None:
    result = runner.invoke(app, ["cluster", "setup", f"127.0.0.1:{free_port()}"])
    assert result.exit_code == 3
    assert clusters.names() == []


def test_list_attach_remove_commands() -> None:
    listed = runner.invoke(app, ["cluster", "list"])
    assert listed.exit_code == 0
    row = [line.split() for line in listed.output.splitlines()][1]
    assert row == ["local", "*", "127.0.0.1:5050", "http://127.0.0.1:8080",
                   "http://127.0.0.1:7070"]
    clusters.save(cluster("prod"))
    assert runner.invoke(app, ["cluster", "attach", "prod"]).exit_code == 0
    assert clusters.attached_name() == "prod"
    unknown = runner.invoke(app, ["cluster", "attach", "nope"])
    assert unknown.exit_code == 1 and "no cluster named 'nope'" in unknown.output
    removed = runner.invoke(app, ["cluster", "remove", "prod"])
    assert removed.exit_code == 0 and "now act on the local cluster" in removed.output
    assert clusters.names() == []
