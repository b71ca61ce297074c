"""Shared pieces of the /v2 route handlers: Marathon's response and error bodies and the
query/body parsing every handler uses (pure helpers; imported by `server` and `groups`).

Errors use Marathon's bodies: 404 ``{"message"}``, 409 ``{"message", "deployments":
[{"id"}]}``, 422 ``{"message", "details": [{"path", "errors"}]}``. Query booleans accept
``true/false/True/False``; ``embed`` may repeat.
"""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from frameworks.webapp.actions import Conflict
from frameworks.webapp.core import CoreView
from frameworks.webapp.deployments import Deployment
from frameworks.webapp.model.app import Errors, normalize
from frameworks.webapp.model.group import cycle_errors
from frameworks.webapp.model.json import MAX_DEPTH, dumps, too_deep
from frameworks.webapp.model.paths import url_id_errors
from frameworks.webapp.model.spec import AppSpec
from frameworks.webapp.scheduler import Origin

Json = dict[str, Any]


def respond(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(body=dumps(body), status=status, content_type="application/json",
                        headers=headers)  # fmt: skip


def error(status: int, message: str, **extra: Any) -> web.Response:
    return respond({"message": message, **extra}, status)


def invalid(errors: Errors, message: str = "Object is not valid") -> web.Response:
    return respond({"message": message,
                    "details": [{"path": p, "errors": e} for p, e in errors]}, 422)  # fmt: skip


def conflict(c: Conflict) -> web.Response:
    return error(409, "App is locked by one or more deployments. Override with the option "
                 "'?force=true'. View details at '/v2/deployments/<DEPLOYMENT_ID>'.",
                 deployments=[{"id": d} for d in c.deployments])  # fmt: skip


def flag(request: web.Request, name: str, default: bool = False) -> bool:
    v = request.query.get(name)
    if v is None:
        return default
    return v.strip().lower() in ("true", "1", "yes", "")


def embeds(request: web.Request) -> set[str]:
    out: set[str] = set()
    for v in request.query.getall("embed", []):
        out.update(x.strip() for x in v.split(","))
    return out


async def body_json(request: web.Request) -> tuple[Any, web.Response | None]:
    """The request's JSON body, or the 422 to answer: empty, not JSON (orjson also refuses
    nesting past 1,024 levels), or nested deeper than `MAX_DEPTH` (the models, the store and
    the renderers then never meet a body deep enough to exhaust recursion)."""
    raw = await request.read()
    if not raw.strip():
        return None, invalid([("/", ["a JSON body is required"])], "Invalid JSON")
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as e:
        return None, invalid([("/", [f"invalid JSON: {e}"])], "Invalid JSON")
    where = too_deep(body)
    if where is not None:
        return None, invalid([(where, [f"nested deeper than {MAX_DEPTH} levels"])])
    return body, None


def deployed(d: Deployment, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return respond({"deploymentId": d.id, "version": d.version}, status, headers)


def not_found_app(aid: str) -> web.Response:
    return error(404, f"App '{aid}' does not exist")


def origin(request: web.Request) -> Origin:
    """Who asked (for Marathon's ``api_post_event``)."""
    return Origin(request.remote, request.path)


def dotted_url(request: web.Request, segments: list[str]) -> web.Response | None:
    """The 422 for a change (any method but GET/HEAD) addressed through a path with a ``.`` or
    ``..`` segment (``PUT /v2/apps/../../etc/passwd`` would otherwise name ``/etc/passwd``),
    None when there is none. Called first by the app and group routers."""
    if request.method in ("GET", "HEAD") or not any(s in (".", "..") for s in segments):
        return None
    return invalid([("/id", url_id_errors(segments))])


def parse_app(raw: Any) -> tuple[AppSpec | None, Errors]:
    """A request's app definition, validated with Marathon's defaults, as an `AppSpec`."""
    app, errs = normalize(raw)
    return (AppSpec.parse(app) if app is not None else None), errs


def new_app_errors(view: CoreView, app: AppSpec) -> Errors:
    """What besides its own definition makes `app` invalid next to the apps in `view`: a
    dependency cycle, or a group of the same id. Called by the app create/update handlers
    and by ``POST /v2/fit`` (which validates as a create would)."""
    apps: dict[str, Json] = {a: s.json for a, s in view.apps.items()}
    apps[app.id] = app.json
    errs = cycle_errors(apps, view.group_deps())
    if app.id in view.groups:
        errs.append(("/id", [f"a group with id {app.id} already exists"]))
    return errs
