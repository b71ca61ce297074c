"""`build_isolators`: turn the agent's ``--isolation`` flag into isolator objects.

Called once by the agent shell at start-up (`dcos.agent.agent.Agent`). Without a flag the
default is what this host can enforce: ``cgroups/cpu,cgroups/mem,cgroups/pids,disk/du``
when cgroups are writable (as root), else ``posix/rlimits`` with a warning; ``gpu/nvidia``
is added when GPUs were detected. A requested isolator that cannot be in force here is
dropped with a warning (``cgroups/mem`` then falls back to ``posix/rlimits``), so the
names the agent reports in /state are exactly what is enforced.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from dataclasses import dataclass, field

from dcos.agent.gpus import GpuDevice
from dcos.agent.isolators import Isolator, PosixIsolator
from dcos.agent.isolators import cgroupfs as fs
from dcos.agent.isolators.cgroupfs import Hierarchy
from dcos.agent.isolators.cgroups import CgroupsIsolator
from dcos.agent.isolators.disk import DiskDuIsolator
from dcos.agent.isolators.gpu import NvidiaGpuIsolator
from dcos.agent.isolators.posix import PosixRlimitsIsolator

log = logging.getLogger(__name__)

KNOWN = ("cgroups/cpu", "cgroups/mem", "cgroups/pids", "disk/du", "posix/rlimits",
         "posix/cpu", "posix/mem", "gpu/nvidia", "filesystem/posix")  # fmt: skip
CGROUP_CONTROLLER = {"cpu": "cpu", "mem": "memory", "pids": "pids"}


@dataclass
class IsolationChoice:
    isolators: list[Isolator]
    warnings: list[str] = field(default_factory=list)

    @property
    def names(self) -> str:
        return ",".join(i.name for i in self.isolators) or "none"


def parse_isolation(text: str | None) -> list[str] | None:
    """``a,b,c`` -> names (None: use the default); raises ValueError for an unknown name."""
    if text is None or not text.strip() or text.strip() == "default":
        return None
    names = [n.strip() for n in text.split(",") if n.strip()]
    bad = [n for n in names if n not in KNOWN]
    if bad:
        raise ValueError(f"unknown isolator {bad[0]!r} (known: {', '.join(KNOWN)})")
    return names


def build_isolators(
    isolation: str | None,
    *,
    cgroups_root: str = "dcos-py",
    agent_key: str = "agent",
    enable_cfs: bool = False,
    max_pids: int | None = 1024,
    disk_interval: float = 15.0,
    gpus: list[GpuDevice] | None = None,
    hierarchies: list[Hierarchy] | None = None,
) -> IsolationChoice:
    """The isolators for ``--isolation`` on this host; raises ValueError for unknown names."""
    wanted = parse_isolation(isolation)
    if hierarchies is None:
        hierarchies = fs.detect_hierarchies()
    usable = []
    for h in hierarchies:
        ctrls = fs.usable_controllers(h, cgroups_root)
        if ctrls:
            usable.append(dataclasses.replace(h, controllers=ctrls))
    have = {c for h in usable for c in h.controllers}
    warnings: list[str] = []
    if wanted is None:
        wanted = [f"cgroups/{n}" for n, c in CGROUP_CONTROLLER.items() if c in have]
        if wanted:
            wanted.append("disk/du")
        else:
            wanted = ["posix/rlimits"]
            warnings.append("no writable cgroup hierarchy (not root?): tasks are limited by "
                            "posix rlimits only (data segment, file size); cpu, memory "
                            "totals and process counts are not enforced")  # fmt: skip
    groups = []
    for name in wanted:
        if name.startswith("cgroups/"):
            short = name.split("/", 1)[1]
            if CGROUP_CONTROLLER[short] in have:
                groups.append(short)
            else:
                warnings.append(f"{name} requested but the {CGROUP_CONTROLLER[short]} cgroup "
                                "controller is not writable here: not enforced")  # fmt: skip
                if short == "mem" and "posix/rlimits" not in wanted:
                    wanted.append("posix/rlimits")
    out: list[Isolator] = []
    if groups:
        out.append(CgroupsIsolator(set(groups), usable, cgroups_root, agent_key,
                                   enable_cfs, max_pids))  # fmt: skip
    if "disk/du" in wanted:
        out.append(DiskDuIsolator(disk_interval))
    if "posix/rlimits" in wanted:
        out.append(PosixRlimitsIsolator())
    if ("posix/cpu" in wanted or "posix/mem" in wanted) and not out:
        out.append(PosixIsolator())
    if gpus:
        devices = next((h for h in usable if h.version == 1 and "devices" in h.controllers), None)
        base = os.path.join(fs.base_dir(devices, cgroups_root), agent_key) if devices else None
        out.append(NvidiaGpuIsolator(gpus, base))
    elif "gpu/nvidia" in wanted:
        warnings.append("gpu/nvidia requested but no GPU was detected")
    for w in warnings:
        log.warning("isolation: %s", w)
    return IsolationChoice(out, warnings)
