"""The cgroup file system: which hierarchies exist and are writable, and small file helpers.

Used by `dcos.agent.isolators.cgroups.CgroupsIsolator` (and by `select.build_isolators` to
decide whether cgroups isolation can be in force at all). Both layouts are handled:

- v1: one mount per controller (or per group of controllers, e.g. ``cpu,cpuacct``); a
  container gets one directory in each hierarchy it uses. A relative ``--cgroups-root`` is
  placed under the agent's own cgroup of that hierarchy (so whoever runs the agent keeps
  accounting for its tasks), an absolute one under the mount point.
- v2 (unified): one directory per container; the controllers must be enabled in the
  ``cgroup.subtree_control`` of every ancestor, so the root is always placed under the mount
  point (an agent's own cgroup holds processes and cannot delegate controllers).

Nothing here keeps state beyond what the caller passes in.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import signal
from collections.abc import Iterable
from dataclasses import dataclass

log = logging.getLogger(__name__)

V1_CONTROLLERS = ("cpu", "cpuacct", "memory", "pids", "freezer", "devices")
V2_CONTROLLERS = ("cpu", "memory", "pids")


@dataclass(frozen=True)
class Hierarchy:
    """One mounted hierarchy: its mount point, version and the controllers it carries."""

    mount: str
    version: int  # 1 or 2
    controllers: frozenset[str]
    own_path: str = "/"  # this process's cgroup in it ("/" when unknown)


def _own_cgroups(text: str) -> tuple[dict[str, str], str | None]:
    """``/proc/self/cgroup`` -> ({v1 controller: path}, v2 path or None)."""
    v1: dict[str, str] = {}
    v2: str | None = None
    for line in text.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        _, names, path = parts
        if names == "":
            v2 = path
        for name in names.split(","):
            if name:
                v1[name] = path
    return v1, v2


def detect_hierarchies(
    mounts_text: str | None = None, own_text: str | None = None
) -> list[Hierarchy]:
    """The cgroup hierarchies mounted on this host (texts injectable for tests)."""
    if mounts_text is None:
        try:
            with open("/proc/self/mounts") as f:
                mounts_text = f.read()
        except OSError:
            return []
    if own_text is None:
        try:
            with open("/proc/self/cgroup") as f:
                own_text = f.read()
        except OSError:
            own_text = ""
    own_v1, own_v2 = _own_cgroups(own_text)
    out: list[Hierarchy] = []
    for line in mounts_text.splitlines():
        fields = line.split()
        if len(fields) < 4:
            continue
        mount, fstype, options = fields[1], fields[2], fields[3].split(",")
        if fstype == "cgroup":
            ctrls = frozenset(o for o in options if o in V1_CONTROLLERS)
            if ctrls:
                own = next((own_v1[c] for c in ctrls if c in own_v1), "/")
                out.append(Hierarchy(mount, 1, ctrls, own))
        elif fstype == "cgroup2":
            try:
                with open(os.path.join(mount, "cgroup.controllers")) as f:
                    ctrls = frozenset(f.read().split()) & frozenset(V2_CONTROLLERS)
            except OSError:
                continue
            if ctrls:
                out.append(Hierarchy(mount, 2, ctrls, own_v2 or "/"))
    return out


def base_dir(h: Hierarchy, root: str) -> str:
    """Where the agent's cgroups live in `h` for a ``--cgroups-root`` value."""
    if root.startswith("/") or h.version == 2:
        return os.path.join(h.mount, root.strip("/"))
    return os.path.join(h.mount, h.own_path.strip("/"), root.strip("/"))


def writable(h: Hierarchy, root: str) -> bool:
    """True when we can create (and remove) cgroups under `root` in `h`; leaves nothing behind."""
    return bool(usable_controllers(h, root))


def usable_controllers(h: Hierarchy, root: str) -> frozenset[str]:
    """The controllers of `h` a container cgroup under `root` really gets (v2: those that
    could be enabled down the tree); empty when nothing can be created. Leaves nothing behind.
    """
    base = base_dir(h, root)
    created: list[str] = []
    path = base
    while not os.path.isdir(path) and path.startswith(h.mount) and path != h.mount:
        created.append(path)
        path = os.path.dirname(path)
    got: frozenset[str] = frozenset()
    try:
        for d in reversed(created):
            os.mkdir(d)
        if h.version == 2:
            enable_v2_controllers(h.mount, base, set(h.controllers))
        probe = os.path.join(base, f".probe-{os.getpid()}")
        os.mkdir(probe)
        try:
            if h.version == 2:
                got = frozenset(read(os.path.join(probe, "cgroup.controllers")).split())
                got &= h.controllers
            else:
                got = h.controllers
        finally:
            os.rmdir(probe)
    except OSError as exc:
        log.debug("cgroup hierarchy %s not writable: %s", h.mount, exc)
    for d in created:
        with contextlib.suppress(OSError):
            os.rmdir(d)
    return got


