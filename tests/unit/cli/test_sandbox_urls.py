"""The CLI reaches a task's agent with the master's scheme: a secure cluster's agents serve
https only (dcos/cli/commands/_sandbox.py, used by `task log|ls` and `batch log`)."""

from __future__ import annotations

from typing import Any

import pytest

from dcos.cli.commands import _sandbox as sandboxes

STATE: dict[str, Any] = {"slaves": [
    {"id": "S1", "pid": "slave(1)@10.0.0.5:5051", "hostname": "a", "port": 5051},
    {"id": "S2", "hostname": "agent-2", "port": 5052},
]}


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_agent_urls_keep_the_masters_scheme(scheme: str) -> None:
    assert sandboxes.agent_base_url(STATE, "S1", scheme) == f"{scheme}://10.0.0.5:5051"
    assert sandboxes.agent_base_url(STATE, "S2", scheme) == f"{scheme}://agent-2:5052"


def test_locate_asks_a_secure_clusters_agent_over_https(monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[str] = []

    def agent_get(base_url: str, path: str, params: Any, timeout: float = 10.0) -> Any:
        asked.append(base_url + path)
        return {"frameworks": [{"id": "F", "executors": [
            {"directory": "/sandbox", "tasks": [{"id": "t1", "state": "TASK_RUNNING"}]}]}]}

    monkeypatch.setattr(sandboxes, "agent_get", agent_get)
    state = {**STATE, "frameworks": [{"id": "F", "tasks": [
        {"id": "t1", "framework_id": "F", "slave_id": "S1", "state": "TASK_RUNNING"}]}]}
    box, _ = sandboxes.locate(state, "t1", "https://127.0.0.1:5050")
    assert asked == ["https://10.0.0.5:5051/state"] and box.directory == "/sandbox"
