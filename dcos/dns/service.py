"""The DNS service shell: keeps a `RecordTable` fresh and serves it over DNS and HTTP.

A resync reads the webapp's `GET /v2/apps?embed=apps.tasks` (from whichever of the `--webapp`
instances answers, `dcos.common.sse.fetch_apps_any`) and the leading master's `/master/slaves`
(agent IPs), builds a new table and swaps it in. Resyncs are driven by the webapp's
`/v2/events` stream (`dcos.common.sse.EventFollower`): a change is answered within a debounce
of ~0.2 s; every (re)connect and every `full_every_s` also resync.

Masters: `--master` goes through `dcos.state.detector.master_detector`. With a ``zk://`` URL
the records follow ZooKeeper (`_follow_masters`): `leader.dcos` is the leader the detector
reports and `master.dcos` every contender; a new leader is applied at once and the agents are
re-read from it. With a static address, `master.dcos` is that master and the leader is read
from its `/master/state` (at most every `LEADER_EVERY_S`). Whatever cannot be read keeps its
last good value (`ClusterInfo.with_masters`, the last apps, the last agents): a failover never
empties the records.

Security on (``DnsService(config, security=ctx)``, ``python -m dcos.dns --security-dir``):
the master and webapp reads and the event stream over mutual TLS with the DNS certificate
(a master address without a scheme is https), the HTTP API over HTTPS and authenticated
(`dcos.dns.http_api`; ``/health`` open), certificates reloaded on rotation and token
revocations followed from the leader (`PolicyFeed`). The DNS port itself stays open (DNS has
no authentication).

Called by: `python -m dcos.dns` (`run_dns`), integration tests (`DnsService(...).start()`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
from dataclasses import dataclass, replace
from typing import Any, Protocol, runtime_checkable
from urllib.parse import urlsplit

import aiohttp
import orjson
from aiohttp import web

from dcos.common.addresses import MasterAddress, parse_master
from dcos.common.sse import EventFollower, SyncPolicy, WebappEndpoints, fetch_apps_any
from dcos.dns import http_api
from dcos.dns.forward import DEFAULT_TIMEOUT_S, Forwarder, Resolver
from dcos.dns.names import is_ip
from dcos.dns.records import (
    DEFAULT_DOMAIN,
    ClusterInfo,
    Endpoint,
    RecordTable,
    agents_from_master,
    build_table,
    leader_from_state,
)
from dcos.dns.server import DEFAULT_TTL, DnsServer
from dcos.security.context import SecurityContext
from dcos.security.http import PolicyFeed
from dcos.state.detector import MasterDetector, StaticDetector, ZooKeeperDetector, master_detector
from dcos.state.leader import MasterInfo
from dcos.state.zk import is_zk_url, parse_zk_url

log = logging.getLogger(__name__)

LEADER_EVERY_S = 30.0
MASTERS_POLL_S = 1.0  # how often the contenders are compared (a standby joining or leaving)


@dataclass(frozen=True)
class DnsConfig:
    """What `python -m dcos.dns` is told (see `__main__` for the flags). `webapp`: one URL or
    several separated by commas; `master`: ``host:port``, ``http(s)://...`` or ``zk://...``."""

    webapp: str = "http://127.0.0.1:8080"
    master: str | None = "127.0.0.1:5050"
    master_ip: str | None = None
    domain: str = DEFAULT_DOMAIN
    host: str = "127.0.0.1"
    port: int = 8053
    http_port: int = 8123
    ttl: int = DEFAULT_TTL
    debounce_s: float = 0.2
    full_every_s: float = 60.0
    # upstream resolvers for names outside `domain` (none: REFUSED), `dcos.dns.forward`
    resolvers: tuple[Resolver, ...] = ()
    resolver_timeout_s: float = DEFAULT_TIMEOUT_S


def resolve_ipv4(host: str) -> str | None:
    """`host` when it is an IPv4 literal, else its first IPv4 address from the resolver."""
    if is_ip(host):
        return host
    try:
        infos = socket.getaddrinfo(host, None, socket.AF_INET, socket.SOCK_STREAM)
    except OSError:
        return None
    return str(infos[0][4][0]) if infos else None


@runtime_checkable
class ListsMasters(Protocol):
    """A detector that also knows every contender (`ZooKeeperDetector.masters()`, in
    election order); a static detector does not."""

    def masters(self) -> list[MasterInfo]: ...


def _endpoint(host: str, port: int) -> Endpoint | None:
    ip = resolve_ipv4(host)
    return (ip, port) if ip else None


async def _resolve(host: str, port: int) -> Endpoint | None:
    """`_endpoint` off the event loop (a host name asks the resolver; an IP does not)."""
    if is_ip(host):
        return host, port
    return await asyncio.get_running_loop().run_in_executor(None, _endpoint, host, port)


