"""`dcos-py install --deploy`: put the bundle's build and each host's configuration on the hosts
and start their services; masters first, agents once a master leads.

`deploy(cfg, hosts, manifest, progress)` is called by `dcos.installer.main` (the deploy step)
and by `dcos.installer.nodes.add_agent`; `install_host`, `start_services` and the other small
steps are shared with `dcos.installer.upgrade`. Per host (`runner.for_each_host`, at most
``ssh_parallelism`` at once), idempotent, so an interrupted deploy completes when run again:

1. read ``/etc/dcos-py/installed.json``; the same build and configuration installed and every
   service running -> "up to date", nothing copied, nothing restarted;
2. SFTP the bundle's wheels (masters: also the package repository) to
   ``{install_dir}/bundle/<build_id>/`` unless its ``.complete`` marker is there;
3. ``installer/host/install.sh``: the venv (the host's python3), ``pip install --no-index``,
   Debian ZooKeeper on masters with the ensemble, the host's ``etc`` into ``/etc/dcos-py``
   (security/ 0700, private keys 0600);
4. ``installer/host/services.sh start`` (systemd units where systemd runs, else supervisord);
   a host that ran another build or configuration restarts its programs (the agent keeps its
   tasks: it recovers them); a rolling change is `dcos-py install --upgrade`'s job;
5. ``installed.json`` {"cluster_id", "build_id", "version", "role", "etc_digest"} LAST, then the
   bundles of other builds are removed.

Order: the masters in parallel, then (`wait_for_masters`) until ZooKeeper has a quorum and a
master leads, then the agents and public agents in parallel.

The host scripts are read from the checkout dcos is imported from (``installer/host/``), like
the templates genconf renders (`dcos.installer.units`).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import shlex
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from dcos.installer.assets import read_asset
from dcos.installer.bundle import BundleError, Manifest, genconf_dir
from dcos.installer.cluster_api import ClusterApi, wait_until
from dcos.installer.config import ETC_DIR, ClusterConfig, HostSpec
from dcos.installer.progress import Progress
from dcos.installer.runner import HostLog, HostResult, for_each_host
from dcos.installer.ssh import Completed, HostError, HostSession, connect

INSTALLED = ETC_DIR / "installed.json"
MASTERS_READY_TIMEOUT_S = 180.0
STEP = "deploy"
# environment variable of the bootstrap host forcing the hosts' init system (auto, systemd,
# supervisord); the test bed sets supervisord: its hosts share the machine's /run and /etc/systemd
INIT_ENV = "DCOS_PY_INIT"


def host_script(name: str) -> str:
    """The text of ``installer/host/<name>`` (FileNotFoundError naming it when missing)."""
    return read_asset("host", name)


# -- pure decisions ----------------------------------------------------------------------------


def etc_digest(etc: Path) -> str:
    """sha256 (16 hex digits) of a host's ``etc`` tree: relative paths, modes and contents."""
    h = hashlib.sha256()
    for root, dirs, files in os.walk(etc):
        dirs.sort()
        for name in sorted(files):
            path = Path(root) / name
            rel = path.relative_to(etc).as_posix()
            h.update(f"{rel}\0{path.stat().st_mode & 0o777:o}\0".encode())
            h.update(path.read_bytes())
            h.update(b"\0")
    return h.hexdigest()[:16]


def parse_installed(text: str) -> dict[str, Any] | None:
    """``installed.json``'s object, or None (absent, empty, damaged: treated as not installed)."""
    try:
        doc = json.loads(text)
    except ValueError:
        return None
    return doc if isinstance(doc, dict) else None


def installed_doc(manifest: Manifest, host: HostSpec, digest: str) -> dict[str, Any]:
    return {"cluster_id": manifest.cluster_id, "build_id": manifest.build_id,
            "version": manifest.version, "role": host.role, "address": host.address,
            "etc_digest": digest}  # fmt: skip


