"""The CLI's one HTTP client: synchronous JSON requests and a server-sent-event reader.

Called by: every command that talks to a server -- the master and agents (`get_json`), the
webapp (`commands.deployment.WebappClient`), the batch dispatcher (`request`), `up`'s
readiness polls (`get_status`) and the deployment event listener (`sse_events`). One request
per call, no event loop, no proxies. Every failure becomes a one-line `CliError` whose class
gives the exit code (`errors`): `Unreachable` (3), `Rejected` for a 4xx answer (4),
`TimedOut` (5), else `CliError` (1; a 5xx answer, an answer that is not JSON).

Security (clusters started with `up --secure`): every request goes through a `Transport` --
the TLS context that verifies the server (``core.ssl_verify``: the system CAs, none, or the
cluster's CA bundle; optionally a client certificate: `up`'s readiness checks present the
``cli`` certificate) and the bearer token sent as ``Authorization: token=<jwt>``. By default
the transport comes from `dcos.cli.config.core_settings` (read at each request: cheap, and
`dcos-py auth login` takes effect at once); `use_transport` pins one (`up`, benchmarks). A
401 answer is `NotLoggedIn`: one line "not logged in: run `dcos-py auth login`", exit code 1
(`request(..., login_hint=False)` keeps it a plain `Rejected`, for the login call itself).
"""

from __future__ import annotations

import http.client
import socket
import ssl
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from dcos.cli.errors import CliError, Rejected, TimedOut, Unreachable
from dcos.common.sse_parser import SseEvent, SseParser

DEFAULT_TIMEOUT = 10.0

LOGIN_HINT = "not logged in: run `dcos-py auth login`"


class NotLoggedIn(CliError):
    """A server answered 401: no token, or one it refuses (expired, revoked). Exit code 1."""


class KeepMethodRedirects(urllib.request.HTTPRedirectHandler):
    """Follows 307/308 for every method, with the same method and body: a standby master
    answers a POST (``auth login``, an operator call) with 307 to the leader. urllib follows
    them only for GET and HEAD; other redirects are left to it."""

    def redirect_request(self, req: urllib.request.Request, fp: Any, code: int, msg: str,
                         headers: Any, newurl: str) -> urllib.request.Request | None:
        if code not in (307, 308) or req.get_method() in ("GET", "HEAD"):
            return super().redirect_request(req, fp, code, msg, headers, newurl)
        return urllib.request.Request(newurl, data=req.data, method=req.get_method(),
                                      headers=dict(req.header_items()),
                                      origin_req_host=req.origin_req_host, unverifiable=True)


@dataclass(frozen=True)
class Transport:
    """How requests reach the cluster: `ssl_context` verifies https servers (None: Python's
    default, the system CAs) and may present a client certificate; `token` is sent as
    ``Authorization: token=<jwt>`` on every request when set."""

    ssl_context: ssl.SSLContext | None = None
    token: str | None = None
    _opener: urllib.request.OpenerDirector = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # No proxies: the master is usually on loopback or the cluster network, and an
        # HTTP_PROXY set for the internet must not swallow those requests.
        handlers: list[urllib.request.BaseHandler] = [urllib.request.ProxyHandler({}),
                                                      KeepMethodRedirects()]
        if self.ssl_context is not None:
            handlers.append(urllib.request.HTTPSHandler(context=self.ssl_context))
        object.__setattr__(self, "_opener", urllib.request.build_opener(*handlers))

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"token={self.token}"} if self.token else {}

    def open(self, req: urllib.request.Request | str, timeout: float) -> Any:
        """`urlopen` through this transport (token header added to a `Request`)."""
        if isinstance(req, str):
            req = urllib.request.Request(req)
        for key, value in self.headers().items():
            if not req.has_header(key):
                req.add_header(key, value)
        return self._opener.open(req, timeout=timeout)


def ssl_context_for(verify: bool | str, cert: str | None = None,
                    key: str | None = None) -> ssl.SSLContext | None:
    """The client TLS context for `core.ssl_verify` (True: None, Python's default; False: no
    verification; a path: that CA bundle), presenting `cert`/`key` when given. `CliError`
    for a CA bundle or certificate that cannot be read."""
    if verify is True and cert is None:
        return None
    try:
        if verify is False:
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        elif verify is True:
            ctx = ssl.create_default_context()
        else:
            ctx = ssl.create_default_context(cafile=verify)
        if cert is not None:
            ctx.load_cert_chain(cert, key)
    except (OSError, ssl.SSLError) as exc:
        what = verify if isinstance(verify, str) else cert
        raise CliError(f"cannot load the CA bundle or certificate {what}: {exc}") from None
    return ctx


_pinned: Transport | Callable[[], Transport] | None = None
_by_verify: dict[bool | str, Transport] = {}


def use_transport(transport: Transport | Callable[[], Transport] | None) -> None:
    """Pin the transport every request uses (None: back to the configured one); a callable
    is asked at each request (`up --secure` reloads its certificate after a rotation).
    Called by `up` (its readiness checks and login) and the benchmarks; tests reset it."""
    global _pinned
    _pinned = transport


def transport() -> Transport:
    """The pinned transport, else one built from `dcos.cli.config.core_settings` (the
    environment, the current cluster's core.toml, the config file's [core])."""
    if isinstance(_pinned, Transport):
        return _pinned
    if _pinned is not None:
        return _pinned()
    from dcos.cli import config  # config imports nothing from here; late to keep it so

    settings = config.core_settings()
    base = _by_verify.get(settings.ssl_verify)
    if base is None:
        base = _by_verify[settings.ssl_verify] = Transport(ssl_context_for(settings.ssl_verify))
    if settings.token is None:
        return base
    return Transport(base.ssl_context, settings.token)


