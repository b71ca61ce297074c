"""The master's IAM and secrets HTTP API (DC/OS ``/acs/api/v1`` and ``/secrets/v1`` shapes).

Mounted by the master (`dcos.master.app`) only when it runs with ``--security-dir``:
``add_routes(app, shell)``; the gateway routes ``/acs/api/v1/*`` and ``/secrets/v1/*`` to the
leading master. Every route answers on the leader only (`leader_only`: 307 or 503 elsewhere).
The master's auth middleware sets the caller's identity first; it leaves `OPEN_PATHS` (login,
providers) open and answers its 401s on `is_iam_path` paths with `error_response` (the DC/OS
IAM error body ``{"title", "description", "code"}``).

Routes::

    POST   /acs/api/v1/auth/login      {"uid","password"} -> {"token"}; 401 on bad credentials
    POST   /acs/api/v1/auth/logout     revokes the token the request carries -> 204
    POST   /acs/api/v1/auth/revoke     {"token"} | {"uid"} -> 204 (own, or manage_iam)
    GET    /acs/api/v1/auth/providers  the dcos-users provider (DC/OS CLI username/password)
    GET    /acs/api/v1/users           {"array": [{"uid","description","is_service","url"}]}
    GET|PUT|PATCH|DELETE /acs/api/v1/users/<uid>   (manage_iam on the uid; self may GET)
    GET|PUT /acs/api/v1/acls           the Mesos-style ACL document (manage_iam)
    GET    /acs/api/v1/policy          {"version","acls","revoked"} (components and agents)
    PUT|PATCH|DELETE|GET /secrets/v1/secret/default/<path>   (manage_secrets on the path;
                                       GET shows {"path","created","updated"}, never the value;
                                       GET .../default/[<folder>/]?list=true -> {"array"})
    POST   /secrets/v1/internal/resolve {"paths"} -> {"values": {path: base64}} (agents only)

What the shell gives (`IamHost`): `security` (its SecurityContext), `now()`, and while it
leads `registrar.store` (the term's StateStore). A new term (a new `registrar` object) is
noticed by a watcher task and by the first request of the term: the store is bootstrapped
(`IamService.bootstrap`) and the master's own `security.acls` / `.revoked` reloaded from it;
they are reloaded again after each write here (other components follow through their
`PolicyFeed`). Denials are logged with principal, action and object; secret values and
passwords are never logged.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import orjson
from aiohttp import web

from dcos.iam import IamService, Problem, load_keys, parse_secret_path, parse_uid
from dcos.iam.ids import SecretPath, Uid, parse_secret_prefix
from dcos.iam.keys import IamKeys
from dcos.iam.limits import FailureBuckets
from dcos.iam.problems import invalid, not_found, too_large, unauthorized
from dcos.iam.requests import (
    parse_login,
    parse_resolve,
    parse_revoke,
    parse_secret_value,
    parse_user_create,
    parse_user_patch,
)
from dcos.master.http.guard import leader_only
from dcos.master.registry_queue import NotLeading
from dcos.security.acls import Action
from dcos.security.context import SecurityContext
from dcos.security.http import apply_policy, forbidden, identity, policy_etag
from dcos.security.principal import Identity, Via
from dcos.security.tokens import InvalidToken
from dcos.state import Fenced, Registrar

log = logging.getLogger(__name__)

ACS = "/acs/api/v1"
LOGIN = ACS + "/auth/login"
LOGOUT = ACS + "/auth/logout"
REVOKE = ACS + "/auth/revoke"
PROVIDERS = ACS + "/auth/providers"
POLICY = ACS + "/policy"
POLICY_MAX_WAIT_S = 20.0  # the longest a policy request waits for a change (long poll)
SECRETS = "/secrets/v1"
RESOLVE = SECRETS + "/internal/resolve"
OPEN_PATHS = frozenset({LOGIN, PROVIDERS})
STORE = "default"  # DC/OS' only secret store
MAX_BODY = 1024 * 1024
TERM_POLL_S = 0.5
LOGIN_FAILURES_PER_S = 1.0  # failed logins per uid, after a burst of LOGIN_FAILURE_BURST
LOGIN_FAILURE_BURST = 10
POLICY_KINDS = frozenset({"component", "agent"})

PROVIDERS_DOC = {
    "dcos-users": {
        "authentication-type": "dcos-uid-password",
        "client-method": "dcos-usercredential-post-receive-authtoken",
        "config": {"start_flow_url": LOGIN},
        "description": "Default: login using a DC/OS user account (username and password)",
    }
}


class IamHost(Protocol):
    """What the routes read from the master shell (`dcos.master.shell.MasterShell`)."""

    security: SecurityContext | None
    registrar: Registrar

    def now(self) -> float: ...


def is_iam_path(path: str) -> bool:
    """Whether `path` belongs to this API (its errors use `error_response`)."""
    return path.startswith((ACS + "/", SECRETS + "/"))


def error_response(status: int, message: str, code: str | None = None,
                   extra: dict[str, Any] | None = None) -> web.Response:  # fmt: skip
    """A DC/OS IAM error answer ``{"title", "description", "code"}`` (the auth middleware's
    401s on IAM paths, and every refusal here)."""
    p = Problem(status, code or _CODES.get(status, "ERR_INVALID_DATA"), message, extra or {})
    return _json(p.to_json(), status)


_CODES = {401: "ERR_MISSING_AUTH_HEADER", 403: "ERR_FORBIDDEN", 404: "ERR_NOT_FOUND",
          413: "ERR_REQUEST_TOO_LARGE", 429: "ERR_TOO_MANY_REQUESTS",
          503: "ERR_SERVICE_UNAVAILABLE"}  # fmt: skip


def _json(obj: Any, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(obj), status=status, content_type="application/json")


def _problem(p: Problem) -> web.Response:
    return _json(p.to_json(), p.status)


def _error(status: int, message: str) -> web.Response:
    return error_response(status, message)


def _token_of(header: str) -> str | None:
    """The bearer token of an Authorization header (``token=<jwt>`` or ``Bearer <jwt>``)."""
    if header.startswith("token="):
        return header[len("token="):].strip()
    scheme, _, rest = header.partition(" ")
    return rest.strip() if scheme.lower() == "bearer" else None


# -- per-process state --------------------------------------------------------------------------


class IamRuntime:
    """The IAM of one master process: keys, the service of the current term, login limits."""

    def __init__(self, shell: IamHost, keys: IamKeys) -> None:
        if shell.security is None:
            raise ValueError("the IAM routes need a master running with --security-dir")
        self.shell = shell
        self.ctx: SecurityContext = shell.security
        self.keys = keys
        self._term: Registrar | None = None
        self._service: IamService | None = None
        self._lock: asyncio.Lock | None = None
        self._watcher: asyncio.Task[None] | None = None
        self.failed_logins = FailureBuckets(LOGIN_FAILURES_PER_S, LOGIN_FAILURE_BURST)
        self._changed: asyncio.Event | None = None  # set (and replaced) when the policy changes

    def now(self) -> float:
        return self.shell.now()

    async def service(self) -> IamService:
        """The service on this term's store (bootstrapped, the master's policy loaded);
        `NotLeading` while this master does not lead."""
        registrar = getattr(self.shell, "registrar", None)
        if registrar is None:
            raise NotLeading
        if registrar is self._term and self._service is not None:
            return self._service
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            if registrar is self._term and self._service is not None:
                return self._service
            svc = IamService(registrar.store, self.keys)
            await svc.bootstrap(now=self.now(), fallback_acls=self.ctx.acls.to_json())
            await self.reload(svc)
            self._term, self._service = registrar, svc
            return svc

    async def reload(self, svc: IamService) -> None:
        """Put the store's ACLs and revocations into the master's own SecurityContext."""
        policy = await svc.policy()
        if policy.acls is not None and apply_policy(self.ctx, policy.to_json()):
            changed, self._changed = self._changed, None
            if changed is not None:
                changed.set()  # wakes the policy requests waiting for a new version

    async def wait_for_change(self, timeout_s: float) -> None:
        """Return when the policy changes (`reload` applied a new version) or after
        `timeout_s`: what a long-polling ``GET /acs/api/v1/policy?wait=S`` waits on."""
        if self._changed is None:
            self._changed = asyncio.Event()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._changed.wait(), timeout_s)

    async def watch_terms(self) -> None:
        """Bootstrap and load the policy as soon as a term starts (not only on a request)."""
        while True:
            await asyncio.sleep(TERM_POLL_S)
            registrar = getattr(self.shell, "registrar", None)
            if registrar is None or registrar is self._term:
                continue
            try:
                await self.service()
            except (NotLeading, Fenced):
                continue
            except Exception:  # noqa: BLE001 - retried at the next poll or request
                log.exception("IAM: loading the policy of the new term failed")

    async def on_startup(self, app: web.Application) -> None:
        self._watcher = asyncio.create_task(self.watch_terms(), name="iam-terms")

    async def on_cleanup(self, app: web.Application) -> None:
        if self._watcher is not None:
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._watcher


IAM: web.AppKey[IamRuntime] = web.AppKey("iam", IamRuntime)
Handler = Callable[[web.Request, IamRuntime, IamService], Awaitable[web.StreamResponse]]


def _route(handler: Handler) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """A leader-only handler with the runtime and this term's service; a write refused
    because this master was deposed answers like any request on a non-leader."""

    async def run(request: web.Request) -> web.StreamResponse:
        rt = request.app[IAM]
        try:
            svc = await rt.service()
            return await handler(request, rt, svc)
        except Fenced:
            raise NotLeading from None

    run.__name__ = handler.__name__
    run.__doc__ = handler.__doc__
    return leader_only(run)


async def _body(request: web.Request) -> Any:
    """The request's JSON body, or a `Problem` (413 over 1 MiB, 400 not JSON)."""
    if request.content_length is not None and request.content_length > MAX_BODY:
        return too_large(f"request body larger than {MAX_BODY} bytes")
    data = await request.content.read(MAX_BODY + 1)
    if len(data) > MAX_BODY:
        return too_large(f"request body larger than {MAX_BODY} bytes")
    if not data.strip():
        return invalid("expected a JSON body")
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        return invalid(f"request body is not valid JSON: {exc}")


