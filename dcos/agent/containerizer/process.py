"""`ProcessContainerizer`: each container is a real process session, isolated by isolators.

Called by the agent shell (`dcos.agent.agent`). Each task runs under the launch wrapper of
`dcos.agent.containerizer.runtime` (a tiny ``/bin/sh`` that joins the container's cgroups,
applies ulimits, runs the task, records its exit status), spawned synchronously with
``subprocess.Popen`` (``start_new_session=True``, no ``preexec_fn``: the vfork path, about
0.2 ms, where asyncio's subprocess transports cost 1.5 ms and more on uvloop) and watched
through a pidfd (`_wait_child`: readable when it exits, then reaped with ``waitpid``). The
container is the wrapper's process group plus, with cgroups, every process in its cgroups: a
kill sends SIGTERM to the group, then SIGKILL to the group and to the cgroup after the grace
period, and whatever is left when the task ends is SIGKILLed too, so no task leaves orphans.

With a `meta_dir`, a runtime record per container (wrapper pid + start time, cgroups, GPUs)
lets `recover` reattach after an agent restart; records are removed once `wait` has handed
the container's end to the agent.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import subprocess
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from dcos.agent.containerizer import ContainerConfig, LaunchResult, Termination
from dcos.agent.containerizer import runtime as rt
from dcos.agent.containerizer.runtime import RuntimeRecord
from dcos.agent.isolators import (
    Isolator,
    LaunchSpec,
    Limitation,
    PosixIsolator,
    RecoveredContainer,
)
from dcos.protocol.ids import ContainerID
from dcos.protocol.resources import Resources

log = logging.getLogger(__name__)

MAX_ENDED = 1000
FRESH = 1.0  # seconds after launch during which a kill may race the task's exec
UNKNOWN_EXIT = "Container ended while the agent was down; its exit status is unknown"


@dataclass
class _Container:
    pid: int
    pgid: int
    child: bool = False  # our own child (reaped by `_wait_child`); False: reattached
    done: asyncio.Future[Termination] | None = None
    limitation: Limitation | None = None
    sent: int | None = None  # the last signal destroy sent (for a reattached container)
    started: float = 0.0  # wall-clock start of the wrapper
    watchers: list[asyncio.Task[Any]] = field(default_factory=list)
    spec: LaunchSpec = field(default_factory=LaunchSpec)  # what the isolators asked at launch


def group_alive(pgid: int) -> bool:
    """True while some non-zombie process of the group exists (``killpg(pgid, 0)`` says when
    none is left at all; otherwise /proc is scanned, since zombies still count for killpg)."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        pass
    try:
        names = os.listdir("/proc")
    except OSError:
        return False
    for name in names:
        if not name.isdigit():
            continue
        with contextlib.suppress(OSError, ValueError, IndexError):
            with open(f"/proc/{name}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
            if fields[0] != b"Z" and int(fields[2]) == pgid:
                return True
    return False


async def _wait_group_gone(pgid: int, timeout: float = 5.0) -> None:
    """After a SIGKILL, wait (bounded) until the kernel has ended every group member."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    delay = 0.001
    while group_alive(pgid) and loop.time() < deadline:
        await asyncio.sleep(delay)
        delay = min(delay * 2, 0.05)


async def _readable(fd: int) -> None:
    """Return once `fd` is readable: for a pidfd, once its process has exited. Called by
    `_wait_pid_exit` and `_wait_child`, which own (and close) the fd."""
    loop = asyncio.get_running_loop()
    gone: asyncio.Future[None] = loop.create_future()

    def readable() -> None:
        if not gone.done():
            gone.set_result(None)

    loop.add_reader(fd, readable)
    try:
        await gone
    finally:
        loop.remove_reader(fd)


async def _wait_pid_exit(pid: int) -> None:
    """Wait for a process that is not our child to exit (pidfd; polling where unavailable)."""
    try:
        fd = os.pidfd_open(pid)
    except (AttributeError, OSError):
        fd = -1
    if fd >= 0:
        try:
            await _readable(fd)
        finally:
            os.close(fd)
        return
    while rt.start_time(pid) is not None and group_alive(pid):
        await asyncio.sleep(0.1)


async def _wait_child(pid: int) -> int | None:
    """The exit status of our child `pid` (asyncio's convention: -N when killed by signal N),
    once it ends: a pidfd becomes readable when it exits, then ``waitpid`` reaps it (polling
    with ``WNOHANG`` where no pidfd can be had). None when the status cannot be had (someone
    else reaped the child)."""
    try:
        fd = os.pidfd_open(pid)
    except OSError:
        fd = -1
    try:
        if fd >= 0:
            await _readable(fd)
        delay = 0.005
        while True:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done == pid:
                return os.waitstatus_to_exitcode(status)
            await asyncio.sleep(delay)  # no pidfd (or woken early): poll
            delay = min(delay * 2, 0.5)
    except ChildProcessError:
        return None
    finally:
        if fd >= 0:
            os.close(fd)


termination_from_returncode = rt.termination_from_status


def _spec_from_record(data: dict[str, Any]) -> LaunchSpec:
    """The `LaunchSpec` kept in a runtime record (empty for records of older agents)."""
    procs = data.get("procs_files")
    shell = data.get("shell")
    env = data.get("env")
    return LaunchSpec(
        procs_files=[str(p) for p in procs] if isinstance(procs, list) else [],
        shell=[str(line) for line in shell] if isinstance(shell, list) else [],
        env={str(k): str(v) for k, v in env.items()} if isinstance(env, dict) else {},
    )


class ProcessContainerizer:
    """Containers as process sessions; isolators are called around each one."""

    def __init__(
        self, isolators: list[Isolator] | None = None, meta_dir: str | None = None
    ) -> None:
        """`meta_dir` (e.g. ``<work_dir>/meta/containers``): where runtime records and exit
        statuses are kept; without one nothing is written and `recover` finds nothing."""
        self.isolators: list[Isolator] = isolators if isolators is not None else [PosixIsolator()]
        self.meta_dir = os.path.abspath(meta_dir) if meta_dir else None
        self._containers: dict[ContainerID, _Container] = {}
        self._resources: dict[ContainerID, Resources] = {}
        # how recently ended containers ended, for a `wait` that comes after the end
        self._ended: OrderedDict[ContainerID, Termination] = OrderedDict()

    # -- launch ----------------------------------------------------------------------------

    async def launch(self, container_id: ContainerID, config: ContainerConfig) -> LaunchResult:
        """Prepare isolation, create the sandbox, spawn the wrapper; a failure cleans up."""
        if container_id in self._containers:
            return LaunchResult(False, f"container {container_id} already exists")
        problem = rt.executable_error(config.argv, config.env)
        if problem is not None:
            return LaunchResult(False, f"Failed to launch {config.argv[:1]}: {problem}")
        spec = LaunchSpec()
        records: dict[str, dict[str, Any]] = {}
        try:
            for iso in self.isolators:
                got = await iso.prepare(container_id, config)
                if got is not None:
                    spec.procs_files += got.procs_files
                    spec.shell += got.shell
                    spec.env.update(got.env)
                    records[iso.name] = got.record
            pid = self._spawn(container_id, config, spec)
        except (OSError, ValueError, subprocess.SubprocessError) as exc:
            await self._cleanup_isolators(container_id)
            if self.meta_dir:
                rt.remove_record(self.meta_dir, container_id)
            return LaunchResult(False, f"Failed to launch {config.argv[:1]}: {exc}")
        c = _Container(pid=pid, pgid=pid, child=True, spec=spec)
        c.started = time.time()
        self._containers[container_id] = c
        self._resources[container_id] = config.resources
        if self.meta_dir:
            self._write_record(container_id, c, config, records)
        for iso in self.isolators:
            await iso.isolate(container_id, pid)
        self._start_watching(container_id, c)
        c.done = asyncio.ensure_future(self._reap(container_id, c))
        return LaunchResult(True, pid=pid)

    def _spawn(self, container_id: ContainerID, config: ContainerConfig, spec: LaunchSpec) -> int:
        """Start the wrapper (synchronously: vfork + exec) in its own session; its pid."""
        exit_file = ""
        if self.meta_dir:
            run_dir = os.path.join(self.meta_dir, container_id)
            os.makedirs(run_dir, exist_ok=True)
            exit_file = os.path.join(run_dir, rt.EXIT_STATUS)
        os.makedirs(config.sandbox, exist_ok=True)
        env = config.env
        if spec.env:
            env = {**env, **spec.env}
        argv = rt.wrapper_argv(config.argv, exit_file, spec.procs_files, spec.shell,
                               unset_pwd="PWD" not in env)  # fmt: skip
        flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC
        out = os.open(os.path.join(config.sandbox, "stdout"), flags, 0o644)
        try:
            err = os.open(os.path.join(config.sandbox, "stderr"), flags, 0o644)
            try:
                proc = subprocess.Popen(
                    argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                    cwd=config.sandbox, env=env, start_new_session=True,
                )  # fmt: skip
                # reaped by `_wait_child`, not by the Popen object (which would otherwise
                # warn, when collected, that its process still runs)
                proc.returncode = 0
                return proc.pid
            finally:
                os.close(err)
        finally:
            os.close(out)

    def _write_record(
        self, cid: ContainerID, c: _Container, config: ContainerConfig, records: dict[str, Any]
    ) -> None:
        assert self.meta_dir is not None
        spec = {"procs_files": c.spec.procs_files, "shell": c.spec.shell, "env": c.spec.env}
        record = RuntimeRecord(cid, c.pid, rt.start_time(c.pid) or 0.0, c.pgid, config.sandbox,
                               config.resources, records, spec)  # fmt: skip
        try:
            rt.write_record(self.meta_dir, record)
        except OSError as exc:
            log.warning("cannot write the runtime record of %s: %s", cid, exc)

    def _start_watching(self, container_id: ContainerID, c: _Container) -> None:
        c.watchers = [
            asyncio.ensure_future(self._watch(container_id, iso)) for iso in self.isolators
        ]

    def exec_command(self, container_id: ContainerID, argv: list[str],
                     env: dict[str, str]) -> tuple[list[str], dict[str, str]]:  # fmt: skip
        """(argv, env) that run `argv` inside a live container, as its task was launched:
        the launch wrapper joins the container's cgroups and applies its ulimits (no exit
        file is written). Used for COMMAND health checks; unknown containers get `argv`
        unchanged. The caller spawns it (in its own session) and kills it."""
        c = self._containers.get(container_id)
        if c is None:
            return argv, env
        if c.spec.env:
            env = {**env, **c.spec.env}
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

    async def _kill_all(self, container_id: ContainerID, c: _Container) -> bool:
        """SIGKILL the container's process group and everything in its cgroups; True when the
        group still existed."""
        existed = rt.kill_group(c.pgid, signal.SIGKILL)
        for iso in self.isolators:
            kill = getattr(iso, "kill", None)
            if kill is not None:
                with contextlib.suppress(Exception):
                    await kill(container_id)
        return existed

    # -- the end of a container ------------------------------------------------------------

    async def _reap(self, container_id: ContainerID, c: _Container) -> Termination:
        code = await _wait_child(c.pid) if c.child else None
        if code is not None:
            term = rt.termination_from_status(code)
        else:
            await _wait_pid_exit(c.pid)
            recorded = rt.read_exit_status(self.meta_dir, container_id) if self.meta_dir else None
            if recorded is None and c.sent is not None:  # our kill ended the wrapper itself
                recorded = Termination(signal=c.sent)
            term = recorded or Termination(message=UNKNOWN_EXIT)
        if await self._kill_all(container_id, c):  # whatever the task left behind
            await _wait_group_gone(c.pgid)
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
        """The container's end; its runtime record is removed once handed over."""
        c = self._containers.get(container_id)
        if c is None or c.done is None:
            term = self._ended.get(container_id) or Termination(message="unknown container")
        else:
            term = await asyncio.shield(c.done)
        if self.meta_dir and container_id in self._ended:
            rt.remove_record(self.meta_dir, container_id)
        return term

    async def destroy(self, container_id: ContainerID, grace: float) -> None:
        """SIGTERM the group; SIGKILL group and cgroups when `grace` runs out. Returns once gone."""
        c = self._containers.get(container_id)
        if c is None or c.done is None:
            return
        if grace > 0:
            c.sent = signal.SIGTERM
            rt.kill_group(c.pgid, signal.SIGTERM)
            try:
                if time.time() - c.started < FRESH:
                    # a SIGTERM that lands between the wrapper's fork and the task's exec is
                    # lost (the wrapper traps it): a task this young gets a second one
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(asyncio.shield(c.done), min(grace, 0.1))
                    if c.done.done():
                        return
                    grace = max(0.0, grace - 0.1)
                    rt.kill_group(c.pgid, signal.SIGTERM)
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

        Returns, per expected container: None (still running, reattached: `wait` / `destroy`
        work as for a fresh launch) or its `Termination` (it ended while the agent was down:
        the wrapper's recorded exit status, or one saying the status is unknown). Containers
        in the meta dir (or in this agent's cgroups) that are not expected are orphans: their
        processes are killed and their records and cgroups removed.
        """
        expected = dict(expected or {})
        records = rt.read_records(self.meta_dir) if self.meta_dir else {}
        out: dict[ContainerID, Termination | None] = {}
        found: dict[str, list[RecoveredContainer]] = {iso.name: [] for iso in self.isolators}
        live: list[tuple[ContainerID, RuntimeRecord]] = []
        for cid, record in records.items():
            alive = record is not None and rt.same_process_alive(record.pid, record.start_time)
            if cid not in expected or record is None:
                if record is not None and alive:
                    log.warning("killing orphan container %s (pid %d)", cid, record.pid)
                    rt.kill_group(record.pgid, signal.SIGKILL)
                if record is not None:  # let isolators release what it held
                    for name, rc_list in found.items():
                        rc_list.append(self._recovered(cid, record, name, alive=False))
                if cid not in expected:
                    rt.remove_record(self.meta_dir or "", cid)
                continue
            for name, rc_list in found.items():
                rc_list.append(self._recovered(cid, record, name, alive))
            if alive:
                live.append((cid, record))
                out[cid] = None
            else:
                term = rt.read_exit_status(self.meta_dir or "", cid)
                out[cid] = term or Termination(message=UNKNOWN_EXIT)
                self._remember(cid, out[cid])  # type: ignore[arg-type]
        for cid in expected:
            out.setdefault(cid, Termination(message=UNKNOWN_EXIT))
        for iso in self.isolators:
            await iso.recover(found[iso.name])
        for rc_list in found.values():
            for rc in rc_list:
                if not rc.alive:
                    await self._cleanup_one(rc.container_id)
        for cid, record in live:
            c = _Container(pid=record.pid, pgid=record.pgid, started=record.start_time,
                           spec=_spec_from_record(record.spec))  # fmt: skip
            self._containers[cid] = c
            self._resources[cid] = record.resources
            self._start_watching(cid, c)
            c.done = asyncio.ensure_future(self._reap(cid, c))
        return out

    def _recovered(self, cid: ContainerID, record: RuntimeRecord, name: str,
                   alive: bool) -> RecoveredContainer:  # fmt: skip
        return RecoveredContainer(cid, record.resources, dict(record.isolators.get(name) or {}),
                                  alive, record.sandbox)  # fmt: skip

    async def _cleanup_one(self, container_id: ContainerID) -> None:
        for iso in self.isolators:
            with contextlib.suppress(Exception):
                await iso.cleanup(container_id)

    # -- the rest of the contract ----------------------------------------------------------

    async def update(self, container_id: ContainerID, resources: Resources) -> None:
        for iso in self.isolators:
            await iso.update(container_id, resources)
        if container_id in self._resources:
            self._resources[container_id] = resources

    async def usage(self, container_id: ContainerID) -> dict[str, float]:
        """Mesos ResourceStatistics fields: from cgroups where an isolator has them, else psutil
        over the wrapper and its descendants."""
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

    async def close(self) -> None:
        """Agent shutdown, after every container is destroyed: isolators drop their roots."""
        for iso in self.isolators:
            close = getattr(iso, "close", None)
            if close is not None:
                with contextlib.suppress(Exception):
                    await close()
