"""The package service with security on (``--security-dir``): authentication, ACLs, and whom
it acts for.

Called by: `dcos.packaging.api` (`build_app(..., security=ctx)` installs `middleware(ctx)`;
each RPC asks `authorize` before the core runs it, and runs inside
`dcos.packaging.clients.acting_as(<the caller's Authorization>)`; `trusted_forwarder` before
believing ``X-Forwarded-Host``). Without a security context none of this runs.

- Every route but ``/health``, ``/openapi.json`` and ``/package/resource`` needs an identity
  (`dcos.security.http.auth_middleware`); the assets stay open because the agents' fetcher
  presents no credentials, except those of a repository that has credentials itself
  (`dcos.packaging.api.resource`). 401 and 403 are Cosmos error bodies
  ``{"type": "Unauthorized"|"Forbidden", "message"}`` with Cosmos' error media type.
- ACLs (`dcos.security.acls.Action`): ``install_packages`` (object: the package name) for
  ``/package/install`` and ``/cosmos/service/update`` (the installed package's name),
  ``uninstall_packages`` (the package name) for ``/package/uninstall``,
  ``change_repositories`` (the repository name, else its URI) for
  ``/package/repository/add|delete``. A denied call changes nothing and is logged.
- While the service handles a user's RPC, its calls to the webapp and the master carry that
  user's ``Authorization`` header (`dcos.packaging.clients.acting_for`), so they authorize the user, not the package
  service (whose certificate only opens the mutual-TLS connection); without a header (a
  component known by its certificate) the service's own certificate speaks.
- ``X-Forwarded-Host``/``-Proto`` (image URLs through the gateway) are believed only from a
  connection whose verified certificate is the gateway's (`trusted_forwarder`).
"""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from dcos.packaging import mediatypes as mt
from dcos.security.acls import Action
from dcos.security.context import SecurityContext
from dcos.security.http import auth_middleware, forbidden, identity
from dcos.security.tls import peer_identity

OPEN_PATHS = frozenset({"/health", "/openapi.json", "/package/resource"})
OPEN_PREFIXES = ("/package/resource/",)  # assets: the agents' fetcher has no credentials
DEFAULT_GATEWAY = "gateway"
_TYPES = {401: "Unauthorized", 403: "Forbidden"}

# RPC path -> (action, the body field naming its object)
CHECKS: dict[str, tuple[Action, str]] = {
    "/package/install": (Action.INSTALL_PACKAGES, "packageName"),
    "/package/uninstall": (Action.UNINSTALL_PACKAGES, "packageName"),
    "/package/repository/add": (Action.CHANGE_REPOSITORIES, "name"),
    "/package/repository/delete": (Action.CHANGE_REPOSITORIES, "name"),
}
UPDATE = "/cosmos/service/update"


def cosmos_error(status: int, message: str) -> web.Response:
    """A 401/403 (or any status) as a Cosmos error body."""
    body = {"type": _TYPES.get(status, "Error"), "message": message}
    return web.Response(status=status, body=orjson.dumps(body), headers={"Content-Type": mt.ERROR})


def middleware(ctx: SecurityContext) -> Any:
    """The authentication middleware (module docstring)."""
    return auth_middleware(ctx, error=cosmos_error, open_paths=OPEN_PATHS,
                           open_prefixes=OPEN_PREFIXES)  # fmt: skip


def object_of(path: str, body: Any) -> tuple[Action, str | None] | None:
    """The ACL action and object an RPC's body asks for (None: the RPC needs no ACL)."""
    check = CHECKS.get(path)
    if check is None or not isinstance(body, dict):
        return None if check is None else (check[0], None)
    action, key = check
    value = body.get(key)
    if action == Action.CHANGE_REPOSITORIES and not isinstance(value, str):
        value = body.get("uri")  # delete by URI
    return action, value if isinstance(value, str) else None


def authorize(request: web.Request, ctx: SecurityContext, action: Action,
              obj: str | None) -> web.Response | None:  # fmt: skip
    """None when the caller may do `action` on `obj`; else the 403 Cosmos answer (logged)."""
    if ctx.allows(identity(request), action, obj):
        return None
    return forbidden(request, ctx, action, obj, cosmos_error)


def trusted_forwarder(request: web.Request, gateway: str = DEFAULT_GATEWAY) -> bool:
    """Whether the connection's verified certificate is the gateway's (component `gateway`)."""
    peer = peer_identity(request)
    return peer is not None and peer.principal == gateway and peer.kind == "component"


__all__ = ["CHECKS", "DEFAULT_GATEWAY", "OPEN_PATHS", "OPEN_PREFIXES", "UPDATE", "authorize", "cosmos_error",
           "middleware", "object_of", "trusted_forwarder"]  # fmt: skip