def _denied(request: web.Request, rt: IamRuntime, action: Action,
            obj: str | None) -> web.Response | None:  # fmt: skip
    """None when the caller may do `action` on `obj`; else the logged 403."""
    if rt.ctx.acls.allows(action, identity(request).principal, obj):
        return None
    return forbidden(request, rt.ctx, action, obj, _error)


def _self_or_denied(request: web.Request, rt: IamRuntime, uid: str) -> web.Response | None:
    if identity(request).principal == uid:
        return None
    return _denied(request, rt, Action.MANAGE_IAM, uid)


# -- login, logout, revocation, providers -------------------------------------------------------


async def login(request: web.Request, rt: IamRuntime, svc: IamService) -> web.StreamResponse:
    body = await _body(request)
    req = body if isinstance(body, Problem) else parse_login(body)
    if isinstance(req, Problem):
        return _problem(req)
    now = rt.now()
    if not rt.failed_logins.available(req.uid, now):
        log.warning("login refused uid=%s peer=%s: too many failed logins", req.uid,
                    request.remote)  # fmt: skip
        resp = error_response(429, f"too many failed logins for {req.uid!r}; retry in a few "
                                   "seconds", "ERR_TOO_MANY_REQUESTS")  # fmt: skip
        resp.headers["Retry-After"] = str(int(1 / LOGIN_FAILURES_PER_S) + 1)
        return resp
    token = await svc.login(req, now)
    if isinstance(token, Problem):
        rt.failed_logins.consume(req.uid, now)
        log.info("login refused uid=%s peer=%s", req.uid, request.remote)
        return _problem(token)
    log.info("login uid=%s peer=%s", req.uid, request.remote)
    resp = _json({"token": token})
    resp.headers["Cache-Control"] = "no-store"
    return resp