@dataclass(frozen=True)
class HostPlan:
    """What deploy does on one host, decided from what is there (`plan_host`)."""

    up_to_date: bool  # nothing to do
    copy_bundle: bool  # the wheels are not on the host yet
    restart: bool  # services run another build/configuration: restart them after the start

    def describe(self) -> str:
        if self.up_to_date:
            return "up to date"
        return ", ".join(s for s, on in (("copy bundle", self.copy_bundle), ("install", True),
                                         ("start", True), ("restart", self.restart)) if on)


def plan_host(installed: dict[str, Any] | None, manifest: Manifest, host: HostSpec,
              digest: str, *, services_ok: bool, bundle_complete: bool) -> HostPlan:
    """The deploy decision for a host where `installed` (installed.json or None) is found,
    whose services all run (`services_ok`) and where the bundle is complete or not."""
    same = (installed is not None and installed.get("build_id") == manifest.build_id
            and installed.get("etc_digest") == digest and installed.get("role") == host.role
            and installed.get("cluster_id") == manifest.cluster_id)  # fmt: skip
    if same and services_ok:
        return HostPlan(True, False, False)
    # another build or configuration was installed: programs still running on it (all, or
    # some left after a crash) restart on the new one
    restart = installed is not None and not same
    return HostPlan(False, not bundle_complete, restart)


def bundle_dir(cfg: ClusterConfig, build_id: str) -> PurePosixPath:
    return cfg.install_dir / "bundle" / build_id


def wheel_names(manifest: Manifest, wheels_dir: Path) -> list[str]:
    """The wheels to copy: the manifest's list (genconf may keep older ones in the folder),
    else every wheel there."""
    names = list(manifest.wheels) or sorted(p.name for p in wheels_dir.glob("*.whl"))
    if manifest.dcos_wheel not in names:
        names.append(manifest.dcos_wheel)
    return names


def init_system() -> str:
    value = os.environ.get(INIT_ENV, "auto").strip() or "auto"
    if value not in ("auto", "systemd", "supervisord"):
        raise ValueError(f"{INIT_ENV}={value!r}: expected auto, systemd or supervisord")
    return value


# -- steps on one host (shared with upgrade and nodes) ----------------------------------------


def _q(value: object) -> str:
    return shlex.quote(str(value))


async def run_script(session: HostSession, name: str, args: Sequence[str], log: HostLog, *,
                     timeout: float = 600, check: bool = True) -> Completed:
    """Runs ``installer/host/<name>`` on the host (``bash -s -- args``, the script on stdin);
    its output goes to the host's log."""
    cmd = "bash -s -- " + " ".join(_q(a) for a in args)
    done = await session.run(cmd, input=host_script(name), timeout=timeout, check=False)
    for text in (done.stdout, done.stderr):
        if text.strip():
            log(text.rstrip())
    if check and done.exit_status != 0:
        last = (done.stderr.strip() or done.stdout.strip()).splitlines()
        raise HostError(f"{name} exited {done.exit_status}" + (f": {last[-1]}" if last else ""))
    return done


def services_args(cfg: ClusterConfig, *command: str) -> list[str]:
    return ["--install-dir", str(cfg.install_dir), "--work-dir", str(cfg.work_dir),
            "--init", init_system(), *command]


async def services(session: HostSession, cfg: ClusterConfig, log: HostLog, *command: str,
                   check: bool = True, timeout: float = 300) -> Completed:
    """``services.sh <command>`` on the host (start, restart [NAME], status, stop, ...)."""
    return await run_script(session, "services.sh", services_args(cfg, *command), log,
                            check=check, timeout=timeout)


@dataclass(frozen=True)
class HostState:
    installed: dict[str, Any] | None
    services_ok: bool
    bundle_complete: bool


