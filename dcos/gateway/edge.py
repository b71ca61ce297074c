"""Authentication at the edge: which gateway paths are open and where a request's token is.

Called by: `dcos.gateway.auth` (the middleware, only when the gateway runs with
``--security-dir``) for every request; pure functions, unit-tested on their own.

Open without a token (everything a browser needs to show the login page, what the CLIs read
before logging in, and the login itself):

- the web UI: ``/``, ``/index.html`` and ``/assets/<file>``;
- ``/health``, ``/gateway/health``, ``/openapi.json``;
- ``/metadata``, ``/dcos-metadata/<file>`` (the CLIs' ``dcos cluster setup`` reads them);
- ``/acs/api/v1/auth/login`` and ``/acs/api/v1/auth/providers``.

Every other path needs an authenticated identity (`dcos.security.http.authenticate`), among them
``/pkgpanda/active.buildinfo.full.json``, whose 401 + ``WWW-Authenticate: acsjwt`` tells both
DC/OS CLIs to log in. The decision is made on the raw path (as received, still
percent-encoded, without the query): a path that is not exactly one of the above is closed,
so an encoding trick can only close a path, never open one; a path with a ``.`` or ``..``
segment (also encoded) is always closed.

Tokens come from ``Authorization: token=<jwt>`` (DC/OS) or ``Bearer <jwt>``, or, for GET and
HEAD only, from the ``dcos-acs-auth-cookie`` cookie (as Admin Router: the UI sets it at login so
that what a browser loads without script headers -- ``EventSource`` streams, images, download
links -- is authenticated too; never for a change, so a cross-site form cannot use it).
"""

from __future__ import annotations

from http.cookies import CookieError, SimpleCookie
from urllib.parse import unquote

COOKIE = "dcos-acs-auth-cookie"
CHALLENGE = "acsjwt"  # the WWW-Authenticate value both DC/OS CLIs look for (exactly)

OPEN_PATHS = frozenset({
    "/", "/index.html", "/health", "/gateway/health", "/openapi.json", "/metadata",
    "/acs/api/v1/auth/login", "/acs/api/v1/auth/providers",
})  # fmt: skip
OPEN_PREFIXES = ("/assets/", "/dcos-metadata/")
SAFE_METHODS = frozenset({"GET", "HEAD"})


def _dotted(path: str) -> bool:
    return any(s in (".", "..") for s in unquote(path).split("/"))


def is_open(raw_path: str) -> bool:
    """Whether the gateway answers `raw_path` (raw path, the query ignored) without a token
    (module docstring)."""
    path = raw_path.partition("?")[0]
    if not path.startswith("/") or _dotted(path) or "\\" in path:
        return False
    if path in OPEN_PATHS:
        return True
    return any(path.startswith(p) and len(path) > len(p) for p in OPEN_PREFIXES)


def cookie_token(method: str, cookie_header: str | None) -> str | None:
    """The token in the ``dcos-acs-auth-cookie`` cookie of a GET or HEAD request, else None."""
    if method.upper() not in SAFE_METHODS or not cookie_header:
        return None
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(cookie_header)
    except CookieError:
        return None
    morsel = jar.get(COOKIE)
    value = morsel.value.strip() if morsel is not None else ""
    return value or None


def without_auth_cookie(cookie_header: str) -> str | None:
    """A ``Cookie`` header less the ``dcos-acs-auth-cookie`` pair (None when nothing is left):
    what the relay sends upstream (the token travels, if at all, as ``Authorization``)."""
    kept = [p.strip() for p in cookie_header.split(";")
            if p.strip() and p.strip().partition("=")[0].strip() != COOKIE]  # fmt: skip
    return "; ".join(kept) or None


__all__ = ["CHALLENGE", "COOKIE", "OPEN_PATHS", "OPEN_PREFIXES", "cookie_token", "is_open",
           "without_auth_cookie"]  # fmt: skip
