"""`CgroupsIsolator`: ``cgroups/cpu``, ``cgroups/mem`` and ``cgroups/pids`` in one object.

Built by `dcos.agent.isolators.select.build_isolators` when cgroups are writable. Each
container gets a cgroup named ``<root>/<agent key>/<container id>`` in every hierarchy it
needs (v1: cpu, cpuacct, memory, pids and freezer, for accounting and killing; v2: one
directory). `prepare` creates them and sets the limits, and returns their ``cgroup.procs``
files, which the launch wrapper joins before it runs the task, so every process the task
starts is accounted to it:

- cpu: ``cpu.shares`` = 1024 x cpus (v2 ``cpu.weight``), and with CFS enabled a quota of
  cpus x period (``cpu.cfs_quota_us``; v2 ``cpu.max``).
- mem: ``memory.limit_in_bytes`` (and ``memory.memsw.limit_in_bytes`` so swap cannot
  extend it; v2 ``memory.max``, ``memory.swap.max`` 0). An OOM kill in the container is a
  `Limitation` (REASON_CONTAINER_LIMITATION_MEMORY), seen by `watch` (v1: an eventfd on
  ``memory.oom_control``; v2: polling ``memory.events``) and by `check` after the end.
- pids: ``pids.max`` (``--cgroups-max-pids``), so a fork bomb stops at the limit.

`kill` SIGKILLs everything in the container's cgroup (freezer / cgroup.kill), `cleanup`
removes its cgroups, `close` the agent's own (empty) root at shutdown.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from dcos.agent.containerizer import ContainerConfig
from dcos.agent.isolators import LaunchSpec, Limitation, NoopIsolator, RecoveredContainer
from dcos.agent.isolators import cgroupfs as fs
from dcos.agent.isolators.cgroupfs import Hierarchy
from dcos.protocol.ids import ContainerID
from dcos.protocol.resources import Resources
from dcos.protocol.states import Reason

log = logging.getLogger(__name__)

CPU_SHARES_PER_CPU = 1024
MIN_CPU_SHARES = 2
CFS_PERIOD_US = 100_000
MIN_CFS_QUOTA_US = 1000
MIN_MEMORY_BYTES = 32 * 1024 * 1024
_MB = 1024 * 1024

# which v1 hierarchies each isolator name needs; freezer is always used when present
NEEDS = {"cpu": ("cpu", "cpuacct"), "mem": ("memory",), "pids": ("pids",)}


@dataclass
class _Container:
    paths: dict[str, str]  # v1 controller (or "unified") -> cgroup dir
    resources: Resources
    mem_limit: int | None = None
    oom_fd: int | None = None
    oom_event: asyncio.Event = field(default_factory=asyncio.Event)


class CgroupsIsolator(NoopIsolator):
    def __init__(
        self,
        controllers: set[str],
        hierarchies: list[Hierarchy],
        root: str = "dcos-py",
        agent_key: str = "agent",
        enable_cfs: bool = False,
        max_pids: int | None = 1024,
        poll_interval: float = 0.5,
    ) -> None:
        """`controllers` ⊆ {"cpu", "mem", "pids"}; `hierarchies` the writable ones to use."""
        self.controllers = set(controllers)
        self.enable_cfs = enable_cfs
        self.max_pids = max_pids
        self.poll_interval = poll_interval
        self.v2 = next((h for h in hierarchies if h.version == 2), None)
        self.bases: dict[str, str] = {}  # v1 controller -> this agent's base dir
        for h in hierarchies:
            if h.version != 1:
                continue
            for ctrl in h.controllers:
                self.bases.setdefault(ctrl, os.path.join(fs.base_dir(h, root), agent_key))
        if self.v2 is not None and not self.bases:
            self.bases["unified"] = os.path.join(fs.base_dir(self.v2, root), agent_key)
        self.name = ",".join(f"cgroups/{c}" for c in ("cpu", "mem", "pids") if c in controllers)
        self._containers: dict[ContainerID, _Container] = {}
        memory = next((h for h in hierarchies if h.version == 1 and "memory" in h.controllers),
                      None)  # fmt: skip
        self._memsw = memory is not None and os.path.exists(
            os.path.join(memory.mount, "memory.memsw.limit_in_bytes"))  # fmt: skip
        # set by a containerizer whose task launcher creates the cgroups and sets their limits
        # before the spawn (v1), and removes them (`remover`), off the agent's event loop
        self.deferred_setup = False
        self.remover: Callable[[list[str]], bool] | None = None

    # -- layout ----------------------------------------------------------------------------

    def _wanted(self) -> list[str]:
        """The v1 controllers whose cgroups each container gets (or ["unified"])."""
        if "unified" in self.bases:
            return ["unified"]
        out = [c for name in sorted(self.controllers) for c in NEEDS[name] if c in self.bases]
        if "freezer" in self.bases:
            out.append("freezer")
        return list(dict.fromkeys(out))

    def _file(self, c: _Container, ctrl: str, v1_name: str, v2_name: str) -> str | None:
        if "unified" in c.paths:
            return os.path.join(c.paths["unified"], v2_name)
        path = c.paths.get(ctrl)
        return os.path.join(path, v1_name) if path else None

    def _anchor(self, c: _Container) -> str | None:
        """One of the container's cgroups (all hold the same processes)."""
        for ctrl in ("unified", "freezer", "pids", "memory", "cpu", "cpuacct"):
            if ctrl in c.paths:
                return c.paths[ctrl]
        return None

    def cgroup_paths(self, container_id: ContainerID) -> dict[str, str]:
        c = self._containers.get(container_id)
        return dict(c.paths) if c else {}

    # -- hooks -----------------------------------------------------------------------------

    async def prepare(self, container_id: ContainerID, config: ContainerConfig) -> LaunchSpec:
        """Create the container's cgroups and set its limits (or, with `deferred_setup` on
        v1, say which directories and writes the launcher makes); raises OSError."""
        resources = config.resources
        paths: dict[str, str] = {}
        c = self._containers[container_id] = _Container(paths, resources)
        if self.deferred_setup and "unified" not in self.bases:
            for ctrl in self._wanted():
                paths[ctrl] = os.path.join(self.bases[ctrl], container_id)
            writes: dict[str, list[tuple[str, str]]] = {p: [] for p in paths.values()}
            self._apply_limits(c, resources,
                               lambda f, v: writes[f.rpartition("/")[0]].append((f, str(v))))  # fmt: skip
            setup = list(writes.items())
            procs = [os.path.join(p, "cgroup.procs") for p in paths.values()]
            return LaunchSpec(procs_files=procs, record={"paths": paths}, setup=setup)
        for ctrl in self._wanted():
            base = self.bases[ctrl]
            if ctrl == "unified" and self.v2 is not None:
                os.makedirs(base, exist_ok=True)
                fs.enable_v2_controllers(self.v2.mount, base, self.v2.controllers)
            path = os.path.join(base, container_id)
            os.makedirs(path, exist_ok=True)
            paths[ctrl] = path
        self._apply_limits(c, resources)
        self._arm_oom(c)
        procs = [os.path.join(p, "cgroup.procs") for p in paths.values()]
        return LaunchSpec(procs_files=procs, record={"paths": paths})

    async def isolate(self, container_id: ContainerID, pid: int) -> None:
        """With `deferred_setup`, the cgroups exist only now: arm the OOM watch."""
        c = self._containers.get(container_id)
        if self.deferred_setup and c is not None and c.oom_fd is None:
            self._arm_oom(c)

    def _apply_limits(self, c: _Container, resources: Resources,
                      write: Callable[[str, str | int], None] = fs.write) -> None:  # fmt: skip
        cpus = resources.scalar("cpus")
        if "cpu" in self.controllers and cpus > 0:
            shares = max(MIN_CPU_SHARES, int(CPU_SHARES_PER_CPU * cpus))
            if "unified" in c.paths:
                weight = 1 + ((shares - 2) * 9999) // 262142
                write(os.path.join(c.paths["unified"], "cpu.weight"), max(1, weight))
            elif "cpu" in c.paths:
                write(os.path.join(c.paths["cpu"], "cpu.shares"), shares)
            if self.enable_cfs:
                quota = max(MIN_CFS_QUOTA_US, int(cpus * CFS_PERIOD_US))
                if "unified" in c.paths:
                    write(os.path.join(c.paths["unified"], "cpu.max"),
                          f"{quota} {CFS_PERIOD_US}")  # fmt: skip
                elif "cpu" in c.paths:
                    write(os.path.join(c.paths["cpu"], "cpu.cfs_period_us"), CFS_PERIOD_US)
                    write(os.path.join(c.paths["cpu"], "cpu.cfs_quota_us"), quota)
        mem = resources.scalar("mem")
        if "mem" in self.controllers and mem > 0:
            self._set_memory(c, max(MIN_MEMORY_BYTES, int(mem * _MB)), write)
        if "pids" in self.controllers and self.max_pids:
            path = self._file(c, "pids", "pids.max", "pids.max")
            if path:
                write(path, self.max_pids)

    def _set_memory(self, c: _Container, limit: int,
                    write: Callable[[str, str | int], None] = fs.write) -> None:  # fmt: skip
        c.mem_limit = limit
        if write is not fs.write:  # deferred: a fresh v1 cgroup, memory first then memsw
            if "memory" not in c.paths:
                return
            write(os.path.join(c.paths["memory"], "memory.limit_in_bytes"), limit)
            if self._memsw:
                write(os.path.join(c.paths["memory"], "memory.memsw.limit_in_bytes"), limit)
            return
        if "unified" in c.paths:
            fs.write(os.path.join(c.paths["unified"], "memory.max"), limit)
            with contextlib.suppress(OSError):
                fs.write(os.path.join(c.paths["unified"], "memory.swap.max"), 0)
            return
        if "memory" not in c.paths:
            return
        mem = os.path.join(c.paths["memory"], "memory.limit_in_bytes")
        memsw = os.path.join(c.paths["memory"], "memory.memsw.limit_in_bytes")
        has_memsw = os.path.exists(memsw)
        # memory <= memsw at every step: raise memsw first, lower memory first
        try:
            fs.write(mem, limit)
            if has_memsw:
                fs.write(memsw, limit)
        except OSError:
            if not has_memsw:
                raise
            fs.write(memsw, limit)
            fs.write(mem, limit)

    def _arm_oom(self, c: _Container) -> None:
        """v1: an eventfd on memory.oom_control that wakes `watch` on an OOM."""
        if "mem" not in self.controllers or "memory" not in c.paths:
            return
        path = c.paths["memory"]
        try:
            efd = os.eventfd(0, os.EFD_NONBLOCK | os.EFD_CLOEXEC)
        except (AttributeError, OSError):
            return
        try:
            ofd = os.open(os.path.join(path, "memory.oom_control"), os.O_RDONLY | os.O_CLOEXEC)
            try:
                fs.write(os.path.join(path, "cgroup.event_control"), f"{efd} {ofd}")
            finally:
                os.close(ofd)
        except OSError:
            os.close(efd)
            return
        c.oom_fd = efd
        event = c.oom_event

        def readable() -> None:
            with contextlib.suppress(OSError):
                os.eventfd_read(efd)
            event.set()

        asyncio.get_running_loop().add_reader(efd, readable)

    def _disarm_oom(self, c: _Container) -> None:
        if c.oom_fd is not None:
            with contextlib.suppress(Exception):
                asyncio.get_running_loop().remove_reader(c.oom_fd)
            os.close(c.oom_fd)
            c.oom_fd = None

    def check(self, container_id: ContainerID) -> Limitation | None:
        """The memory limitation when the kernel OOM-killed something in the container."""
        c = self._containers.get(container_id)
        if c is None or "mem" not in self.controllers or c.mem_limit is None:
            return None
        if "unified" in c.paths:
            kills = fs.read_keyed(os.path.join(c.paths["unified"], "memory.events"))
            oom = kills.get("oom_kill", 0) > 0
            peak_file = os.path.join(c.paths["unified"], "memory.peak")
        elif "memory" in c.paths:
            ctl = fs.read_keyed(os.path.join(c.paths["memory"], "memory.oom_control"))
            oom = ctl.get("oom_kill", 0) > 0 or ctl.get("under_oom", 0) > 0
            peak_file = os.path.join(c.paths["memory"], "memory.max_usage_in_bytes")
        else:
            return None
        if not oom:
            return None  # the usual end: the peak (only for the message) is not read
        peak = fs.read_int(peak_file)
        return Limitation(
            Reason.REASON_CONTAINER_LIMITATION_MEMORY,
            f"Memory limit exceeded: requested {c.mem_limit // _MB}MB, "
            f"maximum used {(peak or c.mem_limit) // _MB}MB",
        )

    async def watch(self, container_id: ContainerID) -> Limitation | None:
        """Returns the memory limitation as soon as an OOM kill happens in the container."""
        c = self._containers.get(container_id)
        if c is None or "mem" not in self.controllers or c.mem_limit is None:
            return None
        while container_id in self._containers:
            if c.oom_fd is not None:
                await c.oom_event.wait()
                c.oom_event.clear()
            else:
                await asyncio.sleep(self.poll_interval)
            limitation = self.check(container_id)
            if limitation is not None:
                return limitation
        return None

    async def kill(self, container_id: ContainerID) -> None:
        c = self._containers.get(container_id)
        anchor = self._anchor(c) if c else None
        if c is None or anchor is None:
            return
        version = 2 if "unified" in c.paths else 1
        await fs.kill_cgroup(anchor, version, c.paths.get("freezer"))

    async def update(self, container_id: ContainerID, resources: Resources) -> None:
        c = self._containers.get(container_id)
        if c is not None:
            c.resources = resources
            self._apply_limits(c, resources)

    async def usage(self, container_id: ContainerID) -> dict[str, float]:
        c = self._containers.get(container_id)
        return usage_from_cgroups(c.paths, c.mem_limit) if c else {}

    async def cleanup(self, container_id: ContainerID) -> None:
        c = self._containers.get(container_id)
        if c is None:
            return
        self._disarm_oom(c)
        await self.kill(container_id)
        self._containers.pop(container_id, None)
        if self.remover is not None and self.remover(list(dict.fromkeys(c.paths.values()))):
            return  # the launcher removes them
        for path in c.paths.values():
            await fs.remove(path)

    async def recover(self, containers: list[Any]) -> None:
        """Take back the cgroups of live recovered containers; kill and remove all others."""
        keep: set[str] = set()
        for rc in containers:
            if not isinstance(rc, RecoveredContainer):
                continue
            paths = {k: str(v) for k, v in (rc.record.get("paths") or {}).items()}
            c = _Container(paths, rc.resources)
            mem = rc.resources.scalar("mem")
            if "mem" in self.controllers and mem > 0:
                c.mem_limit = max(MIN_MEMORY_BYTES, int(mem * _MB))
            self._containers[rc.container_id] = c
            if rc.alive:
                keep.add(rc.container_id)
                self._arm_oom(c)
            else:
                await self.cleanup(rc.container_id)
        for base in set(self.bases.values()):
            with contextlib.suppress(OSError):
                for name in os.listdir(base):
                    path = os.path.join(base, name)
                    if name not in keep and os.path.isdir(path):
                        log.warning("killing orphan container cgroup %s", path)
                        await fs.kill_cgroup(path, 2 if "unified" in self.bases else 1)
                        await fs.remove(path)

    async def close(self) -> None:
        """Agent shutdown: remove this agent's (empty) cgroup roots; others are left alone."""
        for base in set(self.bases.values()):
            with contextlib.suppress(OSError):
                os.rmdir(base)
            with contextlib.suppress(OSError):
                os.rmdir(os.path.dirname(base))


