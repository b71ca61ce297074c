"""The aiohttp half of security: who is calling (`authenticate`, `auth_middleware`,
`identity`), refusing (`forbidden`), and keeping ACLs and revocations current (`PolicyFeed`).

Called by every component's shell when security is on: it installs
``auth_middleware(ctx, error=<its error format>)`` on its app, reads `identity(request)` in
handlers, and answers a denied ACL check with `forbidden(...)`. Components other than the
master run a `PolicyFeed` that follows the leading master's ``GET /acs/api/v1/policy`` (a long poll).

Authentication order (`authenticate`): ``Authorization: token=<jwt>`` or ``Bearer <jwt>``
(verified with token.pub, not revoked) -> ``Authorization: Basic`` (a principal/secret pair
from credentials.json: kind framework) -> the verified client certificate (CN/OU) ->
anonymous. A bad token or bad Basic credentials are an error (401), never anonymous.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import inspect
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp import web

from dcos.security.acls import AclError, Acls, Action
from dcos.security.context import RevocationList, SecurityContext
from dcos.security.principal import ANONYMOUS, Identity, Principal, Via
from dcos.security.tls import peer_identity
from dcos.security.tokens import InvalidToken

log = logging.getLogger(__name__)

IDENTITY_NAME = "dcos.identity"
# the request key holding the caller's Identity (read it with `identity(request)`)
# (aiohttp < 3.12 has no RequestKey: the plain string then)
IDENTITY: Any = (web.RequestKey(IDENTITY_NAME, Identity) if hasattr(web, "RequestKey")
                 else IDENTITY_NAME)
DEFAULT_OPEN_PATHS = frozenset({"/health", "/openapi.json"})
WWW_AUTHENTICATE = ("acsjwt", 'Basic realm="dcos-py"')
POLICY_PATH = "/acs/api/v1/policy"
POLICY_INTERVAL_S = 2.0  # the least time between two policy requests of one feed
POLICY_WAIT_S = 15.0  # how long a request waits at the master for a change (long poll)

ErrorFn = Callable[[int, str], web.Response]


@dataclass(frozen=True)
class AuthError:
    """Authentication failed (a 401 with `message`)."""

    message: str


def identity(request: web.Request) -> Identity:
    """The caller's Identity set by `auth_middleware` (ANONYMOUS if none was set)."""
    found = request.get(IDENTITY) or request.get(IDENTITY_NAME)
    return found if isinstance(found, Identity) else ANONYMOUS


def set_identity(request: web.Request, who: Identity) -> None:
    """Record the caller (done by `auth_middleware`; shells with their own auth use it too)."""
    request[IDENTITY] = who


def _token_of(header: str) -> str | None:
    if header.startswith("token="):
        return header[len("token="):].strip()
    scheme, _, rest = header.partition(" ")
    if scheme.lower() == "bearer":
        return rest.strip()
    return None


