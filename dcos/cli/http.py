"""The CLI's one HTTP client: synchronous JSON requests and a server-sent-event reader.

Called by: every command that talks to a server -- the master and agents (`get_json`), the
webapp (`commands.deployment.WebappClient`), the batch dispatcher (`request`), `up`'s
readiness polls (`get_status`) and the deployment event listener (`sse_events`). One request
per call, no event loop, no proxies. Every failure becomes a one-line `CliError` whose class
gives the exit code (`errors`): `Unreachable` (3), `Rejected` for a 4xx answer (4),
`TimedOut` (5), else `CliError` (1; a 5xx answer, an answer that is not JSON).
"""

from __future__ import annotations

import http.client
import socket
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator, Mapping
from typing import Any

import orjson

from dcos.cli.errors import CliError, Rejected, TimedOut, Unreachable
from dcos.common.sse_parser import SseEvent, SseParser

DEFAULT_TIMEOUT = 10.0

# No proxies: the master is usually on loopback or the cluster network, and an HTTP_PROXY set for
# the internet must not swallow those requests.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


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


def _timed_out(exc: BaseException) -> bool:
    return isinstance(getattr(exc, "reason", exc), socket.timeout | TimeoutError)


def error_line(method: str, url: str, status: int, body: bytes) -> str:
    """One line for an error answer: its JSON `message` (Marathon, Mesos, the dispatcher) and
    the first `details` path and errors (Marathon's 422), else the body's first line."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        text = body.decode("utf-8", "replace").strip().splitlines()
        return f"{method} {url} answered {status}" + (f": {text[0][:200]}" if text else "")
    message = data.get("message") if isinstance(data, dict) else None
    line = f"{method} {url} answered {status}: {message or 'error'}"
    details = data.get("details") if isinstance(data, dict) else None
    if isinstance(details, list) and details and isinstance(details[0], dict):
        d = details[0]
        errors = d.get("errors") or []
        line += f" ({d.get('path', '')}: {'; '.join(str(e) for e in errors)})"
    return line


def request(
    method: str, url: str, body: Any = None, *, timeout: float = DEFAULT_TIMEOUT,
    server: str = "the server", base: str | None = None,
) -> Any:
    """`method url` with `body` as JSON; the decoded JSON answer (None when empty).

    `server`/`base` name the other end in "cannot reach <server> at <base>" (default: the
    URL). Raises `Unreachable`, `TimedOut`, `Rejected` (4xx) or `CliError` (5xx, not JSON).
    """
    data = None if body is None else orjson.dumps(body)
    headers = {"Accept": "application/json"}
    if data is not None:
        headers["Content-Type"] = "application/json"
    req = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with _OPENER.open(req, timeout=timeout) as response:
            raw = response.read()
    except urllib.error.HTTPError as exc:
        line = error_line(method, url, exc.code, exc.read())
        if 400 <= exc.code < 500:
            raise Rejected(line, exc.code) from None
        raise CliError(line) from None
    except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
        where = f"cannot reach {server} at {base or url}: {failure_reason(exc)}"
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
        with _OPENER.open(url, timeout=timeout) as response:
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
    with _OPENER.open(req, timeout=timeout) as stream:
        if on_attached is not None:
            on_attached()
        parser = SseParser()
        while chunk := stream.read1(65536):
            yield from parser.feed(chunk)
