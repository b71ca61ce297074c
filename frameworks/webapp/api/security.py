"""The webapp API's protections: authentication (security on), the ``webapp_groups`` and
``use_secrets`` ACLs, request body and event stream limits, and the callback URL policy.

`ApiSecurity` is made by ``python -m frameworks.webapp`` (`ApiSecurity.from_flags`) or by a
test, and handed to `frameworks.webapp.api.server.build_app`, which installs `middlewares`
(first: body limit, then authentication, then the forwarded identity of an HA peer) and gives
it to the handlers:

- Security on (a `dcos.security.context.SecurityContext`): every route except ``/ping``,
  ``/health`` and ``/openapi.json`` needs an identity (token, Basic or client certificate);
  none -> 401 ``{"message": ...}`` (Marathon's body) with ``WWW-Authenticate``.
- `may_change(request, app_ids)`: every change (create/update/delete/scale/restart of apps
  and groups, task kills including ``POST /v2/tasks/delete``, deployment cancels, launch
  delay resets) names the apps it touches; the caller needs ``webapp_groups`` on each (the
  ACL's object values are group prefixes: ``/team`` covers ``/team`` and ``/team/...``).
  Refused -> 403 ``{"message"}``, logged with principal, action and object, nothing changes.
  Cluster-wide changes (event subscriptions, leader abdication) need the root group ``/``.
- `may_use_secrets(request, paths)`: ``use_secrets`` on each secret path an app newly
  references; `may_run_as(request, users)`: ``run_tasks`` on an app's new explicit ``user``
  (`may_deploy` runs the three).
- Security off: every check passes (as before), except the limits and the callback policy.
- `streams`: at most `MAX_STREAMS` open ``/v2/events`` streams per principal (per peer address
  when anonymous) -> 429. Bodies over `MAX_BODY` -> 413 ``{"message"}``.

An HA follower proxies requests to the leader over mutual TLS, so the leader sees the
follower's certificate; the follower therefore sends the caller's identity in
`FORWARDED_HEADER`, which the leader trusts only from a peer authenticated as its own
principal (another webapp instance) and which is dropped from every other request.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from dcos.security.acls import Action
from dcos.security.context import SecurityContext
from dcos.security.http import auth_middleware, forbidden_message, identity
from dcos.security.limits import StreamLimiter
from dcos.security.principal import ANONYMOUS, Identity, Principal, Via
from frameworks.webapp.api.http import error
from frameworks.webapp.callback_policy import CallbackPolicy
from frameworks.webapp.core import CoreView
from frameworks.webapp.model.spec import AppId, AppSpec

log = logging.getLogger(__name__)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

MAX_BODY = 1024 * 1024  # bytes of a request body (Marathon's app/group JSON is far smaller)
MAX_STREAMS = 16  # open /v2/events streams per principal
OPEN_PATHS = frozenset({"/ping", "/health", "/openapi.json"})
FORWARDED_HEADER = "X-Dcos-Forwarded-Principal"  # "<principal> <kind>" from an HA peer
FORWARDED_KEY: web.RequestKey[Identity] = web.RequestKey("webapp.forwarded_identity", Identity)
ROOT = "/"
NOT_AUTHORIZED = "Not Authorized to perform this action!"


def new_secret_paths(view: CoreView, changes: Mapping[AppId, AppSpec | None]) -> set[str]:
    """The secret paths the changed apps reference that their current versions do not (an
    unchanged reference was allowed when it was made: scaling such an app needs no
    ``use_secrets``). Called by the app and group handlers before a deployment."""
    out: set[str] = set()
    for aid, spec in changes.items():
        if spec is None:
            continue
        current = view.apps.get(aid)
        out |= spec.secrets.paths - (current.secrets.paths if current is not None else frozenset())
    return out


def new_users(view: CoreView, changes: Mapping[AppId, AppSpec | None]) -> set[str]:
    """The explicit ``user`` of each changed app whose current version has another one (an
    app without a user runs as the webapp's ``--mesos-user``, the operator's choice). Called
    by the app and group handlers: the caller needs ``run_tasks`` on each."""
    out: set[str] = set()
    for aid, spec in changes.items():
        if spec is None or not spec.user:
            continue
        current = view.apps.get(aid)
        if current is None or current.user != spec.user:
            out.add(spec.user)
    return out


def _marathon_error(status: int, message: str) -> web.Response:
    return error(status, message)


@dataclass
class ApiSecurity:
    """What the API enforces (see the module docstring); `ctx` None = security off."""

    ctx: SecurityContext | None = None
    callbacks: CallbackPolicy = field(default_factory=CallbackPolicy)
    streams: StreamLimiter = field(default_factory=lambda: StreamLimiter(MAX_STREAMS))
    max_body: int = MAX_BODY

    @property
    def on(self) -> bool:
        return self.ctx is not None

    def middlewares(self) -> list[Any]:
        """The middlewares `build_app` installs before the leader proxy, in order."""
        out: list[Any] = [self.body_limit]
        if self.ctx is not None:
            out.append(auth_middleware(self.ctx, error=_marathon_error, open_paths=OPEN_PATHS))
            out.append(self.forwarded_identity)
        return out

    # -- middlewares -----------------------------------------------------------------------

    @web.middleware
    async def body_limit(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """413 ``{"message"}`` for a body over `max_body` (announced, or found while read)."""
        too_big = f"Request body too large: at most {self.max_body} bytes are accepted"
        if request.content_length is not None and request.content_length > self.max_body:
            return error(413, too_big)  # before reading any of it
        try:
            return await handler(request)
        except web.HTTPRequestEntityTooLarge:
            return error(413, too_big)

    @web.middleware
    async def forwarded_identity(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Take the caller's identity from `FORWARDED_HEADER` when an HA peer (our own
        principal, by certificate) proxied the request; the header is ignored otherwise."""
        assert self.ctx is not None
        raw = request.headers.get(FORWARDED_HEADER)
        me = identity(request)
        if raw and me.via == Via.CERT and me.principal == self.ctx.name:
            principal, _, kind = raw.strip().partition(" ")
            if principal:
                request[FORWARDED_KEY] = Identity(Principal(principal), kind or "user", Via.CERT)
        return await handler(request)

    # -- who asks --------------------------------------------------------------------------

    def who(self, request: web.Request) -> Identity:
        """The caller's identity (anonymous with security off)."""
        if self.ctx is None:
            return ANONYMOUS
        fwd = request.get(FORWARDED_KEY)
        return fwd if isinstance(fwd, Identity) else identity(request)

    def forward_headers(self, request: web.Request) -> list[tuple[str, str]]:
        """What a follower adds when it proxies `request` to the leader."""
        who = self.who(request)
        if self.ctx is None or who.principal is None:
            return []
        return [(FORWARDED_HEADER, f"{who.principal} {who.kind}")]

    def stream_key(self, request: web.Request) -> str:
        """Whose event streams a new one counts against: the principal, else the peer."""
        who = self.who(request)
        return f"principal:{who.principal}" if who.principal else f"peer:{request.remote or '?'}"

    # -- decisions ---------------------------------------------------------------------------

    def _deny(self, request: web.Request, action: Action, obj: str) -> web.Response | None:
        assert self.ctx is not None
        who = self.who(request)
        if self.ctx.allows(who, action, obj):  # a denial is logged there (principal, action, object)
            return None
        return error(403, f"{NOT_AUTHORIZED} {forbidden_message(who, action, obj)}")

    def may_change(self, request: web.Request, app_ids: Iterable[str]) -> web.Response | None:
        """None when the caller may change every app (or group) in `app_ids`, else the 403."""
        if self.ctx is None:
            return None
        for aid in sorted(set(app_ids)):
            refused = self._deny(request, Action.WEBAPP_GROUPS, aid)
            if refused is not None:
                return refused
        return None

    def may_admin(self, request: web.Request) -> web.Response | None:
        """Cluster-wide changes: ``webapp_groups`` on the root group ``/``."""
        return self.may_change(request, [ROOT])

    def may_use_secrets(self, request: web.Request, paths: Iterable[str]) -> web.Response | None:
        """None when the caller may use every secret path in `paths` (``use_secrets``)."""
        if self.ctx is None:
            return None
        for path in sorted(set(paths)):
            refused = self._deny(request, Action.USE_SECRETS, path)
            if refused is not None:
                return refused
        return None

    def may_run_as(self, request: web.Request, users: Iterable[str]) -> web.Response | None:
        """None when the caller may run tasks as every user in `users` (``run_tasks``): an
        app's explicit ``user`` is the caller's choice, so it needs the caller's right, and
        the webapp's own (which the master checks at each launch)."""
        if self.ctx is None:
            return None
        for user in sorted(set(users)):
            refused = self._deny(request, Action.RUN_TASKS, user)
            if refused is not None:
                return refused
            if not self.ctx.acls.allows(Action.RUN_TASKS, self.ctx.name, user):
                # the master would refuse every launch (TASK_ERROR): say so now
                return error(403, f"{NOT_AUTHORIZED} this webapp (principal '{self.ctx.name}') "
                                  f"may not run tasks as user '{user}' (run_tasks)")  # fmt: skip
        return None

    def may_deploy(self, request: web.Request, view: CoreView,
                   changes: Mapping[AppId, AppSpec | None], groups: Iterable[str] = ()) -> web.Response | None:  # fmt: skip
        """Every check of a deployment of `changes` (plus the groups it changes): the apps
        and groups (``webapp_groups``), the secrets they newly use (``use_secrets``) and the
        users they newly run as (``run_tasks``); the first refusal, or None."""
        return (self.may_change(request, [*groups, *changes])
                or self.may_use_secrets(request, new_secret_paths(view, changes))
                or self.may_run_as(request, new_users(view, changes)))

    def check_callback(self, url: str) -> web.Response | None:
        """403 ``{"message"}`` when the callback policy refuses `url`."""
        reason = self.callbacks.check(url)
        if reason is None:
            return None
        log.warning("webapp refused event callback: %s", reason)
        return error(403, reason)

    def acquire_stream(self, request: web.Request) -> web.Response | None:
        """Count a new ``/v2/events`` stream (None), or the 429 when the caller has too many.
        The handler calls `release_stream` with the same key when the stream ends."""
        if self.streams.acquire(self.stream_key(request)):
            return None
        return error(429, f"Too many open event streams: at most {self.streams.max_per_key} "
                          "per principal")

    def release_stream(self, request: web.Request) -> None:
        self.streams.release(self.stream_key(request))
