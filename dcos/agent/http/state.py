"""``GET /state`` (and ``/slave(1)/state``, ``/state.json``) and ``/metrics/snapshot``:
the agent as Mesos' agent shows itself (field names included; with security on, filtered by
the caller's ``view_frameworks`` / ``view_tasks`` ACLs). Registered by
`dcos.agent.http.app.make_app`; the views read the shell and its core and change nothing.
"""

from __future__ import annotations

import os
import time
from typing import Any

from aiohttp import web

from dcos.agent.core import AgentCore, ExecutorRecord, FrameworkRecord, TaskRecord
from dcos.agent.http.keys import AGENT_KEY
from dcos.agent.http.monitor import gpu_state
from dcos.agent.shell import AgentShell
from dcos.protocol.codec import dumps_json
from dcos.protocol.mesos import DCOS_PY_VERSION, MESOS_VERSION
from dcos.protocol.states import TaskState
from dcos.security.http import identity


def json_response(obj: Any) -> web.Response:
    return web.Response(body=dumps_json(obj), content_type="application/json")


def task_json(rec: TaskRecord, agent_id: str | None) -> dict[str, Any]:
    """A task as Mesos' agent /state shows it."""
    out: dict[str, Any] = {
        "id": rec.task_id,
        "name": rec.task.get("name", ""),
        "framework_id": rec.framework_id,
        "executor_id": rec.executor_id or "",
        "slave_id": agent_id or "",
        "state": str(rec.state),
        "resources": rec.resources.to_summary(),
        "statuses": [
            {k: s[k] for k in ("state", "timestamp", "container_status", "healthy") if k in s}
            for s in rec.statuses
        ],
    }
    for key in ("labels", "discovery", "container"):
        if key in rec.task:
            out[key] = rec.task[key]
    return out


def executor_json(rec: TaskRecord, agent_id: str | None, completed: bool) -> dict[str, Any]:
    """The built-in command executor of one task (executor id = task id, as in Mesos)."""
    task = task_json(rec, agent_id)
    return {
        "id": rec.task_id,
        "name": f"Command Executor (Task: {rec.task_id})",
        "source": rec.task_id,
        "container": rec.container_id,
        "directory": rec.sandbox,
        "framework_id": rec.framework_id,
        "resources": rec.resources.to_summary(),
        "tasks": [] if completed else [task],
        "queued_tasks": [],
        "completed_tasks": [task] if completed else [],
    }


