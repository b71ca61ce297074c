"""The master's stream events parsed into the core's typed events (the shell's job)."""

from dcos.agent.core.events import (
    Acknowledge,
    FrameworkMessage,
    KillTask,
    MasterRegistered,
    Ping,
    RunTaskGroup,
    RunTasks,
    ShutdownExecutor,
)
from dcos.agent.master_events import parse_master_event
from dcos.protocol import internal

from .conftest import FRAMEWORK, make_task


def test_ids_come_bare_or_wrapped():
    bare = parse_master_event({"type": internal.KILL_TASK, "framework_id": "fw-1", "task_id": "t1"})
    wrapped = parse_master_event({"type": internal.KILL_TASK, "framework_id": {"value": "fw-1"},
                                  "task_id": {"value": "t1"},
                                  "kill_policy": {"grace_period": {"nanoseconds": 1}}})  # fmt: skip
    assert bare == KillTask("fw-1", "t1")
    assert wrapped == KillTask("fw-1", "t1", {"grace_period": {"nanoseconds": 1}})
    assert parse_master_event({"type": internal.SHUTDOWN_EXECUTOR, "framework_id": "fw-1",
                               "executor_id": {"value": "e"}}) == ShutdownExecutor("fw-1", "e")  # fmt: skip


def test_registered_ping_and_acknowledge():
    assert parse_master_event({"type": internal.REGISTERED, "agent_id": "a1", "master_id": "m",
                               "ping_interval": 15}) == MasterRegistered("a1", "m", 15.0)  # fmt: skip
    assert parse_master_event({"type": internal.PING}) == Ping()
    ack = parse_master_event({"type": internal.ACKNOWLEDGE, "framework_id": "fw-1",
                              "task_id": "t1", "uuid": b"\x00" * 16})  # fmt: skip
    assert ack == Acknowledge("fw-1", "t1", "AAAAAAAAAAAAAAAAAAAAAA==")  # bytes as base64 text


def test_run_events_keep_the_infos_and_drop_what_is_not_an_object():
    run = parse_master_event({"type": internal.RUN_TASKS, "framework": FRAMEWORK,
                              "tasks": [make_task("t1"), "junk"]})  # fmt: skip
    assert isinstance(run, RunTasks) and run.framework_id == "fw-1"
    assert [t["task_id"] for t in run.tasks] == [{"value": "t1"}]
    group = parse_master_event({"type": internal.RUN_TASK_GROUP, "framework": FRAMEWORK,
                                "tasks": [make_task("a")]})  # fmt: skip
    assert isinstance(group, RunTaskGroup) and group.executor == {}
    message = parse_master_event({"type": internal.FRAMEWORK_MESSAGE, "framework_id": "fw-1",
                                  "executor_id": "e", "data": 5})  # fmt: skip
    assert message == FrameworkMessage("fw-1", "e", None)


def test_unknown_or_unusable_events_are_none():
    assert parse_master_event({"type": "BOGUS"}) is None
    assert parse_master_event({}) is None
    assert parse_master_event({"type": internal.RUN_TASKS, "framework": {}, "tasks": []}) is None
