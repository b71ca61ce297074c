"""The Marathon v2 REST API on aiohttp: `build_app(service)`.

Routes take nested app ids and doubled slashes (``/v2/apps//shop/web/tasks``): everything
under ``/v2/apps`` and ``/v2/groups`` is parsed by hand. Query booleans accept
``true/false/True/False``; ``embed`` may repeat. Errors use Marathon's bodies: 404
``{"message"}``, 409 ``{"message", "deployments": [{"id"}]}``, 422 ``{"message", "details":
[{"path", "errors"}]}``; a refused request changes nothing. Handlers that change state run
under the service lock and finish with `service.apply` (persist, publish, send).
"""

from __future__ import annotations

import re
from typing import Any

import orjson
from aiohttp import web

from frameworks.webapp.api import groups as group_routes
from frameworks.webapp.api.render import AppRenderer, app_json, info_json, queue_json, task_json
from frameworks.webapp.callbacks import validate_callback_url
from frameworks.webapp.core import Action, Conflict, Deployment
from frameworks.webapp.events import sse_handler
from frameworks.webapp.model.app import Errors, absolute, merge, normalize
from frameworks.webapp.model.group import cycle_errors
from frameworks.webapp.model.json import dumps, iso
from frameworks.webapp.scheduler import WebappService

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
    raw = await request.read()
    if not raw.strip():
        return None, invalid([("/", ["a JSON body is required"])], "Invalid JSON")
    try:
        return orjson.loads(raw), None
    except orjson.JSONDecodeError as e:
        return None, invalid([("/", [f"invalid JSON: {e}"])], "Invalid JSON")


