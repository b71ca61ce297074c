"""`ProcessContainerizer`: each container is a real process session, started by the launcher.

Called by the agent shell (`dcos.agent.agent`). Tasks are spawned by the agent's launcher
process (`dcos.agent.launcher`: one per meta dir, in its own session, the parent and child
subreaper of every task, started on first use), which puts each into its cgroups before its
program runs, reaps it and journals its exact exit code or signal. The agent no longer
spawns or reaps task processes itself: a launch is one message on a Unix socket and its
answer, an end is one EXIT message; both are batched per event-loop turn.

The container is the task's process group (it is a session leader) plus, with cgroups, every
process in its cgroups: a kill sends SIGTERM to the group (through the launcher, which knows
whether the pid is still its child), then SIGKILL to the group and to the cgroup after the
grace period; when the task's main process ends the launcher SIGKILLs what is left of its
group, and the cgroup isolator kills what is left in the cgroups, so no task leaves orphans.

With a `meta_dir`, the launcher's journal there lets `recover` (`dcos.agent.containerizer.
recover`) learn, after an agent restart, which containers still run and how the others
ended. Each end is acknowledged to the launcher (so it can forget it) by `wait`, or, with
`deferred_acks` (the agent shell, which checkpoints first), by `acknowledge`. Without a meta
dir the launcher is ephemeral: it kills the tasks and exits when this object's process goes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import tempfile
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from dcos.agent.containerizer import ContainerConfig, LaunchResult, Termination
from dcos.agent.containerizer import runtime as rt
from dcos.agent.containerizer.reaping import group_alive, wait_group_gone, wait_pid_exit
from dcos.agent.containerizer.recover import recover
from dcos.agent.containerizer.runtime import LAUNCHER_LOST, NOT_FOUND, UNKNOWN_EXIT
from dcos.agent.isolators import Isolator, LaunchSpec, Limitation, NoopIsolator, PosixIsolator
from dcos.agent.launcher.client import LauncherClient, LauncherGone
from dcos.agent.task_user import UnknownUser, run_as_argv
from dcos.protocol.ids import ContainerID
from dcos.protocol.resources import Resources

log = logging.getLogger(__name__)

__all__ = ["UNKNOWN_EXIT", "LAUNCHER_LOST", "NOT_FOUND", "ProcessContainerizer", "group_alive"]

MAX_ENDED = 1000


@dataclass
class _Container:
    pid: int
    pgid: int
    child: bool = False  # the connected launcher is its parent and will report its end
    legacy: bool = False  # started under the old /bin/sh wrapper (exit status file)
    ended: asyncio.Future[Termination | None] | None = None  # the launcher's EXIT
    done: asyncio.Future[Termination] | None = None
    limitation: Limitation | None = None
    sent: int | None = None  # the last signal destroy sent
    started: float = 0.0  # the process's start time
    unknown: str = UNKNOWN_EXIT  # the message of an end whose status cannot be known
    watchers: list[asyncio.Task[Any]] = field(default_factory=list)
    spec: LaunchSpec = field(default_factory=LaunchSpec)  # what the isolators asked at launch
    run_as: list[int] | None = None  # [uid, gid, *groups] it runs as (None: the agent's user)


def _overrides(iso: Isolator, name: str) -> bool:
    """Whether `iso` does something in hook `name` (the no-op base's hooks are skipped)."""
    return getattr(type(iso), name, None) is not getattr(NoopIsolator, name, None)


def _termination(code: int | None, sig: int | None) -> Termination:
    return Termination(signal=sig) if sig is not None else Termination(exit_code=code)


class ProcessContainerizer:
    """Containers as process sessions; isolators are called around each one."""

    def __init__(
        self, isolators: list[Isolator] | None = None, meta_dir: str | None = None
    ) -> None:
        """`meta_dir` (e.g. ``<work_dir>/meta/containers``): the launcher's socket and journal;
        without one the launcher is ephemeral and `recover` finds nothing."""
        self.isolators: list[Isolator] = isolators if isolators is not None else [PosixIsolator()]
        self.meta_dir = os.path.abspath(meta_dir) if meta_dir else None
        self.deferred_acks = False  # True: ends are acknowledged by `acknowledge`, not `wait`
        self._containers: dict[ContainerID, _Container] = {}
        self._resources: dict[ContainerID, Resources] = {}
        self._ended: OrderedDict[ContainerID, Termination] = OrderedDict()
        self._journaled: set[ContainerID] = set()  # ends the launcher keeps until acked
        self._legacy_ended: set[ContainerID] = set()  # old wrapper records, ended: removed on ack
        self._client: LauncherClient | None = None
        self._connecting: asyncio.Future[LauncherClient] | None = None
        self._v1: dict[str, bool] = {}  # cgroup dir's parent -> has per-thread `tasks` files
        for iso in self.isolators:  # cgroups are made and removed by the launcher
            if hasattr(iso, "deferred_setup"):
                iso.deferred_setup = True
                iso.remover = self._remove_dirs  # type: ignore[attr-defined]
        self._watching = [i for i in self.isolators if _overrides(i, "watch")]
        self._isolating = [i for i in self.isolators if _overrides(i, "isolate")]
        self._killing = [i for i in self.isolators
                         if getattr(i, "kill", None) is not None and _overrides(i, "kill")]

    # -- the launcher ----------------------------------------------------------------------

    async def launcher(self) -> LauncherClient:
        """The connected launcher client (connecting, and starting a launcher, on first use
        or after the previous one was lost). Raises LauncherGone."""
        if self._client is not None and self._client.connected:
            return self._client
        if self._connecting is None:
            self._connecting = asyncio.ensure_future(self._connect())
        try:
            return await asyncio.shield(self._connecting)
        finally:
            if self._connecting is not None and self._connecting.done():
                self._connecting = None

    async def _connect(self) -> LauncherClient:
        ephemeral = self.meta_dir is None
        meta = self.meta_dir or tempfile.mkdtemp(prefix="dcos-py-launcher-")
        client = LauncherClient(meta, ephemeral=ephemeral)
        client.on_exit = self._on_exit
        client.on_lost = self._on_lost
        self.listing = await client.connect()
        self._client = client
        for item in self.listing:  # ends of containers nobody here knows: forget them
            cid, ended = ContainerID(str(item[0])), bool(item[5])
            if ended and cid not in self._containers and not self._recovering:
                client.ack(cid)
        return client

    _recovering = False
    listing: list[Any] = []

    def _on_exit(self, cid: str, code: int | None, sig: int | None) -> None:
        c = self._containers.get(ContainerID(cid))
        if c is not None and c.ended is not None and not c.ended.done():
            c.ended.set_result(_termination(code, sig))

    def _on_lost(self) -> None:
        """The launcher died: watch our containers by pid; their statuses are unknown."""
        if any(c.child for c in self._containers.values()):
            log.error("the task launcher's connection was lost; its running tasks are watched "
                      "by pid (their exit statuses will be unknown)")  # fmt: skip
        for c in self._containers.values():
            if c.child and c.ended is not None and not c.ended.done():
                c.child = False
                c.unknown = LAUNCHER_LOST
                c.ended.set_result(None)

    # -- launch ----------------------------------------------------------------------------

    async def launch(self, container_id: ContainerID, config: ContainerConfig) -> LaunchResult:
        """Prepare isolation, have the launcher spawn the task; a failure cleans up and says
        why (never an empty message)."""
        if container_id in self._containers:
            return LaunchResult(False, f"container {container_id} already exists")
        what = repr(config.argv[0]) if config.argv else "the task"
        problem = rt.executable_error(config.argv, config.env)  # before any isolation
        if problem is not None:
            return LaunchResult(False, f"Failed to launch {what}: {problem}")
        try:
            argv = run_as_argv(config.argv, config.run_as)
        except UnknownUser as exc:
            return LaunchResult(False, f"Failed to launch {what}: {exc}")
        spec = LaunchSpec()
        records: dict[str, dict[str, Any]] = {}
        try:
            for iso in self.isolators:
                got = await iso.prepare(container_id, config)
                if got is not None:
                    spec.procs_files += got.procs_files
                    spec.shell += got.shell
                    spec.env.update(got.env)
                    spec.setup += got.setup
                    records[iso.name] = got.record
            c = _Container(0, 0, child=True, spec=spec, run_as=config.run_as)
            c.ended = asyncio.get_running_loop().create_future()
            self._containers[container_id] = c
            request = (
                container_id, argv, {**config.env, **spec.env} if spec.env else config.env,
                config.sandbox, os.path.join(config.sandbox, "stdout"),
                os.path.join(config.sandbox, "stderr"), *self._placement(spec),
                {"sandbox": config.sandbox, "resources": config.resources.to_dict(),
                 "isolators": records, "spec": rt.spec_record(spec), "run_as": config.run_as},
                spec.setup,
            )  # fmt: skip
            try:
                pid, start, error = await (await self.launcher()).launch(*request)
            except LauncherGone:
                if self.meta_dir is not None:
                    raise
                # an ephemeral launcher exits when idle; if it went as this request came, it
                # did not read it: start one again
                pid, start, error = await (await self.launcher()).launch(*request)
        except (OSError, ValueError, LauncherGone) as exc:
            error = str(exc) or type(exc).__name__
        if error:
            self._containers.pop(container_id, None)
            await self._cleanup_isolators(container_id)
            return LaunchResult(False, f"Failed to launch {what}: {error}")
        c.pid = c.pgid = pid
        c.started = start
        self._resources[container_id] = config.resources
        self._journaled.add(container_id)
        for iso in self._isolating:
            await iso.isolate(container_id, pid)
        self._start_watching(container_id, c)
        c.done = asyncio.ensure_future(self._reap(container_id, c))
        return LaunchResult(True, pid=pid)

    def _remove_dirs(self, dirs: list[str]) -> bool:
        """An isolator's cgroups to remove: by the launcher when connected (True)."""
        return self._client is not None and self._client.rmdir(dirs)

    def _placement(self, spec: LaunchSpec) -> tuple[list[str], list[Any] | None]:
        """(v1 ``tasks`` files the launcher joins itself, prelude [procs files, ulimit lines]
        for what needs a shell: v2 cgroups and rlimits; None when nothing does)."""
        tasks: list[str] = []
        procs: list[str] = []
        for path in spec.procs_files:
            cgroup = os.path.dirname(path)
            parent = os.path.dirname(cgroup)
            v1 = self._v1.get(parent)
            if v1 is None:
                v1 = self._v1[parent] = os.path.exists(os.path.join(cgroup, "tasks"))
            if v1:
                tasks.append(os.path.join(cgroup, "tasks"))
            else:
                procs.append(path)
        return tasks, ([procs, spec.shell] if procs or spec.shell else None)

    def _start_watching(self, container_id: ContainerID, c: _Container) -> None:
        c.watchers = [asyncio.ensure_future(self._watch(container_id, iso))
                      for iso in self._watching]  # fmt: skip

    def exec_command(self, container_id: ContainerID, argv: list[str],
                     env: dict[str, str]) -> tuple[list[str], dict[str, str]]:  # fmt: skip
        """(argv, env) that run `argv` inside a live container: the launch wrapper joins the
        container's cgroups and applies its ulimits. Used for COMMAND health checks; unknown
        containers get `argv` unchanged. The caller spawns it (in its own session). A task
        that runs as a user (security on) has its checks run as that user too."""
        c = self._containers.get(container_id)
        if c is None:
            return argv, env
        if c.spec.env:
            env = {**env, **c.spec.env}
        if c.run_as:
            try:
                argv = run_as_argv(argv, c.run_as)
            except UnknownUser:  # setpriv gone since the launch: the check cannot run
                return ["/bin/sh", "-c", "echo 'setpriv is not installed' >&2; exit 126"], env
        return rt.wrapper_argv(argv, "", c.spec.procs_files, c.spec.shell,
                               unset_pwd="PWD" not in env), env  # fmt: skip

    async def _watch(self, container_id: ContainerID, iso: Isolator) -> None:
        try:
            limitation = await iso.watch(container_id)
        except asyncio.CancelledError:
            raise
        except Exception:  # an isolator bug ends its watch, never the agent
            log.exception("isolator %s stopped watching %s", iso.name, container_id)
            return
        c = self._containers.get(container_id)
        if limitation is None or c is None or c.limitation is not None:
            return
        log.info("container %s hit a limitation: %s", container_id, limitation.message)
        c.limitation = limitation
        await self._kill_all(container_id, c)

    def _signal(self, container_id: ContainerID, c: _Container, sig: int) -> bool:
        """Signal the container's group: through the launcher while it is our child there
        (it knows whether the pid was reaped), else directly."""
        if c.child and self._client is not None and self._client.signal(container_id, sig):
            return True
        return rt.kill_group(c.pgid, sig)

    async def _kill_all(self, container_id: ContainerID, c: _Container) -> bool:
        """SIGKILL the container's process group and everything in its cgroups; True when the
        group still existed (for a container the launcher no longer reports)."""
        existed = self._signal(container_id, c, signal.SIGKILL) and not c.child
        await self._kill_cgroups(container_id)
        return existed

    async def _kill_cgroups(self, container_id: ContainerID) -> None:
        for iso in self._killing:
            with contextlib.suppress(Exception):
                await iso.kill(container_id)  # type: ignore[attr-defined]

    # -- the end of a container ------------------------------------------------------------

    async def _reap(self, container_id: ContainerID, c: _Container) -> Termination:
        term = await c.ended if c.ended is not None else None
        if term is None:  # not the launcher's child (any more): watch the pid
            await wait_pid_exit(c.pid, c.started)
            recorded = (rt.read_exit_status(self.meta_dir, container_id)
                        if c.legacy and self.meta_dir else None)  # fmt: skip
            if recorded is None and c.sent is not None:  # our kill ended it
                recorded = Termination(signal=c.sent)
            term = recorded or Termination(message=c.unknown)
            if await self._kill_all(container_id, c):  # whatever the task left behind
                await wait_group_gone(c.pgid)
        else:
            c.child = False  # reaped: its group was SIGKILLed by the launcher (what is left
            # in its cgroups is killed by the isolators' cleanup below)
            if rt.kill_group(c.pgid, 0):  # members the launcher's SIGKILL has not ended yet
                await wait_group_gone(c.pgid)
        for w in c.watchers:
            w.cancel()
        limitation = c.limitation
        for iso in self.isolators:
            check = getattr(iso, "check", None)
            if limitation is None and check is not None:
                limitation = check(container_id)
        await self._cleanup_isolators(container_id)
        self._containers.pop(container_id, None)
        self._resources.pop(container_id, None)
        if limitation is not None:
            term = Termination(term.exit_code, term.signal, limitation.reason, limitation.message)
        self._remember(container_id, term)
        return term

    def _remember(self, container_id: ContainerID, term: Termination) -> None:
        self._ended[container_id] = term
        while len(self._ended) > MAX_ENDED:
            self._ended.popitem(last=False)

    async def _cleanup_isolators(self, container_id: ContainerID) -> None:
        for iso in self.isolators:
            try:
                await iso.cleanup(container_id)
            except Exception:  # an isolator bug must not leak the container
                log.exception("isolator %s cleanup failed for %s", iso.name, container_id)

    async def wait(self, container_id: ContainerID) -> Termination:
        """The container's end. Acknowledged to the launcher here unless `deferred_acks`."""
        c = self._containers.get(container_id)
        if c is None or c.done is None:
            term = self._ended.get(container_id) or Termination(message="unknown container")
        else:
            term = await asyncio.shield(c.done)
        if container_id in self._ended:
            if self.meta_dir and (c is None or c.legacy):
                rt.remove_record(self.meta_dir, container_id)
            if not self.deferred_acks:
                self.acknowledge((container_id,))
        return term

    def acknowledge(self, container_ids: Iterable[ContainerID]) -> None:
        """The agent has recorded these containers' ends (its checkpoint is synced): the
        launcher may forget them. Called by `wait`, or by the agent shell."""
        client = self._client
        for cid in container_ids:
            if cid in self._legacy_ended and self.meta_dir:
                self._legacy_ended.discard(cid)
                rt.remove_record(self.meta_dir, cid)
            if cid in self._journaled and cid not in self._containers:
                self._journaled.discard(cid)
                if client is not None:
                    client.ack(cid)

    async def destroy(self, container_id: ContainerID, grace: float) -> None:
        """SIGTERM the group; SIGKILL group and cgroups when `grace` runs out. Returns once gone."""
        c = self._containers.get(container_id)
        if c is None or c.done is None:
            return
        if grace > 0:
            c.sent = signal.SIGTERM
            self._signal(container_id, c, signal.SIGTERM)
            try:
                await asyncio.wait_for(asyncio.shield(c.done), grace)
                return
            except TimeoutError:
                log.info("container %s outlived its grace; SIGKILL", container_id)
        c.sent = signal.SIGKILL
        await self._kill_all(container_id, c)
        await asyncio.shield(c.done)

    # -- recovery --------------------------------------------------------------------------

    async def recover(
        self, expected: Mapping[ContainerID, ContainerConfig] | None = None
    ) -> dict[ContainerID, Termination | None]:
        """Reattach to the `expected` containers of a previous agent run; kill the others.
        See `dcos.agent.containerizer.recover.recover`."""

        return await recover(self, dict(expected or {}))

    def _adopt(self, cid: ContainerID, pid: int, started: float, resources: Resources,
               spec: LaunchSpec, *, child: bool, legacy: bool = False,
               unknown: str = UNKNOWN_EXIT, run_as: list[int] | None = None) -> None:  # fmt: skip
        """Watch a container found at recovery as if it had been launched now."""
        c = _Container(pid=pid, pgid=pid, child=child, legacy=legacy, started=started,
                       spec=spec, unknown=unknown, run_as=run_as)  # fmt: skip
        c.ended = asyncio.get_running_loop().create_future()
        if not child:
            c.ended.set_result(None)
        self._containers[cid] = c
        self._resources[cid] = resources
        if not legacy:
            self._journaled.add(cid)
        self._start_watching(cid, c)
        c.done = asyncio.ensure_future(self._reap(cid, c))

    # -- the rest of the contract ----------------------------------------------------------

    async def update(self, container_id: ContainerID, resources: Resources) -> None:
        for iso in self.isolators:
            await iso.update(container_id, resources)
        if container_id in self._resources:
            self._resources[container_id] = resources

    async def usage(self, container_id: ContainerID) -> dict[str, float]:
        """Mesos ResourceStatistics fields: from cgroups where an isolator has them, else psutil
        over the task and its descendants."""
        c = self._containers.get(container_id)
        if c is None:
            return {}
        stats: dict[str, float] = {}
        for iso in self.isolators:
            stats.update(await iso.usage(container_id))
        if "cpus_user_time_secs" not in stats or "mem_rss_bytes" not in stats:
            for key, value in rt.group_usage(c.pid).items():
                stats.setdefault(key, value)
        return stats

    def resources(self, container_id: ContainerID) -> Resources | None:
        """The resources a live container was launched (or updated) with."""
        return self._resources.get(container_id)

    def containers(self) -> set[ContainerID]:
        return set(self._containers)

    async def close(self, stop_launcher: bool = True) -> None:
        """Agent shutdown, after every container is destroyed: isolators drop their roots and
        the launcher is told to exit (`stop_launcher`; an agent that leaves its tasks running
        only disconnects)."""
        client, self._client = self._client, None
        if client is not None:
            client.on_lost = None  # a connection we close is not a launcher lost
            if stop_launcher and not self._containers and client.connected:
                client.shutdown(kill=True)
                await client.wait_closed()  # its cgroup removals are done then
            client.close()
        for iso in self.isolators:
            close = getattr(iso, "close", None)
            if close is not None:
                with contextlib.suppress(Exception):
                    await close()

