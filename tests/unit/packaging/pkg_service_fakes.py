"""Fakes for the package service core's unit tests: a webapp that keeps apps (with tasks) in
memory, a master that lists frameworks and tears them down, and `make_service`, a
`PackageService` over them with an in-memory StateStore and no real waiting.

Called by: tests/unit/packaging/test_service_*.py.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import aiohttp

from dcos.packaging import errors
from dcos.packaging.indexes import IndexCache
from dcos.packaging.repositories import Repository, RepositoryStore
from dcos.packaging.service import PackageService
from dcos.packaging.uninstall import Waits
from dcos.state.memory import MemoryStateStore

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))
from tests.packages.testrepo import write_repo  # noqa: E402

Json = dict[str, Any]
ADVERTISE = "http://10.0.0.7:7070"


class FakeWebapp:
    """Apps by id (each with `instances` task dicts); groups by id. `master` (when set) gets
    the tasks of a created app into the webapp framework's task list, and loses them on
    delete, as the real pair would."""

    def __init__(self) -> None:
        self.by_id: dict[str, Json] = {}
        self.groups: set[str] = set()
        self.updates: list[tuple[str, Json]] = []
        self.master: FakeMaster | None = None
        self.keep_tasks_after_delete = False
        self.seq = 0

    async def apps(self) -> list[Json]:
        return [dict(a) for a in self.by_id.values()]

    async def group_exists(self, group_id: str) -> bool:
        return group_id in self.groups

    def _add(self, app: Json) -> None:
        tasks = []
        for _ in range(int(app.get("instances", 1))):
            self.seq += 1
            tasks.append({"id": app["id"].strip("/").replace("/", "_") + f".t{self.seq}"})
        self.by_id[app["id"]] = {**app, "tasks": tasks}
        if self.master is not None:
            self.master.webapp_tasks.extend(tasks)

    async def create(self, kind: str, definition: Json) -> None:
        if definition["id"] in self.by_id or definition["id"] in self.groups:
            raise errors.package_already_installed(definition["id"])
        if kind == "app":
            self._add(definition)
            return
        self.groups.add(definition["id"])
        for app in _group_apps(definition):
            self._add(app)

    async def update(self, kind: str, definition: Json) -> str | None:
        self.updates.append((kind, definition))
        if kind == "app":
            self.by_id[definition["id"]] = {**definition,
                                          "tasks": self.by_id[definition["id"]]["tasks"]}
        return "deployment-1"

    async def delete(self, kind: str, app_id: str) -> bool:
        doomed = [a for a in self.by_id if a == app_id or a.startswith(app_id + "/")]
        for aid in doomed:
            app = self.by_id.pop(aid)
            if self.master is not None and not self.keep_tasks_after_delete:
                ids = {t["id"] for t in app["tasks"]}
                self.master.webapp_tasks[:] = [t for t in self.master.webapp_tasks
                                               if t["id"] not in ids]
        self.groups.discard(app_id)
        return bool(doomed)


def _group_apps(group: Json) -> list[Json]:
    out = []
    gid = group["id"]
    for app in group.get("apps") or []:
        aid = app["id"] if app["id"].startswith("/") else f"{gid}/{app['id']}"
        out.append({**app, "id": aid})
    for sub in group.get("groups") or []:
        out.extend(_group_apps(sub))
    return out


class FakeMaster:
    """The webapp framework (with `webapp_tasks`) plus any `others` frameworks."""

    def __init__(self) -> None:
        self.webapp_tasks: list[Json] = []
        self.others: list[Json] = []
        self.torn_down: list[str] = []

    async def frameworks(self) -> list[Json]:
        return [{"id": "webapp-fw", "name": "webapp", "active": True,
                 "tasks": list(self.webapp_tasks)}, *self.others]

    async def teardown(self, framework_id: str) -> None:
        self.torn_down.append(framework_id)
        self.others = [f for f in self.others if f["id"] != framework_id]


async def make_service(tmp_path: Path, session: aiohttp.ClientSession,
                       repos: list[Repository] | None = None,
                       ) -> tuple[PackageService, FakeWebapp, FakeMaster, Path]:
    """A service over the test repository (tests/packages/testrepo.py) written to
    `tmp_path/repo`; the fakes; the index path."""
    index = write_repo(tmp_path / "repo")
    store = RepositoryStore(MemoryStateStore())
    webapp, master = FakeWebapp(), FakeMaster()
    webapp.master = master
    service = PackageService(repos=store, indexes=IndexCache(session), webapp=webapp,
                             master=master, advertise_url=ADVERTISE,
                             waits=Waits(tasks_s=1.0, frameworks_s=1.0, poll_s=0.01))
    await store.seed(repos if repos is not None else [Repository("test", index.as_uri())])
    return service, webapp, master, index