def _basic(header: str, ctx: SecurityContext) -> Identity | AuthError:
    try:
        decoded = base64.b64decode(header.partition(" ")[2].strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return AuthError("malformed Basic credentials")
    principal, sep, secret = decoded.partition(":")
    if not sep or not principal:
        return AuthError("malformed Basic credentials (expected principal:secret)")
    if not ctx.credentials.check(principal, secret):
        return AuthError(f"invalid credentials for principal '{principal}'")
    return Identity(principal=Principal(principal), kind="framework", via=Via.BASIC)


def authenticate(request: web.Request, ctx: SecurityContext, *,
                 now: float) -> Identity | AuthError:
    """Who sent `request` (see the module docstring for the order)."""
    header = request.headers.get("Authorization", "").strip()
    if header:
        token = _token_of(header)
        if token is not None:
            if not token:
                return AuthError("empty token")
            try:
                claims = ctx.verifier.verify(token, now=now)
            except InvalidToken as exc:
                return AuthError(f"invalid token: {exc.reason}")
            if ctx.revoked.is_revoked(claims):
                return AuthError("invalid token: token revoked")
            return Identity(principal=Principal(claims.uid), kind=claims.kind, via=Via.TOKEN,
                            jti=claims.jti)
        if header.partition(" ")[0].lower() == "basic":
            return _basic(header, ctx)
        return AuthError("unsupported Authorization scheme (use 'token=<jwt>', 'Bearer <jwt>' "
                         "or 'Basic')")
    return peer_identity(request) or ANONYMOUS


def unauthorized(error: ErrorFn, message: str) -> web.Response:
    """error(401, message) with the WWW-Authenticate challenges (acsjwt, Basic)."""
    response = error(401, message)
    for challenge in WWW_AUTHENTICATE:
        response.headers.add("WWW-Authenticate", challenge)
    return response


def auth_middleware(ctx: SecurityContext, *, error: ErrorFn,
                    open_paths: Iterable[str] = DEFAULT_OPEN_PATHS,
                    open_prefixes: Sequence[str] = (), allow_anonymous: bool = False,
                    clock: Callable[[], float] = time.time) -> Any:
    """An aiohttp middleware that sets `identity(request)` and answers 401 (through `error`,
    the API's own error format) for failed authentication, or for anonymous callers unless
    `allow_anonymous`. Paths in `open_paths` (exact) or under `open_prefixes` pass as
    anonymous whatever their credentials."""
    open_exact = frozenset(open_paths)
    prefixes = tuple(open_prefixes)

    @web.middleware
    async def middleware(request: web.Request, handler: Any) -> web.StreamResponse:
        result = authenticate(request, ctx, now=clock())
        if request.path in open_exact or (prefixes and request.path.startswith(prefixes)):
            request[IDENTITY] = result if isinstance(result, Identity) else ANONYMOUS
            return await handler(request)
        if isinstance(result, AuthError):
            log.info("unauthenticated %s %s from %s: %s", request.method, request.path,
                     request.remote, result.message)
            return unauthorized(error, result.message)
        if not result.authenticated and not allow_anonymous:
            return unauthorized(error, "authentication required: send 'Authorization: "
                                       "token=<jwt>' (dcos-py auth login), Basic credentials "
                                       "or a client certificate")
        request[IDENTITY] = result
        return await handler(request)

    return middleware


def forbidden_message(who: Identity, action: Action | str, obj: str | None) -> str:
    name = who.principal or "anonymous"
    target = f" on '{obj}'" if obj is not None else ""
    return f"principal '{name}' is not authorized to {Action(action).value}{target}"


def forbidden(request: web.Request, ctx: SecurityContext, action: Action | str,
              obj: str | None, error: ErrorFn) -> web.Response:
    """error(403, ...) for a denied ACL check, logged with principal, action and object."""
    who = identity(request)
    log.warning("forbidden principal=%s action=%s object=%s %s %s",
                who.principal or "anonymous", str(action), obj, request.method, request.path)
    return error(403, forbidden_message(who, action, obj))


def policy_json(version: Any, acls: Acls, revoked: RevocationList) -> dict[str, Any]:
    """The body of ``GET /acs/api/v1/policy`` (served by the master's IAM routes)."""
    return {"version": version, "acls": acls.to_json(), "revoked": revoked.to_json()}


def policy_etag(version: Any) -> str:
    """The ETag of the policy document of `version` (``GET /acs/api/v1/policy``): the feed
    sends it back as ``If-None-Match`` and gets 304 while nothing changed."""
    return f'"{version}"'


def apply_policy(ctx: SecurityContext, doc: Any) -> bool:
    """Put a policy document into `ctx` (ACLs, revocations); False if `doc` is malformed
    (then `ctx` is unchanged) or has the version already applied."""
    if not isinstance(doc, dict) or "acls" not in doc:
        return False
    if doc.get("version") is not None and doc.get("version") == ctx.policy_version:
        return False
    try:
        acls = Acls.from_json(doc["acls"])
        revoked = RevocationList.from_json(doc.get("revoked", {}))
    except (AclError, ValueError, TypeError) as exc:
        log.warning("ignoring a malformed policy: %s", exc)
        return False
    ctx.acls = acls
    ctx.revoked.tokens, ctx.revoked.uids = revoked.tokens, revoked.uids
    ctx.policy_version = doc.get("version")
    return True


MasterUrls = Callable[[], "str | Sequence[str] | None | Awaitable[str | Sequence[str] | None]"]


class PolicyFeed:
    """Keeps `ctx.acls` and `ctx.revoked` equal to the leading master's policy.

    Every component but the master starts one after its client session exists
    (``PolicyFeed(ctx, lambda: leader_url, session).start()``) and stops it at shutdown.
    `master_urls_fn` returns the master URL(s) to ask (sync or async; the first that answers
    200 wins; standby masters redirect to the leader); `session` must speak mutual TLS
    (``aiohttp.ClientSession(**ctx.client_kwargs())``), as the endpoint serves components only.
    """

    def __init__(self, ctx: SecurityContext, master_urls_fn: MasterUrls,
                 session: aiohttp.ClientSession, *, interval_s: float = POLICY_INTERVAL_S,
                 wait_s: float = POLICY_WAIT_S) -> None:
        self.ctx = ctx
        self.master_urls_fn = master_urls_fn
        self.session = session
        self.interval_s = interval_s
        self.wait_s = wait_s
        self.updates = 0
        self._task: asyncio.Task[None] | None = None

    async def _urls(self) -> list[str]:
        found = self.master_urls_fn()
        if inspect.isawaitable(found):
            found = await found
        if not found:
            return []
        if isinstance(found, str):
            return [found]
        return [str(u) for u in found]

    async def poll_once(self, wait_s: float = 0.0) -> bool:
        """Ask once; True when the context changed. With `wait_s`, a master holding the same
        version as this context answers only when it changes or after `wait_s` (long poll).
        Called by the feed's loop, and by the gateway right after a logout it relayed."""
        held = self.ctx.policy_version
        headers = {"If-None-Match": policy_etag(held)} if held is not None else {}
        query = f"?wait={wait_s:g}" if wait_s > 0 and held is not None else ""
        for url in await self._urls():
            try:
                async with self.session.get(url.rstrip("/") + POLICY_PATH + query,
                                            headers=headers,
                                            timeout=aiohttp.ClientTimeout(total=wait_s + 5)
                                            ) as resp:  # fmt: skip
                    if resp.status == 304:  # the version held is current
                        return False
                    if resp.status != 200:
                        log.debug("policy from %s: HTTP %s", url, resp.status)
                        continue
                    doc = await resp.json(content_type=None)
            except (TimeoutError, aiohttp.ClientError, ValueError) as exc:
                log.debug("policy from %s failed: %s", url, exc)
                continue
            changed = apply_policy(self.ctx, doc)
            if changed:
                self.updates += 1
                log.info("policy version %s applied", self.ctx.policy_version)
            return changed
        return False

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            started = loop.time()
            try:
                await self.poll_once(self.wait_s)
            except Exception:  # never let the feed die
                log.exception("policy poll failed")
            # a long poll that waited asks again at once; a quick answer (a change, an
            # error, an unreachable master) waits out the rest of `interval_s`
            await asyncio.sleep(max(0.0, self.interval_s - (loop.time() - started)))

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
