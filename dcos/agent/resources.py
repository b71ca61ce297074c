"""What an agent offers: detected resources, `--resources` overrides and `--attributes`.

Called once by the agent shell at start-up (`agent_resources`, `parse_attributes`), before it
subscribes to the master. Mesos' rules are followed: memory keeps back min(1 GB, half) for the
system, disk keeps back min(5 GB, half) of the free space of the work dir, ports default to
``[31000-32000]``, GPUs are counted from ``nvidia-smi -L`` when that command exists.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Sequence

from dcos.protocol.resources import ResourceError, Resources

DEFAULT_PORTS = ((31000, 32000),)
GPU_COMMAND: tuple[str, ...] = ("nvidia-smi", "-L")

_MB = 1024 * 1024


def detect_cpus() -> float:
    """CPUs this process may run on (the affinity mask when the platform has one)."""
    try:
        return float(len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return float(os.cpu_count() or 1)


def detect_mem_mb() -> float:
    """Total memory in MB minus Mesos' reserve: min(1 GB, half of the total)."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / _MB
    except (ValueError, OSError):
        return 1024.0
    return float(max(0, int(total - min(1024.0, total / 2))))


def detect_disk_mb(path: str) -> float:
    """Free space of the file system holding `path` in MB, minus min(5 GB, half)."""
    probe = os.path.abspath(path)
    while not os.path.exists(probe):
        parent = os.path.dirname(probe)
        if parent == probe:
            break
        probe = parent
    try:
        free = shutil.disk_usage(probe).free / _MB
    except OSError:
        return 0.0
    return float(max(0, int(free - min(5120.0, free / 2))))


def detect_gpus(command: Sequence[str] = GPU_COMMAND, timeout: float = 10.0) -> int:
    """Number of GPUs listed by ``nvidia-smi -L`` (0 when absent or failing).

    `command` is injectable so tests can fake the tool.
    """
    if not command or shutil.which(command[0]) is None:
        return 0
    try:
        out = subprocess.run(
            list(command), capture_output=True, text=True, timeout=timeout, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return 0
    if out.returncode != 0:
        return 0
    return sum(1 for line in out.stdout.splitlines() if line.strip().startswith("GPU "))


def detect_resources(work_dir: str, gpu_command: Sequence[str] = GPU_COMMAND) -> Resources:
    """The machine's resources as the agent would offer them with no `--resources` flag."""
    scalars = {
        "cpus": detect_cpus(),
        "mem": detect_mem_mb(),
        "disk": detect_disk_mb(work_dir),
    }
    gpus = detect_gpus(gpu_command)
    if gpus:
        scalars["gpus"] = float(gpus)
    return Resources(scalars, {"ports": DEFAULT_PORTS})


def apply_overrides(detected: Resources, text: str | None) -> Resources:
    """`--resources` text replaces the detected value of each resource it names.

    Raises `ResourceError` for text that does not parse.
    """
    if not text:
        return detected
    given, _ = Resources.parse_reserved(text)
    named = set(given.scalars) | set(given.ranges) | set(given.sets)
    scalars = {k: v for k, v in detected.scalars.items() if k not in named}
    ranges = {k: v for k, v in detected.ranges.items() if k not in named}
    sets = {k: v for k, v in detected.sets.items() if k not in named}
    scalars.update(given.scalars)
    ranges.update(given.ranges)
    sets.update(given.sets)
    return Resources(scalars, ranges, sets)


def agent_resources(
    work_dir: str, text: str | None = None, gpu_command: Sequence[str] = GPU_COMMAND
) -> Resources:
    """Detected resources with `--resources` applied (the agent's totals)."""
    if text:
        # parse first so bad text fails before any detection work
        Resources.parse_reserved(text)
    return apply_overrides(detect_resources(work_dir, gpu_command), text)


def reserved_role(text: str | None) -> str | None:
    """The role `--resources` reserves the whole agent to (detected resources included),
    None when unreserved. Raises `ResourceError` for text of several roles."""
    return Resources.parse_reserved(text)[1] if text else None


def parse_attributes(text: str | None) -> dict[str, str | float]:
    """``rack:r1;zone:a;level:3`` -> ``{"rack": "r1", "zone": "a", "level": 3.0}``.

    Numbers become scalars (floats), everything else stays text. Raises `ResourceError`
    (a `ValueError`) naming the bad part.
    """
    out: dict[str, str | float] = {}
    for part in filter(None, (p.strip() for p in (text or "").split(";"))):
        name, sep, value = part.partition(":")
        name, value = name.strip(), value.strip()
        if not sep or not name or not value:
            raise ResourceError(f"cannot parse attribute {part!r}: expected name:value")
        try:
            num = float(value)
        except ValueError:
            out[name] = value
            continue
        out[name] = num if num == num and abs(num) != float("inf") else value
    return out