async def read_state(session: HostSession, cfg: ClusterConfig, manifest: Manifest,
                     log: HostLog) -> HostState:
    """installed.json, whether every service runs, whether this build's bundle is complete."""
    done = await session.run(f"cat {_q(INSTALLED)} 2>/dev/null", check=False)
    installed = parse_installed(done.stdout) if done.exit_status == 0 else None
    status = await services(session, cfg, log, "status", check=False, timeout=60)
    marker = bundle_dir(cfg, manifest.build_id) / ".complete"
    complete = await session.run(f"test -f {_q(marker)}", check=False)
    return HostState(installed, status.exit_status == 0, complete.exit_status == 0)


async def copy_bundle(session: HostSession, cfg: ClusterConfig, host: HostSpec,
                      manifest: Manifest, log: HostLog) -> None:
    """SFTP the wheels (+ the repository on masters) into the host's bundle dir, then mark it
    complete; files of an interrupted copy are simply copied again."""
    gd = genconf_dir(cfg)
    remote = bundle_dir(cfg, manifest.build_id)
    names = wheel_names(manifest, gd.wheels)
    missing = [n for n in names if not (gd.wheels / n).is_file()]
    if missing:
        raise HostError(f"bundle incomplete: {', '.join(missing[:3])} missing in {gd.wheels} "
                        "(run `dcos-py install --genconf`)")
    await session.run(f"mkdir -p {_q(remote)} && rm -f {_q(remote / '.complete')}")
    log(f"copying {len(names)} wheels to {remote}/wheels", 0.1)
    with tempfile.TemporaryDirectory(prefix="dcos-py-wheels-") as tmp:
        for n in names:  # a folder of links: only the manifest's wheels travel
            os.symlink(gd.wheels / n, Path(tmp) / n)
        await session.put(Path(tmp), remote / "wheels")
    if host.role == "master" and manifest.repo and gd.repo.is_dir():
        log(f"copying the package repository to {remote}/repo", 0.3)
        await session.put(gd.repo, remote / "repo")
    await session.put_text(manifest.build_id + "\n", remote / ".complete")


async def install_host(session: HostSession, cfg: ClusterConfig, host: HostSpec,
                       manifest: Manifest, log: HostLog) -> None:
    """install.sh on the host: venv, pip, ZooKeeper (masters with the ensemble), /etc/dcos-py
    from the host's ``etc`` (copied to a private staging dir first)."""
    etc = genconf_dir(cfg).host_etc(host.address)
    if not etc.is_dir():
        raise HostError(f"no configuration for {host.address} in {etc} (run "
                        "`dcos-py install --genconf` with this host in the config)")
    remote = bundle_dir(cfg, manifest.build_id)
    staging = cfg.install_dir / "staging-etc"
    await session.run(f"rm -rf {_q(staging)} && mkdir -p {_q(cfg.install_dir)} && "
                      f"mkdir -m 700 {_q(staging)}")
    await session.put(etc, staging)
    args = ["--install-dir", str(cfg.install_dir), "--bundle", str(remote),
            "--wheel", manifest.dcos_wheel, "--etc", str(staging)]
    if host.role == "master" and not cfg.zk_external:
        args.append("--zookeeper")
    if host.role == "master" and manifest.repo:
        args += ["--repo", str(remote / "repo")]
    log("installing (install.sh)", 0.5)
    try:
        await run_script(session, "install.sh", args, log, timeout=900)
    finally:
        await session.run(f"rm -rf {_q(staging)}", check=False)
    await session.run(f"mkdir -p {_q(cfg.work_dir / 'logs')} {_q(cfg.work_dir / 'run')}")


async def mark_installed(session: HostSession, cfg: ClusterConfig, host: HostSpec,
                         manifest: Manifest, digest: str, log: HostLog) -> None:
    """installed.json (last), then the bundles of other builds go."""
    doc = installed_doc(manifest, host, digest)
    await session.put_text(json.dumps(doc, indent=2) + "\n", INSTALLED, 0o644)
    base = cfg.install_dir / "bundle"
    done = await session.run(
        f"cd {_q(base)} 2>/dev/null && for d in *; do [ \"$d\" = {_q(manifest.build_id)} ] || "
        f"{{ [ -e \"$d\" ] && rm -rf -- \"$d\" && echo \"removed old bundle $d\"; }}; done; true",
        check=False)  # fmt: skip
    if done.stdout.strip():
        log(done.stdout.rstrip())