def usage_from_cgroups(paths: dict[str, str], mem_limit: int | None) -> dict[str, float]:
    """Mesos ResourceStatistics fields read from a container's cgroups."""
    out: dict[str, float] = {}
    tick = float(os.sysconf("SC_CLK_TCK") or 100)
    if "unified" in paths:
        p = paths["unified"]
        stat = fs.read_keyed(os.path.join(p, "cpu.stat"))
        if "user_usec" in stat:
            out["cpus_user_time_secs"] = stat["user_usec"] / 1e6
            out["cpus_system_time_secs"] = stat.get("system_usec", 0) / 1e6
        for key in ("nr_periods", "nr_throttled"):
            if key in stat:
                out[f"cpus_{key}"] = float(stat[key])
        mem = fs.read_keyed(os.path.join(p, "memory.stat"))
        if "anon" in mem:
            out["mem_rss_bytes"] = float(mem["anon"])
            out["mem_cache_bytes"] = float(mem.get("file", 0))
        total = fs.read_int(os.path.join(p, "memory.current"))
        procs_dir = p
    else:
        acct = fs.read_keyed(os.path.join(paths.get("cpuacct", ""), "cpuacct.stat"))
        if "user" in acct:
            out["cpus_user_time_secs"] = acct["user"] / tick
            out["cpus_system_time_secs"] = acct.get("system", 0) / tick
        stat = fs.read_keyed(os.path.join(paths.get("cpu", ""), "cpu.stat"))
        for key in ("nr_periods", "nr_throttled"):
            if key in stat:
                out[f"cpus_{key}"] = float(stat[key])
        if "throttled_time" in stat:
            out["cpus_throttled_time_secs"] = stat["throttled_time"] / 1e9
        mp = paths.get("memory", "")
        mem = fs.read_keyed(os.path.join(mp, "memory.stat"))
        if "total_rss" in mem:
            out["mem_rss_bytes"] = float(mem["total_rss"])
            out["mem_cache_bytes"] = float(mem.get("total_cache", 0))
        total = fs.read_int(os.path.join(mp, "memory.usage_in_bytes")) if mp else None
        procs_dir = next((paths[k] for k in ("freezer", "pids", "memory", "cpu") if k in paths), "")
    if total is not None:
        out["mem_total_bytes"] = float(total)
    if mem_limit is not None:
        out["mem_limit_bytes"] = float(mem_limit)
    if procs_dir:
        out["processes"] = float(len(fs.procs(procs_dir)))
        threads = fs.read(os.path.join(procs_dir, "tasks" if "unified" not in paths
                                       else "cgroup.threads")).split()  # fmt: skip
        out["threads"] = float(len(threads))
    return out