async def logout(request: web.Request, rt: IamRuntime, svc: IamService) -> web.StreamResponse:
    """Revoke the token this request authenticated with."""
    who = identity(request)
    token = _token_of(request.headers.get("Authorization", "").strip())
    if who.via != Via.TOKEN or not token:
        return _problem(invalid("logout revokes the token the request carries: send "
                                "'Authorization: token=<jwt>'"))  # fmt: skip
    now = rt.now()
    try:
        claims = rt.ctx.verifier.verify(token, now=now)
    except InvalidToken as exc:
        return _problem(unauthorized(f"invalid token: {exc.reason}", "ERR_INVALID_TOKEN"))
    problem = await svc.revoke_token(claims.jti, claims.exp, now)
    if problem is not None:
        return _problem(problem)
    await rt.reload(svc)
    log.info("logout uid=%s", claims.uid)
    return web.Response(status=204)


async def revoke(request: web.Request, rt: IamRuntime, svc: IamService) -> web.StreamResponse:
    """Revoke one token (its owner or manage_iam on its uid) or every token of a uid issued
    until now (the uid itself or manage_iam on it)."""
    body = await _body(request)
    req = body if isinstance(body, Problem) else parse_revoke(body)
    if isinstance(req, Problem):
        return _problem(req)
    now = rt.now()
    if req.token is not None:
        try:
            claims = rt.ctx.verifier.verify(req.token, now=now)
        except InvalidToken as exc:
            if exc.reason == "token expired":
                return web.Response(status=204)  # nothing left to revoke
            return _problem(invalid(f"not a valid token: {exc.reason}"))
        denied = _self_or_denied(request, rt, claims.uid)
        if denied is not None:
            return denied
        problem = await svc.revoke_token(claims.jti, claims.exp, now)
        what = f"token of uid={claims.uid}"
    else:
        assert req.uid is not None
        denied = _self_or_denied(request, rt, req.uid)
        if denied is not None:
            return denied
        problem = await svc.revoke_uid(req.uid, now)
        what = f"every token of uid={req.uid}"
    if problem is not None:
        return _problem(problem)
    await rt.reload(svc)
    log.info("revoked %s by %s", what, identity(request).principal)
    return web.Response(status=204)


