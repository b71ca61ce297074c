"""Operator endpoints with Mesos field names: `/master/state` (+ aliases), `/master/slaves`,
`/master/frameworks`, `/master/tasks`, `/master/state-summary`, `/master/redirect`,
`/health`, `/version`, `/metrics/snapshot`, `/debug/stimuli`, and the v1 operator API at `POST /api/v1` and
`POST /api/v1/operator` (GET_* reads; UPDATE_WEIGHTS, SET_QUOTA, REMOVE_QUOTA writes, which
are persisted in the registry).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiohttp import web

from dcos.master.core import CallError
from dcos.master.core.operator_calls import WRITE_TYPES, parse_operator_write
from dcos.master.http import state_json as sj
from dcos.master.http.keys import MASTER
from dcos.master.shell import MasterView
from dcos.protocol.codec import DecodeError, dumps_json, loads_json


def _json(obj: Any, status: int = 200) -> web.Response:
    return web.Response(body=dumps_json(obj), status=status, content_type="application/json")


def _view(request: web.Request) -> MasterView:
    return request.app[MASTER].view()


async def state(request: web.Request) -> web.Response:
    return _json(sj.state_json(_view(request)))


async def slaves(request: web.Request) -> web.Response:
    view = _view(request)
    return _json(
        {
            "slaves": [sj.agent_json(view, a) for a in view.core.agents.values()],
            "recovered_slaves": [{"id": a} for a in view.core.recovered_agents],
        }
    )


async def frameworks(request: web.Request) -> web.Response:
    view = _view(request)
    core = view.core
    return _json(
        {
            "frameworks": [sj.framework_json(view, f) for f in core.frameworks.values()],
            "completed_frameworks": [
                sj.framework_json(view, f) for f in core.completed_frameworks.values()
            ],
            "unregistered_frameworks": [],
        }
    )


async def tasks(request: web.Request) -> web.Response:
    core = _view(request).core
    fws = list(core.frameworks.values()) + list(core.completed_frameworks.values())
    out = [sj.task_json(t) for f in fws for t in f.tasks.values()]
    out += [sj.task_json(t) for f in fws for t in f.unreachable_tasks.values()]
    out += [sj.task_json(t) for f in fws for t in f.completed_tasks.values()]
    return _json({"tasks": out})


async def state_summary(request: web.Request) -> web.Response:
    return _json(sj.state_summary(_view(request)))


async def redirect(request: web.Request) -> web.Response:
    leader = _view(request).leader
    if leader is None:
        return web.Response(status=503, text="No leading master")
    return web.Response(status=307, headers={"Location": f"//{leader.hostname}:{leader.port}"})


async def health(request: web.Request) -> web.Response:
    return web.Response(status=200)


async def version(request: web.Request) -> web.Response:
    return _json(sj.version_json())


async def metrics(request: web.Request) -> web.Response:
    return _json(sj.metrics(_view(request)))


async def stimuli(request: web.Request) -> web.Response:
    """`GET /debug/stimuli?limit=N`: the newest N (event, actions) pairs of the core."""
    raw = request.query.get("limit")
    try:
        limit = int(raw) if raw is not None else None
    except ValueError:
        return web.Response(status=400, text="Expecting 'limit' to be an integer")
    return _json(request.app[MASTER].stimuli_json(limit))


def _reads(view: MasterView) -> dict[str, Callable[[], Any]]:
    """The GET_* answers of the v1 operator API, by call type."""
    core = view.core
    return {
        "GET_HEALTH": lambda: {"healthy": True},
        "GET_VERSION": lambda: {
            "version_info": {k: v for k, v in sj.version_json().items() if k != "git_tag"}
        },
        "GET_AGENTS": lambda: sj.get_agents(view),
        "GET_FRAMEWORKS": lambda: sj.get_frameworks(view),
        "GET_TASKS": lambda: sj.get_tasks(view),
        "GET_STATE": lambda: {
            "get_tasks": sj.get_tasks(view),
            "get_executors": {"executors": []},
            "get_frameworks": sj.get_frameworks(view),
            "get_agents": sj.get_agents(view),
        },
        "GET_MASTER": lambda: {
            "master_info": core.master_info.to_json(),
            "start_time": core.start_time,
            "elected_time": core.start_time,
        },
        "GET_METRICS": lambda: {
            "metrics": [{"name": k, "value": v} for k, v in sj.metrics(view).items()]
        },
        "GET_WEIGHTS": lambda: {
            "weight_infos": [{"role": r, "weight": w} for r, w in sorted(core.weights.items())]
        },
        "GET_QUOTA": lambda: {
            "status": {
                "infos": [
                    {"role": r, "guarantee": q.to_mesos()} for r, q in sorted(core.quota.items())
                ]
            }
        },
    }


async def operator_v1(request: web.Request) -> web.Response:
    """`POST /api/v1`: ``{"type": "GET_X"}`` -> ``{"type": "GET_X", "get_x": {...}}``;
    UPDATE_WEIGHTS, SET_QUOTA, REMOVE_QUOTA -> 200 (or 400 with the reason)."""
    shell = request.app[MASTER]
    try:
        call = loads_json(await request.read())
    except DecodeError as exc:
        return web.Response(status=400, text=f"Failed to parse body into Call: {exc}")
    if not isinstance(call, dict) or not isinstance(call.get("type"), str):
        return web.Response(status=400, text="Expecting 'type' to be present")
    ctype = call["type"]
    if ctype in WRITE_TYPES:
        try:
            write = parse_operator_write(call)
        except CallError as exc:
            return web.Response(status=400, text=str(exc))
        outcome = shell.operator_call(write)
        if outcome.message:
            return web.Response(status=outcome.status, text=outcome.message)
        return web.Response(status=outcome.status)
    build = _reads(shell.view()).get(ctype)
    if build is None:
        return web.Response(status=400, text=f"Unsupported operator call type '{ctype}'")
    return _json({"type": ctype, ctype.lower(): build()})


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
    app.router.add_get("/debug/stimuli", stimuli)
    app.router.add_post("/api/v1", operator_v1)
    app.router.add_post("/api/v1/operator", operator_v1)
