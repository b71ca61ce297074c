"""The master's HTTP side of security and limits: authentication of every request, the
authorization hooks the handlers call, scheduler call rate limits and event stream counts.

`install(app, shell)` is called once by `dcos.master.http.routes.add_routes`; it puts a
`MasterSecurity` under `SECURITY` (always: the limits hold with security on or off) and,
when the shell has a `SecurityContext` (``--security-dir``), the authentication middleware
(`dcos.security.http.authenticate`; every path but `OPEN_PATHS` and the IAM module's open
paths needs an authenticated caller: 401 with a plain-text body and ``WWW-Authenticate``
challenges, Mesos' format; the IAM paths answer in the IAM module's format). The request
body limit (``--max-body-bytes``, 413) is the app's ``client_max_size`` (`MasterShell`);
the internal agent channel reads its bodies with its own bound (`read_body`).

The handlers then ask, each at its step:
- `scheduler_api`: `rate_limited` (429 with ``Retry-After`` once a framework passes
  ``--scheduler-call-rate``; SUBSCRIBEs count per principal), `authz.subscribe` /
  `authz.call` (`dcos.master.authz`), `open_stream` / `close_stream` around a SUBSCRIBE
  stream (429 past ``--max-streams-per-principal``);
- `agent_channel`: `not_an_agent` (403 unless the caller's certificate is of kind agent);
- `operator_api` / `operator_feed`: `authz.operator_write`, `read_scope` (the state reads
  and the operator event stream show what ``view_frameworks`` / ``view_tasks`` allow),
  `open_stream` / `close_stream`.
With security off `authz` is None, every identity anonymous and streams count per peer
address (when a limit is set).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from aiohttp import web

from dcos.master.authz import MasterAuthz, ScopedCore, Visibility
from dcos.master.config import MasterConfig
from dcos.master.http import replies
from dcos.master.shell import MasterView
from dcos.security.acls import Action
from dcos.security.context import SecurityContext
from dcos.security.http import IDENTITY, AuthError, authenticate, identity, unauthorized
from dcos.security.limits import RateLimiter, StreamLimiter
from dcos.security.principal import ANONYMOUS, Identity

log = logging.getLogger(__name__)

OPEN_PATHS = frozenset({"/health", "/master/health", "/openapi.json"})
MAX_INTERNAL_BODY = 64 * 1024 * 1024  # the agent channel's UPDATE batches may be large

ErrorFn = Callable[[int, str], web.Response]


def _text(status: int, message: str) -> web.Response:
    return replies.text(message, status)


@dataclass(frozen=True)
class ReadScope:
    """What one caller sees in the state reads: `key` tells cached snapshots apart (the
    principal and the ACLs it was decided with), `view` scopes a `MasterView`."""

    key: tuple[str | None, int]
    visibility: Visibility

    def view(self, view: MasterView) -> MasterView:
        return replace(view, core=ScopedCore(view.core, self.visibility))  # type: ignore[arg-type]


class MasterSecurity:
    """The master's security state (one per app, under `SECURITY`): its context (None with
    security off), the authorization decisions, the limiters."""

    def __init__(self, config: MasterConfig, ctx: SecurityContext | None,
                 iam: Any = None) -> None:  # fmt: skip
        self.ctx = ctx
        self.authz = MasterAuthz(ctx, config.task_user) if ctx is not None else None
        self.rate = (
            RateLimiter(config.scheduler_call_rate, config.scheduler_call_burst)
            if config.scheduler_call_rate > 0 else None
        )  # fmt: skip
        limit = config.stream_limit
        self.streams = StreamLimiter(limit) if limit > 0 else None
        self.stream_limit = limit
        self.iam = iam  # `dcos.master.http.iam` when mounted (its error format, open paths)
        # the ACLs the read snapshots were scoped with (held, so that a new document is
        # never mistaken for it), and their number in the snapshots' keys
        self._acls = ctx.acls if ctx is not None else None
        self._acls_version = 0

    @property
    def on(self) -> bool:
        return self.ctx is not None

    # -- limits -------------------------------------------------------------------------------

    def rate_limited(self, key: str) -> web.Response | None:
        """429 with ``Retry-After`` when `key` (a framework id, or ``subscribe:<who>``) has
        used its calls; None when the call may go on."""
        now = time.monotonic()
        if self.rate is None or self.rate.allow(key, now):
            return None
        resp = replies.text(
            f"Too many calls for {key}: the master allows "
            f"{self.rate.rate_per_s:g} per second (burst {self.rate.burst}); retry later",
            429,
        )
        resp.headers["Retry-After"] = self.rate.retry_after_header(key, now)
        return resp

    def stream_key(self, request: web.Request) -> str:
        """Whose event streams a request opens: its principal, else its peer address."""
        who = identity(request)
        if who.principal is not None:
            return f"principal:{who.principal}"
        return f"peer:{request.remote or '?'}"

    def open_stream(self, request: web.Request) -> tuple[str | None, web.Response | None]:
        """Count a new event stream of the caller: (key to `close_stream` later, None) or
        (None, 429) when it has ``--max-streams-per-principal`` open already."""
        if self.streams is None:
            return None, None
        key = self.stream_key(request)
        if self.streams.acquire(key):
            return key, None
        log.warning("refused an event stream of %s: %d open already", key, self.stream_limit)
        resp = replies.text(
            f"Too many open event streams for {key.partition(':')[2]}: at most "
            f"{self.stream_limit}; close one first",
            429,
        )
        resp.headers["Retry-After"] = "1"
        return None, resp

    def close_stream(self, key: str | None) -> None:
        if key is not None and self.streams is not None:
            self.streams.release(key)

    # -- authorization ------------------------------------------------------------------------

    def not_an_agent(self, request: web.Request) -> web.Response | None:
        """The internal agent channel: 403 unless the caller is an agent (its certificate's
        kind); None with security off."""
        if self.ctx is None:
            return None
        who = identity(request)
        if who.kind == "agent":
            return None
        log.warning("denied principal=%s action=agent_channel object=%s",
                    who.principal or "anonymous", request.path)  # fmt: skip
        return replies.text(
            f"Only agents may use {request.path}: '{who.principal or 'anonymous'}' is a "
            f"{who.kind}, not an agent certificate",
            403,
        )

    def read_scope(self, request: web.Request) -> ReadScope | None:
        """What the caller may see of the state (None with security off: everything)."""
        if self.authz is None or self.ctx is None:
            return None
        who = identity(request)
        acls = self.ctx.acls
        if acls is not self._acls:  # replaced by the IAM routes: snapshots built anew
            self._acls, self._acls_version = acls, self._acls_version + 1
        return ReadScope((who.principal, self._acls_version), self.authz.visibility(who))

    def debug_refused(self, request: web.Request) -> web.Response | None:
        """``/debug/stimuli`` shows every call of every framework: with security on only a
        principal allowed ``manage_iam`` (the superuser's action) reads it."""
        if self.ctx is None:
            return None
        who = identity(request)
        if self.ctx.allows(who, Action.MANAGE_IAM, who.principal):
            return None
        return replies.text(
            f"Principal '{who.principal}' may not read the master's stimulus log "
            "(it needs manage_iam)",
            403,
        )

    # -- authentication -----------------------------------------------------------------------

    def error_for(self, path: str) -> ErrorFn:
        """The error format of `path`: the IAM module's for its paths, else plain text."""
        iam = self.iam
        if iam is not None and iam.is_iam_path(path):
            fn: ErrorFn = iam.error_response
            return fn
        return _text

    def middleware(self) -> Any:
        """Authentication of every request but the open paths (see the module docstring)."""
        ctx = self.ctx
        assert ctx is not None
        open_paths = OPEN_PATHS | frozenset(getattr(self.iam, "OPEN_PATHS", ()))

        @web.middleware
        async def authenticated(request: web.Request, handler: Any) -> web.StreamResponse:
            result: Identity | AuthError = authenticate(request, ctx, now=time.time())
            if request.path in open_paths:
                request[IDENTITY] = result if isinstance(result, Identity) else ANONYMOUS
                return await handler(request)
            if isinstance(result, AuthError):
                log.info("unauthenticated %s %s from %s: %s", request.method, request.path,
                         request.remote, result.message)  # fmt: skip
                return unauthorized(self.error_for(request.path), result.message)
            if not result.authenticated:
                return unauthorized(
                    self.error_for(request.path),
                    "Authentication required: send Basic credentials (a framework's "
                    "principal and secret), 'Authorization: token=<jwt>' (dcos-py auth "
                    "login) or a client certificate",
                )
            request[IDENTITY] = result
            return await handler(request)

        return authenticated


SECURITY: web.AppKey[MasterSecurity] = web.AppKey("master_security", MasterSecurity)


async def read_body(request: web.Request, limit: int) -> bytes:
    """The request body, at most `limit` bytes (413, plain text, above): the agent channel's
    reader, whose bodies may pass the app's ``client_max_size``."""
    length = request.content_length
    if length is not None and length > limit:
        raise web.HTTPRequestEntityTooLarge(max_size=limit, actual_size=length)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.content.iter_any():
        size += len(chunk)
        if size > limit:
            raise web.HTTPRequestEntityTooLarge(max_size=limit, actual_size=size)
        chunks.append(chunk)
    return b"".join(chunks)


def install(app: web.Application, config: MasterConfig, ctx: SecurityContext | None,
            iam: Any = None) -> MasterSecurity:  # fmt: skip
    """Put the `MasterSecurity` under `SECURITY` and, with security on, add the
    authentication middleware (called by `routes.add_routes` before the app is frozen)."""
    sec = app[SECURITY] = MasterSecurity(config, ctx, iam)
    if ctx is not None:
        app.middlewares.append(sec.middleware())
    return sec
