"""Marathon JSON renderers: apps, tasks, queue items, info (pure, read the core).

Called by the route handlers. Only keys marathon-python 0.13's strict models accept are
emitted (`frameworks.webapp.model.json.APP_KEYS`); extra facts go inside objects it keeps raw
(``processedOffersSummary``).
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from frameworks.webapp.core import WebappCore
from frameworks.webapp.instances import STAGED, Instance
from frameworks.webapp.model.json import APP_KEYS, iso

Json = dict[str, Any]
EMBED_TASKS = {"apps.tasks", "app.tasks", "group.apps.tasks"}
EMBED_COUNTS = {"apps.counts", "app.counts"}
EMBED_DEPLOYMENTS = {"apps.deployments", "app.deployments"}
EMBED_FAILURE = {"apps.lastTaskFailure", "app.lastTaskFailure"}
EMBED_READINESS = {"apps.readiness", "app.readiness"}


def task_json(inst: Instance, app: Json | None) -> Json:
    out: Json = {
        "id": inst.task_id,
        "appId": inst.app_id,
        "host": inst.host,
        "slaveId": inst.agent_id,
        "ports": inst.ports,
        "servicePorts": inst.service_ports,
        "stagedAt": iso(inst.staged_at),
        "startedAt": iso(inst.started_at),
        "version": inst.version,
        "state": "TASK_KILLING" if inst.killing and inst.state == "TASK_RUNNING" else inst.state,
        "ipAddresses": [{"ipAddress": inst.host, "protocol": "IPv4"}],
        "healthCheckResults": [],
    }
    if app and app.get("healthChecks") and inst.healthy is not None:
        out["healthCheckResults"] = [{
            "alive": inst.healthy, "consecutiveFailures": 0 if inst.healthy else 1,
            "firstSuccess": iso(inst.first_success), "lastSuccess": iso(inst.last_success),
            "lastFailure": iso(inst.last_failure), "lastFailureCause": inst.failure_cause,
            "taskId": inst.task_id, "instanceId": inst.task_id,
        }]  # fmt: skip
    return out


def counts(core: WebappCore, app_id: str) -> Json:
    staged = running = healthy = unhealthy = 0
    for inst in core.instances.get(app_id, {}).values():
        if inst.state in STAGED:
            staged += 1
        elif inst.running:
            running += 1
            if inst.healthy is True:
                healthy += 1
            elif inst.healthy is False:
                unhealthy += 1
    return {"tasksStaged": staged, "tasksRunning": running, "tasksHealthy": healthy,
            "tasksUnhealthy": unhealthy}  # fmt: skip


def app_json(
    core: WebappCore, app: Json, embed: Collection[str] = (), *, single: bool = False
) -> Json:
    """An App as Marathon returns it. `single`: GET /v2/apps/{id} (tasks and deployments
    always included, as Marathon clients expect)."""
    out = {k: v for k, v in app.items() if k in APP_KEYS}
    aid = app["id"]
    out.update(counts(core, aid))
    d = core.deployment_of(aid)
    out["deployments"] = [{"id": d.id}] if d else []
    if single or EMBED_TASKS & set(embed):
        out["tasks"] = [task_json(i, app) for i in core.instances.get(aid, {}).values()]
    st = core.state.get(aid)
    if (single or EMBED_FAILURE & set(embed)) and st and st.last_failure:
        out["lastTaskFailure"] = st.last_failure
    if EMBED_READINESS & set(embed) or single:
        out["readinessCheckResults"] = [
            i.readiness for i in core.instances.get(aid, {}).values() if i.readiness
        ]
    return out


def queue_json(core: WebappCore, now: float, embed_offers: bool) -> Json:
    items = []
    for aid in core.waiting_apps():
        app = core.apps.get(aid)
        if app is None:
            continue
        st = core.app_state(aid)
        left = st.backoff.left(now)
        item: Json = {
            "app": app_json(core, app),
            "count": st.need,
            "delay": {"timeLeftSeconds": int(left + 0.999), "overdue": left <= 0},
            "since": iso(st.waiting_since),
            "processedOffersSummary": st.stats.summary(),
        }
        if embed_offers:
            item["lastUnusedOffers"] = list(st.stats.last_unused)
        items.append(item)
    return {"queue": items}


def info_json(service: Any) -> Json:
    leader = f"{service.hostname}:{service.http_port}"
    return {
        "name": service.framework_name,
        "version": "1.0.0-dcos-py",
        "buildref": "dcos-py",
        "elected": True,
        "leader": leader,
        "frameworkId": service.framework_id,
        "event_subscriber": {"type": "http_callback", "http_endpoints": []},
        "http_config": {"assets_path": None, "http_port": service.http_port, "https_port": 8443},
        "marathon_config": {
            "master": service.master,
            "framework_name": service.framework_name,
            "hostname": service.hostname,
            "mesos_role": service.role,
            "mesos_user": None,
            "webui_url": f"http://{leader}",
            "checkpoint": True,
            "executor": "//cmd",
            "failover_timeout": int(service.failover_timeout),
            "ha": False,
            "local_port_min": 10000,
            "local_port_max": 20000,
            "task_launch_timeout": 300000,
            "features": ["gpu_resources"] if service.gpus else [],
        },
        "zookeeper_config": {
            "zk": None, "zk_hosts": None, "zk_path": None, "zk_state": None,
            "zk_timeout": 10000, "zk_session_timeout": 10000,
        },  # fmt: skip
    }
