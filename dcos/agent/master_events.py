"""The master's stream events (`dcos.protocol.internal`, msgpack maps) as typed core events.

Called by the agent shell for each event it reads (`dcos.agent.shell.AgentShell`), before
the core sees it: `parse_master_event` returns None for an event of an unknown type or
without the ids it needs (the shell logs and drops it). Ids may come bare or wrapped
(``{"value": ...}``), as the master sends both.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Callable
from typing import Any

from dcos.agent.core.events import (
    Acknowledge,
    FrameworkMessage,
    KillTask,
    MasterEvent,
    MasterRegistered,
    Ping,
    RunTaskGroup,
    RunTasks,
    ShutdownExecutor,
    ShutdownFramework,
    UpdateFramework,
)
from dcos.protocol import internal
from dcos.protocol.ids import AgentID, ExecutorID, FrameworkID, MasterID, TaskID, unwrap

log = logging.getLogger(__name__)


def _id(value: Any) -> str:
    """An id sent bare or as ``{"value": ...}``; "" when missing."""
    if isinstance(value, dict):
        value = unwrap(value)
    return "" if value is None else str(value)


def _uuid_text(value: Any) -> str:
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(value).decode("ascii")
    return str(value)


def _framework(event: dict[str, Any]) -> tuple[dict[str, Any], FrameworkID] | None:
    info = event.get("framework")
    fid = _id(info.get("id")) if isinstance(info, dict) else ""
    if not fid:
        return None
    assert isinstance(info, dict)
    return info, FrameworkID(fid)


def _registered(e: dict[str, Any]) -> MasterEvent | None:
    interval = e.get("ping_interval")
    ping = float(interval) if isinstance(interval, (int, float)) else None
    return MasterRegistered(AgentID(str(e.get("agent_id"))), MasterID(str(e.get("master_id") or "")),
                            ping)  # fmt: skip


def _run_tasks(e: dict[str, Any]) -> MasterEvent | None:
    fw = _framework(e)
    if fw is None:
        log.warning("RUN_TASKS without a framework id; dropped")
        return None
    return RunTasks(fw[0], fw[1], [t for t in e.get("tasks") or [] if isinstance(t, dict)])


def _run_task_group(e: dict[str, Any]) -> MasterEvent | None:
    fw = _framework(e)
    if fw is None:
        return None
    executor = e.get("executor")
    tasks = [t for t in e.get("tasks") or [] if isinstance(t, dict)]
    return RunTaskGroup(fw[0], fw[1], executor if isinstance(executor, dict) else {}, tasks)


def _kill_task(e: dict[str, Any]) -> MasterEvent | None:
    policy = e.get("kill_policy")
    return KillTask(FrameworkID(_id(e.get("framework_id"))), TaskID(_id(e.get("task_id"))),
                    policy if isinstance(policy, dict) else None)  # fmt: skip


def _acknowledge(e: dict[str, Any]) -> MasterEvent | None:
    return Acknowledge(FrameworkID(_id(e.get("framework_id"))), TaskID(_id(e.get("task_id"))),
                       _uuid_text(e.get("uuid")))  # fmt: skip


def _update_framework(e: dict[str, Any]) -> MasterEvent | None:
    fw = _framework(e)
    return None if fw is None else UpdateFramework(fw[0], fw[1])


def _framework_message(e: dict[str, Any]) -> MasterEvent | None:
    data = e.get("data")
    return FrameworkMessage(FrameworkID(_id(e.get("framework_id"))),
                            ExecutorID(_id(e.get("executor_id"))),
                            data if isinstance(data, str) else None)  # fmt: skip


_PARSERS: dict[str, Callable[[dict[str, Any]], MasterEvent | None]] = {
    internal.REGISTERED: _registered,
    internal.PING: lambda e: Ping(),
    internal.RUN_TASKS: _run_tasks,
    internal.RUN_TASK_GROUP: _run_task_group,
    internal.KILL_TASK: _kill_task,
    internal.SHUTDOWN_FRAMEWORK: lambda e: ShutdownFramework(FrameworkID(_id(e.get("framework_id")))),
    internal.ACKNOWLEDGE: _acknowledge,
    internal.UPDATE_FRAMEWORK: _update_framework,
    internal.FRAMEWORK_MESSAGE: _framework_message,
    internal.SHUTDOWN_EXECUTOR: lambda e: ShutdownExecutor(
        FrameworkID(_id(e.get("framework_id"))), ExecutorID(_id(e.get("executor_id")))),
}  # fmt: skip


def parse_master_event(event: dict[str, Any]) -> MasterEvent | None:
    """The typed form of one stream event; None (logged) for an unknown or unusable one."""
    kind = event.get("type")
    parser = _PARSERS.get(kind) if isinstance(kind, str) else None
    if parser is None:
        log.warning("ignoring unknown master event %r", kind)
        return None
    return parser(event)
