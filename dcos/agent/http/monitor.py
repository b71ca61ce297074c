"""``GET /monitor/statistics``: per-container resource usage in Mesos' shape.

Served by `dcos.agent.http.app`; reads the agent core (which task runs in which container) and
asks the containerizer for each live container's `usage` (from cgroups where an isolator
has them, else psutil over the container's processes). Changes nothing.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from aiohttp import web

from dcos.agent.core.model import TERMINATED
from dcos.agent.http.keys import AGENT_KEY
from dcos.agent.shell import AgentShell
from dcos.protocol.codec import dumps_json
from dcos.protocol.ids import ContainerID
from dcos.protocol.resources import Resources
from dcos.protocol.states import is_terminal
from dcos.security.acls import Action
from dcos.security.http import identity

log = logging.getLogger(__name__)

_MB = 1024 * 1024


async def statistics(agent: AgentShell) -> list[dict[str, Any]]:
    """One entry per running container, with its executor, framework and ResourceStatistics:
    a command task's container (executor id = task id), a task-group task's container (its
    default executor's id and name, source = the task) and a custom executor's container
    (limits: the executor's resources plus those of its tasks)."""
    out = []
    core = agent.core
    live = agent.containerizer.containers()
    for fw in list(core.frameworks.values()):
        for rec in list(fw.tasks.values()):
            if is_terminal(rec.state) or rec.container_id not in live:
                continue
            ex = core.executors.get((fw.id, rec.executor_id)) if rec.executor_id else None
            if ex is not None and ex.kind == "custom":
                continue  # listed once, as its executor's container
            eid: str = rec.task_id
            name = f"Command Executor (Task: {rec.task_id})"
            if ex is not None:
                eid, name = ex.executor_id, str(ex.info.get("name") or "Default Executor")
            usage = await _usage(agent, rec.container_id)
            out.append(_entry(eid, name, fw.id, rec.task_id, rec.container_id, usage,
                              rec.resources))  # fmt: skip
    for ex in list(core.executors.values()):
        if ex.kind != "custom" or ex.state == TERMINATED or ex.container_id not in live:
            continue
        owner = core.frameworks.get(ex.framework_id)
        resources = ex.resources
        for tid in sorted(ex.tasks) if owner is not None else ():
            task = owner.tasks.get(tid) if owner is not None else None
            if task is not None and not is_terminal(task.state):
                resources = resources + task.resources
        usage = await _usage(agent, ex.container_id)
        name = ex.info.get("name") or f"Executor {ex.executor_id}"
        source = ex.info.get("source") or ex.executor_id
        out.append(_entry(ex.executor_id, str(name), ex.framework_id, str(source),
                          ex.container_id, usage, resources))  # fmt: skip
    return out


async def _usage(agent: AgentShell, container_id: str) -> dict[str, float]:
    """The container's statistics; none when it ended while they were read (its cgroup or
    processes gone: an OSError), so that a race with a task's end is never a 500."""
    try:
        return await agent.containerizer.usage(ContainerID(container_id))
    except OSError as exc:
        log.debug("no statistics for container %s: %s", container_id, exc)
        return {}


def _entry(executor_id: str, name: str, framework_id: str, source: str, container_id: str,
           usage: dict[str, float], resources: Resources) -> dict[str, Any]:  # fmt: skip
    stats: dict[str, Any] = {"timestamp": time.time()}
    stats.update(usage)
    cpus = resources.scalar("cpus")
    mem = resources.scalar("mem")
    if cpus:
        stats["cpus_limit"] = cpus
    if mem and "mem_limit_bytes" not in stats:
        stats["mem_limit_bytes"] = int(mem * _MB)
    for key in ("processes", "threads"):
        if key in stats:
            stats[key] = int(stats[key])
    return {
        "executor_id": executor_id,
        "executor_name": name,
        "framework_id": framework_id,
        "source": source,
        "container_id": container_id,
        "statistics": stats,
    }


def gpu_state(agent: AgentShell) -> list[dict[str, Any]]:
    """The GPUs the gpu/nvidia isolator manages and which container holds each (for /state)."""
    for iso in getattr(agent.containerizer, "isolators", []):
        devices = getattr(iso, "devices", None)
        assigned = getattr(iso, "assigned", None)
        if isinstance(devices, dict) and isinstance(assigned, dict):
            holder = {i: cid for cid, idx in assigned.items() for i in idx}
            return [{"index": d.index, "uuid": d.uuid, "name": d.name,
                     "container_id": holder.get(d.index)} for d in devices.values()]  # fmt: skip
    return []


async def handle(request: web.Request) -> web.Response:
    """``GET /monitor/statistics``; with security on, only the executors of frameworks the
    caller may view (``view_frameworks``, the framework's user)."""
    agent = request.app[AGENT_KEY]
    entries = await statistics(agent)
    if agent.security is not None:
        who = identity(request)
        users = {fid: str(fw.info.get("user") or "") for fid, fw in agent.core.frameworks.items()}
        acls = agent.security.ctx.acls
        entries = [e for e in entries if acls.allows(Action.VIEW_FRAMEWORKS, who.principal,
                                                     users.get(e["framework_id"], ""))]  # fmt: skip
    return web.Response(body=dumps_json(entries), content_type="application/json")
