"""Factories for Mesos v1 JSON objects, for unit tests of frameworks and components.

Called by tests (ours and framework authors') that need a plausible `AgentInfo`,
`FrameworkInfo`, `Offer` or `TaskInfo` without running a master. Every factory returns a
plain dict in the shape the Mesos v1 scheduler API uses (ids wrapped as ``{"value": ...}``,
resources as Mesos ``Resource`` lists, attributes as ``Attribute`` lists) and fills every
field it is not told with a deterministic default, so tests stay readable::

    offer = make_offer(resources="cpus:2;mem:1024;ports:[31000-31009]", hostname="a1")
    packer = OfferPacker(offer)          # dcos.sdk helpers accept it as-is
    Offer(offer).agent_id                # or wrap it in the SDK's typed view
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import Any

from dcos.protocol.ids import wrap
from dcos.protocol.resources import Resources
from dcos.sdk.offers import task_info

Json = dict[str, Any]

DEFAULT_AGENT_RESOURCES = "cpus:4;mem:4096;disk:8192;ports:[31000-31999]"

_seq = itertools.count(1)


def _next(prefix: str) -> str:
    return f"{prefix}-{next(_seq)}"


def _resources(value: str | Resources | list[Json], allocation_role: str | None) -> list[Json]:
    if isinstance(value, list):
        return value
    res = Resources.parse(value) if isinstance(value, str) else value
    return res.to_mesos(allocation_role=allocation_role)


def make_attributes(attributes: Mapping[str, str | float] | None) -> list[Json]:
    """``{"rack": "r1", "level": 3}`` -> Mesos ``Attribute`` JSON (TEXT or SCALAR)."""
    out: list[Json] = []
    for name, value in (attributes or {}).items():
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            out.append({"name": name, "type": "SCALAR", "scalar": {"value": float(value)}})
        else:
            out.append({"name": name, "type": "TEXT", "text": {"value": str(value)}})
    return out


def make_agent_info(
    agent_id: str | None = None,
    *,
    hostname: str = "127.0.0.1",
    port: int = 5051,
    resources: str | Resources | list[Json] = DEFAULT_AGENT_RESOURCES,
    attributes: Mapping[str, str | float] | None = None,
) -> Json:
    """A Mesos ``AgentInfo`` (``id`` only when `agent_id` is given: a registered agent)."""
    info: Json = {
        "hostname": hostname,
        "port": port,
        "resources": _resources(resources, None),
        "attributes": make_attributes(attributes),
    }
    if agent_id is not None:
        info["id"] = wrap(agent_id)
    return info


def make_framework_info(
    name: str = "test-framework",
    *,
    framework_id: str | None = None,
    user: str = "root",
    roles: list[str] | None = None,
    failover_timeout: float | None = None,
    capabilities: list[str] | None = None,
    hostname: str | None = None,
) -> Json:
    """A Mesos ``FrameworkInfo``; `roles` implies the MULTI_ROLE capability."""
    info: Json = {"user": user, "name": name}
    if framework_id is not None:
        info["id"] = wrap(framework_id)
    caps = list(capabilities or [])
    if roles:
        info["roles"] = list(roles)
        if "MULTI_ROLE" not in caps:
            caps.append("MULTI_ROLE")
    if caps:
        info["capabilities"] = [{"type": c} for c in caps]
    if failover_timeout is not None:
        info["failover_timeout"] = float(failover_timeout)
    if hostname is not None:
        info["hostname"] = hostname
    return info


def make_offer(
    offer_id: str | None = None,
    *,
    framework_id: str = "framework-1",
    agent_id: str | None = None,
    hostname: str = "127.0.0.1",
    port: int = 5051,
    resources: str | Resources | list[Json] = DEFAULT_AGENT_RESOURCES,
    role: str = "*",
    attributes: Mapping[str, str | float] | None = None,
    executor_ids: list[str] | None = None,
) -> Json:
    """A Mesos ``Offer`` as the master sends it in an OFFERS event (``allocation_info`` set
    on the offer and on each resource)."""
    agent_id = agent_id or _next("agent")
    return {
        "id": wrap(offer_id or _next("offer")),
        "framework_id": wrap(framework_id),
        "agent_id": wrap(agent_id),
        "hostname": hostname,
        "url": {
            "scheme": "http",
            "address": {"hostname": hostname, "ip": hostname, "port": port},
            "path": "/slave(1)",
        },
        "resources": _resources(resources, role),
        "attributes": make_attributes(attributes),
        "executor_ids": [wrap(e) for e in executor_ids or []],
        "allocation_info": {"role": role},
    }


def make_task_info(
    task_id: str | None = None,
    *,
    agent_id: str = "agent-1",
    name: str | None = None,
    command: str | list[str] | Mapping[str, Any] = "true",
    resources: str | Resources | list[Json] = "cpus:0.1;mem:32",
    **kwargs: Any,
) -> Json:
    """A Mesos ``TaskInfo`` with a command (shell string, argv list or CommandInfo dict);
    extra keyword arguments go to `dcos.sdk.task_info` (environment, labels, ...)."""
    task_id = task_id or _next("task")
    res = _resources(resources, None) if not isinstance(resources, list) else resources
    return task_info(
        name=name or task_id,
        task_id=task_id,
        agent_id=agent_id,
        command=command,
        resources=res,
        **kwargs,
    )
