"""Split one machine's resources among N local agents (for `dcos-py up`).

Called by: `up.build_components`, once, before the agents start. `split_machine` is pure (takes
the machine's totals), `detect_machine` reads them from this host.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass

import psutil

MIN_CPUS = 0.5
PORTS_BASE = 31000
PORTS_PER_AGENT = 1000


@dataclass(frozen=True)
class Machine:
    """What this host has: logical cpus, memory and the work dir's free disk (MB)."""

    cpus: int
    mem_mb: int
    disk_mb: int


@dataclass(frozen=True)
class AgentShare:
    """One local agent's part of the machine, as the agent's `--resources` flag wants it."""

    cpus: float
    mem_mb: int
    disk_mb: int
    ports: tuple[int, int]

    def flag(self) -> str:
        """Mesos resource text, e.g. `cpus:1.5;mem:2048;disk:10000;ports:[31000-31999]`."""
        return (
            f"cpus:{self.cpus:g};mem:{self.mem_mb};disk:{self.disk_mb};"
            f"ports:[{self.ports[0]}-{self.ports[1]}]"
        )


def detect_machine(work_dir: str) -> Machine:
    """This host's cpus, memory and the free disk where `work_dir` lives (or its nearest
    existing parent)."""
    probe = os.path.abspath(work_dir)
    while not os.path.exists(probe):
        probe = os.path.dirname(probe)
    return Machine(
        cpus=os.cpu_count() or 1,
        mem_mb=psutil.virtual_memory().total // (1024 * 1024),
        disk_mb=shutil.disk_usage(probe).free // (1024 * 1024),
    )


def split_machine(machine: Machine, agents: int) -> list[AgentShare]:
    """Give each of `agents` agents cpus/N (rounded to 0.1, at least 0.5), mem/N and disk/N
    (whole MB, at least 1) and a disjoint 1,000-port range: agent i gets
    [31000+i*1000, 31999+i*1000]."""
    if agents < 1:
        raise ValueError("at least one agent is needed")
    cpus = max(MIN_CPUS, round(machine.cpus / agents, 1))
    mem = max(1, machine.mem_mb // agents)
    disk = max(1, machine.disk_mb // agents)
    return [
        AgentShare(
            cpus=cpus,
            mem_mb=mem,
            disk_mb=disk,
            ports=(
                PORTS_BASE + i * PORTS_PER_AGENT,
                PORTS_BASE + i * PORTS_PER_AGENT + PORTS_PER_AGENT - 1,
            ),
        )
        for i in range(agents)
    ]
