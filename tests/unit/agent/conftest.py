"""Shared factories and fixtures for agent tests."""

from typing import Any

import pytest

from dcos.testing.agent import FakeMaster


@pytest.fixture(autouse=True)
async def _close_process_containerizers(monkeypatch):
    """Every `ProcessContainerizer` a test makes is closed after it (its containers destroyed,
    its task launcher told to exit), so that no launcher outlives its test."""
    from dcos.agent.containerizer.process import ProcessContainerizer

    made: list[ProcessContainerizer] = []
    init = ProcessContainerizer.__init__

    def recording_init(self: ProcessContainerizer, *args: Any, **kwargs: Any) -> None:
        init(self, *args, **kwargs)
        made.append(self)

    monkeypatch.setattr(ProcessContainerizer, "__init__", recording_init)
    yield
    for c in made:
        for cid in list(c.containers()):
            await c.destroy(cid, 0)
        await c.close()


@pytest.fixture
async def master():
    """A started `FakeMaster` (the internal channel's master side), stopped after the test.
    test_executor_api.py overrides it with its own recording master."""
    m = FakeMaster()
    await m.start()
    yield m
    await m.stop()


def make_task(
    task_id: str = "t1",
    command: str | None = "true",
    *,
    shell: bool | None = None,
    arguments: list[str] | None = None,
    ports: list[tuple[int, int]] | None = None,
    env: dict[str, str] | None = None,
    grace: float | None = None,
) -> dict[str, Any]:
    """A Mesos TaskInfo JSON with a command, as the master sends it in RUN_TASKS."""
    task: dict[str, Any] = {
        "name": task_id,
        "task_id": {"value": task_id},
        "agent_id": {"value": "a1"},
        "resources": [
            {"name": "cpus", "type": "SCALAR", "scalar": {"value": 0.1}},
            {"name": "mem", "type": "SCALAR", "scalar": {"value": 32}},
        ],
    }
    if command is not None:
        cmd: dict[str, Any] = {"value": command}
        if shell is not None:
            cmd["shell"] = shell
        if arguments is not None:
            cmd["arguments"] = arguments
        if env:
            cmd["environment"] = {"variables": [{"name": k, "value": v} for k, v in env.items()]}
        task["command"] = cmd
    if ports:
        task["resources"].append(
            {
                "name": "ports",
                "type": "RANGES",
                "ranges": {"range": [{"begin": b, "end": e} for b, e in ports]},
            }
        )
    if grace is not None:
        task["kill_policy"] = {"grace_period": {"nanoseconds": int(grace * 1e9)}}
    return task


FRAMEWORK = {"id": {"value": "fw-1"}, "name": "test-fw", "user": "root"}
