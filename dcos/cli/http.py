"""A tiny synchronous HTTP client for the CLI (one request per command, no event loop).

Called by: the `node`/`framework`/`task`/`batch` commands and `task log`/`ls` (`get_json`) and by `up`'s readiness checks
(`get_status`). Failures become `CliError` with one clear line naming the URL.
"""

from __future__ import annotations

import http.client
import socket
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from typing import Any

import orjson

from dcos.cli.errors import CliError

DEFAULT_TIMEOUT = 10.0

# No proxies: the master is usually on loopback or the cluster network, and an HTTP_PROXY set for
# the internet must not swallow those requests.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _reason(exc: BaseException) -> str:
    inner = getattr(exc, "reason", exc)
    if isinstance(inner, ConnectionRefusedError):
        return "connection refused"
    if isinstance(inner, socket.timeout | TimeoutError):
        return "timed out"
    if isinstance(inner, socket.gaierror):
        return "unknown host"
    text = str(inner) or type(inner).__name__
    return text.splitlines()[0]


def get_json(
    base_url: str, path: str, timeout: float = DEFAULT_TIMEOUT, *,
    params: Mapping[str, Any] | None = None, server: str = "the master",
) -> Any:
    """GET `base_url + path` (with `params` as its query string) and decode its JSON body.

    Raises `CliError` when the server cannot be reached (naming it as `server`), answers
    other than 200, or sends something that is not JSON.
    """
    url = base_url.rstrip("/") + path
    if params is not None:
        url += "?" + urllib.parse.urlencode(params)
    request = urllib.request.Request(url, headers={"Accept": "application/json"})
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            body = response.read()
    except urllib.error.HTTPError as exc:
        detail = exc.read().decode("utf-8", "replace").strip().splitlines()
        suffix = f": {detail[0][:200]}" if detail else ""
        raise CliError(f"GET {url} answered {exc.code} {exc.reason}{suffix}") from None
    except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
        raise CliError(f"cannot reach {server} at {base_url}: {_reason(exc)}") from None
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        raise CliError(f"GET {url} did not answer JSON") from None


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