def failure_reason(exc: BaseException) -> str:
    """A short cause of a failed request ("connection refused", "timed out", "unknown host" or
    the error's first line); used by every CLI client (here and `commands._cosmos`)."""
    inner = getattr(exc, "reason", exc)
    if isinstance(inner, ConnectionRefusedError):
        return "connection refused"
    if isinstance(inner, socket.timeout | TimeoutError):
        return "timed out"
    if isinstance(inner, socket.gaierror):
        return "unknown host"
    text = str(inner) or type(inner).__name__
    return text.splitlines()[0]


def _tls_failure(exc: BaseException) -> bool:
    return isinstance(getattr(exc, "reason", exc), ssl.SSLCertVerificationError)


def _timed_out(exc: BaseException) -> bool:
    return isinstance(getattr(exc, "reason", exc), socket.timeout | TimeoutError)


def error_line(method: str, url: str, status: int, body: bytes) -> str:
    """One line for an error answer: its JSON `message` (Marathon, Mesos, the dispatcher) or
    `description` (DC/OS IAM: {"title", "description", "code"}) and the first `details` path
    and errors (Marathon's 422), else the body's first line."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        text = body.decode("utf-8", "replace").strip().splitlines()
        return f"{method} {url} answered {status}" + (f": {text[0][:200]}" if text else "")
    message = (data.get("message") or data.get("description")) if isinstance(data, dict) else None
    line = f"{method} {url} answered {status}: {message or 'error'}"
    details = data.get("details") if isinstance(data, dict) else None
    if isinstance(details, list) and details and isinstance(details[0], dict):
        d = details[0]
        errors = d.get("errors") or []
        line += f" ({d.get('path', '')}: {'; '.join(str(e) for e in errors)})"
    return line


def request(
    method: str, url: str, body: Any = None, *, timeout: float = DEFAULT_TIMEOUT,
    server: str = "the server", base: str | None = None, login_hint: bool = True,
    headers: Mapping[str, str] | None = None,
) -> Any:
    """`method url` with `body` as JSON; the decoded JSON answer (None when empty).

    `server`/`base` name the other end in "cannot reach <server> at <base>" (default: the
    URL). Raises `Unreachable`, `TimedOut`, `NotLoggedIn` (401, unless `login_hint` is
    False), `Rejected` (4xx) or `CliError` (5xx, not JSON). `headers` are added (an explicit
    ``Authorization`` wins over the configured token).
    """
    data = None if body is None else orjson.dumps(body)
    all_headers = {"Accept": "application/json", **(headers or {})}
    if data is not None:
        all_headers["Content-Type"] = "application/json"
    req = urllib.request.Request(url, data=data, method=method, headers=all_headers)
    try:
        with transport().open(req, timeout) as response:
            raw = response.read()
    except urllib.error.HTTPError as exc:
        line = error_line(method, url, exc.code, exc.read())
        if exc.code == 401 and login_hint:
            raise NotLoggedIn(LOGIN_HINT) from None
        if 400 <= exc.code < 500:
            raise Rejected(line, exc.code) from None
        raise CliError(line) from None
    except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
        reason = failure_reason(exc)
        if _tls_failure(exc):
            raise CliError(f"cannot verify {server} at {base or url}: {reason} (check "
                           "core.ssl_verify: the cluster's CA bundle)") from None
        where = f"cannot reach {server} at {base or url}: {reason}"
        raise (TimedOut if _timed_out(exc) else Unreachable)(where) from None
    if not raw.strip():
        return None
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise CliError(f"{method} {url} did not answer JSON") from None


def get_json(
    base_url: str, path: str, timeout: float = DEFAULT_TIMEOUT, *,
    params: Mapping[str, Any] | None = None, server: str = "the master",
) -> Any:
    """GET `base_url + path` (with `params` as its query string) and decode its JSON body;
    errors as in `request`, naming the server as `server` at `base_url`."""
    url = base_url.rstrip("/") + path
    if params is not None:
        url += "?" + urllib.parse.urlencode(params)
    return request("GET", url, timeout=timeout, server=server, base=base_url)


def get_json_or_none(url: str, timeout: float = 2.0) -> Any:
    """GET `url` as JSON, or None on any failure (for optional extras such as a job page)."""
    try:
        return request("GET", url, timeout=timeout)
    except CliError:
        return None


def get_status(url: str, timeout: float = 1.0) -> int | None:
    """The HTTP status of GET `url`, or None when nothing answers (used by readiness polls)."""
    try:
        with transport().open(url, timeout) as response:
            response.read()
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
    except (urllib.error.URLError, OSError, http.client.HTTPException):
        return None


def sse_events(url: str, timeout: float, on_attached: Any = None) -> Iterator[SseEvent]:
    """Follow a ``text/event-stream`` at `url` (blocking; run it in a thread): yields each
    event until the server closes the stream. `on_attached()` is called once the stream is
    open. Raises `OSError`/`http.client.HTTPException` when it cannot be opened or breaks."""
    req = urllib.request.Request(url, headers={"Accept": "text/event-stream"})
    with transport().open(req, timeout) as stream:
        if on_attached is not None:
            on_attached()
        parser = SseParser()
        while chunk := stream.read1(65536):
            yield from parser.feed(chunk)
