"""Operator endpoints with Mesos field names: `/master/state` (+ aliases), `/master/slaves`,
`/master/frameworks`, `/master/tasks`, `/master/state-summary` (each also without the
``/master`` prefix, as Mesos serves them), `/master/redirect`, `/health`, `/version`,
`/metrics/snapshot`, `/debug/stimuli`, and the v1 operator API at `POST /api/v1`,
`POST /api/v1/operator` and `POST /master/api/v1`: GET_HEALTH, GET_VERSION, GET_STATE,
GET_AGENTS, GET_FRAMEWORKS, GET_TASKS, GET_MASTER, GET_METRICS, GET_WEIGHTS, GET_QUOTA
reads; UPDATE_WEIGHTS, SET_QUOTA, REMOVE_QUOTA, TEARDOWN, DEACTIVATE_AGENT,
REACTIVATE_AGENT, MARK_AGENT_GONE writes (`dcos.master.core.operator_calls`), which are
persisted in the registry; and SUBSCRIBE, the live event stream (Mesos' master v1 ``Event`` JSON in
chunked RecordIO: `dcos.master.http.operator_feed`). JSON only: a request whose
``Accept`` admits no JSON (``application/x-protobuf``) is answered 406.

The large reads (the state, its summary, frameworks, agents, tasks and the v1 GET_STATE,
GET_TASKS, GET_AGENTS, GET_FRAMEWORKS) are answered from shared snapshots
(`dcos.master.http.snapshots`): at most one build per view per short interval, whatever
the number of readers. Bad input (body, JSON types, query parameters) is a 400 with a
plain-text message.

With security on (`dcos.master.http.secure`) the writes need their ACL (403 otherwise:
``update_weights``, ``set_quotas``, ``teardown_frameworks``, ``deactivate_agents``,
``mark_agents_gone``), the state reads show the
frameworks and tasks the caller may view (a snapshot per principal), and
``/debug/stimuli`` answers only a principal allowed ``manage_iam``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiohttp import web

from dcos.master.core import CallError
from dcos.master.core.operator_calls import (
    WRITE_TYPES,
    OperatorWrite,
    parse_operator_write,
    teardown_of,
)
from dcos.master.http import guard, operator_feed, replies, snapshots
from dcos.master.http import state_json as sj
from dcos.master.http.guard import leader_only
from dcos.master.http.keys import MASTER
from dcos.master.http.secure import SECURITY
from dcos.master.http.snapshots import ReadCache
from dcos.master.registry_queue import NotLeading
from dcos.master.shell import MasterView
from dcos.protocol.codec import DecodeError, loads_json
from dcos.security.http import identity


def _json(obj: Any, status: int = 200) -> web.Response:
    return replies.json(obj, status)


def _view(request: web.Request) -> MasterView:
    return request.app[MASTER].view()


READS: web.AppKey[ReadCache] = web.AppKey("master_reads", ReadCache)


async def _snapshot(
    request: web.Request, key: Any, build: Callable[[MasterView], Any]
) -> web.Response:
    """Answer with the shared snapshot of view `key` (`dcos.master.http.snapshots`); with
    security on, the snapshot of what the caller may see (one per principal and ACLs)."""
    shell = request.app[MASTER]
    scope = request.app[SECURITY].read_scope(request)
    if scope is None:
        snap = await request.app[READS].get(key, lambda: build(shell.view()))
    else:
        snap = await request.app[READS].get(
            (key, scope.key), lambda: build(scope.view(shell.view()))
        )
    return snapshots.respond(request, snap)


async def state(request: web.Request) -> web.Response:
    return await _snapshot(request, "state", sj.state_json)


def _slaves(view: MasterView) -> dict[str, Any]:
    return {
        "slaves": [sj.agent_fragment(view, a) for a in view.core.agents.values()],
        "recovered_slaves": [{"id": a} for a in view.core.recovered_agents],
    }


async def slaves(request: web.Request) -> web.Response:
    return await _snapshot(request, "slaves", _slaves)


def _frameworks(view: MasterView) -> dict[str, Any]:
    core = view.core
    return {
        "frameworks": [sj.framework_json(view, f) for f in core.frameworks.values()],
        "completed_frameworks": [
            sj.framework_json(view, f) for f in core.completed_frameworks.values()
        ],
        "unregistered_frameworks": [],
    }


async def frameworks(request: web.Request) -> web.Response:
    return await _snapshot(request, "frameworks", _frameworks)


def _int_param(request: web.Request, name: str, default: int | None) -> int | None:
    """A non-negative integer query parameter; `CallError` (400) when it is not one."""
    raw = request.query.get(name)
    if raw is None:
        return default
    if not raw.isascii() or not raw.isdigit() or len(raw) > 18:
        raise CallError(f"Expecting '{name}' to be a non-negative integer")
    return int(raw)


def _tasks_params(request: web.Request) -> tuple[int | None, int, str]:
    """``limit`` (default: all), ``offset`` (0) and ``order`` (asc|des) of /master/tasks."""
    limit = _int_param(request, "limit", None)
    offset = _int_param(request, "offset", 0) or 0
    order = request.query.get("order", "asc")
    if order not in ("asc", "des"):
        raise CallError("Expecting 'order' to be 'asc' or 'des'")
    return limit, offset, order


def _tasks(view: MasterView, limit: int | None, offset: int, order: str) -> dict[str, Any]:
    core = view.core
    fws = list(core.frameworks.values()) + list(core.completed_frameworks.values())
    tasks = [t for f in fws for t in f.tasks.values()]
    tasks += [t for f in fws for t in f.unreachable_tasks.values()]
    tasks += [t for f in fws for t in f.completed_tasks.values()]
    if order == "des":
        tasks.reverse()
    end = None if limit is None else offset + limit
    return {"tasks": [sj.task_fragment(t) for t in tasks[offset:end]]}


async def tasks(request: web.Request) -> web.Response:
    """`GET /master/tasks[?limit=N&offset=M&order=asc|des]` (400 for a bad parameter)."""
    try:
        params = _tasks_params(request)
    except CallError as exc:
        return replies.text(str(exc))
    return await _snapshot(request, ("tasks", *params), lambda v: _tasks(v, *params))


async def state_summary(request: web.Request) -> web.Response:
    return await _snapshot(request, "state-summary", sj.state_summary)


async def health(request: web.Request) -> web.Response:
    return web.Response(status=200)


async def version(request: web.Request) -> web.Response:
    return _json(sj.version_json())


async def metrics(request: web.Request) -> web.Response:
    """``/metrics/snapshot`` on every master: ``master/elected`` 1 with the leader's
    figures, 0 with the process' own (uptime, system) on a standby."""
    shell = request.app[MASTER]
    if not shell.leading:
        return _json(sj.standby_metrics(shell.now() - shell.start_time))
    return _json(sj.metrics(shell.view()))