def write(path: str, value: str | int) -> None:
    """Write one value to a cgroup control file (raises OSError)."""
    fd = os.open(path, os.O_WRONLY)
    try:
        os.write(fd, str(value).encode())
    finally:
        os.close(fd)


def read(path: str) -> str:
    """A cgroup control file's text, or "" when it cannot be read."""
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""


def read_int(path: str) -> int | None:
    text = read(path).strip()
    if text == "max":
        return None
    try:
        return int(text)
    except ValueError:
        return None


def read_keyed(path: str) -> dict[str, int]:
    """``key value`` lines (memory.stat, cpu.stat, memory.events ...) -> dict."""
    out: dict[str, int] = {}
    for line in read(path).splitlines():
        parts = line.split()
        if len(parts) == 2:
            with contextlib.suppress(ValueError):
                out[parts[0]] = int(parts[1])
    return out


def procs(cgroup: str) -> list[int]:
    """Pids in a cgroup (empty when it is gone)."""
    return [int(p) for p in read(os.path.join(cgroup, "cgroup.procs")).split() if p.isdigit()]


def enable_v2_controllers(mount: str, leaf_parent: str, controllers: Iterable[str]) -> None:
    """Enable `controllers` in the subtree_control of every directory from the mount down."""
    rel = os.path.relpath(leaf_parent, mount)
    path = mount
    parts = [] if rel == "." else rel.split(os.sep)
    for part in ["", *parts]:
        path = os.path.join(path, part) if part else path
        with contextlib.suppress(OSError):
            write(os.path.join(path, "cgroup.subtree_control"),
                  " ".join(f"+{c}" for c in sorted(controllers)))  # fmt: skip


async def kill_cgroup(cgroup: str, version: int, freezer: str | None = None) -> None:
    """SIGKILL every process in `cgroup` until it is empty (bounded to about 5 s).

    v2 uses ``cgroup.kill`` when the kernel has it; v1 freezes the container's freezer
    cgroup (when given) so nothing can fork while the pids are read and killed.
    """
    if version == 2 and os.path.exists(os.path.join(cgroup, "cgroup.kill")):
        with contextlib.suppress(OSError):
            write(os.path.join(cgroup, "cgroup.kill"), 1)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 5.0
    delay = 0.001
    while True:
        pids = procs(cgroup)
        if not pids or loop.time() > deadline:
            break
        frozen = freezer is not None and await _freeze(freezer, True)
        for pid in procs(cgroup):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        if frozen and freezer is not None:
            await _freeze(freezer, False)
        await asyncio.sleep(delay)
        delay = min(delay * 2, 0.05)
    if pids:
        log.warning("cgroup %s still has processes %s after SIGKILL", cgroup, pids[:10])


async def _freeze(freezer: str, frozen: bool) -> bool:
    """Set a v1 freezer cgroup's state; with `frozen`, wait (bounded) until FROZEN."""
    state_file = os.path.join(freezer, "freezer.state")
    try:
        write(state_file, "FROZEN" if frozen else "THAWED")
    except OSError:
        return False
    if not frozen:
        return True
    for _ in range(50):
        if read(state_file).strip() == "FROZEN":
            return True
        await asyncio.sleep(0.001)
    return True


async def remove(cgroup: str) -> bool:
    """rmdir a (now empty) cgroup, retrying briefly while exiting processes leave it."""
    for attempt in range(50):
        try:
            os.rmdir(cgroup)
            return True
        except FileNotFoundError:
            return True
        except OSError as exc:
            if exc.errno not in (errno.EBUSY, errno.ENOTEMPTY) or attempt == 49:
                log.warning("cannot remove cgroup %s: %s", cgroup, exc)
                return False
            await asyncio.sleep(0.01)
    return False


def remove_agent_cgroups(root: str, agent_key: str) -> list[str]:
    """Kill what is left in an agent's cgroups and remove them (test harnesses, after an agent
    was SIGKILLed and not restarted). Synchronous; returns the directories removed."""
    import time

    removed = []
    for h in detect_hierarchies():
        base = os.path.join(base_dir(h, root), agent_key)
        if not os.path.isdir(base):
            continue
        for dirpath, _dirs, _files in sorted(os.walk(base), key=lambda w: -len(w[0])):
            for _ in range(100):
                pids = procs(dirpath)
                if not pids:
                    break
                for pid in pids:
                    with contextlib.suppress(ProcessLookupError, PermissionError):
                        os.kill(pid, signal.SIGKILL)
                time.sleep(0.01)
            with contextlib.suppress(OSError):
                os.rmdir(dirpath)
                removed.append(dirpath)
        with contextlib.suppress(OSError):
            os.rmdir(os.path.dirname(base))
    return removed
