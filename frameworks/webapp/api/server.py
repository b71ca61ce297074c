"""The Marathon v2 REST API on aiohttp: `build_app(service)`.

Routes take nested app ids and doubled slashes (``/v2/apps//shop/web/tasks``): everything
under ``/v2/apps`` and ``/v2/groups`` is parsed by hand. Query booleans accept
``true/false/True/False``; ``embed`` may repeat. Errors use Marathon's bodies: 404
``{"message"}``, 409 ``{"message", "deployments": [{"id"}]}``, 422 ``{"message", "details":
[{"path", "errors"}]}``; a refused request changes nothing (`frameworks.webapp.api.http`).
Handlers read the state through the service's read-only `view` and change it through one
service method per request kind (`WebappService.deploy`, `kill_tasks` ...), which runs the
core under the service lock and carries out its actions. ``POST /v2/fit`` (a dry run: would
this app or group fit now, and why not) is `frameworks.webapp.api.fit`. Also served: ``/metrics``
(Marathon's JSON), ``/metrics/prometheus`` and ``/debug/stimuli`` (`frameworks.webapp.api.metrics`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence

from aiohttp import web

from dcos.common.metrics import add_prometheus_routes
from dcos.common.openapi import add_openapi_route
from dcos.protocol.ids import TaskID
from frameworks.webapp.actions import Conflict, Deploy, KillTasks, ResetDelay, StopDeployment
from frameworks.webapp.api.fit import FitApi
from frameworks.webapp.api.groups import GroupsApi
from frameworks.webapp.api.http import (
    body_json,
    conflict,
    deployed,
    dotted_url,
    embeds,
    error,
    flag,
    invalid,
    new_app_errors,
    not_found_app,
    origin,
    parse_app,
    respond,
)  # fmt: skip
from frameworks.webapp.api.metrics import collect, marathon_metrics, stimuli
from frameworks.webapp.api.openapi import webapp_spec
from frameworks.webapp.api.proxy import LeaderProxy, add_leader_header
from frameworks.webapp.api.render import AppRenderer, app_json, info_json, queue_json, task_json
from frameworks.webapp.api.security import ApiSecurity
from frameworks.webapp.callbacks import validate_callback_url
from frameworks.webapp.core import CoreView
from frameworks.webapp.deployments import Deployment
from frameworks.webapp.events import sse_handler
from frameworks.webapp.ha import HaState, LeaderRecord
from frameworks.webapp.instances import Instance
from frameworks.webapp.model.app import Errors, absolute, merge
from frameworks.webapp.model.paths import id_errors
from frameworks.webapp.model.spec import AppId, AppSpec
from frameworks.webapp.scheduler import WebappService

Json = dict[str, object]
Changes = dict[AppId, AppSpec | None]


class Api:
    """The /v2 handlers. They read the state through `service.view` and change it only
    through the service's request methods (`deploy`, `kill_tasks` ...)."""

    def __init__(self, service: WebappService, ha: HaState,
                 abdicate: Callable[[], bool] | None = None,
                 security: ApiSecurity | None = None) -> None:  # fmt: skip
        self.s = service
        self.ha = ha
        self.abdicate = abdicate
        self.sec = security or ApiSecurity()
        self.render = AppRenderer(service.view)
        service.loaded_hooks.append(self._loaded)

    @property
    def view(self) -> CoreView:
        """The service's current core (a new one each leadership term)."""
        return self.s.view

    def _loaded(self) -> None:
        """The service loaded its state into a (new) core: render from that one."""
        self.render.reset(self.s.view)
        self.render.warm()

    def now(self) -> float:
        return self.s.time()

    def _has_hc(self, inst: Instance) -> bool:
        app = self.view.app_def(inst.app_id)
        return app is not None and app.has_health

    # -- /v2/apps --------------------------------------------------------------------------

    async def apps(self, request: web.Request) -> web.StreamResponse:
        tail = request.match_info.get("tail", "")
        segs = [s for s in tail.split("/") if s]
        m = request.method
        refused = dotted_url(request, segs)
        if refused is not None:
            return refused
        if not segs:
            if m == "GET":
                return self.list_apps(request)
            if m == "POST":
                return await self.create_app(request)
            if m == "PUT":
                return await self.update_apps(request)
            raise web.HTTPMethodNotAllowed(m, ["GET", "POST", "PUT"])
        if segs[-1] == "restart" and len(segs) > 1 and m == "POST":
            return await self.restart_app(request, "/" + "/".join(segs[:-1]))
        if segs[-1] == "tasks" and len(segs) > 1:
            return await self.app_tasks(request, "/" + "/".join(segs[:-1]))
        if len(segs) > 2 and segs[-2] == "tasks":
            return await self.app_task(request, "/" + "/".join(segs[:-2]), segs[-1])
        if segs[-1] == "versions" and len(segs) > 1:
            return self.versions(request, "/" + "/".join(segs[:-1]), None)
        if len(segs) > 2 and segs[-2] == "versions":
            return self.versions(request, "/" + "/".join(segs[:-2]), segs[-1])
        aid = "/" + "/".join(segs)
        if m == "GET":
            app = self.view.apps.get(AppId(aid))
            if app is None:
                return not_found_app(aid)
            return respond({"app": app_json(self.view, app, embeds(request), single=True)})
        if m == "PUT":
            return await self.update_app(request, aid)
        if m == "DELETE":
            return await self.delete_app(request, aid)
        raise web.HTTPMethodNotAllowed(m, ["GET", "PUT", "DELETE"])

    def list_apps(self, request: web.Request) -> web.Response:
        cmd, ident, label = (request.query.get(k) for k in ("cmd", "id", "label"))
        apps = self.view.apps
        out = []
        for aid in sorted(apps):
            app = apps[aid]
            if cmd and cmd not in (app.cmd or ""):
                continue
            if ident and ident.lower() not in aid:
                continue
            if label and not label_matches(app.labels, label):
                continue
            out.append(app)
        body = self.render.apps_bytes(out, embeds(request))
        return web.Response(body=body, content_type="application/json")

    def _validate_new(self, app: AppSpec) -> Errors:
        return new_app_errors(self.view, app)

    async def create_app(self, request: web.Request) -> web.Response:
        raw, bad = await body_json(request)
        if bad:
            return bad
        app, errs = parse_app(raw)
        if app is None:
            return invalid(errs)
        if app.id in self.view.apps or self.view.is_stopping(app.id):
            return error(409, f"An app with id [{app.id}] already exists.")
        errs = self._validate_new(app)
        if errs:
            return invalid(errs)
        refused = self._refused(request, {app.id: app})
        if refused is not None:
            return refused
        d = await self.s.deploy(Deploy({app.id: app}, force=flag(request, "force")), origin(request))
        if isinstance(d, Conflict):
            return conflict(d)
        body = app_json(self.view, self.view.apps[app.id], single=True)
        body["deployments"] = [{"id": d.id}]
        return respond(body, 201, {"Location": f"/v2/apps{app.id}"})

    def _refused(self, request: web.Request, changes: Changes) -> web.Response | None:
        """The 403 when the caller may not change these apps (``webapp_groups``), use the
        secrets they newly reference (``use_secrets``) or run them as their new ``user``
        (``run_tasks``); None when allowed or security is off."""
        return self.sec.may_deploy(request, self.view, changes)

    async def _change(self, request: web.Request, changes: Changes, restart: frozenset[AppId] = frozenset(),
                      status: int = 200) -> web.Response:  # fmt: skip
        refused = self._refused(request, changes)
        if refused is not None:
            return refused
        d = await self.s.deploy(Deploy(changes, force=flag(request, "force"), restart=restart), origin(request))
        if isinstance(d, Conflict):
            return conflict(d)
        return deployed(d, status)

    async def update_app(self, request: web.Request, aid: str) -> web.Response:
        raw, bad = await body_json(request)
        if bad:
            return bad
        current = self.view.apps.get(AppId(aid))
        if isinstance(raw, dict) and set(raw) == {"version"} and current is not None:
            old = self.view.version_of(aid, str(raw["version"]))
            if old is None:
                return error(404, f"App '{aid}' does not exist in version {raw['version']}")
            return await self._change(request, {AppId(aid): old})
        if isinstance(raw, dict) and "id" in raw and (not isinstance(raw["id"], str) or absolute(raw["id"]) != aid):
            return invalid([("/id", ["the id in the body does not match the path"])])
        # Marathon: PUT merges into the current definition (partialUpdate=true, the default);
        # partialUpdate=false replaces it, so a field the new body leaves out goes back to its default
        if current is not None and flag(request, "partialUpdate", default=True):
            merged = merge(current.json, raw)
        else:
            merged = {**(raw if isinstance(raw, dict) else {}), "id": aid}
        app, errs = parse_app(merged)
        if app is None:
            return invalid(errs)
        errs = self._validate_new(app)
        if errs:
            return invalid(errs)
        return await self._change(request, {app.id: app}, status=200 if current is not None else 201)

    async def update_apps(self, request: web.Request) -> web.Response:
        raw, bad = await body_json(request)
        if bad:
            return bad
        if not isinstance(raw, list):
            return invalid([("/", ["expected a list of apps"])])
        changes: Changes = {}
        for i, item in enumerate(raw):
            rid = item.get("id") if isinstance(item, dict) else None
            aid, id_errs = id_errors(rid, "/") if isinstance(rid, str) else ("", [])
            if id_errs:
                return invalid([(f"({i})/id", id_errs)])
            cur = self.view.apps.get(AppId(aid))
            app, errs = parse_app(merge(cur.json, item) if cur else item)
            if app is None:
                return invalid([(f"({i}){p}", e) for p, e in errs])
            changes[app.id] = app
        return await self._change(request, changes)

    async def delete_app(self, request: web.Request, aid: str) -> web.Response:
        if aid not in self.view.apps:
            return not_found_app(aid)
        return await self._change(request, {AppId(aid): None})

    async def restart_app(self, request: web.Request, aid: str) -> web.Response:
        app = self.view.apps.get(AppId(aid))
        if app is None:
            return not_found_app(aid)
        return await self._change(request, {app.id: app}, restart=frozenset({app.id}))

    def versions(self, request: web.Request, aid: str, version: str | None) -> web.Response:
        if aid not in self.view.apps:
            return not_found_app(aid)
        if version is None:
            return respond({"versions": [v.version for v in reversed(self.view.app_versions(aid))]})
        v = self.view.version_of(aid, version)
        if v is not None:
            return respond(app_json(self.view, v))
        return error(404, f"App '{aid}' does not exist in version {version}")

    # -- tasks -----------------------------------------------------------------------------

    async def app_tasks(self, request: web.Request, aid: str) -> web.Response:
        app = self.view.apps.get(AppId(aid))
        if app is None:
            return not_found_app(aid)
        insts = self.view.app_instances(aid)
        if request.method == "GET":
            return respond({"tasks": [task_json(i, app.has_health) for i in insts]})
        if request.method != "DELETE":
            raise web.HTTPMethodNotAllowed(request.method, ["GET", "DELETE"])
        host = request.query.get("host")
        ids = [i.task_id for i in insts if host is None or i.host == host]
        return await self.kill_tasks(request, ids)

    async def app_task(self, request: web.Request, aid: str, tid: str) -> web.Response:
        app = self.view.apps.get(AppId(aid))
        if app is None:
            return not_found_app(aid)
        inst = self.view.tasks.get(TaskID(tid))
        if inst is None or inst.app_id != aid:
            return error(404, f"Task '{tid}' does not exist")
        if request.method == "GET":
            return respond({"task": task_json(inst, app.has_health)})
        if request.method != "DELETE":
            raise web.HTTPMethodNotAllowed(request.method, ["GET", "DELETE"])
        resp = await self.kill_tasks(request, [tid])
        if flag(request, "scale") or resp.status != 200:
            return resp
        return respond({"task": task_json(inst, app.has_health)})

    async def kill_tasks(self, request: web.Request, ids: Sequence[str]) -> web.Response:
        """Kill tasks (they are replaced), or with ``scale=true`` also lower the apps'
        instances by the number killed (a deployment), or with ``wipe=true`` kill them and
        expunge their records at once (not with ``scale``: 400)."""
        scale, wipe = flag(request, "scale"), flag(request, "wipe")
        if scale and wipe:
            return error(400, "You cannot use scale and wipe at the same time.")
        known = (self.view.tasks.get(TaskID(t)) for t in ids)
        refused = self.sec.may_change(request, (i.app_id for i in known if i is not None))
        if refused is not None:
            return refused
        req = KillTasks(tuple(TaskID(t) for t in ids), scale=scale, wipe=wipe, force=flag(request, "force"))
        result = await self.s.kill_tasks(req)
        if isinstance(result, Conflict):
            return conflict(result)
        if isinstance(result, Deployment):
            return deployed(result)
        return respond({"tasks": [task_json(i, self._has_hc(i)) for i in result]})

    async def all_tasks(self, request: web.Request) -> web.Response:
        wanted = {s.lower() for s in request.query.getall("status", [])}
        out = []
        for inst in list(self.view.tasks.values()):
            state = inst.state.removeprefix("TASK_").lower()
            if wanted and state not in wanted:
                continue
            out.append(task_json(inst, self._has_hc(inst)))
        return respond({"tasks": out})

    async def delete_tasks(self, request: web.Request) -> web.Response:
        raw, bad = await body_json(request)
        if bad:
            return bad
        ids = raw.get("ids") if isinstance(raw, dict) else None
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
            return invalid([("/ids", ["expected a list of task ids"])])
        return await self.kill_tasks(request, ids)

    # -- deployments, queue, misc -----------------------------------------------------------

    async def list_deployments(self, request: web.Request) -> web.Response:
        return respond([d.to_json(self._readiness(d)) for d in self.view.deployments.values()])

    def _readiness(self, d: Deployment) -> dict[str, list[Json]]:
        return {a: [i.readiness for i in self.view.app_instances(a) if i.readiness] for a in d.affected}

    async def delete_deployment(self, request: web.Request) -> web.Response:
        did = request.match_info["id"]
        if did not in self.view.deployments:
            return error(404, f"DeploymentPlan {did} does not exist")
        refused = self.sec.may_change(request, self.view.deployments[did].affected)
        if refused is not None:
            return refused
        force = flag(request, "force")
        result = await self.s.delete_deployment(StopDeployment(did, force))
        if isinstance(result, Deployment):
            return deployed(result)
        if result:
            return respond({}, 202)
        return error(404, f"DeploymentPlan {did} does not exist")

    async def queue(self, request: web.Request) -> web.Response:
        emb = embeds(request)
        return respond(queue_json(self.view, self.now(), "lastUnusedOffers" in emb))

    async def reset_delay(self, request: web.Request) -> web.Response:
        tail = request.match_info["tail"].removesuffix("/delay")
        refused = dotted_url(request, [s for s in tail.split("/") if s])
        if refused is not None:
            return refused
        aid = absolute(tail)
        if aid not in self.view.apps:
            return not_found_app(aid)
        refused = self.sec.may_change(request, [aid])
        if refused is not None:
            return refused
        await self.s.reset_delay(ResetDelay(AppId(aid)))
        return web.Response(status=204)

    async def info(self, request: web.Request) -> web.Response:
        """``/v2/info``, answered by every instance (a follower reads the framework id from
        the store)."""
        fid = self.s.framework_id
        if not self.ha.leading:
            try:
                fid = await self.s.store.framework_id()
            except Exception:  # noqa: BLE001 - the store unreachable: the rest still answers
                fid = None
        return respond(info_json(self.s, self.ha, fid))

    async def leader(self, request: web.Request) -> web.Response:
        """``GET /v2/leader`` (any instance): ``{"leader": "host:port"}``, 404 while none is
        known. ``DELETE`` (the leader's; followers proxy it): abdicate, another instance then
        leads (Marathon's semantics)."""
        if request.method == "DELETE":
            refused = self.sec.may_admin(request)
            if refused is not None:
                return refused
            if not self.ha.leading:
                return error(404, "There is no leader")
            if self.abdicate is not None:
                self.abdicate()
            return respond({"message": "Leadership abdicated"})
        leader = self.ha.current_leader
        if leader is None:
            return error(404, "There is no leader")
        return respond({"leader": leader.host_port})

    async def metrics(self, request: web.Request) -> web.Response:
        return respond(marathon_metrics(self.s))

    async def stimuli(self, request: web.Request) -> web.Response:
        """``GET /debug/stimuli?limit=N``: the core's last inputs and the actions they caused."""
        return stimuli(request, self.s.stimuli)

    async def subscriptions(self, request: web.Request) -> web.Response:
        """``/v2/eventSubscriptions``: GET lists the callback URLs; POST/DELETE
        ``?callbackUrl=URL`` registers/unregisters one (persisted), answering with the
        ``subscribe_event``/``unsubscribe_event`` that also goes out on the event stream."""
        m = request.method
        if m == "GET":
            return respond({"callbackUrls": self.s.callbacks.urls})
        if m not in ("POST", "DELETE"):
            raise web.HTTPMethodNotAllowed(m, ["GET", "POST", "DELETE"])
        url = request.query.get("callbackUrl")
        problem = validate_callback_url(url)
        if problem or url is None:
            return invalid([("/callbackUrl", [problem or "callbackUrl is required"])])
        refused = self.sec.may_admin(request) or (self.sec.check_callback(url) if m == "POST" else None)
        if refused is not None:
            return refused
        return respond(await self.s.subscribe(url, m == "POST", request.remote))

    async def events(self, request: web.Request) -> web.StreamResponse:
        """``/v2/events``: at most `MAX_STREAMS` open per principal (429 beyond)."""
        refused = self.sec.acquire_stream(request)
        if refused is not None:
            return refused
        try:
            return await sse_handler(request, self.s.bus)
        finally:
            self.sec.release_stream(request)

    async def ping(self, request: web.Request) -> web.Response:
        return web.Response(text="pong")


