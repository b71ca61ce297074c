"""Validation helpers of the app model and the health and readiness check sections (pure).

Called by `frameworks.webapp.model.app.normalize` (through `check_health`) for every app body
of POST/PUT /v2/apps and /v2/groups. Every value is type-checked before it is compared,
hashed or converted, so no body makes the model raise: a wrong type is a 422 detail like any
other invalid value (`Check` collects them by JSON path, Marathon's ``details``).
"""

from __future__ import annotations

import math
from typing import Any, TypeGuard

Json = dict[str, Any]
Errors = list[tuple[str, list[str]]]

HEALTH_PROTOCOLS = frozenset({"HTTP", "HTTPS", "TCP", "COMMAND", "MESOS_HTTP", "MESOS_HTTPS", "MESOS_TCP"})
HEALTH_DEFAULTS: Json = {
    "gracePeriodSeconds": 300,
    "intervalSeconds": 60,
    "timeoutSeconds": 20,
    "maxConsecutiveFailures": 3,
    "delaySeconds": 15,
    "ignoreHttp1xx": False,
}
READINESS_DEFAULTS: Json = {
    "name": "readinessCheck",
    "protocol": "HTTP",
    "path": "/",
    "portName": "http",
    "intervalSeconds": 30,
    "timeoutSeconds": 10,
    "httpStatusCodesForReady": [200],
    "preserveLastResponse": False,
}
MAX_SECONDS = 10.0**9  # about 30 years: larger timers are mistakes (and overflow date maths)


def num(v: Any) -> TypeGuard[int | float]:
    """A finite JSON number (not a boolean)."""
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def integer(v: Any) -> TypeGuard[int]:
    return isinstance(v, int) and not isinstance(v, bool)


def seconds(v: Any) -> TypeGuard[int | float]:
    """A number of seconds: finite, >= 0, below `MAX_SECONDS`."""
    return num(v) and 0 <= v <= MAX_SECONDS


def str_map(v: Any) -> bool:
    """A JSON object of strings (``labels``)."""
    return isinstance(v, dict) and all(isinstance(x, str) for x in v.values())


def strs(v: Any) -> TypeGuard[list[str]]:
    """A list of strings."""
    return isinstance(v, list) and all(isinstance(x, str) for x in v)


class Check:
    """Collects errors by JSON path (Marathon's ``details`` entries)."""

    def __init__(self) -> None:
        self.errors: dict[str, list[str]] = {}

    def add(self, path: str, msg: str) -> None:
        self.errors.setdefault(path, []).append(msg)

    def result(self) -> Errors:
        return list(self.errors.items())


def check_health(app: Json, c: Check) -> None:
    """``healthChecks`` and ``readinessChecks``: defaults filled, types and ranges checked
    (after the port definitions, which they refer to)."""
    hcs = app.get("healthChecks")
    if not isinstance(hcs, list):
        c.add("/healthChecks", "healthChecks must be a list")
        hcs = []
    ports = app.get("portDefinitions")
    nports = len(ports) if isinstance(ports, list) else 0
    out = []
    for i, hc in enumerate(hcs):
        where = f"/healthChecks({i})"
        if not isinstance(hc, dict):
            c.add(where, "a health check must be an object")
            continue
        hc = {**HEALTH_DEFAULTS, "protocol": "HTTP", **hc}
        _health_target(hc, where, nports, c)
        for k in ("gracePeriodSeconds", "intervalSeconds", "timeoutSeconds", "delaySeconds"):
            if not seconds(hc.get(k)):
                c.add(f"{where}/{k}", f"must be a number of seconds >= 0 (at most {MAX_SECONDS:.0f})")
        mcf = hc.get("maxConsecutiveFailures")
        if not integer(mcf) or not 0 <= mcf <= 1_000_000:
            c.add(f"{where}/maxConsecutiveFailures", "must be an integer >= 0")
        if not isinstance(hc.get("ignoreHttp1xx"), bool):
            c.add(f"{where}/ignoreHttp1xx", "must be a boolean")
        out.append(hc)
    app["healthChecks"] = out
    _check_readiness(app, c)


def _health_target(hc: Json, where: str, nports: int, c: Check) -> None:
    """A health check's protocol and what it probes (a command, or a port and a path)."""
    proto = hc["protocol"]
    if not isinstance(proto, str) or proto not in HEALTH_PROTOCOLS:
        c.add(where + "/protocol", f"protocol must be one of {', '.join(sorted(HEALTH_PROTOCOLS))}")
        return
    if proto == "COMMAND":
        cmd = hc.get("command")
        if isinstance(cmd, dict):
            cmd = cmd.get("value")
        if not isinstance(cmd, str) or not cmd:
            c.add(where + "/command", "a COMMAND health check needs command.value")
        return
    path = hc.get("path", "/")
    if path is not None and not isinstance(path, str):
        c.add(where + "/path", "path must be a string")
    if "port" in hc:
        port = hc["port"]
        if not integer(port) or not 0 <= port <= 65535:
            c.add(where + "/port", "port must be an integer in 0..65535")
        return
    idx = hc.setdefault("portIndex", 0)
    if not integer(idx) or not 0 <= idx < nports:
        c.add(where + "/portIndex", f"portIndex {idx!r} has no port (the app has {nports})")


def _check_readiness(app: Json, c: Check) -> None:
    rcs = app.get("readinessChecks")
    if not isinstance(rcs, list):
        c.add("/readinessChecks", "readinessChecks must be a list")
        app["readinessChecks"] = []
        return
    ports = app.get("portDefinitions")
    names = [d.get("name") for d in ports if isinstance(d, dict)] if isinstance(ports, list) else []
    out = []
    for i, rc in enumerate(rcs):
        where = f"/readinessChecks({i})"
        if not isinstance(rc, dict):
            c.add(where, "a readiness check must be an object")
            continue
        rc = {**READINESS_DEFAULTS, **rc}
        if rc["protocol"] not in ("HTTP", "HTTPS"):
            c.add(where + "/protocol", "protocol must be HTTP or HTTPS")
        for k in ("name", "path", "portName"):
            if not isinstance(rc[k], str):
                c.add(f"{where}/{k}", f"{k} must be a string")
        if isinstance(rc["portName"], str) and rc["portName"] not in names:
            c.add(where + "/portName", f"no port definition is named {rc['portName']!r}")
        for k in ("intervalSeconds", "timeoutSeconds"):
            if not seconds(rc[k]):
                c.add(f"{where}/{k}", "must be a number of seconds >= 0")
        codes = rc["httpStatusCodesForReady"]
        if not isinstance(codes, list) or not all(integer(x) and 100 <= x <= 599 for x in codes):
            c.add(where + "/httpStatusCodesForReady", "must be a list of HTTP status codes")
        if not isinstance(rc["preserveLastResponse"], bool):
            c.add(where + "/preserveLastResponse", "must be a boolean")
        out.append(rc)
    app["readinessChecks"] = out
