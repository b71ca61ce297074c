"""/v2/groups routes: nested groups with dependencies (deployed in dependency order).

GET returns the nested tree; POST creates a group with its apps and subgroups (409 if it
exists); PUT replaces a group's apps (apps under it that the body no longer lists are
removed), or with ``{"scaleBy": f}`` scales every app under it; DELETE removes the group and
its apps. A dependency cycle is a 422. Every change made here keeps a version of the group
(`GroupUpdate.record`): ``GET /v2/groups/{id}/versions`` lists them (newest first), ``GET
.../versions/{v}`` shows one, and ``PUT .../versions/{v}`` (marathon-python's
``rollback_group``; also ``PUT /v2/groups/{id}`` with ``{"version": v}``) deploys the group back
to it. (As in Marathon, a group named ``versions`` cannot be addressed.) `GroupsApi` is
registered by `frameworks.webapp.api.server.build_app`; it reads the state through the
service's `view` and changes it only through `WebappService.deploy`.
"""

from __future__ import annotations

import math
from typing import Any

import orjson
from aiohttp import web

from frameworks.webapp.actions import Conflict, Deploy, GroupUpdate
from frameworks.webapp.api.http import (
    body_json,
    conflict,
    deployed,
    dotted_url,
    embeds,
    error,
    flag,
    invalid,
    respond,
)
from frameworks.webapp.api.render import AppRenderer
from frameworks.webapp.api.security import ApiSecurity
from frameworks.webapp.core import CoreView
from frameworks.webapp.model.app import MAX_INSTANCES, absolute, config_of, merge
from frameworks.webapp.model.checks import num
from frameworks.webapp.model.group import cycle_errors, flatten_group, group_tree
from frameworks.webapp.model.json import APP_KEYS
from frameworks.webapp.model.paths import id_errors
from frameworks.webapp.model.spec import AppId, AppSpec, GroupId
from frameworks.webapp.scheduler import WebappService

Json = dict[str, Any]
Changes = dict[str, Json | None]


def _under(path: str, gid: str) -> bool:
    return gid == "/" or path == gid or path.startswith(gid.rstrip("/") + "/")


