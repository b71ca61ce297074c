"""`PosixRlimitsIsolator` (``posix/rlimits``): the fallback when no cgroup is writable.

Built by `select.build_isolators`. It limits each task through ``ulimit`` lines the launch
wrapper runs before the task: the data segment (RLIMIT_DATA, private writable memory,
from ``mem``) and the largest file it may write (RLIMIT_FSIZE, from ``disk``). These are
per-process limits, weaker than a cgroup (a task's children each get their own allowance,
and nothing counts their sum); the agent logs that, and its /state names only this.
"""

from __future__ import annotations

import functools
import subprocess

from dcos.agent.containerizer import ContainerConfig
from dcos.agent.isolators import LaunchSpec, NoopIsolator
from dcos.protocol.ids import ContainerID

_MB = 1024 * 1024
MIN_DATA_BYTES = 32 * _MB


@functools.cache
def fsize_unit(shell: str = "/bin/sh") -> int:
    """Bytes per unit of ``ulimit -f`` in `shell` (dash: 512, bash: 1024 outside posix mode)."""
    try:
        out = subprocess.run(
            [shell, "-c", "ulimit -f 8 && exec cat /proc/self/limits"],
            capture_output=True, text=True, timeout=5, check=False,
        )  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return 512
    for line in out.stdout.splitlines():
        if line.startswith("Max file size"):
            try:
                return int(line.split()[3]) // 8
            except (IndexError, ValueError):
                break
    return 512


class PosixRlimitsIsolator(NoopIsolator):
    name = "posix/rlimits"

    def __init__(self, shell: str = "/bin/sh") -> None:
        self.unit = fsize_unit(shell)

    async def prepare(self, container_id: ContainerID, config: ContainerConfig) -> LaunchSpec:
        lines = []
        mem = config.resources.scalar("mem")
        if mem > 0:
            lines.append(f"ulimit -d {max(MIN_DATA_BYTES, int(mem * _MB)) // 1024}")
        disk = config.resources.scalar("disk")
        if disk > 0:
            lines.append(f"ulimit -f {int(disk * _MB) // self.unit}")
        return LaunchSpec(shell=lines)
