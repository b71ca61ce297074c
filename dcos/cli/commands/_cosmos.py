"""The CLI's client of the package service (Cosmos API): one POST per call with the vendor
media types Cosmos and the DC/OS CLI used, and Cosmos error bodies as one line.

Every request names its body with the endpoint's request type in `Content-Type` (always
version v1, as the DC/OS CLI sent) and asks for the newest response type this CLI reads in
`Accept` (describe v3, install v2, the rest v1: `dcos.packaging.mediatypes.ENDPOINTS`). An answer
whose `Content-Type` is not the type asked for is refused, as the DC/OS CLI did. Keys whose
value is None are left out of request bodies.

Called by: `dcos.cli.commands.package` (every `dcos-py package ...` command).

Errors: nothing answering is `Unreachable` (exit 3), a timeout `TimedOut` (5); a Cosmos error
body (`{type, message, data}`, `application/vnd.dcos.package.error+json`) becomes a
`CosmosError` (exit 1) whose message is one line: for `JsonSchemaMismatch` every failing option
path with its reason, for `AmbiguousAppId` a hint to use --app-id or --all, for
`PackageAlreadyInstalled` how to install another instance.
"""

from __future__ import annotations

import http.client
import socket
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

import orjson

from dcos.cli.errors import CliError, TimedOut, Unreachable
from dcos.cli.http import LOGIN_HINT, NotLoggedIn, failure_reason, transport
from dcos.packaging import mediatypes as mt

DEFAULT_TIMEOUT = 60.0  # an install or uninstall waits on the webapp inside the service


class CosmosError(CliError):
    """The package service answered an error body: `kind` is its `type` (PackageNotFound,
    JsonSchemaMismatch ...), `status` the HTTP status, `body` the decoded error."""

    def __init__(self, message: str, kind: str, status: int, body: Any = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.status = status
        self.body = body


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def schema_errors(data: Any) -> list[tuple[str, str]]:
    """(path, reason) for each error of a `JsonSchemaMismatch` body's `data.errors`: Cosmos'
    shape (`instance.pointer`, `message`, or `found`/`expected`/`unwanted`) or a plain
    `path`."""
    errors = data.get("errors") if isinstance(data, dict) else None
    out: list[tuple[str, str]] = []
    for err in errors if isinstance(errors, list) else []:
        if not isinstance(err, dict):
            out.append(("", _one_line(str(err))))
            continue
        instance = err.get("instance")
        path = instance.get("pointer") if isinstance(instance, dict) else err.get("path")
        reason = err.get("message")
        if not reason:
            parts = []
            if err.get("unwanted"):
                parts.append(f"unexpected properties {err['unwanted']}")
            if err.get("found"):
                parts.append(f"found {err['found']}")
            if err.get("expected"):
                expected = err["expected"]
                text = ",".join(map(str, expected)) if isinstance(expected, list) else expected
                parts.append(f"expected {text}")
            reason = ", ".join(parts) or "invalid"
        out.append((str(path or ""), _one_line(str(reason))))
    return out


def error_message(body: Any, status: int) -> tuple[str, str]:
    """(type, one-line message) for a Cosmos error body (or any other answer)."""
    if not isinstance(body, dict) or not isinstance(body.get("type", ""), str):
        return "", f"the package service answered {status}"
    kind = str(body.get("type") or "")
    message = _one_line(str(body.get("message") or kind or f"error {status}"))
    data = body.get("data")
    if kind == mt.ErrorType.JSON_SCHEMA_MISMATCH:
        paths = schema_errors(data)
        if paths:
            message += ": " + "; ".join(f"{p or '/'}: {r}" for p, r in paths)
    elif kind == mt.ErrorType.PACKAGE_ALREADY_INSTALLED:
        message += (" under that app id (dcos-py package list shows it; install another "
                    "instance under another id: --app-id, or the package's name option)")
    elif kind == mt.ErrorType.AMBIGUOUS_APP_ID:
        message += " (use --app-id to pick one, or --all to uninstall every one)"
    elif kind == mt.ErrorType.MARATHON_BAD_RESPONSE and isinstance(data, dict):
        details = [e.get("error") or "; ".join(map(str, e.get("errors") or []))
                   for e in data.get("errors") or [] if isinstance(e, dict)]
        if any(details):
            message += ": " + "; ".join(_one_line(d) for d in details if d)
    return kind, message


def _prune(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if v is not None}


@dataclass
class CosmosClient:
    """Calls to one package service at `base` (its root URL, e.g. http://127.0.0.1:7070)."""

    base: str
    timeout: float = DEFAULT_TIMEOUT

    def call(self, path: str, body: dict[str, Any] | None = None) -> Any:
        """POST `path` (e.g. ``/package/search``) with `body`; the decoded answer."""
        endpoint = mt.ENDPOINTS[path]
        accept = endpoint.responses[0]
        headers = {"Accept": accept}
        data = None
        if endpoint.request is not None:
            headers["Content-Type"] = endpoint.request
            data = orjson.dumps(_prune(body or {}))
        method = "POST" if endpoint.request is not None else "GET"
        req = urllib.request.Request(self.base + path, data=data, method=method, headers=headers)
        try:
            with transport().open(req, self.timeout) as response:  # CA + token (issue 13)
                raw = response.read()
                ctype = response.headers.get("Content-Type", "")
        except urllib.error.HTTPError as exc:
            if exc.code == 401:
                raise NotLoggedIn(LOGIN_HINT) from None
            raise self._error(path, exc.code, exc.read()) from None
        except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
            where = f"cannot reach the package service at {self.base}: {failure_reason(exc)}"
            timed_out = isinstance(getattr(exc, "reason", exc), socket.timeout | TimeoutError)
            raise (TimedOut if timed_out else Unreachable)(where) from None
        if not mt.content_type_ok(ctype, accept):
            raise CliError(f"POST {self.base}{path}: the package service answered "
                           f"{ctype or 'no Content-Type'}, expected {accept}")
        try:
            return orjson.loads(raw) if raw.strip() else None
        except orjson.JSONDecodeError:
            raise CliError(f"POST {self.base}{path} did not answer JSON") from None

    def _error(self, path: str, status: int, raw: bytes) -> CliError:
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError:
            first = raw.decode("utf-8", "replace").strip().splitlines()
            tail = f": {first[0][:200]}" if first else ""
            if status == 404:
                return CliError(f"{self.base} has no {path} (is it a dcos-py package "
                                f"service?){tail}")
            return CliError(f"POST {self.base}{path} answered {status}{tail}")
        kind, message = error_message(body, status)
        return CosmosError(message, kind, status, body)