async def stimuli(request: web.Request) -> web.Response:
    """`GET /debug/stimuli?limit=N`: the newest N (event, actions) pairs of the core."""
    refused = request.app[SECURITY].debug_refused(request)
    if refused is not None:
        return refused
    try:
        limit = _int_param(request, "limit", None)
    except CallError as exc:
        return replies.text(str(exc))
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
        "GET_STATE": lambda: sj.get_state(view),
        "GET_MASTER": lambda: {
            "master_info": core.master_info.to_json(),
            "start_time": view.start_time,
            "elected_time": view.elected_time,
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


async def operator_v1(request: web.Request) -> web.StreamResponse:
    """`POST /api/v1`: ``{"type": "GET_X"}`` -> ``{"type": "GET_X", "get_x": {...}}``;
    the writes (`WRITE_TYPES`) -> 200 (or 400 / 404 with the reason);
    SUBSCRIBE -> the event stream (`operator_feed`). JSON only: an ``Accept`` header
    without JSON (``application/x-protobuf``) is a 406."""
    shell = request.app[MASTER]
    accept = request.headers.get("Accept", "")
    if not operator_feed.accepts_json(accept):
        return operator_feed.not_acceptable(accept)
    try:
        call = loads_json(await request.read())
    except DecodeError as exc:
        return replies.text(f"Failed to parse body into Call: {exc}")
    if not isinstance(call, dict) or not isinstance(call.get("type"), str):
        return replies.text("Expecting 'type' to be present")
    ctype = call["type"]
    if ctype == "SUBSCRIBE":
        return await operator_feed.subscribe(request)
    if ctype in WRITE_TYPES:
        try:
            write = parse_operator_write(call)
        except CallError as exc:
            return replies.text(str(exc))
        denied = _denied(request, write)
        if denied is not None:
            return denied
        outcome = await shell.operator_call(write)
        if outcome.message:
            return replies.text(outcome.message, outcome.status)
        return web.Response(status=outcome.status)
    if ctype in _LARGE_READS:
        return await _snapshot(
            request, ctype, lambda v: {"type": ctype, ctype.lower(): _reads(v)[ctype]()}
        )
    build = _reads(shell.view()).get(ctype)
    if build is None:
        return replies.text(f"Unsupported operator call type '{ctype}'")
    return _json({"type": ctype, ctype.lower(): build()})


def _denied(request: web.Request, write: OperatorWrite) -> web.Response | None:
    """403 (plain text) when security is on and the caller may not make `write`."""
    authz = request.app[SECURITY].authz
    if authz is None:
        return None
    shell = request.app[MASTER]
    if shell.core is None:
        raise NotLeading
    denied = authz.operator_write(identity(request), write, shell.core)
    return None if denied is None else replies.text(denied.message, denied.status)


_LARGE_READS = frozenset({"GET_STATE", "GET_TASKS", "GET_AGENTS", "GET_FRAMEWORKS"})


async def teardown(request: web.Request) -> web.Response:
    """`POST /master/teardown` (and ``/teardown``) with ``frameworkId=<id>`` in the form
    body or the query, as Mesos' endpoint (the DC/OS CLI's ``service shutdown``): the
    operator TEARDOWN; 200, or 400 with the reason."""
    try:
        form = await request.post()
    except ValueError as exc:  # a body that is no form
        return replies.text(f"Unable to decode the request body: {exc}")
    fid = form.get("frameworkId", request.query.get("frameworkId"))
    try:
        call = teardown_of(fid, "frameworkId")
    except CallError as exc:
        return replies.text(str(exc))
    denied = _denied(request, call)
    if denied is not None:
        return denied
    outcome = await request.app[MASTER].operator_call(call)
    if outcome.message:
        return replies.text(outcome.message, outcome.status)
    return web.Response(status=outcome.status)


def add_routes(app: web.Application) -> None:
    """The operator routes. The state reads and the v1 operator API answer on the leader
    only (`guard.leader_only`: 307 to the leader or 503 elsewhere, as Mesos does);
    ``/health``, ``/version``, ``/metrics/snapshot``, ``/debug/stimuli`` and
    ``/master/redirect`` answer on every master."""
    shell = app[MASTER]
    app[READS] = ReadCache(lambda: shell.generation)
    app[operator_feed.FEED] = operator_feed.OperatorFeed(shell)
    lead = leader_only
    for path in ("/master/state", "/state", "/master/state.json", "/state.json"):
        app.router.add_get(path, lead(state))
    for prefix in ("/master", ""):
        app.router.add_get(f"{prefix}/slaves", lead(slaves))
        app.router.add_get(f"{prefix}/frameworks", lead(frameworks))
        app.router.add_get(f"{prefix}/tasks", lead(tasks))
        app.router.add_get(f"{prefix}/state-summary", lead(state_summary))
        app.router.add_get(f"{prefix}/redirect", guard.redirect)
        app.router.add_post(f"{prefix}/teardown", lead(teardown))
    app.router.add_get("/health", health)
    app.router.add_get("/master/health", health)
    app.router.add_get("/version", version)
    app.router.add_get("/metrics/snapshot", metrics)
    app.router.add_get("/debug/stimuli", stimuli)
    app.router.add_post("/api/v1", lead(operator_v1))
    app.router.add_post("/api/v1/operator", lead(operator_v1))
    app.router.add_post("/master/api/v1", lead(operator_v1))