async def providers(request: web.Request) -> web.Response:
    """What the DC/OS CLI asks before offering a username/password login."""
    return _json(PROVIDERS_DOC)


# -- users ---------------------------------------------------------------------------------------


async def list_users(request: web.Request, rt: IamRuntime, svc: IamService) -> web.StreamResponse:
    """The users the caller may manage (and itself); ``?type=service`` or ``user`` filters."""
    kind = request.query.get("type")
    if kind not in (None, "service", "user"):
        return _problem(invalid("type must be service or user"))
    me = identity(request).principal
    shown = [
        u.public_json() for u in await svc.list_users()
        if (u.uid == me or rt.ctx.acls.allows(Action.MANAGE_IAM, me, u.uid))
        and (kind is None or u.is_service == (kind == "service"))
    ]  # fmt: skip
    return _json({"array": shown})


def _user_target(request: web.Request, rt: IamRuntime, *,
                 self_ok: bool = False) -> Uid | web.Response:  # fmt: skip
    """The uid in the URL when the caller may manage it (or is it, with `self_ok`); else
    the 400 or the logged 403."""
    uid = parse_uid(request.match_info["uid"])
    if isinstance(uid, Problem):
        return _problem(uid)
    if self_ok:
        denied = _self_or_denied(request, rt, uid)
    else:
        denied = _denied(request, rt, Action.MANAGE_IAM, uid)
    return uid if denied is None else denied


