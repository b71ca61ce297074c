"""`--isolation` parsing and the defaults: only what is really in force is named."""

import pytest

from dcos.agent.containerizer.process import ProcessContainerizer
from dcos.agent.isolators.cgroupfs import Hierarchy, detect_hierarchies
from dcos.agent.isolators.select import build_isolators, parse_isolation
from dcos.protocol.ids import ContainerID

from .isolation_helpers import config

MOUNTS = """cgroup /sys/fs/cgroup/cpu cgroup rw,relatime,cpu 0 0
cgroup /sys/fs/cgroup/memory cgroup rw,relatime,memory 0 0
cgroup /sys/fs/cgroup/systemd cgroup rw,relatime,name=systemd 0 0
tmpfs /run tmpfs rw 0 0
"""
OWN = "4:memory:/job/1\n1:cpu:/\n0::/\n"


def test_v1_hierarchies_and_own_cgroups_are_detected():
    hs = detect_hierarchies(MOUNTS, OWN)
    assert hs == [Hierarchy("/sys/fs/cgroup/cpu", 1, frozenset({"cpu"}), "/"),
                  Hierarchy("/sys/fs/cgroup/memory", 1, frozenset({"memory"}), "/job/1")]  # fmt: skip


def test_unknown_isolator_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown isolator 'cgroups/bogus'"):
        parse_isolation("cgroups/cpu,cgroups/bogus")
    assert parse_isolation(None) is None and parse_isolation("cgroups/cpu") == ["cgroups/cpu"]


def test_without_writable_cgroups_the_default_is_posix_rlimits_with_a_warning():
    choice = build_isolators(None, hierarchies=[])
    assert choice.names == "posix/rlimits"
    assert any("not enforced" in w for w in choice.warnings)


def test_requested_cgroups_that_cannot_be_enforced_are_not_claimed():
    choice = build_isolators("cgroups/mem,cgroups/cpu", hierarchies=[])
    assert choice.names == "posix/rlimits"
    assert len(choice.warnings) == 2


async def test_posix_rlimits_limit_the_data_segment_and_file_size(tmp_path):
    choice = build_isolators("posix/rlimits", hierarchies=[])
    c = ProcessContainerizer(choice.isolators)
    cmd = 'echo "$(ulimit -d) $(head -c 3000000 /dev/zero > f 2>/dev/null; echo $?)"'
    assert (await c.launch(ContainerID("c"), config(tmp_path, cmd, "mem:64;disk:1"))).ok
    await c.wait(ContainerID("c"))
    data, dd_status = (tmp_path / "sb" / "stdout").read_text().split()
    assert int(data) == 64 * 1024 and dd_status != "0"
    assert (tmp_path / "sb" / "f").stat().st_size <= 1024 * 1024
