"""Removing one installed package instance so that nothing of it is left: its app or group
(deleted through the webapp with force), its tasks (waited for, bounded, until the master lists
none of them), and for a framework package every framework registered under its
DCOS_PACKAGE_FRAMEWORK_NAME, active or not (operator TEARDOWN, then waited for until the master
no longer lists it).

Called by: the service core's uninstall (dcos/packaging/service.py), one instance at a time.
Time and sleeping are injected (`Waits`) so the unit tests run without real waiting.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from dcos.packaging import errors
from dcos.packaging.app_definition import Installed, framework_names
from dcos.packaging.clients import Master, Webapp

Json = dict[str, Any]


@dataclass(frozen=True)
class Waits:
    """How long uninstall waits for tasks and frameworks to go, and how it waits."""

    tasks_s: float = 90.0
    frameworks_s: float = 30.0
    poll_s: float = 0.2
    now: Callable[[], float] = time.monotonic
    sleep: Callable[[float], Awaitable[None]] = field(default=asyncio.sleep)


async def uninstall_instance(webapp: Webapp, master: Master, inst: Installed,
                             app_ids: list[str], waits: Waits) -> None:
    """Delete `inst` (whose webapp apps are `app_ids`) and wait until it is gone; raises
    IncompleteUninstall when its tasks or frameworks outlive the waits."""
    apps = [a for a in await webapp.apps() if a.get("id") in app_ids]
    task_ids = {str(t.get("id")) for a in apps for t in a.get("tasks") or []}
    names = framework_names(apps)
    if inst.framework_name and inst.framework_name not in names:
        names.append(inst.framework_name)
    await webapp.delete("group" if inst.group else "app", inst.app_id)
    await _wait_tasks_gone(webapp, master, inst, set(app_ids), task_ids, waits)
    if names:
        await teardown_frameworks(master, inst.name, names, waits)


async def _wait_tasks_gone(webapp: Webapp, master: Master, inst: Installed, app_ids: set[str],
                           task_ids: set[str], waits: Waits) -> None:
    deadline = waits.now() + waits.tasks_s
    while True:
        left_apps = [a["id"] for a in await webapp.apps() if a.get("id") in app_ids]
        live = {str(t.get("id")) for fw in await master.frameworks()
                for t in fw.get("tasks") or []} & task_ids
        if not left_apps and not live:
            return
        if waits.now() >= deadline:
            raise errors.incomplete_uninstall(
                inst.name, f"after {waits.tasks_s:g} s: apps {sorted(left_apps)} and tasks "
                           f"{sorted(live)} still there")
        await waits.sleep(waits.poll_s)


async def teardown_frameworks(master: Master, package: str, names: list[str],
                              waits: Waits) -> list[str]:
    """TEARDOWN every framework named one of `names` (active or inactive) and wait until the
    master lists none; the ids torn down."""
    done: list[str] = []
    deadline = waits.now() + waits.frameworks_s
    while True:
        doomed = [fw for fw in await master.frameworks() if fw.get("name") in names]
        if not doomed:
            return done
        if waits.now() >= deadline:
            ids = [str(fw.get("id")) for fw in doomed]
            raise errors.incomplete_uninstall(
                package, f"frameworks {ids} still registered after {waits.frameworks_s:g} s")
        for fw in doomed:
            fid = str(fw.get("id"))
            if fid not in done:
                await master.teardown(fid)
                done.append(fid)
        await waits.sleep(waits.poll_s)