class GroupsApi:
    def __init__(self, service: WebappService, render: AppRenderer,
                 security: ApiSecurity | None = None) -> None:  # fmt: skip
        self.s = service
        self.render = render
        self.sec = security or ApiSecurity()

    @property
    def view(self) -> CoreView:
        """The service's current core (a new one each leadership term)."""
        return self.s.view

    def add_routes(self, r: web.UrlDispatcher) -> None:
        r.add_route("*", "/v2/groups{tail:.*}", self.groups)

    def _known(self, gid: str) -> bool:
        return gid == "/" or gid in self.view.groups or any(_under(a, gid) for a in self.view.apps)

    def _live_json(self) -> dict[str, Json]:
        return {a: app.json for a, app in self.view.apps.items()}

    async def groups(self, request: web.Request) -> web.StreamResponse:
        """Every /v2/groups request: versions, or the group itself by method."""
        tail = request.match_info.get("tail", "")
        segs = [x for x in tail.split("/") if x]
        refused = dotted_url(request, segs)
        if refused is not None:
            return refused
        if segs and segs[-1] == "versions":
            return await self.versions(request, "/" + "/".join(segs[:-1]), None)
        if len(segs) > 1 and segs[-2] == "versions":
            return await self.versions(request, "/" + "/".join(segs[:-2]), segs[-1])
        gid = absolute(tail)
        m = request.method
        if m == "GET":
            return self.get_group(request, gid)
        if m in ("POST", "PUT"):
            return await self.change(request, gid, create=m == "POST")
        if m == "DELETE":
            return await self.delete_group(request, gid)
        raise web.HTTPMethodNotAllowed(m, ["GET", "POST", "PUT", "DELETE"])

    def get_group(self, request: web.Request, gid: str) -> web.Response:
        if not self._known(gid):
            return error(404, f"Group '{gid}' does not exist")
        embed = embeds(request)
        rendered: dict[str, Any] = {a: orjson.Fragment(self.render.app_bytes(app, embed)) for a, app in self.view.apps.items()}
        return respond(group_tree(rendered, self.view.groups, gid))

    async def delete_group(self, request: web.Request, gid: str) -> web.Response:
        if not self._known(gid):
            return error(404, f"Group '{gid}' does not exist")
        doomed: dict[AppId, AppSpec | None] = {a: None for a in self.view.apps if _under(a, gid)}
        gone = tuple(g for g in self.view.groups if g != "/" and _under(g, gid))
        refused = self.sec.may_change(request, [gid, *doomed])
        if refused is not None:
            return refused
        d = await self.s.deploy(Deploy(doomed, force=flag(request, "force"),
                                       group=GroupUpdate(GroupId(gid), remove=gone, record=False)))  # fmt: skip
        if isinstance(d, Conflict):
            return conflict(d)
        return deployed(d)

    async def versions(self, request: web.Request, gid: str, version: str | None) -> web.Response:
        """GET .../versions (newest first), GET .../versions/{v} (the group then), PUT
        .../versions/{v} (roll the group back to it: a deployment)."""
        kept = self.view.group_versions(gid)
        if not kept and not self._known(gid):
            return error(404, f"Group '{gid}' does not exist")
        if version is None:
            if request.method != "GET":
                raise web.HTTPMethodNotAllowed(request.method, ["GET"])
            return respond([v["version"] for v in reversed(kept)])
        snap = self.view.group_version(gid, version)
        if snap is None:
            return error(404, f"Group '{gid}' does not exist in version {version}")
        if request.method == "GET":
            rendered = {a: {k: v for k, v in app.items() if k in APP_KEYS} for a, app in snap["apps"].items()}
            meta = {g: {"dependencies": deps, "version": version} for g, deps in snap["groups"].items()}
            return respond(group_tree(rendered, meta, gid))
        if request.method != "PUT":
            raise web.HTTPMethodNotAllowed(request.method, ["GET", "PUT"])
        return await self.rollback(request, gid, snap)

    async def rollback(self, request: web.Request, gid: str, snap: Json) -> web.Response:
        """Bring every app under `gid` back to the snapshot: changed ones are updated, apps
        added since are removed, removed ones come back (one deployment)."""
        changes: Changes = {}
        apps = self.view.apps
        for aid, app in snap["apps"].items():
            cur = apps.get(AppId(aid))
            if cur is None or config_of(cur.json) != config_of(app) or cur.instances != app["instances"]:
                changes[aid] = {k: v for k, v in app.items() if k not in ("version", "versionInfo")}
        for aid in apps:
            if _under(aid, gid) and aid not in snap["apps"]:
                changes[aid] = None
        gdeps = {g: list(d) for g, d in snap["groups"].items()}
        live = {a: v for a, v in {**self._live_json(), **changes}.items() if v is not None}
        errs = cycle_errors(live, {**self.view.group_deps(), **gdeps})
        if errs:
            return invalid(errs, "Dependency graph has cyclic dependencies.")
        return await self.commit(request, changes, gdeps, gid)

    async def change(self, request: web.Request, gid: str, create: bool) -> web.Response:
        """POST (create) or PUT (update, scale, roll back) a group."""
        raw, bad = await body_json(request)
        if bad:
            return bad
        if not isinstance(raw, dict):
            return invalid([("/", ["a group must be a JSON object"])])
        if not create and "version" in raw and not {"apps", "groups", "scaleBy"} & set(raw):
            snap = self.view.group_version(gid, str(raw["version"]))  # Marathon's other rollback form
            if snap is None:
                return error(404, f"Group '{gid}' does not exist in version {raw['version']}")
            return await self.rollback(request, gid, snap)
        if create and raw.get("id"):
            if not isinstance(raw["id"], str):
                return invalid([("/id", ["id must be a string"])])
            gid, id_errs = id_errors(raw["id"], gid)
            if id_errs:
                return invalid([("/id", id_errs)])
        if create:
            if gid != "/" and gid in self.view.groups:
                return error(409, f"Group {gid} is already created. Use PUT to change this group.")
        if "scaleBy" in raw:
            return await self.scale(request, gid, raw["scaleBy"])
        apps, gdeps, errors = flatten_group({**raw, "id": gid}, "/")
        if errors:
            return invalid(errors)
        changes: Changes = {}
        for aid, app in apps.items():
            cur = self.view.apps.get(AppId(aid))
            if create and cur is not None:
                return error(409, f"An app with id [{aid}] already exists.")
            changes[aid] = app if cur is None else merge(cur.json, dict(app))
        if "apps" in raw or "groups" in raw:
            for a in self.view.apps:
                if _under(a, gid) and a not in apps:
                    changes[a] = None
        all_apps = {**self._live_json(), **{a: v for a, v in changes.items() if v is not None}}
        all_apps = {a: v for a, v in all_apps.items() if changes.get(a, v) is not None}
        errs = cycle_errors(all_apps, {**self.view.group_deps(), **gdeps})
        if errs:
            return invalid(errs, "Dependency graph has cyclic dependencies.")
        return await self.commit(request, changes, gdeps, gid, status=201 if create else 200)

    async def scale(self, request: web.Request, gid: str, factor: Any) -> web.Response:
        """``{"scaleBy": f}``: every app under the group gets ``ceil(instances * f)``."""
        if not num(factor) or not 0 <= factor <= MAX_INSTANCES:
            return invalid([("/scaleBy", ["scaleBy must be a number >= 0"])])
        changes: Changes = {a: app.scaled(min(MAX_INSTANCES, math.ceil(app.instances * factor)))
                            for a, app in self.view.apps.items() if _under(a, gid)}  # fmt: skip
        return await self.commit(request, changes, {}, gid)

    async def commit(self, request: web.Request, changes: Changes, gdeps: dict[str, list[str]],
                     gid: str, status: int = 200) -> web.Response:  # fmt: skip
        """One deployment of `changes` that also sets the groups' dependencies and keeps a
        version of group `gid`."""
        specs = {AppId(a): AppSpec.parse(j) if j is not None else None for a, j in changes.items()}
        refused = self.sec.may_deploy(request, self.view, specs, [gid])
        if refused is not None:
            return refused
        req = Deploy(specs, force=flag(request, "force"), group=GroupUpdate(GroupId(gid), gdeps))
        d = await self.s.deploy(req)
        if isinstance(d, Conflict):
            return conflict(d)
        return deployed(d, status)
