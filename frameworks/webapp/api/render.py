"""Marathon JSON renderers: apps, tasks, queue items, info (pure, read the core's `CoreView`).

Called by the route handlers. The hot listing (``GET /v2/apps?embed=apps.tasks``, the
``/v2/groups`` tree) is rendered from pre-serialised pieces: each task's JSON bytes are cached
on its `Instance` (cleared by any change to it) and each app definition's JSON by
`AppRenderer` (kept while the core holds the same `AppSpec`; a changed definition is a new
`AppSpec`, never a mutated one); only the counts and deployments are encoded per
request. `AppRenderer.warm` renders everything once (the service calls it after loading its
state), so the first request after a start is as fast as the others. Only keys marathon-python 0.13's strict models accept are
emitted (`frameworks.webapp.model.json.APP_KEYS`); extra facts go inside objects it keeps raw
(``processedOffersSummary``).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from typing import Any

from dcos.sdk.util import version_info
from frameworks.webapp.core import CoreView
from frameworks.webapp.ha import HaState
from frameworks.webapp.instances import STAGED, Instance
from frameworks.webapp.model.json import APP_KEYS, dumps, iso
from frameworks.webapp.model.spec import AppSpec

Json = dict[str, Any]
EMBED_TASKS = {"apps.tasks", "app.tasks", "group.apps.tasks"}
EMBED_COUNTS = {"apps.counts", "app.counts"}
EMBED_DEPLOYMENTS = {"apps.deployments", "app.deployments"}
EMBED_FAILURE = {"apps.lastTaskFailure", "app.lastTaskFailure"}
EMBED_READINESS = {"apps.readiness", "app.readiness"}


def task_json(inst: Instance, has_hc: bool) -> Json:
    """A task as Marathon returns it (`has_hc`: its app has health checks)."""
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
    if has_hc and inst.healthy is not None:
        out["healthCheckResults"] = [{
            "alive": inst.healthy, "consecutiveFailures": 0 if inst.healthy else 1,
            "firstSuccess": iso(inst.first_success), "lastSuccess": iso(inst.last_success),
            "lastFailure": iso(inst.last_failure), "lastFailureCause": inst.failure_cause,
            "taskId": inst.task_id, "instanceId": inst.task_id,
        }]  # fmt: skip
    return out


def task_bytes(inst: Instance, has_hc: bool) -> bytes:
    """`task_json` as JSON bytes, cached on the instance until it changes."""
    cached = inst._json
    if cached is not None and cached[0] is has_hc:
        return cached[1]
    data = dumps(task_json(inst, has_hc))
    inst._json = (has_hc, data)
    return data


def counts(view: CoreView, app_id: str) -> Json:
    staged = running = healthy = unhealthy = 0
    for inst in view.instances.get(app_id, {}).values():
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
    view: CoreView, app: AppSpec, embed: Collection[str] = (), *, single: bool = False
) -> Json:
    """An App as Marathon returns it. `single`: GET /v2/apps/{id} (tasks and deployments
    always included, as Marathon clients expect)."""
    out = {k: v for k, v in app.json.items() if k in APP_KEYS}
    aid = app.id
    out.update(counts(view, aid))
    d = view.deployment_of(aid)
    out["deployments"] = [{"id": d.id}] if d else []
    if single or EMBED_TASKS & set(embed):
        out["tasks"] = [task_json(i, app.has_health) for i in view.instances.get(aid, {}).values()]
    st = view.state.get(aid)
    if (single or EMBED_FAILURE & set(embed)) and st and st.last_failure:
        out["lastTaskFailure"] = st.last_failure
    if EMBED_READINESS & set(embed) or single:
        out["readinessCheckResults"] = [
            i.readiness for i in view.instances.get(aid, {}).values() if i.readiness
        ]
    return out


# Keys filled per request (from the instances and deployments), not from the definition.
DYNAMIC_KEYS = frozenset(
    "tasks tasksStaged tasksRunning tasksHealthy tasksUnhealthy deployments lastTaskFailure "
    "readinessCheckResults".split()
)


class AppRenderer:
    """Renders apps as JSON bytes from cached pieces (one per API server)."""

    def __init__(self, view: CoreView) -> None:
        self.view = view
        self._defs: dict[str, tuple[AppSpec, bytes]] = {}  # app id -> (definition, '{...' head)

    def _head(self, app: AppSpec) -> bytes:
        aid = app.id
        cached = self._defs.get(aid)
        if cached is not None and cached[0] is app:
            return cached[1]
        static = {k: v for k, v in app.json.items() if k in APP_KEYS and k not in DYNAMIC_KEYS}
        head = dumps(static)[:-1]  # without the closing brace: dynamic keys follow
        self._defs[aid] = (app, head)
        return head

    def app_bytes(self, app: AppSpec, embed: Collection[str] = ()) -> bytes:
        """`app_json(view, app, embed)` as bytes (not `single`)."""
        view = self.view
        aid = app.id
        dyn = counts(view, aid)
        d = view.deployment_of(aid)
        dyn["deployments"] = [{"id": d.id}] if d else []
        if EMBED_FAILURE & set(embed):
            st = view.state.get(aid)
            if st and st.last_failure:
                dyn["lastTaskFailure"] = st.last_failure
        insts = view.instances.get(aid, {})
        if EMBED_READINESS & set(embed):
            dyn["readinessCheckResults"] = [i.readiness for i in insts.values() if i.readiness]
        parts = [self._head(app), b",", dumps(dyn)[1:-1]]
        if EMBED_TASKS & set(embed):
            has_hc = app.has_health
            parts += [b',"tasks":[', b",".join([task_bytes(i, has_hc) for i in insts.values()]), b"]"]
        parts.append(b"}")
        return b"".join(parts)

    def apps_bytes(self, apps: Iterable[AppSpec], embed: Collection[str] = ()) -> bytes:
        """``{"apps": [...]}`` as bytes."""
        emb = frozenset(embed)
        if len(self._defs) > 2 * len(self.view.apps) + 64:  # drop removed apps now and then
            self._defs = {a: v for a, v in self._defs.items() if a in self.view.apps}
        return b'{"apps":[' + b",".join([self.app_bytes(a, emb) for a in apps]) + b"]}"

    def reset(self, view: CoreView) -> None:
        """Render from `view` from now on (a new core: a new leadership term)."""
        self.view = view
        self._defs.clear()

    def warm(self) -> None:
        """Render every app and task once (after a start-up load), dropping stale entries."""
        view = self.view
        self._defs = {a: v for a, v in self._defs.items() if a in view.apps}
        for app in view.apps.values():
            self._head(app)
            has_hc = app.has_health
            for inst in view.instances.get(app.id, {}).values():
                task_bytes(inst, has_hc)


def queue_json(view: CoreView, now: float, embed_offers: bool) -> Json:
    items = []
    for aid in view.waiting_apps():
        app = view.app_def(aid) if aid in view.apps else None
        st = view.state.get(aid)
        if app is None or st is None:
            continue
        left = st.backoff.left(now)
        item: Json = {
            "app": app_json(view, app),
            "count": st.need,
            "delay": {"timeLeftSeconds": int(left + 0.999), "overdue": left <= 0},
            "since": iso(st.waiting_since),
            "processedOffersSummary": st.stats.summary(),
        }
        if embed_offers:
            item["lastUnusedOffers"] = list(st.stats.last_unused)
        items.append(item)
    return {"queue": items}


def info_json(service: Any, ha: HaState, framework_id: str | None) -> Json:
    """``/v2/info`` of this instance: `ha` is its `frameworks.webapp.ha.HaState` (``leader``
    is who leads as far as it knows, None during an election; ``elected`` whether it leads),
    `framework_id` the stored one (a follower reads it from the store)."""
    current = ha.current_leader
    leader = current.host_port if current is not None else None
    me = ha.me.host_port
    zk = ha.zk
    timeout_ms = int(zk.session_timeout * 1000) if zk is not None else 10000
    return {
        "name": service.framework_name,
        "version": "1.0.0-dcos-py",  # Marathon-compatible API level (clients gate on it)
        "buildref": version_info().git_sha,  # the dcos-py build (dcos.common.version)
        "elected": bool(ha.leading),
        "leader": leader,
        "frameworkId": framework_id,
        "event_subscriber": {"type": "http_callback", "http_endpoints": service.callbacks.urls},
        "http_config": {"assets_path": None, "http_port": service.http_port, "https_port": 8443},
        "marathon_config": {
            "master": service.master,
            "framework_name": service.framework_name,
            "hostname": service.hostname,
            "mesos_role": service.role,
            "mesos_user": service.mesos_user,
            "webui_url": f"{'https' if service.security is not None else 'http'}://{me}",
            "checkpoint": True,
            "executor": "//cmd",
            "failover_timeout": int(service.failover_timeout),
            "ha": zk is not None,
            "local_port_min": 10000,
            "local_port_max": 20000,
            "task_launch_timeout": 300000,
            "features": ["gpu_resources"] if service.gpus else [],
        },
        "zookeeper_config": {
            "zk": zk.url if zk is not None else None,
            "zk_hosts": zk.hosts if zk is not None else None,
            "zk_path": zk.path if zk is not None else None,
            "zk_state": f"{zk.path}/state" if zk is not None else None,
            "zk_timeout": timeout_ms,
            "zk_session_timeout": timeout_ms,
        },
    }
