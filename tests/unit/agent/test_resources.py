"""Resource detection, `--resources` overrides, `--attributes` and agent flag parsing."""

import os
import stat

import pytest

from dcos.agent import resources as res
from dcos.agent.__main__ import config_from_args
from dcos.protocol.resources import ResourceError


def _fake_tool(tmp_path, body: str) -> str:
    path = tmp_path / "fake-nvidia-smi"
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return str(path)


def test_detection_reports_cpus_mem_disk_and_default_ports(tmp_path):
    r = res.detect_resources(str(tmp_path), gpu_command=("definitely-not-a-command",))
    assert r.scalar("cpus") >= 1
    assert r.scalar("mem") > 0
    assert r.scalar("disk") >= 0
    assert r.ranges["ports"] == ((31000, 32000),)
    assert r.scalar("gpus") == 0


def test_memory_keeps_back_mesos_reserve(monkeypatch):
    pages = 4 * 1024  # 4096 pages of 1 MB = 4 GB
    monkeypatch.setattr(os, "sysconf", lambda n: 1024 * 1024 if n == "SC_PAGE_SIZE" else pages)
    assert res.detect_mem_mb() == 3072.0
    pages = 1024  # 1 GB total: half is kept back
    assert res.detect_mem_mb() == 512.0


def test_gpus_counted_from_injected_nvidia_smi(tmp_path):
    tool = _fake_tool(
        tmp_path,
        'echo "GPU 0: NVIDIA H100 (UUID: GPU-a)"\necho "GPU 1: NVIDIA H100 (UUID: GPU-b)"\n',
    )
    assert res.detect_gpus((tool, "-L")) == 2
    r = res.detect_resources(str(tmp_path), gpu_command=(tool, "-L"))
    assert r.scalar("gpus") == 2


def test_failing_nvidia_smi_means_no_gpus(tmp_path):
    assert res.detect_gpus((_fake_tool(tmp_path, "exit 9\n"),)) == 0


def test_resources_flag_overrides_only_the_names_it_gives(tmp_path):
    r = res.agent_resources(
        str(tmp_path), "cpus:2;mem:1024;ports:[31000-31999]", gpu_command=("nope",)
    )
    assert r.scalar("cpus") == 2
    assert r.scalar("mem") == 1024
    assert r.ranges["ports"] == ((31000, 31999),)
    assert abs(r.scalar("disk") - res.detect_disk_mb(str(tmp_path))) < 100  # detected, kept


def test_bad_resources_text_is_an_error(tmp_path):
    with pytest.raises(ResourceError):
        res.agent_resources(str(tmp_path), "cpus:lots")


def test_attributes_numbers_become_scalars():
    assert res.parse_attributes("rack:r1;zone:a;level:3") == {
        "rack": "r1",
        "zone": "a",
        "level": 3.0,
    }
    assert res.parse_attributes(None) == {}
    with pytest.raises(ValueError):
        res.parse_attributes("rack")


def test_flags_parse_master_in_both_forms(tmp_path):
    config, _ = config_from_args(["--master", "http://10.0.0.1:5050/", "--port", "5052"])
    assert config.master == "10.0.0.1:5050"
    assert config.port == 5052
    assert config.effective_hostname() == "127.0.0.1"
    config, _ = config_from_args(
        ["--master", "m:5050", "--resources", "cpus:1", "--status-update-retry", "0.5"]
    )
    assert config.master == "m:5050"
    assert config.status_update_retry == 0.5


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["--master", "m:5050", "--resources", "cpus:x"],
        ["--master", "m:5050", "--attributes", "rack"],
        ["--master", "m:5050", "--ip", "not-an-ip"],
    ],
)
def test_bad_flags_exit_with_usage_error(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        config_from_args(argv)
    assert exc.value.code == 2