def executors_json(
    core: AgentCore, fw: FrameworkRecord, agent_id: str | None
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The framework's custom and default executors as agent /state shows them:
    (executors, completed_executors), each with its tasks, queued and completed tasks."""
    live: list[dict[str, Any]] = []
    done: list[dict[str, Any]] = []
    records = [(ex, False) for ex in core.executors.values() if ex.framework_id == fw.id]
    records += [(ex, True) for ex in core.completed_executors if ex.framework_id == fw.id]
    for ex, completed in records:
        (done if completed else live).append(_executor_json(ex, fw, agent_id))
    return live, done


def _executor_json(ex: ExecutorRecord, fw: FrameworkRecord, agent_id: str | None) -> dict[str, Any]:
    mine = [r for r in fw.tasks.values() if r.executor_id == ex.executor_id]
    running = [r for r in mine if r.launched or ex.kind == "default"]
    queued = [r for r in mine if r not in running]
    finished = [r for r in fw.completed if r.executor_id == ex.executor_id]
    name = ex.info.get("name") or (
        "Default Executor" if ex.kind == "default" else f"Executor {ex.executor_id}"
    )
    return {
        "id": ex.executor_id,
        "name": name,
        "source": ex.info.get("source", ""),
        "container": ex.container_id,
        "directory": ex.sandbox,
        "framework_id": ex.framework_id,
        "type": "DEFAULT" if ex.kind == "default" else "CUSTOM",
        "state": ex.state,
        "resources": ex.resources.to_summary(),
        "tasks": [task_json(r, agent_id) for r in running],
        "queued_tasks": [task_json(r, agent_id) for r in queued],
        "completed_tasks": [task_json(r, agent_id) for r in finished],
    }


def framework_json(
    fw: FrameworkRecord, agent_id: str | None, core: AgentCore | None = None
) -> dict[str, Any]:
    info = fw.info
    live, done = executors_json(core, fw, agent_id) if core else ([], [])
    return {
        "id": fw.id,
        "name": info.get("name", ""),
        "user": info.get("user", ""),
        "hostname": info.get("hostname", ""),
        "role": info.get("role", "*"),
        "failover_timeout": info.get("failover_timeout", 0),
        "checkpoint": bool(info.get("checkpoint", False)),
        "capabilities": [
            c.get("type") for c in info.get("capabilities") or [] if isinstance(c, dict)
        ],  # fmt: skip
        "executors": [
            executor_json(r, agent_id, False) for r in fw.tasks.values() if r.executor_id is None
        ] + live,
        "completed_executors": [
            executor_json(r, agent_id, True) for r in fw.completed if r.executor_id is None
        ] + done,
    }


def state_json(agent: AgentShell) -> dict[str, Any]:
    core = agent.core
    info = core.info
    agent_id = info.id
    master = agent.config.master  # as configured: an address or the zk:// URL
    leader = agent.master_address  # the master it talks to now
    return {
        "version": MESOS_VERSION,
        "dcos_py_version": DCOS_PY_VERSION,
        "start_time": agent.start_time,
        "id": agent_id or "",
        "pid": f"slave(1)@{info.ip}:{info.port}",
        "hostname": info.hostname,
        "port": info.port,
        "capabilities": ["MULTI_ROLE", "HIERARCHICAL_ROLE"],
        "resources": info.resources.to_summary(),
        "reserved_resources": {},
        "unreserved_resources": info.resources.to_summary(),
        "attributes": dict(info.attributes),
        "master_hostname": leader.host if leader is not None else "",
        "registered": core.registered,
        "gpus": gpu_state(agent),
        "isolation": ",".join(
            getattr(i, "name", "?") for i in getattr(agent.containerizer, "isolators", [])
        )
        or "none",
        "flags": {
            "master": master,
            "work_dir": core.work_dir,
            "port": str(info.port),
            "ip": info.ip,
            "hostname": info.hostname,
        },
        "frameworks": [framework_json(fw, agent_id, core) for fw in core.frameworks.values()],
        "completed_frameworks": [
            framework_json(fw, agent_id, core) for fw in core.completed_frameworks
        ],
    }


def metrics_json(agent: AgentShell) -> dict[str, float]:
    core = agent.core
    live = core.live_tasks()
    counts = {s: 0 for s in ("TASK_STAGING", "TASK_STARTING", "TASK_RUNNING", "TASK_KILLING")}
    for rec in live:
        counts[str(rec.state)] = counts.get(str(rec.state), 0) + 1
    total = core.info.resources
    used = core.used_resources()
    out: dict[str, float] = {
        "slave/registered": 1.0 if core.registered else 0.0,
        "slave/uptime_secs": time.time() - agent.start_time,
        "slave/frameworks_active": float(len(core.frameworks)),
        "slave/executors_running": float(len(live)),
        "slave/valid_status_updates": float(core.counters["valid_status_updates"]),
        "slave/invalid_status_updates": float(core.counters["invalid_status_updates"]),
        "slave/status_updates_pending": float(len(core.updates)),
        "system/cpus_total": float(os.cpu_count() or 1),
    }
    for state, n in counts.items():
        out[f"slave/tasks_{state[5:].lower()}"] = float(n)
    for state in (TaskState.TASK_FINISHED, TaskState.TASK_FAILED, TaskState.TASK_KILLED,
                  TaskState.TASK_LOST, TaskState.TASK_ERROR):  # fmt: skip
        out[f"slave/tasks_{state[5:].lower()}"] = float(core.terminal_counts.get(state, 0))
    for name in ("cpus", "mem", "disk", "gpus"):
        t, u = total.scalar(name), used.scalar(name)
        out[f"slave/{name}_total"] = t
        out[f"slave/{name}_used"] = u
        out[f"slave/{name}_percent"] = (u / t) if t else 0.0
    try:
        out["system/load_1min"] = os.getloadavg()[0]
    except OSError:
        pass
    return out


def task_users(agent: AgentShell) -> dict[tuple[str, str], str]:
    """(framework id, task id) -> the user each known task runs as (security on)."""
    security = agent.security
    assert security is not None
    out: dict[tuple[str, str], str] = {}
    core = agent.core
    for fw in [*core.frameworks.values(), *core.completed_frameworks]:
        for rec in [*fw.tasks.values(), *fw.completed]:
            command = rec.task.get("command") or (rec.task.get("executor") or {}).get("command")
            out[(str(fw.id), str(rec.task_id))] = security.task_user(command, fw.info)
    return out


async def state(request: web.Request) -> web.Response:
    """``GET /state``; with security on, only the frameworks and tasks the caller may view
    (``view_frameworks``, ``view_tasks``)."""
    agent = request.app[AGENT_KEY]
    body = state_json(agent)
    if agent.security is not None:
        body = agent.security.filter_state(identity(request), body, task_users(agent))
    return json_response(body)


async def metrics_snapshot(request: web.Request) -> web.Response:
    """``GET /metrics/snapshot``."""
    return json_response(metrics_json(request.app[AGENT_KEY]))
