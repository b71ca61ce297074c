"""JSON views of the master's state with Mesos field names (`/master/state`, `/master/slaves`,
`/master/frameworks`, `/master/tasks`, `/master/state-summary`, `/metrics/snapshot`, and
the v1 operator API's GET_* answers).

Called by `operator_api` handlers with a `MasterView` (`MasterShell.view`); reads the
core's records, changes nothing.
"""

from __future__ import annotations

import os
from collections import Counter
from typing import Any

import orjson

from dcos.common.version import version_info
from dcos.master.authz import ScopedCore
from dcos.master.core.model import Agent, Framework, Task
from dcos.master.core.offers import attributes_json
from dcos.master.shell import MasterView
from dcos.protocol.codec import dumps_json
from dcos.protocol.ids import OfferID, wrap
from dcos.protocol.mesos import MESOS_VERSION
from dcos.protocol.resources import Resources
from dcos.protocol.states import TaskState


def version_json() -> dict[str, Any]:
    """``/version`` (and the build fields of ``/master/state``): the Mesos API version that
    clients gate on, with dcos-py's real version and build (`dcos.common.version`)."""
    return version_info().mesos_json(MESOS_VERSION)


def _sum(items: list[Resources]) -> Resources:
    return Resources.total(items)


def task_fragment(t: Task) -> orjson.Fragment:
    """`task_json` already encoded, kept on the task until its status changes: most tasks
    in a state (the completed ones above all) do not change between two builds."""
    cached = t.view
    if cached is not None and cached[0] is t.status and cached[1] == len(t.statuses):
        return cached[2]
    fragment = orjson.Fragment(dumps_json(task_json(t)))
    t.view = (t.status, len(t.statuses), fragment)
    return fragment


def task_json(t: Task) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": t.task_id, "name": t.name, "framework_id": t.framework_id,
        "executor_id": t.executor_id or "", "slave_id": t.agent_id, "state": t.state,
        "resources": t.resources.to_summary(), "role": t.role,
        "statuses": [{"state": s["state"], "timestamp": s.get("timestamp")} for s in t.statuses],
    }  # fmt: skip
    for key in ("labels", "discovery", "container", "health_check"):
        if key in t.info:
            out[key] = t.info[key]
    return out


def offer_fragment(view: MasterView, oid: OfferID) -> orjson.Fragment:
    """`offer_json` already encoded, kept on the (unchanging) offer."""
    o = view.core.offers[oid]
    if o.view is None:
        o.view = orjson.Fragment(dumps_json(offer_json(view, oid)))
    return o.view


def offer_json(view: MasterView, oid: OfferID) -> dict[str, Any]:
    o = view.core.offers[oid]
    return {
        "id": o.id,
        "framework_id": o.framework_id,
        "slave_id": o.agent_id,
        "resources": o.resources.to_summary(),
        "allocation_info": {"role": o.role},
    }


def framework_json(view: MasterView, fw: Framework) -> dict[str, Any]:
    info = fw.info
    offers = view.core.offers
    used = _kept_total(fw, "used", [t.resources for t in fw.tasks.values()])
    offered = _kept_total(fw, "offered", [offers[o].resources for o in fw.offers if o in offers])
    return {
        "id": fw.id,
        "name": info.get("name", ""),
        "pid": None,
        "user": info.get("user", ""),
        "hostname": info.get("hostname", ""),
        "webui_url": info.get("webui_url", ""),
        "active": fw.active,
        "connected": fw.connected,
        "recovered": fw.recovered,
        "failover_timeout": fw.failover_timeout,
        "checkpoint": bool(info.get("checkpoint")),
        "role": fw.roles[0],
        "roles": list(fw.roles),
        "principal": info.get("principal"),
        "registered_time": fw.registered_time,
        "reregistered_time": fw.reregistered_time or fw.registered_time,
        "unregistered_time": fw.unregistered_time or 0,
        "resources": (used + offered).to_summary(),
        "used_resources": used.to_summary(),
        "offered_resources": offered.to_summary(),
        "capabilities": sorted(fw.capabilities),
        "tasks": [task_fragment(t) for t in fw.tasks.values()],
        "unreachable_tasks": [task_fragment(t) for t in fw.unreachable_tasks.values()],
        "completed_tasks": [task_fragment(t) for t in fw.completed_tasks.values()],
        "offers": [offer_fragment(view, o) for o in fw.offers if o in offers],
        "executors": [],
    }


