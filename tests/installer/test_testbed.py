"""The installer's test bed itself (installer/testbed/netns.sh): two hosts keep their installs,
host names and cgroups apart, reach only the bed's network, `kill` spares sshd, and `down`
leaves nothing behind (namespaces, links, cgroups, mount point dirs)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.installer.conftest import ROOT, Bed, address

SSH = ["ssh", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
       "-o", "LogLevel=ERROR", "-o", "BatchMode=yes"]  # fmt: skip
MOUNT_POINTS = ("/opt/dcos-py", "/var/lib/dcos-py", "/etc/dcos-py")


def ssh(bed: Bed, i: int, cmd: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*SSH, "-i", str(bed.key), f"root@{address(i)}", cmd],
                          capture_output=True, text=True, timeout=30)  # fmt: skip


def test_two_hosts_are_apart_and_down_leaves_nothing(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        raise RuntimeError("the test bed builds network namespaces: run as root")
    made = [m for m in MOUNT_POINTS if not os.path.exists(m)]
    bed = Bed(2, tmp_path / "bed")
    try:
        bed.up()
        write = ssh(bed, 1, "echo one > /opt/dcos-py/f && hostname && ip route")
        assert write.returncode == 0, write.stderr
        name, *routes = write.stdout.split("\n")
        assert name == "dcpy-h1"
        assert not [r for r in routes if r.startswith("default")], routes
        assert (bed.host_dir(1) / "opt" / "f").read_text() == "one\n"
        seen = ssh(bed, 2, "ls -A /opt/dcos-py /var/lib/dcos-py /etc/dcos-py; hostname")
        assert seen.returncode == 0, seen.stderr
        assert "f" not in seen.stdout.split() and "dcpy-h2" in seen.stdout, seen.stdout
        assert not os.path.exists("/opt/dcos-py/f"), "the root fs sees host 1's file"
        assert ssh(bed, 2, "cat /proc/self/cgroup").stdout.count("dcpy-h2") >= 1

        sleeper = ssh(bed, 1, "nohup sleep 300 >/dev/null 2>&1 & echo $!")
        assert sleeper.returncode == 0 and bed.processes(1), bed.processes(1)
        bed.kill(1)
        assert bed.processes(1) == []
        assert ssh(bed, 1, "true").returncode == 0, "kill must spare sshd"
    finally:
        bed.down()
    netns = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
    assert "dcpy-h" not in netns and "dcpy" not in links
    assert [m for m in made if os.path.exists(m)] == []
    assert not list(Path("/sys/fs/cgroup").glob("*/dcpy-h*"))
    assert not (bed.host_dir(1)).exists()
    assert (ROOT / "installer" / "testbed" / "netns.sh").exists()


@pytest.mark.parametrize("host", ["h3", "10.213.0.13", "3"])
def test_addr_names_a_host_three_ways(host: str) -> None:
    script = ROOT / "installer" / "testbed" / "netns.sh"
    out = subprocess.run(["bash", str(script), "addr", host], capture_output=True, text=True)
    assert out.stdout.strip() == "10.213.0.13"
