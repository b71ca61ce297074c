"""`--master zk://...` (and DCOS_MASTER, the config file) in the CLI: the leading master is
read from a real ZooKeeper (the `zk_server` fixture) once per command; no leader, or no
ZooKeeper, is one line and exit code 3."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import orjson
import pytest
from cli_fakes import FakeMaster, free_port
from kazoo.client import KazooClient
from typer.testing import CliRunner

from dcos.cli import config
from dcos.cli.main import app
from dcos.state.leader import MasterInfo
from dcos.state.zk import parse_zk_url

runner = CliRunner()


@pytest.fixture
def zk(zk_url: str) -> Iterator[tuple[str, KazooClient]]:
    """The test's zk:// URL and a started kazoo client on its server."""
    client = KazooClient(hosts=parse_zk_url(zk_url).hosts)
    client.start(timeout=10)
    try:
        yield zk_url, client
    finally:
        client.stop()
        client.close()


def _publish_leader(zk: tuple[str, KazooClient], port: int) -> None:
    """A master's election znode (Mesos' json.info_ form) naming 127.0.0.1:`port`."""
    url, client = zk
    info = MasterInfo(id="m-1", ip="127.0.0.1", port=port, hostname="127.0.0.1", version="1")
    client.create(f"{parse_zk_url(url).path}/json.info_", orjson.dumps(info.to_json()),
                  sequence=True, makepath=True)  # fmt: skip


def _port(fake_master: FakeMaster) -> int:
    port = urlsplit(fake_master.url).port
    assert port is not None
    return port


def test_node_list_finds_the_leader_through_zookeeper(zk, fake_master: FakeMaster) -> None:
    _publish_leader(zk, _port(fake_master))
    result = runner.invoke(app, ["node", "list", "--json", "--master", zk[0]])
    assert result.exit_code == 0, result.output
    assert fake_master.requests == ["/master/slaves"]


def test_dcos_master_and_the_config_file_take_zookeeper_urls(
    zk, fake_master: FakeMaster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _publish_leader(zk, _port(fake_master))
    result = runner.invoke(app, ["framework", "list"], env={"DCOS_MASTER": f"mesos://{zk[0]}"})
    assert result.exit_code == 0, result.output
    path = tmp_path / "config.toml"
    path.write_text(f'master = "{zk[0]}"\n')
    monkeypatch.setenv("DCOS_PY_CONFIG", str(path))
    result = runner.invoke(app, ["node", "list"], env={"DCOS_MASTER": ""})
    assert result.exit_code == 0, result.output
    assert fake_master.requests == ["/master/frameworks", "/master/slaves"]


def test_no_leader_is_one_line_and_exit_3(zk, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(config, "ZK_TIMEOUT", 0.5)
    result = runner.invoke(app, ["node", "list", "--master", zk[0]])
    assert result.exit_code == 3
    assert result.stderr.startswith("dcos-py: cannot find the leading master through zk://")
    assert "no leading master" in result.stderr and result.stderr.count("\n") == 1


def test_unreachable_zookeeper_is_one_line_and_exit_3(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(config, "ZK_TIMEOUT", 0.5)
    result = runner.invoke(app, ["task", "list", "--master", f"zk://127.0.0.1:{free_port()}/dcos"])
    assert result.exit_code == 3
    assert "ZooKeeper" in result.stderr and result.stderr.count("\n") == 1


@pytest.mark.parametrize("bad", ["zk://127.0.0.1:2181", "zk://127.0.0.1:99999/dcos"])
def test_bad_zookeeper_url_is_one_line_and_exit_1(bad: str) -> None:
    result = runner.invoke(app, ["node", "list", "--master", bad])
    assert result.exit_code == 1
    assert result.stderr.startswith("dcos-py: ") and result.stderr.count("\n") == 1
    assert "zk://" in result.stderr
