"""The package service's HTTP shell: Cosmos' routes on aiohttp.

Every RPC (`POST /package/*`, `POST /cosmos/service/*`) must name its request type in
`Content-Type` and accept one of its response types (dcos/packaging/mediatypes.py); as Cosmos,
a missing or wrong header or an unreadable body is a 400 error body of type `not_present`,
`not_valid` or `json_error` (`multiple_errors` when several are wrong), so a client sees every
fault at once. Refusals of the core (`CosmosError`) become their status with the error media
type. `GET /capabilities`, `GET /package/resource?url=`, `GET /health` complete the API.

Security on (`build_app(..., security=ctx)`): authentication on every route but ``/health``,
ACL checks before the core runs an RPC, the core's webapp/master calls made as the caller, and
``X-Forwarded-Host`` believed from the gateway's certificate only (`dcos.packaging.security`).

Called by: `dcos.packaging.__main__` (`build_app`), and the tests.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import orjson
from aiohttp import web

from dcos.common.body_limit import body_limit_middleware
from dcos.common.openapi import add_openapi_route
from dcos.packaging import errors, fields, security
from dcos.packaging import mediatypes as mt
from dcos.packaging.app_definition import asset_name
from dcos.packaging.clients import acting_as
from dcos.packaging.openapi import package_spec
from dcos.packaging.resource import serve_asset
from dcos.packaging.service import PackageService
from dcos.security.acls import Action
from dcos.security.context import SecurityContext
from dcos.security.http import identity

log = logging.getLogger(__name__)
SERVICE: web.AppKey[PackageService] = web.AppKey("package_service", PackageService)
SESSION: web.AppKey[aiohttp.ClientSession] = web.AppKey("package_session", aiohttp.ClientSession)
SECURITY: web.AppKey[SecurityContext | None] = web.AppKey("package_security")
GATEWAY: web.AppKey[str] = web.AppKey("package_gateway_name", str)
MAX_BODY = 4 * 1024 * 1024

# (service, body, negotiated response type, the client's origin) -> response body
Handler = Callable[[PackageService, Any, str, str | None], Awaitable[dict[str, Any]]]
HOST = re.compile(r"^[A-Za-z0-9.-]+(:[0-9]{1,5})?$|^\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?$")


def error_response(err: errors.CosmosError) -> web.Response:
    return web.Response(status=err.status, body=orjson.dumps(err.body()),
                        headers={"Content-Type": mt.ERROR})


def _header_error(kind: str, header: str, rule: str | None = None) -> dict[str, Any]:
    if kind == "not_present":
        return {"type": "not_present", "message": f"Item header '{header}' not present but required"}
    return {"type": "not_valid", "message": f"Item header '{header}' deemed invalid by rule: {rule}"}


async def check_request(request: web.Request, ep: mt.Endpoint) -> tuple[str, Any]:
    """The negotiated response type and the decoded body; raises `CosmosError` listing every
    fault of the headers and body."""
    problems: list[dict[str, Any]] = []
    accept = request.headers.get("Accept")
    chosen = mt.negotiate(accept, list(ep.responses))
    if not accept:
        problems.append(_header_error("not_present", "Accept"))
    elif chosen is None:
        problems.append(_header_error(
            "not_valid", "Accept", f"Media type was [{accept}] but should be one of "
                                   f"[{', '.join(ep.responses)}]"))
    ctype = request.headers.get("Content-Type")
    assert ep.request is not None
    if not ctype:
        problems.append(_header_error("not_present", "Content-Type"))
    elif not mt.content_type_ok(ctype, ep.request):
        problems.append(_header_error("not_valid", "Content-Type",
                                      f"should match one of {ep.request}"))
    raw = await request.content.read(MAX_BODY + 1)
    body: Any = None
    if not raw.strip():
        problems.append({"type": "not_present", "message": "Item body not present but required"})
    elif len(raw) > MAX_BODY:
        problems.append({"type": "not_valid", "message": "Item body deemed invalid by rule: "
                                                         "larger than 4 MiB"})
    else:
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            problems.append(errors.parsing_failure(str(exc)).body())
    if len(problems) == 1:
        p = problems[0]
        raise errors.CosmosError(p["type"], p["message"], p.get("data"))
    if problems:
        raise errors.CosmosError(mt.ErrorType.MULTIPLE_ERRORS,
                                 "Multiple errors while processing request", {"errors": problems})
    assert chosen is not None
    return chosen, body


def rpc(path: str, handler: Handler) -> Callable[[web.Request], Awaitable[web.Response]]:
    ep = mt.ENDPOINTS[path]

    async def handle(request: web.Request) -> web.Response:
        try:
            chosen, body = await check_request(request, ep)
            ctx = request.app[SECURITY]
            if ctx is not None:
                denied = await _authorize(request, ctx, path, body)
                if denied is not None:
                    return denied
            with acting_as(request.headers.get("Authorization") if ctx is not None else None):
                out = await handler(request.app[SERVICE], body, chosen, client_origin(request))
        except errors.CosmosError as err:
            if err.status >= 500:
                log.warning("%s: %s", path, err.message)
            return error_response(err)
        except Exception as exc:  # a fault of ours: still the Cosmos error shape
            log.exception("%s failed", path)
            return error_response(errors.CosmosError("unhandled_exception", str(exc),
                                                     status=500))
        return web.Response(status=200, body=orjson.dumps(out), headers={"Content-Type": chosen})

    return handle


async def _authorize(request: web.Request, ctx: SecurityContext, path: str,
                     body: Any) -> web.Response | None:  # fmt: skip
    """The 403 answer when the caller may not do what `path` asks (None: go on)."""
    if path == security.UPDATE:  # the installed package's name, as install_packages
        app_id = fields.app_id(body, required=True) if isinstance(body, dict) else None
        found = (await request.app[SERVICE].installed()).get(app_id or "")
        if found is None:
            return None  # the core answers "not found"; nothing changes
        return security.authorize(request, ctx, Action.INSTALL_PACKAGES, found[0].name)
    wanted = security.object_of(path, body)
    if wanted is None:
        return None
    return security.authorize(request, ctx, *wanted)


def client_origin(request: web.Request) -> str | None:
    """The URL the client reached the service by: the gateway's (`X-Forwarded-Proto` and
    `-Host`, first of each) or, asked directly, this request's scheme and Host; None when the
    host is not a plain host[:port] (the advertised URL is used then). Image URLs in search and
    describe start with it, so a browser loads them through the gateway it talks to. Security
    on: the forwarded headers count only on the gateway's mutual-TLS connection."""
    forwarded = request.headers.get("X-Forwarded-Host")
    if forwarded and request.app.get(SECURITY) is not None \
            and not security.trusted_forwarder(request, request.app[GATEWAY]):
        forwarded = None  # security on: only the gateway's word counts
    host = (forwarded or request.host or "").split(",")[0].strip()
    scheme = (request.headers.get("X-Forwarded-Proto") or "").split(",")[0].strip().lower() \
        if forwarded else request.scheme
    if scheme not in ("http", "https") or not HOST.match(host):
        return None
    return f"{scheme}://{host}"


