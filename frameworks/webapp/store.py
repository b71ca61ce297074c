"""`WebappStore`: the framework's state in a `dcos.state` StateStore (SQLite in the work dir).

Keys: ``webapp/framework-id``; ``webapp/apps/<app id>`` (the definition, whether it is being
stopped, and its version history); ``webapp/instances/<task id>`` (every task the framework
may have launched, written before its launch); ``webapp/deployments/<id>``; ``webapp/groups``; ``webapp/event-subscriptions`` (the callback
URLs); ``webapp/group-versions<group id>@<version>`` (one group snapshot each). The shell calls `flush`
after every change and always before it sends a launch, and `load` once at start-up.
Only this process writes these keys, so the compare-and-set versions are tracked here.
"""

from __future__ import annotations

from typing import Any

import orjson

from dcos.state import StateStore, VersionConflict
from frameworks.webapp.core import WebappCore
from frameworks.webapp.deployments import Deployment
from frameworks.webapp.instances import Instance

PREFIX = "webapp/"
SUBSCRIPTIONS = PREFIX + "event-subscriptions"
GROUP_VERSIONS = PREFIX + "group-versions"  # + "<group id>@<version>"


class WebappStore:
    def __init__(self, store: StateStore) -> None:
        self.store = store
        self._versions: dict[str, int] = {}

    async def _put(self, key: str, value: object) -> None:
        data = orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS)
        for _ in range(3):
            try:
                self._versions[key] = await self.store.put(key, data, self._versions.get(key, 0))
                return
            except VersionConflict as e:
                self._versions[key] = e.actual
        raise RuntimeError(f"could not write {key}")

    async def _delete(self, key: str) -> None:
        v = self._versions.pop(key, 0)
        if not v:
            got = await self.store.get(key)
            if got is None:
                return
            v = got.version
        try:
            await self.store.delete(key, v)
        except VersionConflict:
            pass

    async def _get(self, key: str) -> object | None:
        got = await self.store.get(key)
        if got is None:
            return None
        self._versions[key] = got.version
        return orjson.loads(got.value)

    async def framework_id(self) -> str | None:
        v = await self._get(PREFIX + "framework-id")
        return v if isinstance(v, str) else None

    async def save_framework_id(self, fid: str) -> None:
        await self._put(PREFIX + "framework-id", fid)

    async def subscriptions(self) -> list[str]:
        """The HTTP callback URLs registered with /v2/eventSubscriptions."""
        v = await self._get(SUBSCRIPTIONS)
        return [u for u in v if isinstance(u, str)] if isinstance(v, list) else []

    async def save_subscriptions(self, urls: list[str]) -> None:
        await self._put(SUBSCRIPTIONS, list(urls))

    async def flush(self, core: WebappCore) -> None:
        """Write what changed in the core (its dirty sets) and clear them."""
        apps, insts, deps = core.dirty_apps, core.dirty_instances, core.dirty_deployments
        core.dirty_apps, core.dirty_instances, core.dirty_deployments = set(), set(), set()
        for aid in sorted(apps):
            app = core.apps.get(aid) or core.stopping.get(aid)
            if app is None:
                await self._delete(f"{PREFIX}apps{aid}")
                continue
            await self._put(f"{PREFIX}apps{aid}", {
                "app": app, "stopping": aid in core.stopping, "versions": core.versions.get(aid, []),
            })  # fmt: skip
        for tid in sorted(insts):
            inst = core.tasks.get(tid)
            if inst is None:
                await self._delete(f"{PREFIX}instances/{tid}")
            else:
                await self._put(f"{PREFIX}instances/{tid}", inst.to_dict())
        for did in sorted(deps):
            d = core.deployments.get(did)
            if d is None:
                await self._delete(f"{PREFIX}deployments/{did}")
            else:
                await self._put(f"{PREFIX}deployments/{did}", d.to_dict())
        if core.dirty_groups:
            core.dirty_groups = False
            await self._put(PREFIX + "groups", core.groups)
        gvs, core.dirty_group_versions = core.dirty_group_versions, set()
        for gid, version in sorted(gvs):
            snap = core.group_version(gid, version)
            key = f"{GROUP_VERSIONS}{gid}@{version}"
            if snap is None:
                await self._delete(key)
            else:
                await self._put(key, snap)

    async def load(self, core: WebappCore) -> None:
        """Fill a fresh core with what was stored."""
        apps: dict[str, Any] = {}
        stopping: dict[str, Any] = {}
        versions: dict[str, Any] = {}
        instances: dict[str, Any] = {}
        for key in await self.store.list(PREFIX + "apps/"):
            rec = await self._get(key)
            if not isinstance(rec, dict):
                continue
            aid = key[len(PREFIX + "apps"):]
            (stopping if rec.get("stopping") else apps)[aid] = rec["app"]
            versions[aid] = rec.get("versions") or []
        for key in await self.store.list(PREFIX + "instances/"):
            rec = await self._get(key)
            if isinstance(rec, dict):
                inst = Instance.from_dict(rec)
                instances.setdefault(inst.app_id, []).append(inst)
        deployments = []
        for key in await self.store.list(PREFIX + "deployments/"):
            rec = await self._get(key)
            if isinstance(rec, dict):
                deployments.append(Deployment.from_dict(rec))
        groups = await self._get(PREFIX + "groups")
        group_versions: dict[str, list[dict[str, object]]] = {}
        for key in await self.store.list(GROUP_VERSIONS):
            rec = await self._get(key)
            if isinstance(rec, dict):
                gid = key[len(GROUP_VERSIONS):].rsplit("@", 1)[0]
                group_versions.setdefault(gid, []).append(rec)
        core.restore(apps, versions, instances, deployments,
                     groups if isinstance(groups, dict) else None, stopping,
                     group_versions)  # fmt: skip
