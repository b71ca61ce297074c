"""`dcos-py master ...` / `dcos-py agent ...` hand every argument to `python -m dcos.<x>`."""

from __future__ import annotations

import sys

import pytest
from typer.testing import CliRunner

from dcos.cli import main


class Execd(Exception):
    pass


@pytest.mark.parametrize("component", ["master", "agent"])
def test_passthrough_execs_the_module_with_all_args(component: str, monkeypatch) -> None:
    calls: list[tuple[str, list[str]]] = []

    def fake_execv(path: str, argv: list[str]) -> None:
        calls.append((path, argv))
        raise Execd

    monkeypatch.setattr(main.os, "execv", fake_execv)
    args = ["--port", "6000", "--help", "--work-dir", "/tmp/x", "extra"]
    result = CliRunner().invoke(main.app, [component, *args])
    assert isinstance(result.exception, Execd)
    assert calls == [(sys.executable, [sys.executable, "-m", f"dcos.{component}", *args])]
