"""``GET /monitor/statistics``: per-container resource usage in Mesos' shape.

Served by `dcos.agent.http`; reads the agent core (which task runs in which container) and
asks the containerizer for each live container's `usage` (from cgroups where an isolator
has them, else psutil over the container's processes). Changes nothing.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from dcos.protocol.states import is_terminal

if TYPE_CHECKING:
    from dcos.agent.agent import Agent

_MB = 1024 * 1024


async def statistics(agent: Agent) -> list[dict[str, Any]]:
    """One entry per running container: executor, framework and its ResourceStatistics."""
    out = []
    live = agent.containerizer.containers()
    for fw in list(agent.core.frameworks.values()):
        for rec in list(fw.tasks.values()):
            if is_terminal(rec.state) or rec.container_id not in live:
                continue
            usage = await agent.containerizer.usage(rec.container_id)
            stats: dict[str, Any] = {"timestamp": time.time()}
            stats.update(usage)
            cpus = rec.resources.scalar("cpus")
            mem = rec.resources.scalar("mem")
            if cpus:
                stats["cpus_limit"] = cpus
            if mem and "mem_limit_bytes" not in stats:
                stats["mem_limit_bytes"] = int(mem * _MB)
            for key in ("processes", "threads"):
                if key in stats:
                    stats[key] = int(stats[key])
            out.append({
                "executor_id": rec.task_id,
                "executor_name": f"Command Executor (Task: {rec.task_id})",
                "framework_id": rec.framework_id,
                "source": rec.task_id,
                "container_id": rec.container_id,
                "statistics": stats,
            })  # fmt: skip
    return out


def gpu_state(agent: Agent) -> list[dict[str, Any]]:
    """The GPUs the gpu/nvidia isolator manages and which container holds each (for /state)."""
    for iso in getattr(agent.containerizer, "isolators", []):
        devices = getattr(iso, "devices", None)
        assigned = getattr(iso, "assigned", None)
        if isinstance(devices, dict) and isinstance(assigned, dict):
            holder = {i: cid for cid, idx in assigned.items() for i in idx}
            return [{"index": d.index, "uuid": d.uuid, "name": d.name,
                     "container_id": holder.get(d.index)} for d in devices.values()]  # fmt: skip
    return []
