"""The SDK's executor side: ExecutorDriverCore (sans-IO); the guide shows the example executor.
(ExecutorDriver against a real agent: tests/unit/agent/test_executor_api_sdk.py.)"""

import base64
from pathlib import Path

import pytest

from dcos.sdk.executor import Env, ExecutorDriverCore, parse_duration

ROOT = Path(__file__).resolve().parents[3]
ENV = {"MESOS_AGENT_ENDPOINT": "127.0.0.1:1", "MESOS_FRAMEWORK_ID": "fw-1",
       "MESOS_EXECUTOR_ID": "ex-1", "MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD": "3secs"}  # fmt: skip


def test_env_and_durations():
    env = Env.read(ENV)
    assert (env.framework_id, env.executor_id, env.shutdown_grace) == ("fw-1", "ex-1", 3.0)
    assert parse_duration("2mins", 0) == 120 and parse_duration("100ms", 0) == 0.1
    with pytest.raises(KeyError, match="MESOS_AGENT_ENDPOINT"):
        Env.read({})


def test_core_keeps_unacknowledged_tasks_and_updates_for_resubscription():
    core = ExecutorDriverCore(Env.read(ENV))
    task = {"task_id": {"value": "t1"}, "name": "t1"}
    assert core.on_event({"type": "LAUNCH", "launch": {"task": task}}) == ("launch_task", (task,))
    status = core.status("t1", "TASK_RUNNING", 5.0, data=b"x")
    assert len(base64.b64decode(status["uuid"])) == 16
    assert status["source"] == "SOURCE_EXECUTOR" and status["data"] == "eA=="
    sub = core.subscribe_body()["subscribe"]
    assert sub["unacknowledged_tasks"] == [task]
    assert sub["unacknowledged_updates"][0]["status"] == status
    ack = {"type": "ACKNOWLEDGED", "acknowledged": {"task_id": {"value": "t1"},
                                                     "uuid": status["uuid"]}}  # fmt: skip
    assert core.on_event(ack) == ("acknowledged", ("t1", status["uuid"]))
    assert core.subscribe_body()["subscribe"] == {"unacknowledged_tasks": [],
                                                  "unacknowledged_updates": []}  # fmt: skip
    msg = {"type": "MESSAGE", "message": {"data": base64.b64encode(b"hi").decode()}}
    assert core.on_event(msg) == ("framework_message", (b"hi",))
    assert core.on_event({"type": "HEARTBEAT"}) is None
    assert core.on_event({"type": "KILL", "kill": {"task_id": {"value": "t1"}}}) == (
        "kill_task", ("t1",))  # fmt: skip


def test_the_guide_shows_the_example_executor_verbatim():
    guide = (ROOT / "docs" / "writing-a-framework.md").read_text()
    code = (ROOT / "tests" / "integration" / "shell_executor.py").read_text()
    assert f"```python\n{code}```" in guide
