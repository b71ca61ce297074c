"""`dcos-py install --preflight`: can each host take its role? A PASS/FAIL per host and check.

`preflight(cfg, hosts, manifest, progress)` is called by the CLI's orchestration
(`dcos.installer.main`) and by add-agent (`dcos.installer.nodes`). On every host, in parallel
(`runner.for_each_host`), it runs the probe `installer/host/probe.py` (sent on stdin to
``python3 -``, as root: it prints one JSON object and changes nothing), then `judge` turns that
JSON into `CheckResult`s. `judge` is pure: the probe's facts, the host, the config, the
bundle's manifest and the bootstrap host's clock in, the verdicts out.

Check names are fixed (tests and docs/install.md use them): `CHECKS`. Each FAIL's detail says
what is wrong and, where it helps, what to do ("5050 (master) in use", "Python 3.9.2 < 3.11").
"""

from __future__ import annotations

import ipaddress
import json
import shlex
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from rich.table import Table

from dcos.installer.assets import read_asset
from dcos.installer.progress import Progress
from dcos.installer.runner import CheckResult, Connect, HostLog, HostResult, for_each_host
from dcos.installer.ssh import HostError, HostSession, connect, tail

if TYPE_CHECKING:
    from dcos.installer.bundle import Manifest
    from dcos.installer.config import ClusterConfig, HostSpec

__all__ = ["CHECKS", "CheckResult", "judge", "preflight", "preflight_table", "role_ports"]

CHECKS = ("ssh", "python", "ports", "cgroups", "disk", "memory", "clock", "zookeeper",
          "version", "ip_detect")
MIN_PYTHON = (3, 11)
MIN_DISK = 2 << 30  # bytes free at install_dir and at work_dir
MIN_MEMORY = 1 << 30  # MemAvailable
MAX_CLOCK_OFFSET = 5.0  # seconds from the bootstrap host's clock
GIB = float(1 << 30)

# The ports of each role (plan14: "Ports a role needs") for when dcos.installer.roles (H2)
# cannot be imported; `role_ports` prefers `roles.ports(cfg, role)`.
_PLAN_PORTS: dict[str, list[tuple[int, str]]] = {
    "master": [(5050, "master"), (8080, "webapp"), (7070, "package"), (53, "dns"),
               (8123, "dns http"), (443, "gateway"), (2181, "zookeeper"),
               (2888, "zookeeper quorum"), (3888, "zookeeper election")],
    "agent": [(5051, "agent")],
    "public_agent": [(5051, "agent"), (9080, "lb http"), (9090, "lb stats")],
}


def _config_ports(cfg: ClusterConfig, role: str) -> list[tuple[int, str]]:
    try:
        from dcos.installer import roles
    except ImportError:
        roles = None  # type: ignore[assignment]
    if roles is not None and hasattr(roles, "ports"):
        return list(roles.ports(cfg, role))  # type: ignore[arg-type]
    out = []
    for port, name in _PLAN_PORTS.get(role, []):
        if name.startswith("zookeeper") and cfg.zk_external:
            continue
        if name == "gateway" and not cfg.security.enabled:
            port = 80
        out.append((port, name))
    return out


def role_ports(cfg: ClusterConfig, role: str) -> list[tuple[int, str, str]]:
    """(port, "tcp"/"udp", name) the services of `role` bind under `cfg` (the gateway on 443
    or 80, ZooKeeper's ports only with the ensemble on the masters); DNS 53 on UDP and TCP."""
    out: list[tuple[int, str, str]] = []
    for port, name in _config_ports(cfg, role):
        if port == 53:
            out.append((port, "udp", name))
        out.append((port, "tcp", name))
    return sorted(set(out))