def _kept_total(fw: Framework, name: str, items: list[Resources]) -> Resources:
    """The sum of `items` (what the framework's tasks use, or are offered), kept on the
    framework under `name` and summed again only when the items changed (compared as a
    tuple: object identity first)."""
    key = tuple(items)
    if fw.view is None:
        fw.view = {}
    cached = fw.view.get(name)
    if cached is not None and cached[0] == key:
        return cached[1]
    total = Resources.total(key)
    fw.view[name] = (key, total)
    return total


def agent_fragment(view: MasterView, a: Agent) -> orjson.Fragment:
    """`agent_json` already encoded, kept on the agent while it stays the same: the same
    connection state, the same tasks' and offers' resources (compared as tuples, object
    identity first: no summing when nothing changed; a changed AgentInfo comes with a new
    `Agent`)."""
    offers = view.core.offers
    used_key = tuple([t.resources for t in a.tasks.values()])
    offered_key = tuple([offers[o].resources for o in a.offers if o in offers])
    cached = a.view
    if (
        cached is not None
        and cached[0] == (a.connected, a.deactivated)
        and cached[1] == used_key
        and cached[2] == offered_key
    ):
        return cached[3]
    used, offered = Resources.total(used_key), Resources.total(offered_key)
    fragment = orjson.Fragment(dumps_json(agent_json(view, a, used, offered)))
    a.view = ((a.connected, a.deactivated), used_key, offered_key, fragment)
    return fragment


def _offered(view: MasterView, a: Agent) -> Resources:
    if not a.offers:
        return Resources.empty()
    offers = view.core.offers
    return _sum([offers[o].resources for o in a.offers if o in offers])


def agent_json(
    view: MasterView, a: Agent, used: Resources | None = None, offered: Resources | None = None
) -> dict[str, Any]:
    used = a.used() if used is None else used
    offered = _offered(view, a) if offered is None else offered
    return {
        "id": a.id,
        "pid": f"slave(1)@{a.ip}:{a.port}",
        "hostname": a.hostname,
        "port": a.port,
        "registered_time": a.registered_time,
        "reregistered_time": a.reregistered_time,
        "resources": a.total.to_summary(),
        "used_resources": used.to_summary(),
        "offered_resources": offered.to_summary(),
        **_reservation_views(a),
        "attributes": a.attributes,
        "active": a.connected,
        "deactivated": a.deactivated,
        "version": a.info.get("version", ""),
        "capabilities": list(a.info.get("capabilities") or []),
    }


def _reservation_views(a: Agent) -> dict[str, Any]:
    """Mesos' reserved/unreserved views of an agent: a whole agent is reserved to one role
    (``--resources cpus(ROLE):2``) or not at all."""
    role = a.reserved_role
    if role is None:
        return {
            "reserved_resources": {}, "reserved_resources_full": {},
            "unreserved_resources": a.total.to_summary(),
            "unreserved_resources_full": a.total.to_mesos(),
        }  # fmt: skip
    empty = Resources.empty()
    return {
        "reserved_resources": {role: a.total.to_summary()},
        "reserved_resources_full": {role: a.total.to_mesos(role)},
        "unreserved_resources": empty.to_summary(), "unreserved_resources_full": [],
    }  # fmt: skip


def state_json(view: MasterView) -> dict[str, Any]:
    """``/master/state`` of the leading master (the only one that answers it): ``leader``
    and ``leader_info`` (MasterInfo JSON) name this master, ``start_time`` is when the
    process started, ``elected_time`` when it was elected."""
    core, cfg = view.core, view.config
    info = core.master_info
    leader = view.leader or info
    pid = f"master@{info.ip}:{info.port}"
    agents = list(core.agents.values())
    return {
        **version_json(),
        "start_time": view.start_time, "elected_time": view.elected_time, "id": info.id,
        "pid": pid, "hostname": info.hostname,
        "activated_slaves": sum(1 for a in agents if a.connected),
        "deactivated_slaves": sum(1 for a in agents if not a.connected),
        "unreachable_slaves": len(core.unreachable_agents),
        "leader": f"master@{leader.ip}:{leader.port}",
        "leader_info": leader.to_json(),
        "log_dir": os.path.dirname(cfg.log_file) if cfg.log_file else None,
        "flags": cfg.flags(),
        "slaves": [agent_fragment(view, a) for a in agents],
        "frameworks": [framework_json(view, f) for f in core.frameworks.values()],
        "completed_frameworks": [framework_json(view, f) for f in core.completed_frameworks.values()],
        "orphan_tasks": [], "unregistered_frameworks": [],
    }  # fmt: skip