async def get_user(request: web.Request, rt: IamRuntime, svc: IamService) -> web.StreamResponse:
    uid = _user_target(request, rt, self_ok=True)
    if isinstance(uid, web.Response):
        return uid
    rec = await svc.get_user(uid)
    if rec is None:
        return _problem(not_found(f"user {uid!r} does not exist", "ERR_UNKNOWN_USER_ID"))
    return _json(rec.public_json())


async def put_user(request: web.Request, rt: IamRuntime, svc: IamService) -> web.StreamResponse:
    uid = _user_target(request, rt)
    if isinstance(uid, web.Response):
        return uid
    body = await _body(request)
    req = body if isinstance(body, Problem) else parse_user_create(body)
    if isinstance(req, Problem):
        return _problem(req)
    rec = await svc.create_user(uid, req, rt.now())
    if isinstance(rec, Problem):
        return _problem(rec)
    log.info("%s %s created by %s", "service account" if rec.is_service else "user", uid,
             identity(request).principal)  # fmt: skip
    return web.Response(status=201)


async def patch_user(request: web.Request, rt: IamRuntime, svc: IamService) -> web.StreamResponse:
    uid = _user_target(request, rt)
    if isinstance(uid, web.Response):
        return uid
    body = await _body(request)
    req = body if isinstance(body, Problem) else parse_user_patch(body)
    if isinstance(req, Problem):
        return _problem(req)
    rec = await svc.update_user(uid, req, rt.now())
    if isinstance(rec, Problem):
        return _problem(rec)
    if req.password is not None:
        await rt.reload(svc)
    log.info("user %s changed (%s) by %s", uid,
             ", ".join(k for k in ("password", "description") if getattr(req, k) is not None),
             identity(request).principal)  # fmt: skip
    return web.Response(status=204)


async def delete_user(request: web.Request, rt: IamRuntime,
                      svc: IamService) -> web.StreamResponse:  # fmt: skip
    uid = _user_target(request, rt)
    if isinstance(uid, web.Response):
        return uid
    problem = await svc.delete_user(uid, rt.now())
    if problem is not None:
        return _problem(problem)
    await rt.reload(svc)
    log.info("user %s deleted by %s", uid, identity(request).principal)
    return web.Response(status=204)


# -- ACLs and the components' policy -------------------------------------------------------------


async def get_acls(request: web.Request, rt: IamRuntime, svc: IamService) -> web.StreamResponse:
    denied = _denied(request, rt, Action.MANAGE_IAM, None)
    if denied is not None:
        return denied
    doc = await svc.get_acls()
    return _json(doc if doc is not None else rt.ctx.acls.to_json())


async def put_acls(request: web.Request, rt: IamRuntime, svc: IamService) -> web.StreamResponse:
    """Replace the ACL document: validated first (400 naming the first error's path, the
    stored document unchanged)."""
    denied = _denied(request, rt, Action.MANAGE_IAM, None)
    if denied is not None:
        return denied
    body = await _body(request)
    if isinstance(body, Problem):
        return _problem(body)
    acls = await svc.put_acls(body)
    if isinstance(acls, Problem):
        return _problem(acls)
    await rt.reload(svc)
    log.info("ACLs replaced by %s (permissive=%s)", identity(request).principal,
             acls.permissive)  # fmt: skip
    return web.Response(status=204)


def _kind_denied(request: web.Request, kinds: frozenset[str], what: str) -> web.Response | None:
    who: Identity = identity(request)
    if who.kind in kinds:
        return None
    log.warning("forbidden principal=%s kind=%s action=%s %s %s", who.principal or "anonymous",
                who.kind, what, request.method, request.path)  # fmt: skip
    return error_response(403, f"principal '{who.principal or 'anonymous'}' (kind {who.kind}) "
                               f"may not {what}: only {' and '.join(sorted(kinds))} identities "
                               "may")  # fmt: skip