def probe_params(cfg: ClusterConfig, host: HostSpec) -> dict[str, Any]:
    """The probe's parameters (its argv[1] JSON) for `host`."""
    return {"address": host.address,
            "ports": [[p, proto] for p, proto, _ in role_ports(cfg, host.role)],
            "install_dir": str(cfg.install_dir), "work_dir": str(cfg.work_dir),
            "ip_detect": cfg.ip_detect}


# -- the judgement (pure) -------------------------------------------------------------------


def judge(probe: dict[str, Any], host: HostSpec, cfg: ClusterConfig, manifest: Manifest | None,
          now: float) -> list[CheckResult]:
    """The checks of `host` from its probe JSON; `now` is the bootstrap host's time when the
    probe's output arrived; `manifest` None (no bundle yet) skips the bundle's checks."""
    a = host.address
    checks = [CheckResult(a, "ssh", True, f"{cfg.ssh_user}@{a}")]

    def add(name: str, verdict: tuple[bool, str]) -> None:
        checks.append(CheckResult(a, name, verdict[0], verdict[1]))

    add("python", _python(probe.get("python") or {}, manifest))
    add("ports", _ports(probe, host, cfg, manifest))
    add("cgroups", _cgroups(probe.get("cgroups") or {}, host))
    add("disk", _disk(probe.get("disk") or {}))
    add("memory", _memory(probe.get("mem_available")))
    add("clock", _clock(probe.get("time"), now))
    if host.role == "master" and not cfg.zk_external:
        add("zookeeper", _zookeeper(probe.get("zookeeper") or {}, probe.get("euid")))
    add("version", _version(probe.get("installed"), manifest))
    if cfg.ip_detect:
        add("ip_detect", _ip_detect(probe.get("ip_detect"), a))
    return checks


def _version_tuple(text: str) -> tuple[int, ...]:
    parts: list[int] = []
    for piece in text.split(".")[:3]:
        digits = "".join(ch for ch in piece if ch.isdigit())
        parts.append(int(digits) if digits else 0)
    return tuple(parts)


def _python(py: dict[str, Any], manifest: Manifest | None) -> tuple[bool, str]:
    version = str(py.get("version") or "?")
    if _version_tuple(version) < MIN_PYTHON:
        return False, f"Python {version} < {'.'.join(map(str, MIN_PYTHON))}"
    abi = py.get("abi")
    if manifest is not None and abi != manifest.python:
        return False, f"bundle is {manifest.python}, host has {abi}"
    if not py.get("venv", True) or not py.get("ensurepip", True):
        return False, (f"Python {version} lacks venv/ensurepip (Debian/Ubuntu: apt-get install "
                       f"python3-venv)")
    return True, f"Python {version} ({abi})"


def _holders_local_only(holders: object) -> bool:
    if not isinstance(holders, list) or not holders:
        return False
    try:
        return all(ipaddress.ip_address(h).is_loopback for h in holders)
    except ValueError:
        return False


def _ports(probe: dict[str, Any], host: HostSpec, cfg: ClusterConfig,
           manifest: Manifest | None) -> tuple[bool, str]:
    inst = probe.get("installed")
    if isinstance(inst, dict) and manifest is not None and \
            inst.get("cluster_id") == manifest.cluster_id:
        return True, "installed (its own services hold its ports)"
    names = {(p, proto): name for p, proto, name in role_ports(cfg, host.role)}
    taken: list[str] = []
    other: list[str] = []
    for entry in probe.get("ports") or []:
        port, proto = entry.get("port"), entry.get("proto", "tcp")
        label = f"{port}{'/udp' if proto == 'udp' else ''} ({names.get((port, proto), '?')})"
        at_host, at_any = entry.get("host"), entry.get("any")
        if at_host == "in use" or (at_any == "in use"
                                   and not _holders_local_only(entry.get("holders"))):
            taken.append(label)
        elif at_host == "address not on this host":
            other.append(f"{host.address} is not an address of this host")
        elif at_host not in ("free", None):
            other.append(f"{label}: {at_host}")
    if taken:
        return False, ", ".join(taken) + " in use"
    if other:
        return False, "; ".join(sorted(set(other)))
    return True, f"{len(names)} free"


