"""`NvidiaGpuIsolator` (``gpu/nvidia``): each task with ``gpus: N`` gets N GPUs of its own.

Built by `select.build_isolators` when GPUs are detected (`dcos.agent.gpus`). `prepare`
picks the N lowest free device indices (a launch fails with a clear cause when fewer are
free), sets ``CUDA_VISIBLE_DEVICES`` and ``NVIDIA_VISIBLE_DEVICES`` to them (tasks without
GPUs get an empty ``CUDA_VISIBLE_DEVICES``) and, when the v1 ``devices`` hierarchy is
writable, denies the container every other GPU device node in its devices cgroup; only then
is the name plain ``gpu/nvidia``, else it says the devices are only hidden, not denied.
Assignments are kept in the container's runtime record, so `recover` keeps them; `cleanup`
releases them. Two containers never hold the same GPU.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from dcos.agent.containerizer import ContainerConfig
from dcos.agent.gpus import NVIDIA_MAJOR, GpuDevice
from dcos.agent.isolators import IsolationError, LaunchSpec, NoopIsolator, RecoveredContainer
from dcos.agent.isolators import cgroupfs as fs
from dcos.protocol.ids import ContainerID

log = logging.getLogger(__name__)


class NvidiaGpuIsolator(NoopIsolator):
    def __init__(self, devices: list[GpuDevice], devices_base: str | None = None) -> None:
        """`devices_base`: this agent's directory in the v1 devices hierarchy, if writable."""
        self.devices = {d.index: d for d in devices}
        self.devices_base = devices_base
        self.name = "gpu/nvidia" if devices_base else "gpu/nvidia(visible-devices-only)"
        self.assigned: dict[ContainerID, list[int]] = {}

    def free(self) -> list[int]:
        used = {i for idx in self.assigned.values() for i in idx}
        return [i for i in sorted(self.devices) if i not in used]

    async def prepare(self, container_id: ContainerID, config: ContainerConfig) -> LaunchSpec:
        wanted = config.resources.scalar("gpus")
        n = int(wanted)
        if n != wanted or n < 0:
            raise IsolationError(f"gpus must be a whole number, got {wanted:g}")
        free = self.free()
        if n > len(free):
            raise IsolationError(
                f"Requested {n} GPUs but only {len(free)} of {len(self.devices)} are free"
            )
        picked = free[:n]
        self.assigned[container_id] = picked
        visible = ",".join(str(i) for i in picked)
        env = {"CUDA_VISIBLE_DEVICES": visible}
        if picked:
            env["NVIDIA_VISIBLE_DEVICES"] = visible
        spec = LaunchSpec(env=env, record={"gpus": picked})
        if self.devices_base:
            path = os.path.join(self.devices_base, container_id)
            os.makedirs(path, exist_ok=True)
            for idx, dev in self.devices.items():
                if idx not in picked:
                    fs.write(os.path.join(path, "devices.deny"),
                             f"c {NVIDIA_MAJOR}:{dev.minor()} rwm")  # fmt: skip
            spec.procs_files.append(os.path.join(path, "cgroup.procs"))
            spec.record["devices_cgroup"] = path
        return spec

    async def recover(self, containers: list[Any]) -> None:
        for rc in containers:
            if isinstance(rc, RecoveredContainer) and rc.alive:
                picked = [int(i) for i in rc.record.get("gpus") or []]
                if picked:
                    self.assigned[rc.container_id] = picked
        if self.devices_base:
            keep = {rc.container_id for rc in containers
                    if isinstance(rc, RecoveredContainer) and rc.alive}  # fmt: skip
            try:
                names = os.listdir(self.devices_base)
            except OSError:
                names = []
            for name in names:
                path = os.path.join(self.devices_base, name)
                if name not in keep and os.path.isdir(path):
                    await fs.kill_cgroup(path, 1)
                    await fs.remove(path)

    async def usage(self, container_id: ContainerID) -> dict[str, float]:
        picked = self.assigned.get(container_id)
        return {"gpus_limit": float(len(picked))} if picked else {}

    async def cleanup(self, container_id: ContainerID) -> None:
        self.assigned.pop(container_id, None)
        if self.devices_base:
            path = os.path.join(self.devices_base, container_id)
            if os.path.isdir(path):
                await fs.kill_cgroup(path, 1)
                await fs.remove(path)

    async def close(self) -> None:
        if self.devices_base:
            try:
                os.rmdir(self.devices_base)
            except OSError:
                pass