def _wait_s(raw: str | None) -> float:
    """The ``wait`` query parameter of a policy request in seconds (0 when absent or bad)."""
    try:
        wait = float(raw) if raw else 0.0
    except ValueError:
        return 0.0
    return min(wait, POLICY_MAX_WAIT_S) if wait > 0 else 0.0  # NaN is not > 0


async def policy(request: web.Request, rt: IamRuntime, svc: IamService) -> web.StreamResponse:
    """ACLs and revocations for the components' PolicyFeed (mutual TLS, kind component or
    agent). Followed by every agent and component (`dcos.security.http.PolicyFeed`): a caller
    that already holds the version this master applied last (``If-None-Match``, the ETag of the
    previous answer) gets 304 without a store read, after waiting up to ``?wait=S`` seconds
    (at most `POLICY_MAX_WAIT_S`) for a change: a long poll, so a new ACL or revocation reaches
    every component at once while a thousand idle agents cost the master a few requests per
    second. The master's own context is current on the leader: it is reloaded at each term
    and after each IAM write (`IamRuntime.reload`)."""
    denied = _kind_denied(request, POLICY_KINDS, "read the policy")
    if denied is not None:
        return denied
    etag = request.headers.get("If-None-Match")
    known = rt.ctx.policy_version
    if known is not None and etag == policy_etag(known):
        await rt.wait_for_change(_wait_s(request.query.get("wait")))
        known = rt.ctx.policy_version
        if etag == policy_etag(known):
            return web.Response(status=304, headers={"ETag": etag})
    doc = (await svc.policy()).to_json()
    answer = _json(doc)
    answer.headers["ETag"] = policy_etag(doc.get("version"))
    return answer


# -- secrets ------------------------------------------------------------------------------------


def _unknown_store(request: web.Request) -> web.Response | None:
    if request.match_info["store"] == STORE:
        return None
    return error_response(404, f"unknown secret store {request.match_info['store']!r} (the "
                               f"only one is {STORE!r})", "ERR_UNKNOWN_STORE")  # fmt: skip


def _secret_target(request: web.Request, rt: IamRuntime) -> SecretPath | web.Response:
    """The secret path in the URL when the caller may manage it; else the 404 (store),
    400 (path) or the logged 403."""
    unknown = _unknown_store(request)
    if unknown is not None:
        return unknown
    path = parse_secret_path(request.match_info.get("path", ""))
    if isinstance(path, Problem):
        return _problem(path)
    denied = _denied(request, rt, Action.MANAGE_SECRETS, path)
    return path if denied is None else denied


async def _secret_value(request: web.Request) -> bytes | web.Response:
    body = await _body(request)
    value = body if isinstance(body, Problem) else parse_secret_value(body)
    return _problem(value) if isinstance(value, Problem) else value


async def put_secret(request: web.Request, rt: IamRuntime,
                     svc: IamService) -> web.StreamResponse:  # fmt: skip
    path = _secret_target(request, rt)
    if isinstance(path, web.Response):
        return path
    value = await _secret_value(request)
    if isinstance(value, web.Response):
        return value
    rec = await svc.create_secret(path, value, rt.now())
    if isinstance(rec, Problem):
        return _problem(rec)
    log.info("secret %s created by %s", path, identity(request).principal)
    return web.Response(status=201)


async def patch_secret(request: web.Request, rt: IamRuntime,
                       svc: IamService) -> web.StreamResponse:  # fmt: skip
    path = _secret_target(request, rt)
    if isinstance(path, web.Response):
        return path
    value = await _secret_value(request)
    if isinstance(value, web.Response):
        return value
    problem = await svc.update_secret(path, value, rt.now())
    if problem is not None:
        return _problem(problem)
    log.info("secret %s updated by %s", path, identity(request).principal)
    return web.Response(status=204)


async def delete_secret(request: web.Request, rt: IamRuntime,
                        svc: IamService) -> web.StreamResponse:  # fmt: skip
    path = _secret_target(request, rt)
    if isinstance(path, web.Response):
        return path
    problem = await svc.delete_secret(path)
    if problem is not None:
        return _problem(problem)
    log.info("secret %s deleted by %s", path, identity(request).principal)
    return web.Response(status=204)


