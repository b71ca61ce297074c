"""`Catalog`: the app definitions with their versions, the groups and the group versions.

Owned by `WebappCore` (its `catalog`), which changes it while it makes a deployment and
reads it everywhere else; the API reads it through the core. Every change returns the
`Persist`/`Delete` actions that store it, so nothing has to be polled afterwards. Version
stamps are ISO times, strictly increasing in this process (`new_version`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from frameworks.webapp.actions import (
    Action,
    AppRecord,
    Delete,
    GroupsRecord,
    GroupVersion,
    Persist,
)  # fmt: skip
from frameworks.webapp.launch import assign_service_ports
from frameworks.webapp.model.app import config_of
from frameworks.webapp.model.json import iso, parse_iso
from frameworks.webapp.model.spec import AppId, AppSpec

Json = dict[str, Any]


class Catalog:
    def __init__(self, max_versions: int = 50) -> None:
        self.max_versions = max_versions
        self.apps: dict[AppId, AppSpec] = {}
        self.stopping: dict[AppId, AppSpec] = {}  # removed, their tasks still going
        self.versions: dict[AppId, list[AppSpec]] = {}
        self.groups: dict[str, Json] = {"/": {"dependencies": [], "version": None}}
        # Group versions: group id -> snapshots, oldest first (`record_group_version`).
        self.group_versions: dict[str, list[Json]] = {}
        self._last_version = 0.0

    # -- queries -------------------------------------------------------------------------

    def app_def(self, app_id: str) -> AppSpec | None:
        """The live definition, or the last one of an app being stopped."""
        return self.apps.get(AppId(app_id)) or self.stopping.get(AppId(app_id))

    def version_of(self, app_id: str, version: str) -> AppSpec | None:
        return next((v for v in self.versions.get(AppId(app_id), []) if v.version == version), None)

    def group_deps(self) -> dict[str, list[str]]:
        return {g: list(meta.get("dependencies") or []) for g, meta in self.groups.items()}

    def group_version(self, gid: str, version: str) -> Json | None:
        """A snapshot kept by `record_group_version`, or None."""
        return next((v for v in self.group_versions.get(gid, []) if v["version"] == version), None)

    def new_version(self, now: float) -> str:
        """A version stamp (ISO time, strictly increasing in this process)."""
        t = max(now, self._last_version + 0.001)
        self._last_version = t
        return iso(t) or ""

    # -- changes (each returns the actions that store it) --------------------------------

    def record(self, aid: AppId) -> list[Action]:
        """Persist app `aid` as it is now (or delete its record when it is gone)."""
        app = self.apps.get(aid) or self.stopping.get(aid)
        if app is None:
            return [Delete("app", aid)]
        return [Persist(AppRecord(app, aid in self.stopping, tuple(self.versions.get(aid, ()))))]

    def put(self, new: AppSpec, version: str, restart: bool) -> tuple[AppSpec, bool]:
        """Make `new` (as the API parsed it) the live definition of its app at `version`:
        service ports assigned, ``version``/``versionInfo`` stamped. Returns the stored
        definition and whether its configuration changed (new tasks needed)."""
        aid = new.id
        old = self.apps.get(aid)
        body = {**new.json, "portDefinitions": [dict(d) for d in new.json.get("portDefinitions") or []]}
        used = {p.port for a, other in self.apps.items() if a != aid for p in other.ports}
        assign_service_ports(body, old.json if old else None, used)
        changed = old is None or config_of(body) != config_of(old.json) or restart
        prev_info = (old.json.get("versionInfo") if old else None) or {}
        body["version"] = version
        body["versionInfo"] = {
            "lastScalingAt": version,
            "lastConfigChangeAt": version if changed else prev_info.get("lastConfigChangeAt", version),
        }
        app = AppSpec.parse(body)
        self.apps[aid] = app
        self.stopping.pop(aid, None)
        kept = self.versions.setdefault(aid, [])
        kept.append(app)
        del kept[: -self.max_versions]
        return app, changed

    def stop(self, aid: AppId) -> None:
        """The app is being removed: its definition stays until its tasks are gone."""
        app = self.apps.pop(aid, None)
        if app is not None:
            self.stopping[aid] = app

    def forget(self, aid: AppId) -> None:
        self.stopping.pop(aid, None)

    def update_groups(self, deps: Mapping[str, list[str]], touched: list[str], remove: tuple[str, ...],
                      version: str) -> list[Action]:  # fmt: skip
        """Set groups' dependencies, stamp `touched` groups with `version` (creating them),
        delete `remove`; the actions that store the groups."""
        for g in remove:
            self.groups.pop(g, None)
        for g, d in deps.items():
            self.groups[g] = {"dependencies": list(d), "version": version}
        for g in touched:
            self.groups.setdefault(g, {"dependencies": [], "version": version})["version"] = version
        return [Persist(GroupsRecord({g: dict(m) for g, m in self.groups.items()}))]

    def record_group_version(self, gid: str, version: str) -> list[Action]:
        """Keep group `gid` as it is now (its apps' definitions, its own and its subgroups'
        dependencies) as `version`; the last `max_versions` are kept."""
        prefix = gid.rstrip("/") + "/"
        apps = {a: app.json for a, app in self.apps.items() if gid == "/" or a.startswith(prefix)}
        groups = {g: list(meta.get("dependencies") or []) for g, meta in self.groups.items()
                  if g == gid or gid == "/" or g.startswith(prefix)}  # fmt: skip
        kept = self.group_versions.setdefault(gid, [])
        snap = {"version": version, "apps": apps, "groups": groups}
        kept.append(snap)
        out: list[Action] = [Persist(GroupVersion(gid, version, snap))]
        out += [Delete("group-version", f"{gid}@{old['version']}") for old in kept[: -self.max_versions]]
        del kept[: -self.max_versions]
        return out

    def restore(
        self,
        apps: Mapping[AppId, AppSpec],
        versions: Mapping[AppId, list[AppSpec]],
        groups: Mapping[str, Json] | None,
        stopping: Mapping[AppId, AppSpec] | None,
        group_versions: Mapping[str, list[Json]] | None,
    ) -> None:
        """Load what was stored (at start-up)."""
        self.apps = dict(apps)
        self.stopping = dict(stopping or {})
        self.versions = {k: list(v) for k, v in versions.items()}
        self.group_versions = {g: sorted(vs, key=lambda v: v["version"])
                               for g, vs in (group_versions or {}).items()}  # fmt: skip
        if groups:
            self.groups = dict(groups)
        for a in self.apps.values():
            self._last_version = max(self._last_version, parse_iso(a.version) or 0.0)
