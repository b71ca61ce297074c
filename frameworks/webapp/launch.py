"""What a launched task of an app looks like: task ids and names, service port assignment,
the placement request and the Mesos TaskInfo (environment, health check, discovery).

Pure functions of an app definition (and the instance being launched); `WebappCore` calls
them when an app is deployed (`assign_service_ports`) and when it places tasks on offers
(`task_request`, `build_task_info`).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from dcos.protocol.ids import AgentID, TaskID
from dcos.sdk import task_info
from frameworks.webapp.health import mesos_health_check
from frameworks.webapp.instances import Instance
from frameworks.webapp.model.secrets import task_env_vars, task_volumes
from frameworks.webapp.model.spec import AppSpec, PortDefinition
from frameworks.webapp.placement import AgentView, TaskRequest

Json = dict[str, Any]
LOCAL_PORT_MIN, LOCAL_PORT_MAX = 10000, 20000


def task_id_for(app_id: str) -> TaskID:
    """Marathon style: ``/shop/web`` -> ``shop_web.<uuid>``."""
    return TaskID(app_id.strip("/").replace("/", "_") + "." + str(uuid.uuid4()))


def task_name(app_id: str) -> str:
    """``/shop/web`` -> ``web.shop`` (DNS names then read ``web-shop``)."""
    return ".".join(reversed([s for s in app_id.split("/") if s]))


def assign_service_ports(app: Json, old: Json | None, used: set[int]) -> None:
    """Give each of `app`'s port definitions with port 0 a service port (in place): the one
    the same definition had in `old` when still free, else the lowest free one from
    LOCAL_PORT_MIN; `used` holds the other apps' service ports. Sets ``app["ports"]``.
    Called by `Catalog.put` for each new definition (a copy of it)."""
    used = set(used)
    old_defs = (old or {}).get("portDefinitions") or []
    nxt = LOCAL_PORT_MIN
    for i, d in enumerate(app.get("portDefinitions") or []):
        if d["port"]:
            continue
        if i < len(old_defs) and old_defs[i]["port"] and old_defs[i]["port"] not in used:
            d["port"] = old_defs[i]["port"]
        else:
            while nxt in used and nxt <= LOCAL_PORT_MAX:
                nxt += 1
            d["port"] = nxt
        used.add(d["port"])
    app["ports"] = [d["port"] for d in app.get("portDefinitions") or []]


def task_request(
    app: AppSpec,
    instances: Iterable[Instance],
    cluster: Mapping[str, AgentView],
    default_roles: tuple[str, ...] | None = None,
) -> TaskRequest:
    """What one task of `app` needs from an offer; `instances` are the app's current ones
    (for constraints), `cluster` every agent seen; `default_roles`: the accepted resource
    roles of an app without ``acceptedResourceRoles`` (None: any). Called by the core when
    it places tasks."""
    placed = [AgentView(AgentID(i.agent_id), i.host, i.attributes) for i in instances if not i.killing]
    fixed = tuple(d.port for d in app.ports) if app.require_ports else ()
    return TaskRequest(
        app.id, app.cpus, app.mem, app.disk, app.gpus,
        port_count=len(app.ports), fixed_ports=fixed, roles=app.accepted_roles or default_roles,
        constraints=app.constraints, placed=placed, cluster=cluster,
    )  # fmt: skip


def build_task_info(app: AppSpec, inst: Instance, resources: list[Json]) -> Json:
    """The Mesos TaskInfo launching `inst` of `app` on `resources` (Marathon's environment
    variables, fetch URIs, the app's ``user`` as ``command.user``, secret references, health
    check, kill grace period, discovery). Called by the core for each placed task."""
    env = dict(app.env)
    env.update({
        "MARATHON_APP_ID": app.id, "MARATHON_APP_VERSION": app.version,
        "HOST": inst.host, "MESOS_TASK_ID": inst.task_id,
    })  # fmt: skip
    if inst.ports:
        env["PORT"] = str(inst.ports[0])
    for i, (host_port, svc) in enumerate(zip(inst.ports, inst.service_ports, strict=False)):
        env[f"PORT_{svc}"] = str(host_port)
        env[f"PORT{i}"] = str(host_port)
    command: Any = app.cmd if app.cmd else list(app.args or ["true"])
    info = task_info(
        name=task_name(app.id), task_id=inst.task_id, agent_id=inst.agent_id, command=command, resources=resources,
        environment=env, uris=list(app.uris), user=app.user, labels=dict(app.labels) or None,
        health_check=mesos_health_check(app, inst.ports),
        kill_grace_period=app.kill_grace,
        discovery=_discovery(app, inst),
    )  # fmt: skip
    if app.secrets:
        _add_secrets(info, app)
    return info


def _add_secrets(info: Json, app: AppSpec) -> None:
    """The app's secret references (never values) in the TaskInfo: SECRET environment
    variables and SECRET volumes (`frameworks.webapp.model.secrets`); the agent resolves them."""
    env_vars = task_env_vars(app.secrets)
    if env_vars:
        env = info["command"].setdefault("environment", {"variables": []})
        env.setdefault("variables", []).extend(env_vars)
    volumes = task_volumes(app.secrets)
    if volumes:
        info["container"] = {"type": "MESOS", "volumes": volumes}


def _discovery(app: AppSpec, inst: Instance) -> Json:
    """Mesos DiscoveryInfo: the app's name and its ports (with names and service ports)."""
    ports = []
    for i, p in enumerate(inst.ports):
        d = app.ports[i] if i < len(app.ports) else PortDefinition(0)
        entry: Json = {"number": p, "protocol": d.protocol.split(",")[0]}
        if d.name:
            entry["name"] = d.name
        entry["labels"] = {"labels": [{"key": "servicePort", "value": str(d.port)}]}
        ports.append(entry)
    return {"visibility": "FRAMEWORK", "name": task_name(app.id), "ports": {"ports": ports}}
