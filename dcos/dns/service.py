"""The DNS service shell: keeps a `RecordTable` fresh and serves it over DNS and HTTP.

A resync reads the webapp's `GET /v2/apps?embed=apps.tasks` and the master's `/master/slaves`
(agent IPs; `/master/state` for the leader, at most every `LEADER_EVERY_S`), builds a new table
and swaps it in. Resyncs are driven by the webapp's `/v2/events` stream (`dcos.common.sse`):
a change is answered within a debounce of ~0.2 s; every (re)connect and every `full_every_s`
also resync.

Called by: `python -m dcos.dns` (`run_dns`), integration tests (`DnsService(...).start()`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import orjson
from aiohttp import web

from dcos.common.addresses import parse_master
from dcos.common.sse import EventFollower, SyncPolicy, fetch_apps
from dcos.dns import http_api
from dcos.dns.names import is_ip
from dcos.dns.records import (
    DEFAULT_DOMAIN,
    ClusterInfo,
    RecordTable,
    agents_from_master,
    build_table,
    leader_from_state,
)
from dcos.dns.server import DEFAULT_TTL, DnsServer

log = logging.getLogger(__name__)

LEADER_EVERY_S = 30.0


@dataclass(frozen=True)
class DnsConfig:
    """What `python -m dcos.dns` is told (see `__main__` for the flags)."""

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


def resolve_ipv4(host: str) -> str | None:
    """`host` when it is an IPv4 literal, else its first IPv4 address from the resolver."""
    if is_ip(host):
        return host
    try:
        infos = socket.getaddrinfo(host, None, socket.AF_INET, socket.SOCK_STREAM)
    except OSError:
        return None
    return str(infos[0][4][0]) if infos else None


class DnsService:
    """Owns the current table, the event follower, the DNS listener and the HTTP API."""

    def __init__(self, config: DnsConfig) -> None:
        self.config = config
        self.table = RecordTable(domain=config.domain)
        self.apps: list[Any] = []
        self.cluster = ClusterInfo()
        self._leader_at = 0.0
        self.follower = EventFollower(config.webapp, self.resync, policy=SyncPolicy(
            debounce_s=config.debounce_s, full_every_s=config.full_every_s))
        self.dns = DnsServer(lambda: self.table, config.host, config.port, config.ttl)
        self._session: aiohttp.ClientSession | None = None
        self._runner: web.AppRunner | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def http_port(self) -> int:
        return self.config.http_port

    def config_json(self) -> dict[str, Any]:
        """The `/v1/config` body (Mesos-DNS's key names where they apply)."""
        c = self.config
        return {"Masters": [c.master] if c.master else None, "Webapp": c.webapp,
                "RefreshSeconds": c.full_every_s, "TTL": c.ttl, "Port": self.dns.port,
                "Domain": c.domain, "Listener": c.host, "HttpPort": self.http_port,
                "DnsOn": True, "HttpOn": True, "Resolvers": [],
                "SOAMname": f"ns1.{c.domain}.", "SOARname": f"root.ns1.{c.domain}."}

    async def start(self) -> None:
        """Bind DNS (UDP+TCP) and HTTP, then start following the webapp's events."""
        timeout = aiohttp.ClientTimeout(total=10)
        self._session = aiohttp.ClientSession(timeout=timeout, trust_env=False)
        self.cluster = await asyncio.get_running_loop().run_in_executor(None, self._static_cluster)
        self.table = build_table([], self.cluster, self.config.domain)
        await self.dns.start()
        app = http_api.make_app(lambda: self.table, self.config_json,
                                lambda: self.follower.syncs > 0)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.config.host, self.config.http_port)
        await site.start()
        if self.config.http_port == 0:
            sock = site._server.sockets[0]  # type: ignore[union-attr]
            self.config = replace(self.config, http_port=sock.getsockname()[1])
        self._task = asyncio.create_task(self.follower.run())

    def _static_cluster(self) -> ClusterInfo:
        """Addresses known without asking anyone: the webapp's (from its URL) and the master's
        (`--master-ip`, else the `--master` host resolved)."""
        parts = urlsplit(self.config.webapp)
        webapp_ip = resolve_ipv4(parts.hostname or "127.0.0.1")
        master_ip, master_port = self.config.master_ip, None
        if self.config.master:
            m = parse_master(self.config.master)
            master_port = m.port
            master_ip = master_ip or resolve_ipv4(m.host)
        return ClusterInfo(master_ip=master_ip, master_port=master_port, webapp_ip=webapp_ip,
                           webapp_port=parts.port or 80)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.dns.stop()
        if self._runner is not None:
            await self._runner.cleanup()
        if self._session is not None:
            await self._session.close()

    async def _get(self, url: str) -> Any:
        assert self._session is not None
        async with self._session.get(url, headers={"Accept": "application/json"}) as resp:
            if resp.status != 200:
                raise RuntimeError(f"GET {url} answered {resp.status}")
            return orjson.loads(await resp.read())

    async def _refresh_cluster(self) -> None:
        """Agent IPs (every resync) and the leader (at most every LEADER_EVERY_S) from the
        master; on failure the last known addresses stay."""
        if not self.config.master:
            return
        base = parse_master(self.config.master).url
        c = self.cluster
        try:
            ips, hosts = agents_from_master(await self._get(base + "/master/slaves"))
            leader = None
            if self.config.master_ip is None and time.monotonic() - self._leader_at > LEADER_EVERY_S:
                leader = leader_from_state(await self._get(base + "/master/state"))
                self._leader_at = time.monotonic()
        except (aiohttp.ClientError, TimeoutError, RuntimeError, orjson.JSONDecodeError) as exc:
            log.warning("cannot read the master at %s: %s", base, exc)
            return
        master_ip, master_port = leader if leader else (c.master_ip, c.master_port)
        self.cluster = ClusterInfo(master_ip=master_ip, master_port=master_port,
                                   webapp_ip=c.webapp_ip, webapp_port=c.webapp_port,
                                   agent_ips=ips, agent_hosts=hosts)

    async def resync(self) -> None:
        """Re-read apps and addresses and swap in a new table. Raises when the webapp cannot be
        read (the follower retries); the master's records are refreshed even then."""
        await self._refresh_cluster()
        error: Exception | None = None
        try:
            assert self._session is not None
            self.apps = await fetch_apps(self._session, self.config.webapp)
        except (aiohttp.ClientError, TimeoutError, RuntimeError, orjson.JSONDecodeError) as exc:
            error = exc
        table = build_table(self.apps, self.cluster, self.config.domain)
        for problem in table.problems:
            log.warning("dns: %s", problem)
        self.table = table
        if error is not None:
            raise RuntimeError(f"cannot read apps from {self.config.webapp}: {error}")


async def run_dns(config: DnsConfig, stop: asyncio.Event) -> None:
    """Serve until `stop` is set (the `python -m dcos.dns` main)."""
    service = DnsService(config)
    await service.start()
    log.info("dns serving %s on %s:%d (udp+tcp), http on %d, webapp %s, master %s",
             config.domain, config.host, service.dns.port, service.http_port, config.webapp,
             config.master)
    try:
        await stop.wait()
    finally:
        await service.stop()
