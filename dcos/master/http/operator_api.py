"""Operator endpoints with Mesos field names: `/master/state` (+ aliases), `/master/slaves`,
`/master/frameworks`, `/master/tasks`, `/master/state-summary`, `/master/redirect`,
`/health`, `/version`, `/metrics/snapshot`, and the v1 operator API at `POST /api/v1` and
`POST /api/v1/operator` (GET_* reads; UPDATE_WEIGHTS, SET_QUOTA, REMOVE_QUOTA writes, which
are persisted in the registry).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

from dcos.master.http import MASTER
from dcos.master.http import state_json as sj
from dcos.protocol.codec import DecodeError, dumps_json, loads_json
from dcos.protocol.resources import ResourceError, Resources

if TYPE_CHECKING:
    from dcos.master.app import MasterShell


def _json(obj: Any, status: int = 200) -> web.Response:
    return web.Response(body=dumps_json(obj), status=status, content_type="application/json")


def _shell(request: web.Request) -> MasterShell:
    return request.app[MASTER]


async def state(request: web.Request) -> web.Response:
    return _json(sj.state_json(_shell(request)))


async def slaves(request: web.Request) -> web.Response:
    shell = _shell(request)
    return _json(
        {
            "slaves": [sj.agent_json(shell, a) for a in shell.core.agents.values()],
            "recovered_slaves": [{"id": a} for a in shell.core.recovered_agents],
        }
    )


async def frameworks(request: web.Request) -> web.Response:
    shell = _shell(request)
    core = shell.core
    return _json(
        {
            "frameworks": [sj.framework_json(shell, f) for f in core.frameworks.values()],
            "completed_frameworks": [
                sj.framework_json(shell, f) for f in core.completed_frameworks.values()
            ],
            "unregistered_frameworks": [],
        }
    )


async def tasks(request: web.Request) -> web.Response:
    core = _shell(request).core
    fws = list(core.frameworks.values()) + list(core.completed_frameworks.values())
    out = [sj.task_json(t) for f in fws for t in f.tasks.values()]
    out += [sj.task_json(t) for f in fws for t in f.unreachable_tasks.values()]
    out += [sj.task_json(t) for f in fws for t in f.completed_tasks.values()]
    return _json({"tasks": out})


async def state_summary(request: web.Request) -> web.Response:
    return _json(sj.state_summary(_shell(request)))


async def redirect(request: web.Request) -> web.Response:
    leader = _shell(request).elector.leader()
    if leader is None:
        return web.Response(status=503, text="No leading master")
    return web.Response(status=307, headers={"Location": f"//{leader.hostname}:{leader.port}"})


async def health(request: web.Request) -> web.Response:
    return web.Response(status=200)


async def version(request: web.Request) -> web.Response:
    return _json(sj.version_json())


async def metrics(request: web.Request) -> web.Response:
    return _json(sj.metrics(_shell(request)))


async def operator_v1(request: web.Request) -> web.Response:
    """`POST /api/v1`: ``{"type": "GET_X"}`` -> ``{"type": "GET_X", "get_x": {...}}``."""
    shell = _shell(request)
    try:
        call = loads_json(await request.read())
    except DecodeError as exc:
        return web.Response(status=400, text=f"Failed to parse body into Call: {exc}")
    if not isinstance(call, dict) or not isinstance(call.get("type"), str):
        return web.Response(status=400, text="Expecting 'type' to be present")
    ctype = call["type"]
    builders = {
        "GET_HEALTH": lambda: {"healthy": True},
        "GET_VERSION": lambda: {
            "version_info": {k: v for k, v in sj.version_json().items() if k != "git_tag"}
        },
        "GET_AGENTS": lambda: sj.get_agents(shell),
        "GET_FRAMEWORKS": lambda: sj.get_frameworks(shell),
        "GET_TASKS": lambda: sj.get_tasks(shell),
        "GET_STATE": lambda: {
            "get_tasks": sj.get_tasks(shell),
            "get_executors": {"executors": []},
            "get_frameworks": sj.get_frameworks(shell),
            "get_agents": sj.get_agents(shell),
        },
        "GET_MASTER": lambda: {
            "master_info": shell.core.master_info.to_json(),
            "start_time": shell.core.start_time,
            "elected_time": shell.core.start_time,
        },
        "GET_METRICS": lambda: {
            "metrics": [{"name": k, "value": v} for k, v in sj.metrics(shell).items()]
        },
    }
    if ctype in _WRITES:
        error = _WRITES[ctype](shell, call)
        if error:
            return web.Response(status=400, text=error)
        return web.Response(status=200)
    builders["GET_WEIGHTS"] = lambda: {
        "weight_infos": [{"role": r, "weight": w} for r, w in sorted(shell.core.weights.items())]
    }
    builders["GET_QUOTA"] = lambda: {
        "status": {
            "infos": [
                {"role": r, "guarantee": q.to_mesos()} for r, q in sorted(shell.core.quota.items())
            ]
        }
    }
    build = builders.get(ctype)
    if build is None:
        return web.Response(status=400, text=f"Unsupported operator call type '{ctype}'")
    return _json({"type": ctype, ctype.lower(): build()})


def _update_weights(shell: MasterShell, call: dict[str, Any]) -> str:
    infos = (call.get("update_weights") or {}).get("weight_infos")
    if not isinstance(infos, list):
        return "Expecting 'update_weights.weight_infos' to be an array"
    weights: dict[str, float] = {}
    for wi in infos:
        if not isinstance(wi, dict) or not isinstance(wi.get("role"), str):
            return "Each weight info needs a string 'role'"
        w = wi.get("weight", 1.0)
        if isinstance(w, bool) or not isinstance(w, int | float) or w <= 0:
            return f"Weight of role '{wi['role']}' must be a positive number"
        weights[wi["role"]] = float(w)
    shell.dispatch(shell.core.set_weights(weights))
    return ""


def _set_quota(shell: MasterShell, call: dict[str, Any]) -> str:
    req = (call.get("set_quota") or {}).get("quota_request")
    if not isinstance(req, dict) or not isinstance(req.get("role"), str) or not req["role"]:
        return "Expecting 'set_quota.quota_request.role' to be a non-empty string"
    try:
        guarantee = Resources.from_mesos(req.get("guarantee") or [])
    except ResourceError as exc:
        return f"Invalid 'guarantee': {exc}"
    shell.dispatch(shell.core.set_quota(req["role"], guarantee))
    return ""


def _remove_quota(shell: MasterShell, call: dict[str, Any]) -> str:
    role = (call.get("remove_quota") or {}).get("role")
    if not isinstance(role, str) or role not in shell.core.quota:
        return "Expecting 'remove_quota.role' to name a role with quota"
    shell.dispatch(shell.core.set_quota(role, None))
    return ""


_WRITES = {
    "UPDATE_WEIGHTS": _update_weights,
    "SET_QUOTA": _set_quota,
    "REMOVE_QUOTA": _remove_quota,
}


def add_routes(app: web.Application) -> None:
    for path in ("/master/state", "/state", "/master/state.json", "/state.json"):
        app.router.add_get(path, state)
    app.router.add_get("/master/slaves", slaves)
    app.router.add_get("/master/frameworks", frameworks)
    app.router.add_get("/master/tasks", tasks)
    app.router.add_get("/master/state-summary", state_summary)
    app.router.add_get("/master/redirect", redirect)
    app.router.add_get("/health", health)
    app.router.add_get("/master/health", health)
    app.router.add_get("/version", version)
    app.router.add_get("/metrics/snapshot", metrics)
    app.router.add_post("/api/v1", operator_v1)
    app.router.add_post("/api/v1/operator", operator_v1)