def state_summary(view: MasterView) -> dict[str, Any]:
    core = view.core
    # security on: the frameworks the reader may see (`dcos.master.authz.ScopedCore`)
    shown = core.frameworks if isinstance(core, ScopedCore) else None
    slaves = []
    for a in core.agents.values():
        d = agent_json(view, a)
        counts = Counter(t.state for t in a.tasks.values())
        d.update({s.value: counts.get(s.value, 0) for s in _SUMMARY_STATES})
        fids = {t.framework_id for t in a.tasks.values()}
        d["framework_ids"] = sorted(fids if shown is None else fids & shown.keys())
        slaves.append(d)
    frameworks = []
    for f in core.frameworks.values():
        d = framework_json(view, f)
        for k in ("tasks", "unreachable_tasks", "completed_tasks", "offers", "executors"):
            d.pop(k)
        counts = Counter(t.state for t in f.tasks.values())
        counts.update(t.state for t in f.completed_tasks.values())
        d.update({s.value: counts.get(s.value, 0) for s in _SUMMARY_STATES})
        d["slave_ids"] = sorted({t.agent_id for t in f.tasks.values()})
        frameworks.append(d)
    return {
        "hostname": core.master_info.hostname,
        "cluster": view.config.cluster,
        "slaves": slaves,
        "frameworks": frameworks,
    }


_SUMMARY_STATES = [
    TaskState.TASK_STAGING,
    TaskState.TASK_STARTING,
    TaskState.TASK_RUNNING,
    TaskState.TASK_KILLING,
    TaskState.TASK_FINISHED,
    TaskState.TASK_KILLED,
    TaskState.TASK_FAILED,
    TaskState.TASK_LOST,
    TaskState.TASK_ERROR,
    TaskState.TASK_UNREACHABLE,
]


def metrics(view: MasterView) -> dict[str, float]:
    core = view.core
    agents = list(core.agents.values())
    total = _sum([a.total for a in agents])
    used = _sum([a.used() for a in agents])
    live = Counter(t.state for f in core.frameworks.values() for t in f.tasks.values())
    done = Counter(t.state for f in core.frameworks.values() for t in f.completed_tasks.values())
    done.update(
        t.state for f in core.completed_frameworks.values() for t in f.completed_tasks.values()
    )
    out: dict[str, float] = {
        "master/elected": 1.0, "master/uptime_secs": view.now - view.start_time,
        "master/slaves_active": float(sum(1 for a in agents if a.connected)),
        "master/slaves_connected": float(sum(1 for a in agents if a.connected)),
        "master/slaves_disconnected": float(sum(1 for a in agents if not a.connected)),
        "master/slaves_inactive": float(sum(1 for a in agents if not a.connected)),
        "master/slaves_unreachable": float(len(core.unreachable_agents)),
        "master/frameworks_active": float(sum(1 for f in core.frameworks.values() if f.active)),
        "master/frameworks_connected": float(sum(1 for f in core.frameworks.values() if f.connected)),
        "master/frameworks_disconnected": float(sum(1 for f in core.frameworks.values() if not f.connected)),
        "master/frameworks_inactive": float(sum(1 for f in core.frameworks.values() if not f.active)),
        "master/outstanding_offers": float(len(core.offers)),
    }  # fmt: skip
    for state in ("staging", "starting", "running", "killing"):
        out[f"master/tasks_{state}"] = float(live.get(f"TASK_{state.upper()}", 0))
    for state in (
        "finished",
        "failed",
        "killed",
        "lost",
        "error",
        "dropped",
        "gone",
        "unreachable",
    ):
        out[f"master/tasks_{state}"] = float(
            done.get(f"TASK_{state.upper()}", 0) + live.get(f"TASK_{state.upper()}", 0)
        )
    for name in ("cpus", "mem", "disk", "gpus"):
        t, u = total.scalar(name), used.scalar(name)
        out[f"master/{name}_total"] = t
        out[f"master/{name}_used"] = u
        out[f"master/{name}_percent"] = u / t if t else 0.0
    for k, v in core.counters.items():
        out[f"master/{k}"] = float(v)
    out.update(_system_metrics())
    return out


