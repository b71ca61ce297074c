"""preflight.judge: the verdicts from a probe's JSON (pure), and the probe-less failures."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from dcos.installer import preflight
from dcos.installer.assets import read_asset
from dcos.installer.bundle import Manifest as BundleManifest
from dcos.installer.config import ClusterConfig, HostSpec, parse
from dcos.installer.preflight import judge, role_ports

NOW = 1_800_000_000.0


def Manifest(python: str = "cp311") -> BundleManifest:  # noqa: N802
    return BundleManifest(version="0.1.0", build_id="b-1", python=python, cluster_name="t",
                          cluster_id="c-1", dcos_wheel="dcos_py-0.1.0-py3-none-any.whl",
                          repo=False)


def make_cfg(tmp_path: Path, **over: Any) -> ClusterConfig:
    raw = {"cluster_name": "t", "master_list": ["10.0.0.11"], "agent_list": ["10.0.0.21"],
           "public_agent_list": ["10.0.0.31"], "ssh_key_path": "/nonexistent/key"}
    raw.update(over)
    return parse(raw, tmp_path / "cluster.yaml", check_key_file=False)


MASTER = HostSpec("10.0.0.11", "master", 0)
AGENT = HostSpec("10.0.0.21", "agent", 0)
PUBLIC = HostSpec("10.0.0.31", "public_agent", 0)


def good_probe(cfg: ClusterConfig, host: HostSpec) -> dict[str, Any]:
    return {
        "python": {"version": "3.11.2", "abi": "cp311", "venv": True, "ensurepip": True},
        "euid": 0,
        "ports": [{"port": p, "proto": proto, "host": "free", "any": "free", "holders": []}
                  for p, proto, _ in role_ports(cfg, host.role)],
        "cgroups": {"v1_memory": "/sys/fs/cgroup/memory", "v2": None, "writable": True,
                    "error": None},
        "disk": {"install_dir": {"path": "/opt/dcos-py", "existing": "/opt", "free": 50 << 30},
                 "work_dir": {"path": "/var/lib/dcos-py", "existing": "/var/lib",
                              "free": 50 << 30}},
        "mem_available": 8 << 30,
        "zookeeper": {"installed": False, "apt_get": True},
        "installed": None,
        "systemd": True,
        "ip_detect": None,
        "time": NOW + 0.2,
    }


def verdicts(checks: list[preflight.CheckResult]) -> dict[str, tuple[bool, str]]:
    return {c.check: (c.ok, c.detail) for c in checks}


def failed(checks: list[preflight.CheckResult]) -> dict[str, str]:
    return {c.check: c.detail for c in checks if not c.ok}


@pytest.mark.parametrize("host", [MASTER, AGENT, PUBLIC])
def test_a_good_host_passes_every_check_of_its_role(tmp_path: Path, host: HostSpec) -> None:
    cfg = make_cfg(tmp_path)
    checks = judge(good_probe(cfg, host), host, cfg, Manifest(), NOW)
    assert failed(checks) == {}
    names = [c.check for c in checks]
    expected = ["ssh", "python", "ports", "cgroups", "disk", "memory", "clock", "version"]
    if host.role == "master":
        expected.insert(7, "zookeeper")
    assert names == expected
    assert all(c.host == host.address for c in checks)


def test_role_ports_follow_the_config(tmp_path: Path) -> None:
    cfg = make_cfg(tmp_path)
    master = role_ports(cfg, "master")
    assert (53, "udp", "dns") in master and (53, "tcp", "dns") in master
    assert (443, "tcp", "gateway") in master and (2181, "tcp", "zookeeper") in master
    plain = make_cfg(tmp_path, security={"enabled": False}, zookeeper={"external": ["z:2181"]})
    ports = {p for p, _, _ in role_ports(plain, "master")}
    assert 80 in ports and 443 not in ports and not ports & {2181, 2888, 3888}
    assert {p for p, _, _ in role_ports(cfg, "public_agent")} == {5051, 9080, 9090}
    assert {p for p, _, _ in role_ports(cfg, "agent")} == {5051}


def test_a_taken_port_is_named_with_its_service(tmp_path: Path) -> None:
    cfg = make_cfg(tmp_path)
    probe = good_probe(cfg, MASTER)
    for entry in probe["ports"]:
        if entry["port"] == 5050:
            entry["host"] = entry["any"] = "in use"
        if entry["port"] == 53 and entry["proto"] == "udp":
            entry["any"] = "in use"
            entry["holders"] = ["0.0.0.0"]
    assert failed(judge(probe, MASTER, cfg, Manifest(), NOW)) == {
        "ports": "53/udp (dns), 5050 (master) in use"}


def test_a_port_held_on_loopback_only_does_not_block_the_hosts_address(tmp_path: Path) -> None:
    cfg = make_cfg(tmp_path)  # e.g. systemd-resolved on 127.0.0.53:53
    probe = good_probe(cfg, MASTER)
    for entry in probe["ports"]:
        if entry["port"] == 53:
            entry["any"] = "in use"
            entry["holders"] = ["127.0.0.53"]
    assert "ports" not in failed(judge(probe, MASTER, cfg, Manifest(), NOW))


def test_an_address_that_is_not_the_hosts_fails_ports(tmp_path: Path) -> None:
    cfg = make_cfg(tmp_path)
    probe = good_probe(cfg, AGENT)
    probe["ports"][0]["host"] = "address not on this host"
    assert failed(judge(probe, AGENT, cfg, Manifest(), NOW)) == {
        "ports": "10.0.0.21 is not an address of this host"}


def test_ports_are_not_checked_on_a_host_installed_for_this_cluster(tmp_path: Path) -> None:
    cfg = make_cfg(tmp_path)
    probe = good_probe(cfg, MASTER)
    for entry in probe["ports"]:
        entry["host"] = entry["any"] = "in use"  # its own services
    probe["installed"] = {"cluster_id": "c-1", "build_id": "b-0", "version": "0.0.9"}
    v = verdicts(judge(probe, MASTER, cfg, Manifest(), NOW))
    assert v["ports"] == (True, "installed (its own services hold its ports)")
    assert v["version"] == (True, "installed build b-0 (0.0.9): upgrade")


def test_a_host_of_another_cluster_fails_version(tmp_path: Path) -> None:
    cfg = make_cfg(tmp_path)
    probe = good_probe(cfg, AGENT)
    probe["installed"] = {"cluster_id": "other", "build_id": "b-9"}
    fails = failed(judge(probe, AGENT, cfg, Manifest(), NOW))
    assert fails["version"].startswith("installed for another cluster (other)")
    probe["installed"] = {"error": "not JSON: Expecting value"}
    assert "unreadable" in failed(judge(probe, AGENT, cfg, Manifest(), NOW))["version"]


@pytest.mark.parametrize(("python", "detail"), [
    ({"version": "3.9.2", "abi": "cp39"}, "Python 3.9.2 < 3.11"),
    ({"version": "3.12.1", "abi": "cp312", "venv": True, "ensurepip": True},
     "bundle is cp311, host has cp312"),
    ({"version": "3.11.2", "abi": "cp311", "venv": True, "ensurepip": False},
     "Python 3.11.2 lacks venv/ensurepip (Debian/Ubuntu: apt-get install python3-venv)"),
])
def test_python_version_abi_and_venv(tmp_path: Path, python: dict[str, Any],
                                     detail: str) -> None:
    cfg = make_cfg(tmp_path)
    probe = good_probe(cfg, AGENT)
    probe["python"] = python
    assert failed(judge(probe, AGENT, cfg, Manifest(), NOW)) == {"python": detail}


def test_without_a_bundle_any_abi_of_a_new_enough_python_passes(tmp_path: Path) -> None:
    cfg = make_cfg(tmp_path)
    probe = good_probe(cfg, AGENT)
    probe["python"]["abi"] = "cp313"
    assert failed(judge(probe, AGENT, cfg, None, NOW)) == {}


def test_disk_memory_and_clock_limits(tmp_path: Path) -> None:
    cfg = make_cfg(tmp_path)
    probe = good_probe(cfg, AGENT)
    probe["disk"]["work_dir"]["free"] = 1 << 29
    probe["mem_available"] = 512 << 20
    probe["time"] = NOW - 12.34
    assert failed(judge(probe, AGENT, cfg, Manifest(), NOW)) == {
        "disk": "0.5 GiB free at /var/lib (work_dir), need 2 GiB",
        "memory": "0.50 GiB available, need 1 GiB",
        "clock": "clock 12.3 s behind the bootstrap host (max 5 s; run NTP/chrony)",
    }
    probe = good_probe(cfg, AGENT)
    probe["time"] = NOW + 4.9
    assert failed(judge(probe, AGENT, cfg, Manifest(), NOW)) == {}


def test_cgroups_matter_on_agents_only(tmp_path: Path) -> None:
    cfg = make_cfg(tmp_path)
    for host, ok in ((AGENT, False), (PUBLIC, False), (MASTER, True)):
        probe = good_probe(cfg, host)
        probe["cgroups"] = {"writable": False, "error": "/sys/fs/cgroup/x: Read-only file system"}
        ok_, detail = verdicts(judge(probe, host, cfg, Manifest(), NOW))["cgroups"]
        assert ok_ is ok and "Read-only file system" in detail


def test_zookeeper_on_masters_needs_the_package_or_apt_get_as_root(tmp_path: Path) -> None:
    cfg = make_cfg(tmp_path)
    probe = good_probe(cfg, MASTER)
    probe["zookeeper"] = {"installed": True, "apt_get": False}
    assert verdicts(judge(probe, MASTER, cfg, Manifest(), NOW))["zookeeper"] == (True,
                                                                                 "installed")
    probe["zookeeper"] = {"installed": False, "apt_get": False}
    assert failed(judge(probe, MASTER, cfg, Manifest(), NOW)) == {
        "zookeeper": "/usr/share/zookeeper missing and no apt-get to install it"}
    external = make_cfg(tmp_path, zookeeper={"external": ["10.0.0.99:2181"]})
    checks = judge(good_probe(external, MASTER) | {"zookeeper": {}}, MASTER, external,
                   Manifest(), NOW)
    assert "zookeeper" not in verdicts(checks)


def test_ip_detect_only_when_configured(tmp_path: Path) -> None:
    cfg = make_cfg(tmp_path, ip_detect="hostname -I | cut -d' ' -f1")
    probe = good_probe(cfg, AGENT)
    probe["ip_detect"] = {"exit": 0, "stdout": "10.0.0.21\n", "stderr": ""}
    assert verdicts(judge(probe, AGENT, cfg, Manifest(), NOW))["ip_detect"] == (True,
                                                                                 "10.0.0.21")
    wrong = copy.deepcopy(probe)
    wrong["ip_detect"]["stdout"] = "192.168.1.5\n"
    assert failed(judge(wrong, AGENT, cfg, Manifest(), NOW)) == {
        "ip_detect": "ip_detect printed '192.168.1.5', expected 10.0.0.21"}
    broken = copy.deepcopy(probe)
    broken["ip_detect"] = {"exit": 127, "stdout": "", "stderr": "sh: 1: nope: not found\n"}
    assert failed(judge(broken, AGENT, cfg, Manifest(), NOW)) == {
        "ip_detect": "ip_detect exited 127: sh: 1: nope: not found"}


def test_no_probe_output_names_the_cause(tmp_path: Path) -> None:
    cfg = make_cfg(tmp_path)
    missing = preflight._no_probe(AGENT, cfg, 127, "sh: 1: python3: not found\n", "")
    assert [(c.check, c.ok, c.detail) for c in missing] == [
        ("ssh", True, "root@10.0.0.21"), ("python", False, "python3 not found")]
    old = preflight._no_probe(AGENT, cfg, 1, '  File "<stdin>", line 3\nSyntaxError: x\n', "")
    assert old[-1].detail == "probe failed: python3 too old to run the probe"
    sudo = preflight._no_probe(AGENT, cfg, 1, "sudo: a password is required\n", "")
    assert [(c.check, c.ok) for c in sudo] == [("ssh", False)]


def test_preflight_table_lists_every_check(tmp_path: Path) -> None:
    from rich.console import Console

    from dcos.installer.runner import HostResult

    cfg = make_cfg(tmp_path)
    checks = judge(good_probe(cfg, AGENT), AGENT, cfg, Manifest(), NOW)
    res = [HostResult(AGENT.address, True, "ok", checks),
           HostResult("10.0.0.22", False, "unreachable",
                      [preflight.CheckResult("10.0.0.22", "ssh", False, "unreachable: x")])]
    console = Console(width=200, record=True)
    console.print(preflight.preflight_table(res))
    text = console.export_text()
    assert "10.0.0.22" in text and "unreachable: x" in text and text.count("PASS") == 8


def test_the_probe_parses_on_old_pythons_and_uses_only_the_standard_library() -> None:
    """An old Python on a host must run the probe far enough to report its version."""
    import ast
    import sys

    tree = ast.parse(read_asset("host", "probe.py"), feature_version=(3, 4))
    assert not any(isinstance(n, ast.JoinedStr | ast.AnnAssign | ast.NamedExpr)
                   for n in ast.walk(tree))
    imported = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import)
                for a in n.names}
    imported |= {n.module.split(".")[0] for n in ast.walk(tree)
                 if isinstance(n, ast.ImportFrom) and n.module}
    assert imported <= set(sys.stdlib_module_names), imported - set(sys.stdlib_module_names)