def _cgroups(cg: dict[str, Any], host: HostSpec) -> tuple[bool, str]:
    if cg.get("writable"):
        kind = "v1 memory" if cg.get("v1_memory") else "v2 unified"
        return True, f"{kind} writable"
    why = cg.get("error") or "cgroups not writable"
    if host.role == "master":
        return True, f"not needed on masters ({why})"
    return False, f"{why} (tasks cannot be isolated)"


def _disk(disk: dict[str, Any]) -> tuple[bool, str]:
    lows: list[str] = []
    frees: list[float] = []
    for key in ("install_dir", "work_dir"):
        d = disk.get(key) or {}
        free = d.get("free")
        if free is None:
            lows.append(f"{key} {d.get('path')}: {d.get('error', 'not measured')}")
            continue
        frees.append(free / GIB)
        if free < MIN_DISK:
            lows.append(f"{free / GIB:.1f} GiB free at {d.get('existing')} ({key}), "
                        f"need {MIN_DISK / GIB:.0f} GiB")
    if lows:
        return False, "; ".join(lows)
    return True, f"{min(frees):.1f} GiB free"


def _memory(available: object) -> tuple[bool, str]:
    if not isinstance(available, int | float):
        return False, "MemAvailable not in /proc/meminfo"
    if available < MIN_MEMORY:
        return False, f"{available / GIB:.2f} GiB available, need {MIN_MEMORY / GIB:.0f} GiB"
    return True, f"{available / GIB:.1f} GiB available"


def _clock(host_time: object, now: float) -> tuple[bool, str]:
    if not isinstance(host_time, int | float):
        return False, "host time not reported"
    offset = float(host_time) - now
    if abs(offset) > MAX_CLOCK_OFFSET:
        return False, (f"clock {abs(offset):.1f} s {'ahead of' if offset > 0 else 'behind'} "
                       f"the bootstrap host (max {MAX_CLOCK_OFFSET:g} s; run NTP/chrony)")
    return True, f"offset {offset:+.2f} s"


def _zookeeper(zk: dict[str, Any], euid: object) -> tuple[bool, str]:
    if zk.get("installed"):
        return True, "installed"
    if zk.get("apt_get") and euid == 0:
        return True, "installable (apt-get install zookeeper)"
    if not zk.get("apt_get"):
        return False, "/usr/share/zookeeper missing and no apt-get to install it"
    return False, "/usr/share/zookeeper missing and not root to apt-get install it"


def _version(installed: object, manifest: Manifest | None) -> tuple[bool, str]:
    if installed is None:
        return True, "not installed"
    if not isinstance(installed, dict) or "error" in installed:
        why = installed.get("error") if isinstance(installed, dict) else "not a JSON object"
        return False, f"/etc/dcos-py/installed.json unreadable: {why}"
    cid, build = installed.get("cluster_id"), installed.get("build_id")
    if manifest is None:
        return False, f"installed (cluster {cid}, build {build}); run --genconf to compare"
    if cid != manifest.cluster_id:
        return False, (f"installed for another cluster ({cid}); run `dcos-py uninstall` on "
                       f"it first")
    if build == manifest.build_id:
        return True, f"installed, same build {build}"
    return True, f"installed build {build} ({installed.get('version')}): upgrade"


def _ip_detect(result: object, address: str) -> tuple[bool, str]:
    if not isinstance(result, dict):
        return False, "not run"
    out = str(result.get("stdout") or "").split()
    if result.get("exit") != 0:
        err = tail(str(result.get("stderr") or ""), 1)
        return False, f"ip_detect exited {result.get('exit')}" + (f": {err}" if err else "")
    if not out:
        return False, f"ip_detect printed nothing, expected {address}"
    try:
        same = ipaddress.ip_address(out[0]) == ipaddress.ip_address(address)
    except ValueError:
        same = False
    return (True, address) if same else (False, f"ip_detect printed {out[0]!r}, expected "
                                                f"{address}")