def standby_metrics(uptime: float) -> dict[str, float]:
    """``/metrics/snapshot`` of a master that does not lead: ``master/elected`` 0 (what
    Mesos reports on a standby), its uptime, and the system figures."""
    return {"master/elected": 0.0, "master/uptime_secs": uptime, **_system_metrics()}


def _system_metrics() -> dict[str, float]:
    out: dict[str, float] = {}
    try:
        out["system/load_1min"] = os.getloadavg()[0]
    except OSError:
        out["system/load_1min"] = 0.0
    out["system/cpus_total"] = float(os.cpu_count() or 1)
    try:
        out["system/mem_total_bytes"] = float(
            os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        )
    except (ValueError, OSError):
        out["system/mem_total_bytes"] = 0.0
    return out


# -- v1 operator API shapes -----------------------------------------------------------------


def _ns(t: float | None) -> dict[str, int]:
    return {"nanoseconds": int((t or 0) * 1e9)}


def v1_task(t: Task) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": t.name, "task_id": wrap(t.task_id), "framework_id": wrap(t.framework_id),
        "agent_id": wrap(t.agent_id), "state": t.state, "resources": t.resources.to_mesos(
            allocation_role=t.role),
        "statuses": [s for s in [t.status] if s] or [], "role": t.role,
    }  # fmt: skip
    if t.executor_id:
        out["executor_id"] = wrap(t.executor_id)
    return out


def v1_agent(view: MasterView, a: Agent) -> dict[str, Any]:
    info = {
        "id": wrap(a.id),
        "hostname": a.hostname,
        "port": a.port,
        "resources": a.total.to_mesos(a.reserved_role or "*"),
        "attributes": attributes_json(a.attributes),
    }
    return {
        "agent_info": info,
        "active": a.connected,
        "deactivated": a.deactivated,
        "version": a.info.get("version", ""),
        "pid": f"slave(1)@{a.ip}:{a.port}",
        "registered_time": _ns(a.registered_time),
        "total_resources": a.total.to_mesos(a.reserved_role or "*"),
        "allocated_resources": a.used().to_mesos(),
        "offered_resources": _sum(
            [view.core.offers[o].resources for o in a.offers if o in view.core.offers]
        ).to_mesos(),
        "capabilities": [{"type": c} for c in a.info.get("capabilities") or []],
    }


def v1_framework(f: Framework) -> dict[str, Any]:
    return {
        "framework_info": f.info,
        "active": f.active,
        "connected": f.connected,
        "recovered": f.recovered,
        "registered_time": _ns(f.registered_time),
        "reregistered_time": _ns(f.reregistered_time or f.registered_time),
    }


def get_agents(view: MasterView) -> dict[str, Any]:
    return {
        "agents": [v1_agent(view, a) for a in view.core.agents.values()],
        "recovered_agents": [{"id": wrap(a)} for a in view.core.recovered_agents],
    }


def get_frameworks(view: MasterView) -> dict[str, Any]:
    core = view.core
    return {
        "frameworks": [v1_framework(f) for f in core.frameworks.values()],
        "completed_frameworks": [v1_framework(f) for f in core.completed_frameworks.values()],
    }


def get_state(view: MasterView) -> dict[str, Any]:
    """GET_STATE's answer (and the snapshot of an operator SUBSCRIBE's first event)."""
    return {
        "get_tasks": get_tasks(view),
        "get_executors": {"executors": []},
        "get_frameworks": get_frameworks(view),
        "get_agents": get_agents(view),
    }


def get_tasks(view: MasterView) -> dict[str, Any]:
    fws = list(view.core.frameworks.values()) + list(view.core.completed_frameworks.values())
    return {
        "tasks": [v1_task(t) for f in fws for t in f.tasks.values()],
        "unreachable_tasks": [v1_task(t) for f in fws for t in f.unreachable_tasks.values()],
        "completed_tasks": [v1_task(t) for f in fws for t in f.completed_tasks.values()],
        "pending_tasks": [],
        "orphan_tasks": [],
    }
