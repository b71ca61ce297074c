"""Splitting the machine among local agents."""

from __future__ import annotations

import pytest

from dcos.cli.shares import Machine, detect_machine, split_machine
from dcos.protocol.resources import Resources


def test_even_split_of_cpus_mem_disk() -> None:
    shares = split_machine(Machine(cpus=8, mem_mb=16000, disk_mb=90000), 3)
    assert [s.cpus for s in shares] == [2.7, 2.7, 2.7]
    assert {s.mem_mb for s in shares} == {5333}
    assert {s.disk_mb for s in shares} == {30000}


def test_cpus_never_below_half_a_core() -> None:
    shares = split_machine(Machine(cpus=2, mem_mb=4000, disk_mb=1000), 8)
    assert all(s.cpus == 0.5 for s in shares)


def test_port_ranges_are_disjoint_thousand_wide() -> None:
    shares = split_machine(Machine(cpus=4, mem_mb=4000, disk_mb=1000), 4)
    assert [s.ports for s in shares] == [(31000, 31999), (32000, 32999), (33000, 33999),
                                         (34000, 34999)]


def test_flag_is_mesos_resource_text_the_agent_can_parse() -> None:
    share = split_machine(Machine(cpus=2, mem_mb=4096, disk_mb=10000), 2)[1]
    assert share.flag() == "cpus:1;mem:2048;disk:5000;ports:[32000-32999]"
    parsed = Resources.parse(share.flag())
    assert parsed.to_summary() == {"cpus": 1.0, "gpus": 0.0, "mem": 2048.0, "disk": 5000.0,
                                   "ports": "[32000-32999]"}


def test_zero_agents_rejected() -> None:
    with pytest.raises(ValueError):
        split_machine(Machine(cpus=2, mem_mb=1, disk_mb=1), 0)


def test_detect_machine_walks_up_to_an_existing_dir(tmp_path) -> None:
    machine = detect_machine(str(tmp_path / "not" / "yet" / "there"))
    assert machine.cpus >= 1 and machine.mem_mb > 0 and machine.disk_mb > 0