def deployed(d: Deployment, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return respond({"deploymentId": d.id, "version": d.version}, status, headers)


def not_found_app(aid: str) -> web.Response:
    return error(404, f"App '{aid}' does not exist")


class Api:
    def __init__(self, service: WebappService) -> None:
        self.s = service
        self.core = service.core
        self.render = AppRenderer(service.core)
        service.loaded_hooks.append(self.render.warm)

    def now(self) -> float:
        return self.s.time()

    async def commit(self) -> None:
        await self.s.apply(self.core.evaluate(self.now()))

    def post_event(self, request: web.Request, app: Json | None, at: int | None = None) -> None:
        """Marathon's api_post_event, placed before the events of the change it caused."""
        self.core.events.insert(len(self.core.events) if at is None else at, ("api_post_event", {
            "clientIp": request.remote, "uri": request.path, "appDefinition": app or {}}))  # fmt: skip

    # -- /v2/apps --------------------------------------------------------------------------

    async def apps(self, request: web.Request) -> web.StreamResponse:
        tail = request.match_info.get("tail", "")
        segs = [s for s in tail.split("/") if s]
        m = request.method
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
            app = self.core.apps.get(aid)
            if app is None:
                return not_found_app(aid)
            return respond({"app": app_json(self.core, app, embeds(request), single=True)})
        if m == "PUT":
            return await self.update_app(request, aid)
        if m == "DELETE":
            return await self.delete_app(request, aid)
        raise web.HTTPMethodNotAllowed(m, ["GET", "PUT", "DELETE"])

    def list_apps(self, request: web.Request) -> web.Response:
        cmd, ident, label = (request.query.get(k) for k in ("cmd", "id", "label"))
        out = []
        for aid in sorted(self.core.apps):
            app = self.core.apps[aid]
            if cmd and cmd not in (app.get("cmd") or ""):
                continue
            if ident and ident.lower() not in aid:
                continue
            if label and not label_matches(app.get("labels") or {}, label):
                continue
            out.append(app)
        body = self.render.apps_bytes(out, embeds(request))
        return web.Response(body=body, content_type="application/json")

    def _validate_new(self, app: Json) -> Errors:
        apps = {**self.core.apps, app["id"]: app}
        errs = cycle_errors(apps, self.core.group_deps())
        if app["id"] in self.core.groups:
            errs.append(("/id", [f"a group with id {app['id']} already exists"]))
        return errs

    async def create_app(self, request: web.Request) -> web.Response:
        raw, bad = await body_json(request)
        if bad:
            return bad
        app, errs = normalize(raw)
        if app is None:
            return invalid(errs)
        if app["id"] in self.core.apps or app["id"] in self.core.stopping:
            return error(409, f"An app with id [{app['id']}] already exists.")
        errs = self._validate_new(app)
        if errs:
            return invalid(errs)
        async with self.s._lock:
            mark = len(self.core.events)
            d = self.core.deploy(self.now(), {app["id"]: app}, force=flag(request, "force"))
            if isinstance(d, Conflict):
                return conflict(d)
            self.post_event(request, self.core.apps[app["id"]], mark)
            await self.commit()
        body = app_json(self.core, self.core.apps[app["id"]], single=True)
        body["deployments"] = [{"id": d.id}]
        return respond(body, 201, {"Location": f"/v2/apps{app['id']}"})

    async def _change(self, request: web.Request, changes: dict[str, Json | None],
                      restart: set[str] | None = None, status: int = 200) -> web.Response:  # fmt: skip
        async with self.s._lock:
            mark = len(self.core.events)
            d = self.core.deploy(self.now(), changes, force=flag(request, "force"), restart=restart or ())
            if isinstance(d, Conflict):
                return conflict(d)
            for aid, app in changes.items():
                self.post_event(request, self.core.apps.get(aid) or app, mark)
            await self.commit()
        return deployed(d, status)

    async def update_app(self, request: web.Request, aid: str) -> web.Response:
        raw, bad = await body_json(request)
        if bad:
            return bad
        current = self.core.apps.get(aid)
        if isinstance(raw, dict) and set(raw) == {"version"} and current is not None:
            old = next((v for v in self.core.versions.get(aid, []) if v.get("version") == raw["version"]), None)
            if old is None:
                return error(404, f"App '{aid}' does not exist in version {raw['version']}")
            return await self._change(request, {aid: dict(old)})
        if isinstance(raw, dict) and "id" in raw and absolute(str(raw["id"])) != aid:
            return invalid([("/id", ["the id in the body does not match the path"])])
        merged = merge(current, raw) if current is not None else {**(raw if isinstance(raw, dict) else {}), "id": aid}
        app, errs = normalize(merged)
        if app is None:
            return invalid(errs)
        errs = self._validate_new(app)
        if errs:
            return invalid(errs)
        return await self._change(request, {aid: app}, status=200 if current is not None else 201)

    async def update_apps(self, request: web.Request) -> web.Response:
        raw, bad = await body_json(request)
        if bad:
            return bad
        if not isinstance(raw, list):
            return invalid([("/", ["expected a list of apps"])])
        changes: dict[str, Json | None] = {}
        for i, item in enumerate(raw):
            aid = absolute(str((item or {}).get("id", ""))) if isinstance(item, dict) else ""
            cur = self.core.apps.get(aid)
            app, errs = normalize(merge(cur, item) if cur else item)
            if app is None:
                return invalid([(f"({i}){p}", e) for p, e in errs])
            changes[app["id"]] = app
        return await self._change(request, changes)

    async def delete_app(self, request: web.Request, aid: str) -> web.Response:
        if aid not in self.core.apps:
            return not_found_app(aid)
        return await self._change(request, {aid: None})

    async def restart_app(self, request: web.Request, aid: str) -> web.Response:
        app = self.core.apps.get(aid)
        if app is None:
            return not_found_app(aid)
        return await self._change(request, {aid: dict(app)}, restart={aid})

    def versions(self, request: web.Request, aid: str, version: str | None) -> web.Response:
        if aid not in self.core.apps:
            return not_found_app(aid)
        vs = self.core.versions.get(aid, [])
        if version is None:
            return respond({"versions": [v["version"] for v in reversed(vs)]})
        for v in vs:
            if v.get("version") == version:
                return respond(app_json(self.core, v))
        return error(404, f"App '{aid}' does not exist in version {version}")

    # -- tasks -----------------------------------------------------------------------------

    async def app_tasks(self, request: web.Request, aid: str) -> web.Response:
        app = self.core.apps.get(aid)
        if app is None:
            return not_found_app(aid)
        insts = self.core.app_instances(aid)
        if request.method == "GET":
            return respond({"tasks": [task_json(i, app) for i in insts]})
        if request.method != "DELETE":
            raise web.HTTPMethodNotAllowed(request.method, ["GET", "DELETE"])
        host = request.query.get("host")
        ids = [i.task_id for i in insts if host is None or i.host == host]
        return await self.kill_tasks(request, ids)

    async def app_task(self, request: web.Request, aid: str, tid: str) -> web.Response:
        app = self.core.apps.get(aid)
        if app is None:
            return not_found_app(aid)
        inst = self.core.tasks.get(tid)
        if inst is None or inst.app_id != aid:
            return error(404, f"Task '{tid}' does not exist")
        if request.method == "GET":
            return respond({"task": task_json(inst, app)})
        if request.method != "DELETE":
            raise web.HTTPMethodNotAllowed(request.method, ["GET", "DELETE"])
        resp = await self.kill_tasks(request, [tid])
        if flag(request, "scale"):
            return resp
        return respond({"task": task_json(inst, app)})

    async def kill_tasks(self, request: web.Request, ids: list[str]) -> web.Response:
        """Kill tasks (they are replaced), or with ``scale=true`` also lower the apps'
        instances by the number killed (a deployment), or with ``wipe=true`` kill them and
        expunge their records at once (`WebappCore.expunge`; not with ``scale``: 400)."""
        scale, wipe = flag(request, "scale"), flag(request, "wipe")
        if scale and wipe:
            return error(400, "You cannot use scale and wipe at the same time.")
        now = self.now()
        async with self.s._lock:
            known = [self.core.tasks[t] for t in ids if t in self.core.tasks]
            if scale:
                per_app: dict[str, int] = {}
                for inst in known:
                    if not inst.killing:
                        per_app[inst.app_id] = per_app.get(inst.app_id, 0) + 1
                changes: dict[str, Json | None] = {}
                for aid, n in per_app.items():
                    app = dict(self.core.apps[aid])
                    app["instances"] = max(0, app["instances"] - n)
                    changes[aid] = app
                clash = self.core.conflicts(changes)
                if clash and not flag(request, "force"):
                    return conflict(Conflict(clash))
            actions: list[Action]
            if wipe:  # kill and forget the records now: replacements are planned at once
                actions = [k for inst in known if (k := self.core.expunge(inst.task_id, now)) is not None]
            else:
                actions = [k for inst in known if (k := self.core.kill(inst.task_id, now)) is not None]
            await self.s.apply(actions)
            if scale:
                d = self.core.deploy(now, changes, force=True)
                assert isinstance(d, Deployment)
                await self.commit()
                return deployed(d)
            await self.commit()
        return respond({"tasks": [task_json(i, self.core.app_def(i.app_id)) for i in known]})

    async def all_tasks(self, request: web.Request) -> web.Response:
        wanted = {s.lower() for s in request.query.getall("status", [])}
        out = []
        for inst in list(self.core.tasks.values()):
            state = inst.state.removeprefix("TASK_").lower()
            if wanted and state not in wanted:
                continue
            out.append(task_json(inst, self.core.app_def(inst.app_id)))
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
        return respond([d.to_json(self._readiness(d)) for d in self.core.deployments.values()])

    def _readiness(self, d: Deployment) -> dict[str, list[Json]]:
        return {a: [i.readiness for i in self.core.app_instances(a) if i.readiness] for a in d.affected}

    async def delete_deployment(self, request: web.Request) -> web.Response:
        did = request.match_info["id"]
        if did not in self.core.deployments:
            return error(404, f"DeploymentPlan {did} does not exist")
        async with self.s._lock:
            if flag(request, "force"):
                self.core.stop_deployment(did, self.now())
                await self.commit()
                return respond({}, 202)
            d = self.core.rollback(did, self.now())
            await self.commit()
        assert d is not None
        return deployed(d)

    async def queue(self, request: web.Request) -> web.Response:
        emb = embeds(request)
        return respond(queue_json(self.core, self.now(), "lastUnusedOffers" in emb))

    async def reset_delay(self, request: web.Request) -> web.Response:
        aid = absolute(request.match_info["tail"].removesuffix("/delay"))
        if aid not in self.core.apps:
            return not_found_app(aid)
        async with self.s._lock:
            self.core.app_state(aid).backoff.reset()
            await self.commit()
        return web.Response(status=204)

    async def info(self, request: web.Request) -> web.Response:
        return respond(info_json(self.s))

    async def leader(self, request: web.Request) -> web.Response:
        if request.method == "DELETE":
            return respond({"message": "Leadership abdicated"})
        return respond({"leader": f"{self.s.hostname}:{self.s.http_port}"})

    async def metrics(self, request: web.Request) -> web.Response:
        core = self.core
        gauges = {
            "service.mesosphere.marathon.app.count": {"value": len(core.apps)},
            "service.mesosphere.marathon.task.running.count": {
                "value": sum(1 for i in core.tasks.values() if i.running)},
            "service.mesosphere.marathon.task.staged.count": {
                "value": sum(1 for i in core.tasks.values() if not i.running)},
            "service.mesosphere.marathon.deployments.active": {"value": len(core.deployments)},
            "service.mesosphere.marathon.uptime": {"value": self.now() - self.s.started_at},
            "webapp.events.subscribers": {"value": self.s.bus.subscribers},
            "webapp.callbacks.subscribers": {"value": len(self.s.callbacks.urls)},
        }  # fmt: skip
        counters = {f"webapp.{k}": {"count": v} for k, v in self.s.metrics.items()}
        for name in ("delivered", "failed", "dropped", "retried"):
            total = sum(getattr(self.s.callbacks.stats(u), name) for u in self.s.callbacks.urls)
            counters[f"webapp.callbacks.{name}"] = {"count": total}
        return respond({"version": "4.0.0", "gauges": gauges, "counters": counters,
                        "histograms": {}, "meters": {}, "timers": {}})  # fmt: skip

    async def subscriptions(self, request: web.Request) -> web.Response:
        """``/v2/eventSubscriptions``: GET lists the callback URLs; POST/DELETE
        ``?callbackUrl=URL`` registers/unregisters one (persisted), answering with the
        ``subscribe_event``/``unsubscribe_event`` that also goes out on the event stream."""
        m = request.method
        callbacks = self.s.callbacks
        if m == "GET":
            return respond({"callbackUrls": callbacks.urls})
        if m not in ("POST", "DELETE"):
            raise web.HTTPMethodNotAllowed(m, ["GET", "POST", "DELETE"])
        url = request.query.get("callbackUrl")
        problem = validate_callback_url(url)
        if problem or url is None:
            return invalid([("/callbackUrl", [problem or "callbackUrl is required"])])
        kind = "subscribe_event" if m == "POST" else "unsubscribe_event"
        async with self.s._lock:
            if m == "POST":
                callbacks.add(url)
            else:
                callbacks.remove(url)
            await self.s.store.save_subscriptions(callbacks.urls)
            now = self.now()
            payload = {"clientIp": request.remote, "callbackUrl": url}
            self.s.bus.publish(kind, payload, now)
        return respond({**payload, "eventType": kind, "timestamp": iso(now)})


LABEL_EXPR = re.compile(r"^\s*([^!=\s]+)\s*(==|!=|\s+in\s+|\s+notin\s+)?\s*(.*?)\s*$")


def label_matches(labels: dict[str, str], selector: str) -> bool:
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


def build_app(service: WebappService) -> web.Application:
    api = Api(service)
    app = web.Application(client_max_size=16 * 1024 * 1024)
    app[API_KEY] = api
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
    async def events(request: web.Request) -> web.StreamResponse:
        return await sse_handler(request, service.bus)

    async def ping(request: web.Request) -> web.Response:
        return web.Response(text="pong")

    async def warm(_: web.Application) -> None:
        api.render.warm()  # state already in the core (tests, benchmarks): render it once

    async def close_callbacks(_: web.Application) -> None:
        await service.callbacks.close()

    app.on_startup.append(warm)
    app.on_cleanup.append(close_callbacks)
    r.add_get("/v2/events", events)
    r.add_route("*", "/v2/eventSubscriptions", api.subscriptions)
    r.add_get("/ping", ping)
    r.add_get("/metrics", api.metrics)
    group_routes.add_routes(r, api)
    return app
