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

Security on (``--security-dir``): HTTPS with the gateway's certificate, the edge middleware
of `dcos.gateway.auth` before every route (401 without a token, except the open paths of
`dcos.gateway.edge`), upstreams over mutual TLS (`dcos.security.tls.client_context`), the
certificates reloaded when rotated (`CertReloader`) and token revocations followed from the
leading master (`PolicyFeed`; read at once after an IAM change relayed to the master, such as
a logout); ``/acs/api/v1/auth/{login,providers}`` then go to the master's
IAM instead of the "security is off" answers of `dcos.gateway.metadata`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import aiohttp
import orjson
from aiohttp import web
from cryptography.x509.oid import NameOID

from dcos.common.body_limit import body_limit_middleware
from dcos.common.openapi import add_openapi_route
from dcos.gateway.auth import edge_middleware
from dcos.gateway.config import GatewayConfig
from dcos.gateway.directory import Directory
from dcos.gateway.leader import LeaderSource, leader_source
from dcos.gateway.metadata import ClusterInfo, add_routes
from dcos.gateway.openapi import gateway_spec
from dcos.gateway.proxy import Relay, UpstreamRefused, error
from dcos.gateway.routes import Kind, NotFound, Redirect, Target, Unavailable, route
from dcos.gateway.static import StaticFiles
from dcos.security.ca import load_cert
from dcos.security.context import SecurityContext, load_context
from dcos.security.http import PolicyFeed
from dcos.security.layout import SecurityDir

log = logging.getLogger("dcos.gateway")

DIRECTORY: web.AppKey[Directory] = web.AppKey("gateway_directory", Directory)
RELAY: web.AppKey[Relay] = web.AppKey("gateway_relay", Relay)
STATIC: web.AppKey[StaticFiles] = web.AppKey("gateway_static", StaticFiles)
POLICY: web.AppKey[PolicyFeed] = web.AppKey("gateway_policy", PolicyFeed)
MAX_BODY = 64 << 20  # request bodies (package uploads) up to 64 MiB
_DIRECTORY_HEADS = frozenset({"mesos", "service", "agent", "slave", "acs", "secrets"})


def build_app(config: GatewayConfig, directory: Directory, relay: Relay,
              security: SecurityContext | None = None) -> web.Application:  # fmt: skip
    """The application (module docstring); `directory` and `relay` are started and closed
    by the caller (`Gateway`); `security`: the loaded security context (None: off)."""
    middlewares = [body_limit_middleware(error)]  # oversized bodies refused unread
    if security is not None:
        middlewares.append(edge_middleware(security))
    app = web.Application(client_max_size=MAX_BODY, middlewares=middlewares)
    app[DIRECTORY] = directory
    app[RELAY] = relay
    app[STATIC] = StaticFiles(config.web_dir)
    add_routes(app, ClusterInfo(cluster_id=config.cluster_id, cluster_name=config.cluster_name,
                                public_ip=config.ip), secure=security is not None)  # fmt: skip
    app.router.add_get("/gateway/health", health)
    add_openapi_route(app, gateway_spec())
    app.router.add_get("/health", own_health)
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
                    answer = await request.app[RELAY].forward(request, decision)
                    await _after_iam_change(request, decision, answer)
                    return answer
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


async def _after_iam_change(request: web.Request, target: Target,
                            answer: web.StreamResponse) -> None:  # fmt: skip
    """Security on: after a change the master's IAM accepted (a logout, a revocation, a user
    deleted), read its policy before answering, so the gateway refuses a revoked token from
    the moment the client hears of it (not ~2 s later, at the next poll)."""
    feed = request.app.get(POLICY)
    if feed is None or request.method in ("GET", "HEAD") or answer.status >= 300:
        return
    if target.kind == Kind.MASTER and target.path.startswith("/acs/api/v1/"):
        await feed.poll_once()