def deploy_work(cfg: ClusterConfig, manifest: Manifest) -> Callable[..., Any]:
    """The per-host work of a deploy (see the module doc), for `runner.for_each_host`."""

    async def work(session: HostSession, host: HostSpec, log: HostLog) -> str:
        digest = etc_digest(genconf_dir(cfg).host_etc(host.address))
        state = await read_state(session, cfg, manifest, log)
        plan = plan_host(state.installed, manifest, host, digest,
                         services_ok=state.services_ok, bundle_complete=state.bundle_complete)
        log(f"plan: {plan.describe()}")
        if plan.up_to_date:
            return f"up to date (build {manifest.build_id})"
        if plan.copy_bundle:
            await copy_bundle(session, cfg, host, manifest, log)
        await install_host(session, cfg, host, manifest, log)
        log("starting services (services.sh start)", 0.8)
        await services(session, cfg, log, "start")
        if plan.restart:
            log("restarting services on the new build/configuration", 0.9)
            await services(session, cfg, log, "restart", "all")
        await mark_installed(session, cfg, host, manifest, digest, log)
        return f"installed build {manifest.build_id} ({manifest.version})"

    return work


async def wait_for_masters(cfg: ClusterConfig, timeout: float = MASTERS_READY_TIMEOUT_S,
                           api: ClusterApi | None = None) -> str | None:
    """Until ZooKeeper (the ensemble on the masters) has a quorum and a master leads; None, or
    what is still missing after `timeout`."""
    if api is None:
        try:
            fresh = ClusterApi(cfg)
        except BundleError as exc:
            return str(exc)
        async with fresh:
            return await wait_until(fresh.masters_problem, timeout)
    return await wait_until(api.masters_problem, timeout)


async def deploy(cfg: ClusterConfig, hosts: list[HostSpec], manifest: Manifest,
                 progress: Progress, *, connect: Callable[..., Any] = connect,
                 masters_timeout: float = MASTERS_READY_TIMEOUT_S) -> list[HostResult]:
    """Deploys `manifest`'s build to `hosts` (see the module doc); one result per host, in the
    order of `hosts`. Never raises for one host's failure."""
    masters = [h for h in hosts if h.role == "master"]
    others = [h for h in hosts if h.role != "master"]
    work = deploy_work(cfg, manifest)
    results: dict[str, HostResult] = {}
    if masters:
        for r in await for_each_host(cfg, masters, STEP, work, progress=progress,
                                     connect=connect):
            results[r.address] = r
    if others:
        addresses = [h.address for h in masters if results[h.address].ok]
        progress.begin("masters ready", addresses or list(cfg.masters))
        why = await wait_for_masters(cfg, masters_timeout)
        for a in addresses or list(cfg.masters):
            progress.finish(a, why is None, why or "ZooKeeper has a quorum, a master leads")
        progress.end()
        if why is not None:
            for a in addresses:
                results[a] = HostResult(a, False, f"installed, but the masters are not ready "
                                                  f"after {masters_timeout:g} s: {why}")
        for r in await for_each_host(cfg, others, STEP, work, progress=progress,
                                     connect=connect):
            if why is not None and r.ok and not addresses:
                r = HostResult(r.address, True, f"{r.detail} (masters not ready: {why})")
            results[r.address] = r
    return [results[h.address] for h in hosts]


def run_deploy(cfg: ClusterConfig, hosts: list[HostSpec], manifest: Manifest,
               progress: Progress) -> list[HostResult]:
    """`deploy` from synchronous code."""
    return asyncio.run(deploy(cfg, hosts, manifest, progress))
