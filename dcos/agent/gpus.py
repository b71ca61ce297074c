"""NVIDIA GPU detection: which devices this agent can hand out, by index.

Called once at agent start-up (`dcos.agent.agent.Agent`) to build the ``gpu/nvidia`` isolator;
`dcos.agent.resources.detect_gpus` counts the same lines for the offered ``gpus`` resource.
The command is injectable (``AgentConfig.gpu_command``) so tests fake ``nvidia-smi``. Both
``nvidia-smi -L`` (``GPU 0: NVIDIA H100 (UUID: GPU-...)``) and
``nvidia-smi --query-gpu=index,uuid,name --format=csv,noheader`` output are understood.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass

from dcos.agent.resources import GPU_COMMAND

NVIDIA_MAJOR = 195
_LIST_LINE = re.compile(r"^GPU\s+(\d+):\s*(.*?)\s*(?:\(UUID:\s*([^)]+)\))?\s*$")


@dataclass(frozen=True)
class GpuDevice:
    index: int
    uuid: str = ""
    name: str = ""

    def device_path(self) -> str:
        return f"/dev/nvidia{self.index}"

    def minor(self) -> int:
        """The device node's minor number (the index when the node cannot be read)."""
        try:
            return os.minor(os.stat(self.device_path()).st_rdev)
        except OSError:
            return self.index


def parse_gpu_list(text: str) -> list[GpuDevice]:
    """`nvidia-smi -L` or ``--query-gpu=index,uuid,name --format=csv,noheader`` -> devices."""
    out: list[GpuDevice] = []
    for raw in text.splitlines():
        line = raw.strip()
        m = _LIST_LINE.match(line)
        if m:
            out.append(GpuDevice(int(m.group(1)), (m.group(3) or "").strip(), m.group(2)))
            continue
        parts = [p.strip() for p in line.split(",")]
        if len(parts) >= 2 and parts[0].isdigit():
            out.append(GpuDevice(int(parts[0]), parts[1], ",".join(parts[2:])))
    return sorted(out, key=lambda d: d.index)


def detect_gpu_devices(
    command: Sequence[str] = GPU_COMMAND, timeout: float = 10.0
) -> list[GpuDevice]:
    """The GPUs the command lists (none when it is missing or fails)."""
    if not command or shutil.which(command[0]) is None:
        return []
    try:
        out = subprocess.run(
            list(command), capture_output=True, text=True, timeout=timeout, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return []
    if out.returncode != 0:
        return []
    return parse_gpu_list(out.stdout)