def _version(media_type: str) -> int:
    parsed = mt.parse(media_type)
    v = parsed.param("version") if parsed else None
    return int(v[1:]) if v and v[1:].isdigit() else 1


HANDLERS: dict[str, Handler] = {
    "/package/search": lambda s, b, t, o: s.search(b, o),
    "/package/describe": lambda s, b, t, o: s.describe(b, _version(t), o),
    "/package/list-versions": lambda s, b, t, o: s.list_versions(b),
    "/package/render": lambda s, b, t, o: s.render(b),
    "/package/install": lambda s, b, t, o: s.install(b, _version(t)),
    "/package/uninstall": lambda s, b, t, o: s.uninstall(b),
    "/package/list": lambda s, b, t, o: s.list_packages(b),
    "/package/repository/list": lambda s, b, t, o: s.repository_list(b),
    "/package/repository/add": lambda s, b, t, o: s.repository_add(b),
    "/package/repository/delete": lambda s, b, t, o: s.repository_delete(b),
    "/cosmos/service/describe": lambda s, b, t, o: s.service_describe(b),
    "/cosmos/service/update": lambda s, b, t, o: s.service_update(b),
}


async def capabilities(request: web.Request) -> web.Response:
    accept = request.headers.get("Accept")
    if accept and mt.negotiate(accept, [mt.CAPABILITIES_RESPONSE, mt.APPLICATION_JSON]) is None:
        return error_response(errors.CosmosError(
            "not_valid", f"Item header 'Accept' deemed invalid by rule: Media type was "
                         f"[{accept}] but should be one of [{mt.CAPABILITIES_RESPONSE}]"))
    body = await request.app[SERVICE].capabilities()
    return web.Response(body=orjson.dumps(body), headers={"Content-Type": mt.CAPABILITIES_RESPONSE})


async def resource(request: web.Request) -> web.StreamResponse:
    """`GET /package/resource?url=U` and `/package/resource/<name>?url=U` (the form rendered
    apps use: `name` must be U's file name). Security on: open to anonymous callers (the
    agents' fetcher presents no certificate) for assets of public repositories; an asset of a
    repository with credentials needs an authenticated caller."""
    url = request.query.get("url")
    name = request.match_info.get("name")
    try:
        if not url:
            raise errors.CosmosError("not_present", "Item param 'url' not present but required")
        if name is not None and name != asset_name(url):
            raise errors.resource_not_found(url)
        repo, absolute = await request.app[SERVICE].asset(url)
        if request.app[SECURITY] is not None and not identity(request).authenticated \
                and repo.auth_headers():
            return security.cosmos_error(401, f"the asset {url} is in repository "
                                              f"'{repo.name}', which needs credentials: "
                                              "authenticate to fetch it")  # fmt: skip
        return await serve_asset(request, request.app[SESSION], repo, absolute)
    except errors.CosmosError as err:
        return error_response(err)


async def health(request: web.Request) -> web.Response:
    repos, _ = await request.app[SERVICE].repos.load()
    return web.json_response({"status": "ok", "repositories": len(repos)})


def build_app(service: PackageService, session: aiohttp.ClientSession,
              security_ctx: SecurityContext | None = None,
              gateway: str = security.DEFAULT_GATEWAY) -> web.Application:  # fmt: skip
    """The aiohttp application of `service` (`session` fetches assets for /package/resource);
    `security_ctx`: security on (module docstring), `gateway` the gateway's principal."""
    middlewares = [body_limit_middleware(security.cosmos_error)]  # oversized: refused unread
    if security_ctx is not None:
        middlewares.append(security.middleware(security_ctx))
    app = web.Application(client_max_size=MAX_BODY + 1024, middlewares=middlewares)
    app[SERVICE] = service
    app[SESSION] = session
    app[SECURITY] = security_ctx
    app[GATEWAY] = gateway
    for path, handler in HANDLERS.items():
        app.router.add_post(path, rpc(path, handler))
    app.router.add_get("/capabilities", capabilities)
    app.router.add_get("/package/resource", resource)
    app.router.add_get("/package/resource/{name}", resource)
    app.router.add_get("/health", health)
    add_openapi_route(app, package_spec())
    return app