class DnsService:
    """Owns the current table, the event follower, the master detector, the DNS listener and
    the HTTP API."""

    def __init__(self, config: DnsConfig, detector: MasterDetector | None = None, *,
                 security: SecurityContext | None = None) -> None:  # fmt: skip
        """`detector`: how the masters are found (default: `master_detector(config.master)`,
        https with `security`; tests pass a fake); not started yet (`start` starts it, `stop`
        closes it). `security`: the loaded security context (None: security off)."""
        self.config = config
        self.security = security
        self._policy: PolicyFeed | None = None
        self.table = RecordTable(domain=config.domain)
        self.apps: list[Any] = []
        self.cluster = ClusterInfo()
        self._leader_at = 0.0
        self.webapps = WebappEndpoints(config.webapp)
        self.zk = bool(config.master) and is_zk_url(config.master or "")
        if detector is None and config.master:
            detector = _detector(config.master, security)
        self.detector = detector
        self.follower = EventFollower(self.webapps, self.resync, policy=SyncPolicy(
            debounce_s=config.debounce_s, full_every_s=config.full_every_s),
            ssl_context=security.client_ssl if security is not None else None)
        self.dns = DnsServer(lambda: self.table, config.host, config.port, config.ttl)
        if config.resolvers:
            self.dns.forwarder = Forwarder(config.resolvers, config.resolver_timeout_s)
        self._session: aiohttp.ClientSession | None = None
        self._runner: web.AppRunner | None = None
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def http_port(self) -> int:
        return self.config.http_port

    def config_json(self) -> dict[str, Any]:
        """The `/v1/config` body (Mesos-DNS's key names where they apply: ``Zk`` for a
        ZooKeeper master URL, ``Masters`` the masters known now)."""
        c = self.config
        masters = [f"{ip}:{port}" for ip, port in self.cluster.masters]
        return {"Masters": masters or ([c.master] if c.master and not self.zk else None),
                "Zk": c.master if self.zk else "", "Webapp": list(self.webapps.urls),
                "RefreshSeconds": c.full_every_s, "TTL": c.ttl, "Port": self.dns.port,
                "Domain": c.domain, "Listener": c.host, "HttpPort": self.http_port,
                "DnsOn": True, "HttpOn": True,
                "Resolvers": [f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"
                              for ip, port in c.resolvers],
                "ExternalOn": bool(c.resolvers), "Timeout": c.resolver_timeout_s,
                "SOAMname": f"ns1.{c.domain}.", "SOARname": f"root.ns1.{c.domain}."}

    async def start(self) -> None:
        """Connect the master detector (ZooKeeper), bind DNS (UDP+TCP) and HTTP, then follow
        the masters and the webapp's events."""
        timeout = aiohttp.ClientTimeout(total=10)
        ctx = self.security
        self._session = aiohttp.ClientSession(timeout=timeout, trust_env=False,
                                              **(ctx.client_kwargs() if ctx else {}))
        if self.detector is not None:
            await self.detector.start()
        if ctx is not None:
            if ctx.reloader is not None:
                ctx.reloader.start()
            self._policy = PolicyFeed(ctx, self._leader_url, self._session)
            self._policy.start()
        self.cluster = await asyncio.get_running_loop().run_in_executor(None, self._static_cluster)
        self.table = build_table([], self.cluster, self.config.domain)
        await self.dns.start()
        app = http_api.make_app(lambda: self.table, self.config_json,
                                lambda: self.follower.syncs > 0, security=ctx)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.config.host, self.config.http_port,
                           ssl_context=ctx.server_ssl if ctx else None)  # fmt: skip
        await site.start()
        if self.config.http_port == 0:
            sock = site._server.sockets[0]  # type: ignore[union-attr]
            self.config = replace(self.config, http_port=sock.getsockname()[1])
        if self.zk:
            await self.apply_masters()
            self._tasks.append(asyncio.create_task(self._follow_masters()))
        self._tasks.append(asyncio.create_task(self.follower.run()))

    def _static_cluster(self) -> ClusterInfo:
        """Addresses known without asking anyone: the webapp instances' (from their URLs) and,
        for a static `--master`, that master's (`--master-ip`, else its host resolved)."""
        webapps: list[Endpoint] = []
        for url in self.webapps.urls:
            parts = urlsplit(url)
            ep = _endpoint(parts.hostname or "127.0.0.1",
                           parts.port or (443 if parts.scheme == "https" else 80))
            if ep is not None:
                webapps.append(ep)
        first = webapps[0] if webapps else (None, None)
        cluster = ClusterInfo(webapp_ip=first[0], webapp_port=first[1], webapps=tuple(webapps))
        if self.config.master and not self.zk:
            m = parse_master(self.config.master)
            ip = self.config.master_ip or resolve_ipv4(m.host)
            if ip:
                cluster = cluster.with_masters((ip, m.port), [(ip, m.port)])
        elif self.config.master_ip:
            log.warning("--master-ip is ignored with a zk:// master (ZooKeeper names the masters)")
        return cluster

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.dns.stop()
        if self._runner is not None:
            await self._runner.cleanup()
        if self._policy is not None:
            await self._policy.stop()
        if self.security is not None and self.security.reloader is not None:
            await self.security.reloader.stop()
        if self._session is not None:
            await self._session.close()
        if self.detector is not None:
            await self.detector.close()

    # ---- masters ---------------------------------------------------------------------------

    async def _follow_masters(self) -> None:
        """zk:// masters: apply every change the detector reports (a new leader at once; the
        contenders are compared every `MASTERS_POLL_S`, so a standby joining or dying shows too)."""
        assert self.detector is not None
        previous = self.detector.current()
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.detector.changed(previous), MASTERS_POLL_S)
            previous = self.detector.current()
            await self.apply_masters()

    async def apply_masters(self) -> bool:
        """Take the detector's leader and contenders into the records (keeping the last good
        ones while there are none); rebuild the table if they changed, and resync (agents
        from the new leader) when the leader changed. True when something changed."""
        assert self.detector is not None
        leader = self.detector.current()
        infos = self.detector.masters() if isinstance(self.detector, ListsMasters) else []
        lead = await _resolve(leader.host, leader.port) if leader is not None else None
        masters = [ep for ep in [await _resolve(m.ip, m.port) for m in infos] if ep is not None]
        before = self.cluster
        self.cluster = before.with_masters(lead, masters)
        if self.cluster == before:
            return False
        log.info("masters: leader %s, contenders %s",
                 f"{self.cluster.master_ip}:{self.cluster.master_port}",
                 ", ".join(f"{ip}:{port}" for ip, port in self.cluster.masters) or "none")
        self.table = build_table(self.apps, self.cluster, self.config.domain)
        if (before.master_ip, before.master_port) != (self.cluster.master_ip,
                                                      self.cluster.master_port):
            self.follower.poke()  # agents come from the leader: read them from the new one
        return True

    def _leader_url(self) -> str | None:
        leader = self._leader_address()
        return leader.url if leader is not None else None

    def _leader_address(self) -> MasterAddress | None:
        """Where the agents are read from: the detector's leader (zk://), else `--master`."""
        if self.detector is None:
            return None
        return self.detector.current()

    # ---- resync ----------------------------------------------------------------------------

    async def _get(self, url: str) -> Any:
        assert self._session is not None
        async with self._session.get(url, headers={"Accept": "application/json"}) as resp:
            if resp.status != 200:
                raise RuntimeError(f"GET {url} answered {resp.status}")
            return orjson.loads(await resp.read())

    async def _refresh_cluster(self) -> None:
        """Agent IPs (every resync) from the leading master, and for a static `--master` the
        leader (at most every LEADER_EVERY_S); on failure, or while no leader is known, the
        last known addresses stay."""
        address = self._leader_address()
        if address is None:
            return
        base = address.url
        leader: Endpoint | None = None
        try:
            ips, hosts = agents_from_master(await self._get(base + "/master/slaves"))
            if not self.zk and self.config.master_ip is None \
                    and time.monotonic() - self._leader_at > LEADER_EVERY_S:
                leader = leader_from_state(await self._get(base + "/master/state"))
                self._leader_at = time.monotonic()
        except (aiohttp.ClientError, TimeoutError, RuntimeError, orjson.JSONDecodeError) as exc:
            log.warning("cannot read the master at %s: %s", base, exc)
            return
        cluster = replace(self.cluster, agent_ips=ips, agent_hosts=hosts)
        if leader is not None:
            cluster = cluster.with_masters(leader, cluster.masters)
        self.cluster = cluster

    async def resync(self) -> None:
        """Re-read apps and addresses and swap in a new table. Raises when no webapp instance
        can be read (the follower retries; the last apps stay); the master's records are
        refreshed even then."""
        await self._refresh_cluster()
        error: Exception | None = None
        try:
            assert self._session is not None
            self.apps = await fetch_apps_any(self._session, self.webapps)
        except RuntimeError as exc:
            error = exc
        table = build_table(self.apps, self.cluster, self.config.domain)
        for problem in table.problems:
            log.warning("dns: %s", problem)
        self.table = table
        if error is not None:
            raise error


def _detector(master: str, security: SecurityContext | None) -> MasterDetector:
    """The master detector for `--master`; https for an address without a scheme when secure."""
    if security is None:
        return master_detector(master)
    if is_zk_url(master):
        return ZooKeeperDetector(parse_zk_url(master), scheme="https")
    return StaticDetector(parse_master(master, "https"))


async def run_dns(config: DnsConfig, stop: asyncio.Event,
                  security: SecurityContext | None = None) -> None:  # fmt: skip
    """Serve until `stop` is set (the `python -m dcos.dns` main)."""
    service = DnsService(config, security=security)
    await service.start()
    log.info("dns serving %s on %s:%d (udp+tcp), http on %d, webapp %s, master %s",
             config.domain, config.host, service.dns.port, service.http_port, config.webapp,
             config.master)
    try:
        await stop.wait()
    finally:
        await service.stop()
