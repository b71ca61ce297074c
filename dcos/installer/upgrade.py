"""`dcos-py install --upgrade`: roll a new build through the cluster one host at a time, the
cluster keeping a ZooKeeper quorum, a leading master and its running tasks throughout.

`upgrade(cfg, hosts, manifest, progress)` is called by `dcos.installer.main` after genconf
built the new bundle. Order: the masters one at a time, standbys first and the leading master
last (the leader is asked again before each pick: a restart can move leadership), then the
agents and public agents one at a time. Per host (`runner.for_each_host` with that one host):

1. already on this build and configuration with every service running -> "up to date"
   (an interrupted upgrade run again goes on where it stopped);
2. copy the bundle, install it and the host's configuration (`deploy.copy_bundle`,
   `deploy.install_host`: the running services keep the old code until they restart);
3. ``services.sh start`` (new or changed programs) and ``services.sh restart all``: on a master
   ZooKeeper, the master and its services; on an agent host the agent (and the load balancer
   on a public agent) -- stopping the agent leaves its tasks running (supervisord
   ``stopasgroup=false``, systemd ``KillMode=process``) and the new agent process recovers
   them from its checkpoint and re-registers with the same agent id;
4. wait (`HEALTH_TIMEOUT_S`) until it is healthy again: a master answers ``/health``, its
   ZooKeeper serves (leader or follower) and some master leads; an agent is registered again
   with the same id (a newer re-registration time) and active;
5. ``installed.json``.

The first host that fails stops the upgrade (the others are reported "not upgraded"): fix it
and run ``--upgrade`` again. Each result's detail gives the seconds the host took, and
`timings` (when passed) receives them: the install benchmark reads them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from dcos.installer.bundle import BundleError, Manifest, genconf_dir
from dcos.installer.cluster_api import SERVING_MODES, ZK_PORT, AgentEntry, ClusterApi, wait_until
from dcos.installer.config import ClusterConfig, HostSpec, host_port_text
from dcos.installer.deploy import (
    copy_bundle,
    etc_digest,
    install_host,
    mark_installed,
    plan_host,
    read_state,
    services,
)
from dcos.installer.progress import Progress
from dcos.installer.runner import HostLog, HostResult, for_each_host
from dcos.installer.ssh import HostError, HostSession, connect

STEP = "upgrade"
HEALTH_TIMEOUT_S = 180.0


def next_master(pending: Sequence[HostSpec], leader: str | None) -> HostSpec:
    """The master to upgrade next: the first pending one that does not lead, else the leader."""
    for h in pending:
        if h.address != leader:
            return h
    return pending[0]


def agent_back(before: AgentEntry | None, now: AgentEntry | None) -> str | None:
    """None when the agent is back after its restart: registered and active, with the id it
    had (`before`; None: it was not registered, any id will do) and a newer registration."""
    if now is None:
        return "not registered at the leading master yet"
    if not now.active:
        return f"registered as {now.agent_id} but not active yet"
    if before is None:
        return None
    if now.agent_id != before.agent_id:
        return (f"re-registered with a NEW agent id {now.agent_id} (was {before.agent_id}): "
                "its tasks were not recovered")
    if now.last_registration <= before.last_registration:
        return f"agent {now.agent_id} has not re-registered since its restart"
    return None


def master_problem(address: str, healthy: bool, zk_mode: str | None, zk_on_masters: bool,
                   leader: str | None) -> str | None:
    """None when the restarted master at `address` is healthy (see the module doc)."""
    if not healthy:
        return f"master {address} does not answer /health"
    if zk_on_masters and zk_mode not in SERVING_MODES:
        return f"ZooKeeper on {address} is not serving ({zk_mode or 'no answer'})"
    if leader is None:
        return "no master leads"
    return None


class _Upgrader:
    def __init__(self, cfg: ClusterConfig, manifest: Manifest, api: ClusterApi,
                 timeout: float, timings: dict[str, float]) -> None:
        self.cfg, self.manifest, self.api = cfg, manifest, api
        self.timeout = timeout
        self.timings = timings

    async def work(self, session: HostSession, host: HostSpec, log: HostLog) -> str:
        start = time.monotonic()
        cfg, manifest = self.cfg, self.manifest
        digest = etc_digest(genconf_dir(cfg).host_etc(host.address))
        state = await read_state(session, cfg, manifest, log)
        plan = plan_host(state.installed, manifest, host, digest,
                         services_ok=state.services_ok, bundle_complete=state.bundle_complete)
        if plan.up_to_date:
            return f"up to date (build {manifest.build_id})"
        before = await self._agent(host) if host.role != "master" else None
        if plan.copy_bundle:
            await copy_bundle(session, cfg, host, manifest, log)
        await install_host(session, cfg, host, manifest, log)
        restart_at = time.monotonic()
        log("restarting services on the new build", 0.7)
        await services(session, cfg, log, "start")
        await services(session, cfg, log, "restart", "all")
        log("waiting until it is healthy again", 0.8)
        if host.role == "master":
            why = await wait_until(lambda: self._master_problem(host), self.timeout)
        else:
            why = await wait_until(lambda: self._agent_problem(host, before), self.timeout)
        if why is not None:
            raise HostError(f"not healthy {self.timeout:g} s after its restart: {why}")
        await mark_installed(session, cfg, host, manifest, digest, log)
        total = time.monotonic() - start
        self.timings[host.address] = total
        return (f"upgraded to build {manifest.build_id} in {total:.1f} s "
                f"(restart to healthy {time.monotonic() - restart_at:.1f} s)")

    async def _agent(self, host: HostSpec) -> AgentEntry | None:
        try:
            return await self.api.agent(host.address)
        except Exception:  # noqa: BLE001 - no leader now: any id will do after the restart
            return None

    async def _master_problem(self, host: HostSpec) -> str | None:
        zk = None
        if self.cfg.zk_on_masters:
            zk = await self.api.zk_mode(f"{host_port_text(host.address)}:{ZK_PORT}")
        healthy = await self.api.master_healthy(host.address)
        leader = await self.api.leading_master()
        return master_problem(host.address, healthy, zk, self.cfg.zk_on_masters, leader)

    async def _agent_problem(self, host: HostSpec, before: AgentEntry | None) -> str | None:
        return agent_back(before, await self.api.agent(host.address))


async def upgrade(cfg: ClusterConfig, hosts: list[HostSpec], manifest: Manifest,
                  progress: Progress, *, connect: Callable[..., Any] = connect,
                  timings: dict[str, float] | None = None,
                  health_timeout: float = HEALTH_TIMEOUT_S) -> list[HostResult]:
    """Upgrades `hosts` to `manifest`'s build one at a time (see the module doc); one result
    per host in the order of `hosts`."""
    timings = timings if timings is not None else {}
    try:
        api = ClusterApi(cfg)
    except BundleError as exc:
        return [HostResult(h.address, False, str(exc)) for h in hosts]
    results: dict[str, HostResult] = {}
    async with api:
        up = _Upgrader(cfg, manifest, api, health_timeout, timings)
        pending = [h for h in hosts if h.role == "master"]
        agents = [h for h in hosts if h.role != "master"]
        failed: str | None = None
        while pending and failed is None:
            host = next_master(pending, await api.leading_master())
            pending.remove(host)
            (r,) = await for_each_host(cfg, [host], STEP, up.work, progress=progress,
                                       connect=connect)
            results[host.address] = r
            failed = None if r.ok else host.address
        for host in agents:
            if failed is not None:
                break
            (r,) = await for_each_host(cfg, [host], STEP, up.work, progress=progress,
                                       connect=connect)
            results[host.address] = r
            failed = None if r.ok else host.address
    return [results.get(h.address) or HostResult(
        h.address, False, f"not upgraded: the upgrade stopped after {failed} failed")
        for h in hosts]  # fmt: skip
