"""The gateway's aiohttp application: the routes in order, and `serve` to run it.

Called by: `dcos.gateway.__main__` (`serve(config, stop)`) and the gateway tests
(`Gateway(config)` as an async context: ``async with Gateway(config) as gw: gw.url``).

Routes, first match wins (docs/gateway.md has the table):

1. the DC/OS compatibility endpoints of `dcos.gateway.metadata` (``/metadata``, ...);
2. ``/gateway/health``: 200 JSON, the leader and whether each upstream answers;
3. every other path, any method: `dcos.gateway.routes.route` on the directory's snapshot
   (`dcos.gateway.directory`): a `Target` is relayed by `dcos.gateway.proxy.Relay`; a miss
   (unknown service or agent, no leader) re-reads the directory once and routes again; an
   upstream that refuses the connection makes the directory re-read too, and the request is
   retried once when that names another upstream (a master or framework failover);
4. what no route takes: the UI's static files (`dcos.gateway.static`), else 404 JSON.

Every error the gateway itself answers is JSON ``{"code": <status>, "message": "..."}``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import aiohttp
import orjson
from aiohttp import web

from dcos.gateway.config import GatewayConfig
from dcos.gateway.directory import Directory
from dcos.gateway.leader import LeaderSource, leader_source
from dcos.gateway.metadata import ClusterInfo, add_routes
from dcos.gateway.proxy import Relay, UpstreamRefused, error
from dcos.gateway.routes import NotFound, Redirect, Target, Unavailable, route
from dcos.gateway.static import StaticFiles

log = logging.getLogger("dcos.gateway")

DIRECTORY: web.AppKey[Directory] = web.AppKey("gateway_directory", Directory)
RELAY: web.AppKey[Relay] = web.AppKey("gateway_relay", Relay)
STATIC: web.AppKey[StaticFiles] = web.AppKey("gateway_static", StaticFiles)
MAX_BODY = 64 << 20  # request bodies (package uploads) up to 64 MiB
_DIRECTORY_HEADS = frozenset({"mesos", "service", "agent", "slave"})


def build_app(config: GatewayConfig, directory: Directory, relay: Relay) -> web.Application:
    """The application (module docstring); `directory` and `relay` are started and closed
    by the caller (`Gateway`)."""
    app = web.Application(client_max_size=MAX_BODY)
    app[DIRECTORY] = directory
    app[RELAY] = relay
    app[STATIC] = StaticFiles(config.web_dir)
    add_routes(app, ClusterInfo(cluster_id=config.cluster_id, cluster_name=config.cluster_name,
                                public_ip=config.ip))  # fmt: skip
    app.router.add_get("/gateway/health", health)
    app.router.add_route("*", "/{tail:.*}", dispatch)
    return app


async def dispatch(request: web.Request) -> web.StreamResponse:
    """Route 3 and 4 of the module docstring."""
    directory = request.app[DIRECTORY]
    raw = request.raw_path
    began = time.monotonic()
    if route(raw, directory.current) is None:  # the UI: whatever the directory says
        return await request.app[STATIC].handle(request)
    decision = route(raw, await directory.snapshot())
    head = raw[1:].partition("/")[0].partition("?")[0]
    if isinstance(decision, NotFound | Unavailable) and head in _DIRECTORY_HEADS:
        decision = route(raw, await directory.refresh_after(began, apps=head == "service"))
    for attempt in range(2):
        match decision:
            case Target():
                try:
                    return await request.app[RELAY].forward(request, decision)
                except UpstreamRefused as refused:
                    if attempt or head not in _DIRECTORY_HEADS:
                        return error(502, str(refused))
                    log.info("%s refused: reading the directory again", decision.base)
                    directory.master_failed()
                    again = route(raw, await directory.refresh_after(time.monotonic(),
                                                                     apps=head == "service"))
                    if not isinstance(again, Target) or again.base == decision.base:
                        return error(502, str(refused))
                    decision = again
            case Redirect(location=location):
                raise web.HTTPTemporaryRedirect(location)
            case NotFound(message=message):
                return error(404, message)
            case Unavailable(message=message):
                return error(503, message)
            case None:
                return await request.app[STATIC].handle(request)
    raise AssertionError("unreachable")  # pragma: no cover


async def _probe(session: aiohttp.ClientSession, url: str | None) -> dict[str, Any] | None:
    if url is None:
        return None
    try:
        async with session.get(url + "/", allow_redirects=False) as r:
            await r.read()
            return {"url": url, "ok": True, "status": r.status}
    except (aiohttp.ClientError, TimeoutError, OSError) as exc:
        return {"url": url, "ok": False, "error": str(exc) or type(exc).__name__}


async def health(request: web.Request) -> web.Response:
    """``GET /gateway/health``: always 200; ``healthy`` is whether a leader is known and its
    state answered; every master known (``master.masters``: the configured ones, or those
    contending in ZooKeeper); each upstream with whether it answers (null: not configured)."""
    directory = request.app[DIRECTORY]
    snap = await directory.snapshot()
    timeout = aiohttp.ClientTimeout(total=1.0)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        package, dns = await asyncio.gather(_probe(session, snap.package),
                                            _probe(session, snap.dns))  # fmt: skip
    body = {
        "healthy": snap.leader is not None,
        "master": {"leader": snap.leader, "ok": snap.leader is not None,
                   "error": snap.master_error, "masters": directory.leaders.masters()},
        "package": package,
        "dns": dns,
        "frameworks": sorted(snap.frameworks),
        "agents": len(snap.agents),
        "ui_built": request.app[STATIC].built,
    }  # fmt: skip
    return web.Response(body=orjson.dumps(body), content_type="application/json")


class Gateway:
    """The gateway's parts with their lifetimes: ``async with Gateway(config) as gw`` starts
    the leader source, the directory, the relay and the server on ``config.ip:config.port``
    (port 0: a free one, then in `port`), and stops them all on exit."""

    def __init__(self, config: GatewayConfig, *, leaders: LeaderSource | None = None) -> None:
        self.config = config
        self.leaders = leaders or leader_source(config.masters, config.zk)
        self.directory = Directory(self.leaders, package=config.package, dns=config.dns_http,
                                   ttl=config.cache_ttl)  # fmt: skip
        self.relay = Relay(connect_timeout=config.connect_timeout)
        self.runner: web.AppRunner | None = None
        self.port = config.port

    @property
    def url(self) -> str:
        host = f"[{self.config.ip}]" if ":" in self.config.ip else self.config.ip
        return f"http://{host}:{self.port}"

    async def start(self) -> Gateway:
        await self.leaders.start()
        await self.directory.start()
        app = build_app(self.config, self.directory, self.relay)
        # handler_cancellation: a client that goes away ends its relayed stream at once
        self.runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0,
                                    handler_cancellation=True)  # fmt: skip
        await self.runner.setup()
        site = web.TCPSite(self.runner, self.config.ip, self.config.port, reuse_address=True)
        await site.start()
        if self.config.port == 0:
            self.port = int(self.runner.addresses[0][1])
        return self

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
        await self.relay.close()
        await self.directory.close()
        await self.leaders.close()

    async def __aenter__(self) -> Gateway:
        try:
            return await self.start()
        except BaseException:
            await self.stop()
            raise

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()


async def serve(config: GatewayConfig, stop: asyncio.Event) -> None:
    """Run the gateway until `stop` is set."""
    async with Gateway(config) as gw:
        log.info("gateway on %s (masters %s, UI %s%s)", gw.url,
                 config.zk or ", ".join(config.masters), config.web_dir,
                 "" if StaticFiles(config.web_dir).built else ": not built, run `make web`")
        await stop.wait()


__all__ = ["DIRECTORY", "RELAY", "STATIC", "Gateway", "build_app", "dispatch", "health", "serve"]
