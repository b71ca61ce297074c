"""`recover`: what `ProcessContainerizer` finds of a previous agent run's containers.

Called once by `ProcessContainerizer.recover` at agent start, before any launch. Two sources:

- the launcher (`dcos.agent.launcher`): connected (or started, replaying its journal), it
  lists every container it still holds: running (reattached: its EXIT will come as for a
  fresh launch), ended while the agent was down (its exact exit code or signal), or inherited
  from a launcher that died (then the pid and its start time are checked: still running, it
  is watched by pid and its status will be unknown; gone, it ends with `LAUNCHER_LOST`);
- runtime records of containers started by an older agent under the ``/bin/sh`` wrapper
  (``<meta>/<container id>/runtime``): reattached by pid + start time, their status read from
  the wrapper's ``exit_status`` file.

Expected containers found nowhere end with `NOT_FOUND` (never started: the launcher journals
every spawn before it answers); containers found that are not
expected are orphans: killed, their cgroups removed, forgotten.
"""

from __future__ import annotations

import logging
import signal
from typing import Any, Protocol

from dcos.agent.containerizer import ContainerConfig, Termination
from dcos.agent.containerizer import runtime as rt
from dcos.agent.containerizer.runtime import (
    LAUNCHER_LOST,
    NOT_FOUND,
    UNKNOWN_EXIT,
    spec_from_record,
)
from dcos.agent.isolators import Isolator, LaunchSpec, RecoveredContainer
from dcos.agent.launcher.client import LauncherClient, LauncherGone
from dcos.protocol.ids import ContainerID
from dcos.protocol.resources import ResourceError, Resources

log = logging.getLogger(__name__)

Found = dict[str, list[RecoveredContainer]]


class Recovering(Protocol):
    """What `recover` reads and fills of the containerizer it recovers (`ProcessContainerizer`,
    which calls it once at agent start)."""

    isolators: list[Isolator]
    meta_dir: str | None
    listing: list[Any]
    _client: LauncherClient | None
    _journaled: set[ContainerID]
    _legacy_ended: set[ContainerID]
    _recovering: bool

    async def launcher(self) -> LauncherClient: ...

    def _remember(self, container_id: ContainerID, term: Termination) -> None: ...

    async def _cleanup_isolators(self, container_id: ContainerID) -> None: ...

    def _adopt(self, cid: ContainerID, pid: int, started: float, resources: Resources,
               spec: LaunchSpec, *, child: bool, legacy: bool = False,
               unknown: str = UNKNOWN_EXIT, run_as: list[int] | None = None) -> None: ...


async def recover(cz: Recovering, expected: dict[ContainerID, ContainerConfig]
                  ) -> dict[ContainerID, Termination | None]:  # fmt: skip
    """Per expected container: None (running, reattached) or how it ended."""

    out: dict[ContainerID, Termination | None] = {}
    found: Found = {iso.name: [] for iso in cz.isolators}
    adopt: list[tuple[Any, ...]] = []
    run_as: dict[ContainerID, list[int]] = {}  # tasks that run as a user (security on)
    _legacy(cz, expected, out, found, adopt)
    acks: list[ContainerID] = []
    for item in await _listing(cz):
        cid, pid, start, code, sig, ended, child, record = item
        cid = ContainerID(str(cid))
        record = record if isinstance(record, dict) else {}
        resources = _resources(record.get("resources"))
        spec = spec_from_record(record.get("spec"))
        user = record.get("run_as")
        if isinstance(user, list) and user and all(isinstance(i, int) for i in user):
            run_as[cid] = user
        if ended:
            alive, term = False, _termination(code, sig)
        elif child:
            alive, term = True, None
        else:  # its launcher died: is it still the process it started?
            alive = (rt.same_process_alive(int(pid), float(start)) if start
                     else _running(int(pid)))  # fmt: skip
            term = None if alive else Termination(message=_lost())
        isolator_records = record.get("isolators") or {}
        sandbox = str(record.get("sandbox") or "")
        if cid not in expected:
            if alive:
                log.warning("killing orphan container %s (pid %d)", cid, pid)
                rt.kill_group(int(pid), signal.SIGKILL)
            _note(found, cid, resources, isolator_records, False, sandbox)
            acks.append(cid)
            continue
        _note(found, cid, resources, isolator_records, alive, sandbox)
        if alive:
            out[cid] = None
            adopt.append((cid, int(pid), float(start), resources, spec, bool(child), False))
        else:
            assert term is not None
            out[cid] = term
            cz._remember(cid, term)
            cz._journaled.add(cid)  # acknowledged once the agent has recorded it
    for cid in expected:
        out.setdefault(cid, Termination(message=NOT_FOUND))
    for iso in cz.isolators:
        await iso.recover(found[iso.name])
    for rc_list in found.values():
        for rc in rc_list:
            if not rc.alive:
                await cz._cleanup_isolators(rc.container_id)
    for cid, pid, start, resources, spec, child, legacy in adopt:
        cz._adopt(cid, pid, start, resources, spec, child=child, legacy=legacy,
                  unknown=UNKNOWN_EXIT if legacy else _lost(), run_as=run_as.get(cid))  # fmt: skip
    if acks and cz._client is not None:
        for cid in acks:
            cz._client.ack(cid)
    return out


