"""GPU detection (a fake nvidia-smi) and the gpu/nvidia isolator: exclusive devices per task."""

import os
import stat

import pytest

from dcos.agent.containerizer import ContainerConfig
from dcos.agent.containerizer.process import ProcessContainerizer
from dcos.agent.gpus import GpuDevice, detect_gpu_devices, parse_gpu_list
from dcos.agent.isolators import IsolationError, RecoveredContainer
from dcos.agent.isolators.gpu import NvidiaGpuIsolator
from dcos.agent.isolators.select import build_isolators
from dcos.agent.resources import detect_gpus
from dcos.protocol.ids import ContainerID
from dcos.protocol.resources import Resources

LIST = """GPU 0: NVIDIA H100 80GB HBM3 (UUID: GPU-aaaa)
GPU 1: NVIDIA H100 80GB HBM3 (UUID: GPU-bbbb)
GPU 2: NVIDIA H100 80GB HBM3 (UUID: GPU-cccc)
"""


@pytest.fixture
def fake_smi(tmp_path):
    path = tmp_path / "nvidia-smi"
    path.write_text(f"#!/bin/sh\ncat <<'EOF'\n{LIST}EOF\n")
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return [str(path), "-L"]


def test_detection_keeps_indices_and_agrees_with_the_count(fake_smi):
    devices = detect_gpu_devices(fake_smi)
    assert [(d.index, d.uuid) for d in devices] == [
        (0, "GPU-aaaa"),
        (1, "GPU-bbbb"),
        (2, "GPU-cccc"),
    ]
    assert detect_gpus(fake_smi) == len(devices)
    assert detect_gpu_devices(["/nonexistent-nvidia-smi"]) == []


def test_csv_query_output_is_understood():
    assert parse_gpu_list("1, GPU-x, Tesla T4\n0, GPU-y, Tesla T4\n") == [
        GpuDevice(0, "GPU-y", "Tesla T4"), GpuDevice(1, "GPU-x", "Tesla T4")]  # fmt: skip


def _cfg(tmp_path, gpus: float, name="sb"):
    res = Resources.parse(f"cpus:0.1;mem:32;gpus:{gpus:g}") if gpus else Resources.parse("cpus:0.1")
    return ContainerConfig(["/bin/sh", "-c", "echo $CUDA_VISIBLE_DEVICES"],
                           {"PATH": "/usr/bin:/bin"}, str(tmp_path / name), res)  # fmt: skip


async def test_each_task_gets_its_own_gpus_and_they_are_released(tmp_path):
    iso = NvidiaGpuIsolator([GpuDevice(i) for i in range(3)])
    a = await iso.prepare(ContainerID("a"), _cfg(tmp_path, 2))
    b = await iso.prepare(ContainerID("b"), _cfg(tmp_path, 1))
    assert a.env == {"CUDA_VISIBLE_DEVICES": "0,1", "NVIDIA_VISIBLE_DEVICES": "0,1"}
    assert b.env["CUDA_VISIBLE_DEVICES"] == "2" and b.record == {"gpus": [2]}
    with pytest.raises(IsolationError, match="only 0 of 3 are free"):
        await iso.prepare(ContainerID("c"), _cfg(tmp_path, 1))
    none = await iso.prepare(ContainerID("d"), _cfg(tmp_path, 0))
    assert none.env == {"CUDA_VISIBLE_DEVICES": ""}  # tasks without GPUs see none
    await iso.cleanup(ContainerID("a"))
    await iso.cleanup(ContainerID("unknown"))
    assert iso.free() == [0, 1]


async def test_recovery_keeps_assignments(tmp_path):
    iso = NvidiaGpuIsolator([GpuDevice(i) for i in range(2)])
    await iso.recover([RecoveredContainer(ContainerID("old"), Resources.parse("gpus:1"),
                                          {"gpus": [1]})])  # fmt: skip
    spec = await iso.prepare(ContainerID("new"), _cfg(tmp_path, 1))
    assert spec.env["CUDA_VISIBLE_DEVICES"] == "0"


async def test_launched_task_sees_its_device_and_gpu_isolator_is_added_when_detected(
    tmp_path, fake_smi
):
    choice = build_isolators("posix/rlimits", gpus=detect_gpu_devices(fake_smi), hierarchies=[])
    assert [i.name for i in choice.isolators] == ["posix/rlimits",
                                                  "gpu/nvidia(visible-devices-only)"]  # fmt: skip
    c = ProcessContainerizer(choice.isolators, meta_dir=str(tmp_path / "meta"))
    assert (await c.launch(ContainerID("t1"), _cfg(tmp_path, 1, "s1"))).ok
    assert (await c.launch(ContainerID("t2"), _cfg(tmp_path, 1, "s2"))).ok
    await c.wait(ContainerID("t1"))
    await c.wait(ContainerID("t2"))
    seen = {(tmp_path / s / "stdout").read_text().strip() for s in ("s1", "s2")}
    assert seen == {"0", "1"}
    assert choice.isolators[1].free() == [0, 1, 2]
    # nothing is left per container (the launcher's own files are not per container)
    assert not [n for n in os.listdir(tmp_path / "meta") if (tmp_path / "meta" / n).is_dir()]