async def own_health(request: web.Request) -> web.Response:
    """``GET /health``: 200 while the gateway serves (open, also with security on)."""
    return web.json_response({"status": "ok"})


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
    connector = aiohttp.TCPConnector(ssl=request.app[RELAY].ssl_context or True)
    async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
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


def component_principals(sd: SecurityDir) -> frozenset[str]:
    """The names of the security directory's certificates of kind ``component`` (OU)."""
    out = set()
    for name in sd.names():
        try:
            cert = load_cert(sd.cert(name).read_bytes())
        except (OSError, ValueError):
            continue
        kinds = cert.subject.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME)
        if kinds and kinds[0].value == "component":
            out.add(name)
    return frozenset(out)


class Gateway:
    """The gateway's parts with their lifetimes: ``async with Gateway(config) as gw`` starts
    the leader source, the directory, the relay and the server on ``config.ip:config.port``
    (port 0: a free one, then in `port`), and stops them all on exit."""

    def __init__(self, config: GatewayConfig, *, leaders: LeaderSource | None = None) -> None:
        """Loads the security directory when `config` names one (raises OSError/ValueError
        on a missing or bad one: the gateway does not start)."""
        self.config = config
        self.security = (load_context(config.security_dir, config.tls_name)
                         if config.security_dir is not None else None)  # fmt: skip
        client_ssl = self.security.client_ssl if self.security is not None else None
        scheme = "https" if self.security is not None else "http"
        self.leaders = leaders or leader_source(config.masters, config.zk, scheme=scheme,
                                                ssl_context=client_ssl)  # fmt: skip
        components = component_principals(self.security.dir) if self.security else None
        self.directory = Directory(self.leaders, package=config.package, dns=config.dns_http,
                                   ttl=config.cache_ttl, ssl_context=client_ssl,
                                   components=components)  # fmt: skip
        self.relay = Relay(connect_timeout=config.connect_timeout, ssl_context=client_ssl)
        self.runner: web.AppRunner | None = None
        self.port = config.port
        self._policy: PolicyFeed | None = None
        self._policy_session: aiohttp.ClientSession | None = None
        self._reloading = False

    @property
    def url(self) -> str:
        host = f"[{self.config.ip}]" if ":" in self.config.ip else self.config.ip
        return f"{'https' if self.security is not None else 'http'}://{host}:{self.port}"

    async def _leader_urls(self) -> list[str]:
        leader = await self.leaders.leader()
        return [leader] if leader else []

    async def _start_security(self, ctx: SecurityContext) -> None:
        """Certificate reloads and the leader's policy (token revocations) follow."""
        if ctx.reloader is not None:
            ctx.reloader.start()
            self._reloading = True
        self._policy_session = aiohttp.ClientSession(**ctx.client_kwargs())
        self._policy = PolicyFeed(ctx, self._leader_urls, self._policy_session)
        self._policy.start()

    async def _stop_security(self) -> None:
        if self._policy is not None:
            await self._policy.stop()
        if self._policy_session is not None:
            await self._policy_session.close()
        if self._reloading and self.security is not None and self.security.reloader is not None:
            await self.security.reloader.stop()
            self._reloading = False

    async def start(self) -> Gateway:
        await self.leaders.start()
        await self.directory.start()
        if self.security is not None:
            await self._start_security(self.security)
        app = build_app(self.config, self.directory, self.relay, self.security)
        if self._policy is not None:
            app[POLICY] = self._policy
        # handler_cancellation: a client that goes away ends its relayed stream at once
        self.runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0,
                                    handler_cancellation=True)  # fmt: skip
        await self.runner.setup()
        server_ssl = self.security.server_ssl if self.security is not None else None
        site = web.TCPSite(self.runner, self.config.ip, self.config.port, reuse_address=True,
                           ssl_context=server_ssl)  # fmt: skip
        await site.start()
        if self.config.port == 0:
            self.port = int(self.runner.addresses[0][1])
        return self

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
        await self._stop_security()
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


__all__ = ["DIRECTORY", "RELAY", "STATIC", "Gateway", "build_app", "dispatch", "health",
           "own_health", "serve"]