# -- the step ---------------------------------------------------------------------------------


def _no_probe(host: HostSpec, cfg: ClusterConfig, status: int, stderr: str,
              stdout: str) -> list[CheckResult]:
    """Checks when the probe produced no JSON: python3 missing, sudo refused, a crash."""
    a = host.address
    ok_ssh = CheckResult(a, "ssh", True, f"{cfg.ssh_user}@{a}")
    if status == 127 or "python3: not found" in stderr or "python3: command not found" in stderr:
        return [ok_ssh, CheckResult(a, "python", False, "python3 not found")]
    if stderr.lstrip().startswith("sudo:"):
        return [CheckResult(a, "ssh", False, f"{cfg.ssh_user} cannot run sudo -n: "
                                             f"{tail(stderr, 1)}")]
    why = tail(stderr, 1) or tail(stdout, 1) or f"exit status {status}"
    if "SyntaxError" in stderr:
        why = "python3 too old to run the probe"
    return [ok_ssh, CheckResult(a, "python", False, f"probe failed: {why}")]


async def probe_host(session: HostSession, host: HostSpec, cfg: ClusterConfig,
                     manifest: Manifest | None, log: HostLog) -> list[CheckResult]:
    """Runs the probe on one host and judges it."""
    params = json.dumps(probe_params(cfg, host))
    log(f"probe: {params}")
    try:
        source = read_asset("host", "probe.py")
    except FileNotFoundError as exc:
        raise HostError(str(exc)) from None
    done = await session.run(f"python3 - {shlex.quote(params)}", input=source, timeout=120,
                             check=False)
    now = time.time()
    line = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""
    try:
        probe = json.loads(line) if done.exit_status == 0 else None
    except ValueError:
        probe = None
    if not isinstance(probe, dict):
        return _no_probe(host, cfg, done.exit_status, done.stderr, done.stdout)
    log(f"probe result: {line}")
    return judge(probe, host, cfg, manifest, now)


def _summary(checks: Sequence[CheckResult]) -> str:
    failed = [f"{c.check}: {c.detail}" for c in checks if not c.ok]
    return "; ".join(failed) if failed else f"{len(checks)} checks passed"


async def preflight(cfg: ClusterConfig, hosts: list[HostSpec], manifest: Manifest | None,
                    progress: Progress, *, connect: Connect = connect) -> list[HostResult]:
    """Probes and judges every host; a host is ok when all its checks pass. A host that could
    not be reached gets one failed `ssh` check with the reason. (`connect`: for unit tests.)"""
    found: dict[str, list[CheckResult]] = {}

    async def work(session: HostSession, host: HostSpec, log: HostLog) -> str:
        checks = await probe_host(session, host, cfg, manifest, log)
        found[host.address] = checks
        for c in checks:
            log(f"{c.check} {'PASS' if c.ok else 'FAIL'} {c.detail}")
        if not all(c.ok for c in checks):
            raise HostError(_summary(checks))
        return _summary(checks)

    results = await for_each_host(cfg, hosts, "preflight", work, progress=progress,
                                  connect=connect)
    for r in results:
        r.checks = found.get(r.address) or [CheckResult(r.address, "ssh", False, r.detail)]
    return results


def preflight_table(results: Sequence[HostResult]) -> Table:
    """host | check | PASS/FAIL | detail, every check of every host (failures in red)."""
    table = Table(title="Preflight", show_lines=False)
    for col in ("host", "check", "result", "detail"):
        table.add_column(col, overflow="fold")
    for r in results:
        for i, c in enumerate(r.checks):
            table.add_row(r.address if i == 0 else "", c.check,
                          "[green]PASS[/]" if c.ok else "[bold red]FAIL[/]", c.detail)
    return table
