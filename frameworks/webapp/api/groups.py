"""/v2/groups routes: nested groups with dependencies (deployed in dependency order).

GET returns the nested tree; POST creates a group with its apps and subgroups (409 if it
exists); PUT replaces a group's apps (apps under it that the body no longer lists are
removed), or with ``{"scaleBy": f}`` scales every app under it; DELETE removes the group and
its apps. A dependency cycle is a 422. Every change made here keeps a version of the group
(`WebappCore.record_group_version`): ``GET /v2/groups/{id}/versions`` lists them (newest
first), ``GET .../versions/{v}`` shows one, and ``PUT .../versions/{v}`` (marathon-python's
``rollback_group``; also ``PUT /v2/groups/{id}`` with ``{"version": v}``) deploys the group back
to it. (As in Marathon, a group named ``versions`` cannot be addressed.) Registered by `frameworks.webapp.api.server.build_app`.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import orjson
from aiohttp import web

from frameworks.webapp.core import Conflict
from frameworks.webapp.model.app import absolute, config_of, merge
from frameworks.webapp.model.group import ancestors, cycle_errors, flatten_group, group_tree
from frameworks.webapp.model.json import APP_KEYS

if TYPE_CHECKING:
    from frameworks.webapp.api.server import Api

Json = dict[str, Any]


def _under(path: str, gid: str) -> bool:
    return gid == "/" or path == gid or path.startswith(gid.rstrip("/") + "/")


def add_routes(r: web.UrlDispatcher, api: Api) -> None:
    from frameworks.webapp.api import server as s

    core = api.core

    def tree(gid: str, embed: set[str]) -> Json:
        rendered = {a: orjson.Fragment(api.render.app_bytes(app, embed)) for a, app in core.apps.items()}
        return group_tree(rendered, core.groups, gid)

    def known(gid: str) -> bool:
        return gid == "/" or gid in core.groups or any(_under(a, gid) for a in core.apps)

    async def groups(request: web.Request) -> web.StreamResponse:
        tail = request.match_info.get("tail", "")
        segs = [x for x in tail.split("/") if x]
        if segs and segs[-1] == "versions":
            return await versions(request, "/" + "/".join(segs[:-1]), None)
        if len(segs) > 1 and segs[-2] == "versions":
            return await versions(request, "/" + "/".join(segs[:-2]), segs[-1])
        gid = absolute(tail)
        m = request.method
        if m == "GET":
            if not known(gid):
                return s.error(404, f"Group '{gid}' does not exist")
            return s.respond(tree(gid, s.embeds(request)))
        if m in ("POST", "PUT"):
            return await change(request, gid, create=m == "POST")
        if m == "DELETE":
            if not known(gid):
                return s.error(404, f"Group '{gid}' does not exist")
            doomed = {a: None for a in core.apps if _under(a, gid)}
            async with api.s._lock:
                d = core.deploy(api.now(), doomed, force=s.flag(request, "force"))
                if isinstance(d, Conflict):
                    return s.conflict(d)
                for g in [g for g in core.groups if g != "/" and _under(g, gid)]:
                    del core.groups[g]
                core.dirty_groups = True
                await api.commit()
            return s.deployed(d)
        raise web.HTTPMethodNotAllowed(m, ["GET", "POST", "PUT", "DELETE"])

    async def versions(request: web.Request, gid: str, version: str | None) -> web.Response:
        """GET .../versions (newest first), GET .../versions/{v} (the group then), PUT
        .../versions/{v} (roll the group back to it: a deployment)."""
        kept = core.group_versions.get(gid, [])
        if not kept and not known(gid):
            return s.error(404, f"Group '{gid}' does not exist")
        if version is None:
            if request.method != "GET":
                raise web.HTTPMethodNotAllowed(request.method, ["GET"])
            return s.respond([v["version"] for v in reversed(kept)])
        snap = core.group_version(gid, version)
        if snap is None:
            return s.error(404, f"Group '{gid}' does not exist in version {version}")
        if request.method == "GET":
            rendered = {a: {k: v for k, v in app.items() if k in APP_KEYS} for a, app in snap["apps"].items()}
            meta = {g: {"dependencies": deps, "version": version} for g, deps in snap["groups"].items()}
            return s.respond(group_tree(rendered, meta, gid))
        if request.method != "PUT":
            raise web.HTTPMethodNotAllowed(request.method, ["GET", "PUT"])
        return await rollback(request, gid, snap)

    async def rollback(request: web.Request, gid: str, snap: Json) -> web.Response:
        """Bring every app under `gid` back to the snapshot: changed ones are updated, apps
        added since are removed, removed ones come back (one deployment)."""
        changes: dict[str, Json | None] = {}
        for aid, app in snap["apps"].items():
            cur = core.apps.get(aid)
            if cur is None or config_of(cur) != config_of(app) or cur["instances"] != app["instances"]:
                changes[aid] = {k: v for k, v in app.items() if k not in ("version", "versionInfo")}
        for aid in core.apps:
            if _under(aid, gid) and aid not in snap["apps"]:
                changes[aid] = None
        gdeps = {g: list(d) for g, d in snap["groups"].items()}
        live = {a: v for a, v in {**core.apps, **changes}.items() if v is not None}
        errs = cycle_errors(live, {**core.group_deps(), **gdeps})
        if errs:
            return s.invalid(errs, "Dependency graph has cyclic dependencies.")
        return await commit(request, changes, gdeps, gid)

    async def change(request: web.Request, gid: str, create: bool) -> web.Response:
        raw, bad = await s.body_json(request)
        if bad:
            return bad
        if not isinstance(raw, dict):
            return s.invalid([("/", ["a group must be a JSON object"])])
        if not create and "version" in raw and not {"apps", "groups", "scaleBy"} & set(raw):
            snap = core.group_version(gid, str(raw["version"]))  # Marathon's other rollback form
            if snap is None:
                return s.error(404, f"Group '{gid}' does not exist in version {raw['version']}")
            return await rollback(request, gid, snap)
        if create:
            gid = absolute(str(raw.get("id", "")), gid) if raw.get("id") else gid
            if gid != "/" and gid in core.groups:
                return s.error(409, f"Group {gid} is already created. Use PUT to change this group.")
        if "scaleBy" in raw:
            f = raw["scaleBy"]
            if not isinstance(f, (int, float)) or f < 0:
                return s.invalid([("/scaleBy", ["scaleBy must be a number >= 0"])])
            changes: dict[str, Json | None] = {}
            for a, app in core.apps.items():
                if _under(a, gid):
                    changes[a] = {**app, "instances": math.ceil(app["instances"] * f)}
            return await commit(request, changes, {}, gid)
        body = {**raw, "id": gid}
        apps, gdeps, errors = flatten_group(body, "/")
        if errors:
            return s.invalid(errors)
        changes = {}
        for aid, app in apps.items():
            cur = core.apps.get(aid)
            if create and cur is not None:
                return s.error(409, f"An app with id [{aid}] already exists.")
            changes[aid] = app if cur is None else merge(cur, {k: v for k, v in app.items()})
        if "apps" in raw or "groups" in raw:
            for a in core.apps:
                if _under(a, gid) and a not in apps:
                    changes[a] = None
        all_apps = {**core.apps, **{a: v for a, v in changes.items() if v is not None}}
        all_apps = {a: v for a, v in all_apps.items() if changes.get(a, v) is not None}
        all_groups = {**core.group_deps(), **gdeps}
        errs = cycle_errors(all_apps, all_groups)
        if errs:
            return s.invalid(errs, "Dependency graph has cyclic dependencies.")
        return await commit(request, changes, gdeps, gid, status=201 if create else 200)

    async def commit(request: web.Request, changes: dict[str, Json | None],
                     gdeps: dict[str, list[str]], gid: str, status: int = 200) -> web.Response:  # fmt: skip
        async with api.s._lock:
            all_groups = {**core.group_deps(), **gdeps}
            d = core.deploy(api.now(), changes, force=s.flag(request, "force"), group_deps=all_groups)
            if isinstance(d, Conflict):
                return s.conflict(d)
            for g, deps in gdeps.items():
                core.groups[g] = {"dependencies": deps, "version": d.version}
            for g in [gid, *ancestors(gid)]:
                core.groups.setdefault(g, {"dependencies": [], "version": d.version})["version"] = d.version
            core.dirty_groups = True
            core.record_group_version(gid, d.version)
            core.events.append(("group_change_success", {"groupId": gid, "version": d.version}))
            await api.commit()
        return s.deployed(d, status)

    r.add_route("*", "/v2/groups{tail:.*}", groups)
