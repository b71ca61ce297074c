"""`WebappStore`: the framework's state in a `dcos.state` StateStore (SQLite in the work dir).

Keys: ``webapp/framework-id``; ``webapp/apps/<app id>`` (the definition, whether it is being
stopped, and its version history); ``webapp/instances/<task id>`` (every task the framework
may have launched, written before its launch); ``webapp/deployments/<id>``; ``webapp/groups``; ``webapp/event-subscriptions`` (the callback
URLs); ``webapp/group-versions<group id>@<version>`` (one group snapshot each). The shell calls `write`
with the core's Persist/Delete actions, always before it sends a launch, and `load` once at start-up.
Only the leading instance writes these keys, so the compare-and-set versions are tracked
here (`reset` forgets them at the start of each leadership term; `load` reads them again).
With several instances (``--zk``) the backing `ZooKeeperStateStore` is fenced with the
leader's election znode: a write after the leadership was lost raises `Fenced`, which is never
retried: `on_fenced` is told (the `LeaderLoop` steps down) and `NotLeading` goes up.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import orjson

from dcos.state import StateStore, VersionConflict
from dcos.state.zookeeper import Fenced
from frameworks.webapp.actions import AppRecord, Delete, GroupsRecord, GroupVersion, Persist
from frameworks.webapp.core import WebappCore
from frameworks.webapp.deployments import Deployment
from frameworks.webapp.instances import Instance
from frameworks.webapp.model.spec import AppId, AppSpec

PREFIX = "webapp/"
SUBSCRIPTIONS = PREFIX + "event-subscriptions"
GROUP_VERSIONS = PREFIX + "group-versions"  # + "<group id>@<version>"


class NotLeading(RuntimeError):
    """A change reached an instance that no longer leads (it stepped down, or the store
    refused its write as fenced): nothing more is written or sent. The API answers 503; the
    client retries, and reaches the leader."""


def is_fenced(e: BaseException) -> bool:
    """Whether a store error says the writer's election znode is gone (a deposed leader)."""
    return isinstance(e, Fenced)


class WebappStore:
    def __init__(self, store: StateStore) -> None:
        self.store = store
        self._versions: dict[str, int] = {}
        # Called (no arguments) when a write was refused because this instance no longer
        # holds the leadership it was fenced with (`LeaderLoop.deposed`).
        self.on_fenced: Callable[[], None] | None = None

    def reset(self) -> None:
        """Forget the tracked versions (a new leadership term: another instance may have
        written since; `load` reads them again)."""
        self._versions.clear()

    def _check_fenced(self, e: VersionConflict) -> None:
        """Raise `NotLeading` (after telling `on_fenced`) when `e` says the write was fenced
        off; a plain conflict returns."""
        if not is_fenced(e):
            return
        if self.on_fenced is not None:
            self.on_fenced()
        raise NotLeading(f"not the leader any more: {e}") from e

    async def _put(self, key: str, value: object) -> None:
        data = orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS)
        for _ in range(3):
            try:
                self._versions[key] = await self.store.put(key, data, self._versions.get(key, 0))
                return
            except VersionConflict as e:
                self._check_fenced(e)
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
        except VersionConflict as e:
            self._check_fenced(e)

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

    @staticmethod
    def key(action: Persist | Delete) -> str:
        """The key an action writes or deletes."""
        if isinstance(action, Delete):
            prefix = {"app": PREFIX + "apps", "instance": PREFIX + "instances/",
                      "deployment": PREFIX + "deployments/", "group-version": GROUP_VERSIONS}[action.kind]  # fmt: skip
            return prefix + action.id
        match action.record:
            case AppRecord(app=app):
                return f"{PREFIX}apps{app.id}"
            case Instance(task_id=tid):
                return f"{PREFIX}instances/{tid}"
            case Deployment(id=did):
                return f"{PREFIX}deployments/{did}"
            case GroupsRecord():
                return PREFIX + "groups"
            case GroupVersion(group_id=gid, version=version):
                return f"{GROUP_VERSIONS}{gid}@{version}"
        raise TypeError(f"not a record: {action.record!r}")

    async def write(self, actions: Iterable[Persist | Delete]) -> None:
        """Carry out the core's Persist/Delete actions (the shell has kept only the last
        one per key)."""
        for a in actions:
            key = self.key(a)
            if isinstance(a, Delete):
                await self._delete(key)
                continue
            match a.record:
                case AppRecord(app=app, stopping=stopping, versions=versions):
                    value: object = {"app": app.json, "stopping": stopping, "versions": [v.json for v in versions]}
                case Instance() as inst:
                    value = inst.to_dict()
                case Deployment() as d:
                    value = d.to_dict()
                case GroupsRecord(groups=groups):
                    value = groups
                case GroupVersion(snapshot=snap):
                    value = snap
            await self._put(key, value)

    async def load(self, core: WebappCore) -> None:
        """Fill a fresh core with what was stored."""
        apps: dict[AppId, AppSpec] = {}
        stopping: dict[AppId, AppSpec] = {}
        versions: dict[AppId, list[AppSpec]] = {}
        instances: dict[str, Any] = {}
        for key in await self.store.list(PREFIX + "apps/"):
            rec = await self._get(key)
            if not isinstance(rec, dict):
                continue
            aid = AppId(key[len(PREFIX + "apps"):])
            (stopping if rec.get("stopping") else apps)[aid] = AppSpec.parse(rec["app"])
            versions[aid] = [AppSpec.parse(v) for v in rec.get("versions") or []]
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
