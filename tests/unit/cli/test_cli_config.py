"""Where the CLI finds the cluster: the option (or its DCOS_* env var), the config file, defaults."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from dcos.cli.config import (
    CliConfig,
    config_path,
    load_config,
    normalize_master_url,
    resolve_dispatcher,
    resolve_master,
)
from dcos.cli.errors import CliError
from dcos.cli.main import app


def test_flag_wins_over_config() -> None:
    cfg = CliConfig(master="10.0.0.2:7000")
    assert resolve_master("10.0.0.1:6000", cfg) == "http://10.0.0.1:6000"


def test_config_used_when_no_flag() -> None:
    assert resolve_master(None, CliConfig(master="http://10.0.0.2:7000")) == "http://10.0.0.2:7000"


def test_default_when_neither() -> None:
    assert resolve_master(None, CliConfig()) == "http://127.0.0.1:5050"


def test_blank_flag_counts_as_unset() -> None:
    assert resolve_master("  ", CliConfig()) == "http://127.0.0.1:5050"


def test_env_var_fills_the_option(fake_master) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["node", "list", "--json"], env={"DCOS_MASTER": fake_master.url})
    assert result.exit_code == 0, result.output
    assert any(path.startswith("/master/slaves") for path in fake_master.requests)


def test_config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "config.toml"
    path.write_text('master = "m:1"\nwebapp = "http://w:2"\ndispatcher = "http://d:3/"\n')
    monkeypatch.setenv("DCOS_PY_CONFIG", str(path))
    assert config_path() == path
    assert load_config() == CliConfig("m:1", "http://w:2", "http://d:3/", path)
    assert resolve_master(None) == "http://m:1"
    assert resolve_dispatcher(None) == "http://d:3"
    assert resolve_dispatcher("http://x:9") == "http://x:9"


def test_config_path_default(monkeypatch: pytest.MonkeyPatch) -> None:
    assert config_path({"XDG_CONFIG_HOME": "/x"}) == Path("/x/dcos-py/config.toml")
    assert config_path({}) == Path("~/.config/dcos-py/config.toml").expanduser()


def test_missing_config_file_is_empty(tmp_path: Path) -> None:
    assert load_config(tmp_path / "nope.toml") == CliConfig(path=tmp_path / "nope.toml")


@pytest.mark.parametrize("text", ["master = ", "colour = 'red'", "master = 5050"])
def test_bad_config_file_is_one_clear_error(tmp_path: Path, text: str) -> None:
    path = tmp_path / "config.toml"
    path.write_text(text)
    with pytest.raises(CliError) as info:
        load_config(path)
    assert str(path) in info.value.message and "\n" not in info.value.message


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("master.local:5050", "http://master.local:5050"),
        ("master.local", "http://master.local:5050"),
        ("http://master.local:8080/", "http://master.local:8080"),
        ("https://m:443", "https://m:443"),
        (" 127.0.0.1:5050 ", "http://127.0.0.1:5050"),
        ("[::1]:5050", "http://[::1]:5050"),
        ("::1", "http://[::1]:5050"),
    ],
)
def test_accepted_forms(given: str, expected: str) -> None:
    assert normalize_master_url(given) == expected


@pytest.mark.parametrize("bad", ["", "host:notaport", "ftp://host:21", "http://host:5050/mesos",
                                 "http://:5050", "host:99999", "zk://z:2181/mesos"])
def test_bad_addresses_are_one_clear_error(bad: str) -> None:
    with pytest.raises(CliError) as info:
        normalize_master_url(bad)
    assert "\n" not in info.value.message