async def get_secret(request: web.Request, rt: IamRuntime, svc: IamService) -> web.StreamResponse:
    """``?list=true``: the secrets under the folder the caller may manage (paths relative to
    it); else one secret's metadata (never its value)."""
    if request.query.get("list", "").lower() in ("true", "1"):
        return await _list_secrets(request, rt, svc)
    path = _secret_target(request, rt)
    if isinstance(path, web.Response):
        return path
    rec = await svc.get_secret(path)
    if rec is None:
        return _problem(not_found(f"unknown secret(s): {path}", "ERR_UNKNOWN_SECRET"))
    return _json(rec.meta_json())


async def _list_secrets(request: web.Request, rt: IamRuntime,
                        svc: IamService) -> web.StreamResponse:  # fmt: skip
    unknown = _unknown_store(request)
    if unknown is not None:
        return unknown
    folder = parse_secret_prefix(request.match_info.get("path", ""))
    if isinstance(folder, Problem):
        return _problem(folder)
    me = identity(request).principal
    cut = len(folder) + 1 if folder else 0
    shown = [p[cut:] for p in await svc.list_secrets(folder)
             if rt.ctx.acls.allows(Action.MANAGE_SECRETS, me, p)]  # fmt: skip
    return _json({"array": shown})


async def resolve(request: web.Request, rt: IamRuntime, svc: IamService) -> web.StreamResponse:
    """Secret values for an agent launching a task (identity kind agent only)."""
    denied = _kind_denied(request, frozenset({"agent"}), "resolve secrets")
    if denied is not None:
        return denied
    body = await _body(request)
    paths = body if isinstance(body, Problem) else parse_resolve(body)
    if isinstance(paths, Problem):
        return _problem(paths)
    values = await svc.resolve(paths)
    if isinstance(values, Problem):
        log.warning("secret resolution for %s failed: %s", identity(request).principal,
                    values.description)  # fmt: skip
        return _problem(values)
    log.info("resolved %d secret(s) for agent %s: %s", len(values), identity(request).principal,
             ", ".join(values))  # fmt: skip
    return _json({"values": {p: base64.b64encode(v).decode("ascii") for p, v in values.items()}})


# -- mounting ------------------------------------------------------------------------------------


def add_routes(app: web.Application, shell: IamHost, keys: IamKeys | None = None) -> None:
    """Mount the IAM and secrets routes; `keys` default to the security directory's
    (`dcos.iam.load_keys`: ValueError naming a missing or bad key file)."""
    if shell.security is None:
        raise ValueError("the IAM routes need a master running with --security-dir")
    rt = IamRuntime(shell, keys or load_keys(shell.security.dir))
    app[IAM] = rt
    app.on_startup.append(rt.on_startup)
    app.on_cleanup.append(rt.on_cleanup)
    r = app.router
    r.add_post(LOGIN, _route(login))
    r.add_post(LOGOUT, _route(logout))
    r.add_post(REVOKE, _route(revoke))
    r.add_get(PROVIDERS, providers)
    r.add_get(ACS + "/users", _route(list_users))
    user = ACS + "/users/{uid}"
    r.add_get(user, _route(get_user))
    r.add_put(user, _route(put_user))
    r.add_patch(user, _route(patch_user))
    r.add_delete(user, _route(delete_user))
    r.add_get(ACS + "/acls", _route(get_acls))
    r.add_put(ACS + "/acls", _route(put_acls))
    r.add_get(POLICY, _route(policy))
    secret = SECRETS + "/secret/{store}/{path:.*}"
    r.add_get(SECRETS + "/secret/{store}", _route(get_secret))
    r.add_get(secret, _route(get_secret))
    r.add_put(secret, _route(put_secret))
    r.add_patch(secret, _route(patch_secret))
    r.add_delete(secret, _route(delete_secret))
    r.add_post(RESOLVE, _route(resolve))
