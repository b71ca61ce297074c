"""Fixtures for the CLI tests (defined in `cli_fakes`, a uniquely named helper module)."""

import pytest
from cli_fakes import fake_master

__all__ = ["fake_master"]


@pytest.fixture(autouse=True)
def _no_user_config(tmp_path_factory, monkeypatch):
    """Never read the operator's own ~/.config/dcos-py/config.toml nor ~/.dcos-py clusters."""
    monkeypatch.setenv("DCOS_PY_CONFIG", str(tmp_path_factory.mktemp("cfg") / "none.toml"))
    monkeypatch.setenv("DCOS_PY_HOME", str(tmp_path_factory.mktemp("home")))
