"""`dcos-py batch status` shows why a submission's driver is waiting for executors (the
``waiting`` field of its job page's JSON), next to its jobs."""

from __future__ import annotations

from typer.testing import CliRunner

from dcos.cli.commands import batch
from dcos.cli.main import app

WAITING = ("no offer fits 1 executor of 1 cpus / 512 MB; best offer 0.6 cpus, 3000 MB on "
           "127.0.0.1 (insufficient cpus: need 1) (waiting 12s)")


def test_status_prints_the_waiting_reason(monkeypatch) -> None:
    sub = {"id": "driver-1", "state": "RUNNING", "name": "wc", "message": "",
           "driver_ui": "http://127.0.0.1:1/"}
    monkeypatch.setattr(batch, "_request", lambda method, url, body=None: sub)
    monkeypatch.setattr(batch, "_driver_jobs", lambda ui: {"waiting": WAITING, "jobs": []})
    result = CliRunner().invoke(app, ["batch", "status", "driver-1", "--dispatcher",
                                      "http://127.0.0.1:2"], env={"COLUMNS": "300"})
    assert result.exit_code == 0, result.output
    assert f"waiting for executors: {WAITING}" in result.output