LABEL_EXPR = re.compile(r"^\s*([^!=\s]+)\s*(==|!=|\s+in\s+|\s+notin\s+)?\s*(.*?)\s*$")


def label_matches(labels: Mapping[str, str], selector: str) -> bool:
    """Marathon label selectors, comma separated: ``k``, ``k==v``, ``k!=v``, ``k in (a,b)``."""
    for part in re.split(r",(?![^(]*\))", selector):
        m = LABEL_EXPR.match(part)
        if not m:
            return False
        key, op, val = m.group(1), (m.group(2) or "").strip(), m.group(3)
        vals = [v.strip() for v in val.strip("()").split(",")] if op in ("in", "notin") else [val]
        have = labels.get(key)
        if (not op and have is None) or (op == "==" and have != val) or (op == "!=" and have == val):
            return False
        if (op == "in" and have not in vals) or (op == "notin" and have in vals):
            return False
    return True


API_KEY = web.AppKey("api", Api)
SERVICE_KEY = web.AppKey("service", WebappService)
PROXY_KEY = web.AppKey("proxy", LeaderProxy)


def build_app(service: WebappService, ha: HaState | None = None,
              abdicate: Callable[[], bool] | None = None,
              security: ApiSecurity | None = None) -> web.Application:  # fmt: skip
    """The API of `service`. `ha` says whether this instance leads and who does (default: a
    single instance that always leads); a follower proxies ``/v2`` to the leader
    (`LeaderProxy`). `abdicate` is `LeaderLoop.abdicate` (``DELETE /v2/leader``). `security`:
    authentication, ACLs and limits (`frameworks.webapp.api.security`; default: security off,
    with the body, stream and callback limits)."""
    sec = security or ApiSecurity()
    if ha is None:
        scheme = "https" if sec.on else "http"
        me = LeaderRecord("solo", service.hostname, service.http_port,
                          f"{scheme}://{service.hostname}:{service.http_port}", "")  # fmt: skip
        ha = HaState(me, leading=True)
    api = Api(service, ha, abdicate, sec)
    proxy = LeaderProxy(ha, ssl=sec.ctx.client_ssl if sec.ctx else None, extra_headers=sec.forward_headers)
    app = web.Application(client_max_size=sec.max_body, middlewares=[*sec.middlewares(), proxy.middleware])
    app[PROXY_KEY] = proxy
    app.on_response_prepare.append(add_leader_header(ha))
    app[API_KEY] = api
    app[SERVICE_KEY] = service
    r = app.router
    r.add_route("*", "/v2/apps{tail:.*}", api.apps)
    r.add_get("/v2/tasks", api.all_tasks)
    r.add_post("/v2/tasks/delete", api.delete_tasks)
    r.add_get("/v2/deployments", api.list_deployments)
    r.add_delete("/v2/deployments/{id}", api.delete_deployment)
    r.add_get("/v2/queue", api.queue)
    r.add_delete("/v2/queue/{tail:.+}", api.reset_delay)
    r.add_get("/v2/info", api.info)
    r.add_get("/v2/leader", api.leader)
    r.add_delete("/v2/leader", api.leader)
    r.add_get("/v2/events", api.events)
    r.add_route("*", "/v2/eventSubscriptions", api.subscriptions)
    r.add_get("/ping", api.ping)
    r.add_get("/metrics", api.metrics)
    r.add_get("/debug/stimuli", api.stimuli)
    GroupsApi(service, api.render, sec).add_routes(r)
    FitApi(service).add_routes(r)
    add_openapi_route(app, webapp_spec())
    add_prometheus_routes(app, lambda: collect(service))
    app.on_startup.append(_warm)
    app.on_cleanup.append(_close_callbacks)
    return app


async def _warm(app: web.Application) -> None:
    app[API_KEY].render.warm()  # state already in the core (tests, benchmarks): render it once


async def _close_callbacks(app: web.Application) -> None:
    await app[SERVICE_KEY].callbacks.close()
    await app[PROXY_KEY].close()