async def _listing(cz: Recovering) -> list[Any]:
    """What the launcher holds (none without a meta dir, or when it cannot be reached)."""
    if cz.meta_dir is None:
        return []
    cz._recovering = True
    try:
        await cz.launcher()
        return list(cz.listing)
    except LauncherGone as exc:
        log.error("cannot reach the task launcher to recover containers: %s", exc)
        return []
    finally:
        cz._recovering = False


def _legacy(cz: Recovering, expected: dict[ContainerID, ContainerConfig],
            out: dict[ContainerID, Termination | None], found: Found,
            adopt: list[tuple[Any, ...]]) -> None:  # fmt: skip
    """Containers of an older agent (runtime records of the ``/bin/sh`` wrapper)."""

    if cz.meta_dir is None:
        return
    for cid, record in rt.read_records(cz.meta_dir).items():
        alive = record is not None and rt.same_process_alive(record.pid, record.start_time)
        if cid not in expected or record is None:
            if record is not None and alive:
                log.warning("killing orphan container %s (pid %d)", cid, record.pid)
                rt.kill_group(record.pgid, signal.SIGKILL)
            if record is not None:  # let isolators release what it held
                _note(found, cid, record.resources, record.isolators, False, record.sandbox)
            if cid not in expected:
                rt.remove_record(cz.meta_dir, cid)
            continue
        _note(found, cid, record.resources, record.isolators, alive, record.sandbox)
        if alive:
            out[cid] = None
            adopt.append((cid, record.pid, record.start_time, record.resources,
                          spec_from_record(record.spec), False, True))  # fmt: skip
        else:
            term = rt.read_exit_status(cz.meta_dir, cid) or Termination(message=UNKNOWN_EXIT)
            out[cid] = term
            cz._remember(cid, term)
            cz._legacy_ended.add(cid)


def _note(found: Found, cid: ContainerID, resources: Resources, records: Any, alive: bool,
          sandbox: str) -> None:  # fmt: skip
    records = records if isinstance(records, dict) else {}
    for name, rc_list in found.items():
        rc_list.append(RecoveredContainer(cid, resources, dict(records.get(name) or {}),
                                          alive, sandbox))  # fmt: skip


def _resources(data: Any) -> Resources:
    try:
        return Resources.from_dict(data) if data else Resources.empty()
    except (ResourceError, TypeError, ValueError, KeyError):
        return Resources.empty()


def _termination(code: Any, sig: Any) -> Termination:
    return Termination(signal=int(sig)) if sig is not None else Termination(exit_code=int(code))


def _running(pid: int) -> bool:
    """`pid` runs (not a zombie): for a task whose start time was not yet journaled when its
    launcher died (it had run for under `dcos.agent.launcher.server.START_DELAY`)."""
    import psutil

    try:
        return bool(psutil.Process(pid).status() != psutil.STATUS_ZOMBIE)
    except psutil.Error:
        return False


def _lost() -> str:

    return LAUNCHER_LOST
