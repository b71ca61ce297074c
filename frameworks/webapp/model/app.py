"""App definitions: Marathon's defaults, validation and partial merge (pure).

Called by the API (POST/PUT /v2/apps, /v2/groups) before anything changes: `normalize` turns a
request body into a complete definition with Marathon's defaults, or returns the problems as
``[(path, [error, ...])]`` that the API sends back as a 422 ``details`` list. `merge` applies a
partial update (PUT) over the current definition. The complete definition (a dict with
Marathon's field names, so the JSON the API returns is the definition itself plus computed
fields) is then parsed into the typed `frameworks.webapp.model.spec.AppSpec` the core reads.
"""

from __future__ import annotations

import copy
import re
from typing import Any, TypeGuard

Json = dict[str, Any]
Errors = list[tuple[str, list[str]]]

SEGMENT = re.compile(r"^(([a-z0-9]|[a-z0-9][a-z0-9\-]*[a-z0-9])\.)*([a-z0-9]|[a-z0-9][a-z0-9\-]*[a-z0-9])$")
OPERATORS = {"UNIQUE", "CLUSTER", "GROUP_BY", "LIKE", "UNLIKE", "MAX_PER", "IS"}
HEALTH_PROTOCOLS = {"HTTP", "HTTPS", "TCP", "COMMAND", "MESOS_HTTP", "MESOS_HTTPS", "MESOS_TCP"}
KILL_SELECTIONS = {"YOUNGEST_FIRST", "OLDEST_FIRST"}
# Read-only fields a client may send back (GET then PUT); they are ignored on input.
READ_ONLY = {
    "tasks", "deployments", "tasksRunning", "tasksStaged", "tasksHealthy", "tasksUnhealthy",
    "lastTaskFailure", "taskStats", "readinessCheckResults", "version", "versionInfo",
}  # fmt: skip
# Fields whose change is only a scaling (not a new configuration needing a restart).
SCALING_FIELDS = {"instances"}

DEFAULTS: Json = {
    "cmd": None,
    "args": None,
    "user": None,
    "env": {},
    "instances": 1,
    "cpus": 1.0,
    "mem": 128.0,
    "disk": 0.0,
    "gpus": 0,
    "executor": "",
    "constraints": [],
    "uris": [],
    "fetch": [],
    "storeUrls": [],
    "backoffSeconds": 1,
    "backoffFactor": 1.15,
    "maxLaunchDelaySeconds": 3600,
    "healthChecks": [],
    "readinessChecks": [],
    "dependencies": [],
    "upgradeStrategy": {"minimumHealthCapacity": 1.0, "maximumOverCapacity": 1.0},
    "unreachableStrategy": {"inactiveAfterSeconds": 300, "expungeAfterSeconds": 600},
    "labels": {},
    "killSelection": "YOUNGEST_FIRST",
    "requirePorts": False,
    "taskKillGracePeriodSeconds": None,
    "acceptedResourceRoles": None,
    "secrets": {},
}
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


def absolute(path: str, base: str = "/") -> str:
    """A Marathon path made absolute against `base`; doubled slashes and a trailing one go."""
    if not path.startswith("/"):
        path = base.rstrip("/") + "/" + path
    parts: list[str] = []
    for seg in path.split("/"):
        if seg in ("", "."):
            continue
        if seg == "..":
            if parts:
                parts.pop()
            continue
        parts.append(seg)
    return "/" + "/".join(parts)


def path_errors(path: str) -> list[str]:
    """Why `path` (absolute) is not a valid Marathon id; [] when it is."""
    segs = [s for s in path.split("/") if s]
    if not segs:
        return ["path must not be empty or the root group"]
    bad = [s for s in segs if not SEGMENT.match(s)]
    if bad:
        return [
            f"'{bad[0]}' is not a valid path segment: use lowercase letters, digits, dashes "
            "and dots; start and end with a letter or digit"
        ]
    return []


def _num(v: Any) -> TypeGuard[int | float]:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


class _Check:
    """Collects errors by JSON path (Marathon's ``details`` entries)."""

    def __init__(self) -> None:
        self.errors: dict[str, list[str]] = {}

    def add(self, path: str, msg: str) -> None:
        self.errors.setdefault(path, []).append(msg)

    def result(self) -> Errors:
        return list(self.errors.items())


def normalize(raw: Any, base: str = "/") -> tuple[Json | None, Errors]:
    """A complete app definition from a request body, or (None, errors)."""
    if not isinstance(raw, dict):
        return None, [("/", ["an app definition must be a JSON object"])]
    c = _Check()
    app: Json = copy.deepcopy(DEFAULTS)
    for k, v in raw.items():
        if k not in READ_ONLY:
            app[k] = copy.deepcopy(v)
    if not isinstance(app.get("id"), str) or not app["id"].strip("/"):
        c.add("/id", "id is required and must be a non-empty path")
    else:
        app["id"] = absolute(app["id"], base)
        for e in path_errors(app["id"]):
            c.add("/id", e)
    _check_command(app, c)
    _check_resources(app, c)
    _check_ports(app, c)
    _check_constraints(app, c)
    _check_strategies(app, c)
    _check_health(app, c)
    _check_misc(app, c, base)
    if c.errors:
        return None, c.result()
    return app, []


def _check_command(app: Json, c: _Check) -> None:
    cmd, args = app.get("cmd"), app.get("args")
    if cmd is not None and (not isinstance(cmd, str) or not cmd.strip()):
        c.add("/cmd", "cmd must be a non-empty string")
    if args is not None and (not isinstance(args, list) or not all(isinstance(a, str) for a in args)):
        c.add("/args", "args must be a list of strings")
    if cmd is not None and args:
        c.add("/", "AppDefinition must not contain both 'cmd' and 'args'")
    if cmd is None and not args and not app.get("container"):
        c.add("/", "AppDefinition must either contain one of 'cmd' or 'args', and/or a 'container'")


def _check_resources(app: Json, c: _Check) -> None:
    for key in ("cpus", "mem", "disk"):
        if not _num(app.get(key)) or app[key] < 0:
            c.add(f"/{key}", "got " + repr(app.get(key)) + ", expected a number >= 0")
        else:
            app[key] = float(app[key])
    for key in ("gpus", "instances"):
        if not _int(app.get(key)) or app[key] < 0:
            c.add(f"/{key}", f"got {app.get(key)!r}, expected an integer >= 0")
    if _num(app.get("cpus")) and _num(app.get("mem")) and app["cpus"] == 0 and app["mem"] == 0:
        c.add("/cpus", "an app needs some cpus or mem")


def _check_ports(app: Json, c: _Check) -> None:
    defs = app.get("portDefinitions")
    ports = app.pop("ports", None)
    if defs is None and ports is not None:
        if not isinstance(ports, list) or not all(_int(p) for p in ports):
            c.add("/ports", "ports must be a list of integers")
            return
        defs = [{"port": p} for p in ports]
    if defs is None:
        defs = [{"port": 0}]
    if not isinstance(defs, list):
        c.add("/portDefinitions", "portDefinitions must be a list")
        return
    out, seen_ports, seen_names = [], set(), set()
    for i, d in enumerate(defs):
        if not isinstance(d, dict):
            c.add(f"/portDefinitions({i})", "a port definition must be an object")
            continue
        p = d.get("port", 0)
        if not _int(p) or not 0 <= p <= 65535:
            c.add(f"/portDefinitions({i})/port", "port must be an integer in 0..65535")
            continue
        if p and p in seen_ports:
            c.add("/portDefinitions", f"port {p} is used twice: ports must be unique")
        seen_ports.add(p)
        name = d.get("name")
        if name is not None:
            if not isinstance(name, str) or name in seen_names:
                c.add(f"/portDefinitions({i})/name", "port names must be unique strings")
            seen_names.add(name)
        proto = d.get("protocol", "tcp")
        if proto not in ("tcp", "udp", "udp,tcp", "tcp,udp"):
            c.add(f"/portDefinitions({i})/protocol", "protocol must be tcp, udp or udp,tcp")
        pd: Json = {"port": p, "protocol": proto}
        if name is not None:
            pd["name"] = name
        labels = d.get("labels")
        if labels:
            pd["labels"] = labels
        out.append(pd)
    if app.get("requirePorts") and any(d["port"] == 0 for d in out):
        c.add("/requirePorts", "requirePorts needs every port to be a fixed number (not 0)")
    app["portDefinitions"] = out


def constraint_errors(con: Any) -> list[str]:
    """Why one constraint ``[field, OP, value?]`` is invalid; [] when it is fine."""
    if not isinstance(con, list) or not 2 <= len(con) <= 3 or not all(isinstance(x, str) for x in con):
        return ["each constraint must be [field, OPERATOR] or [field, OPERATOR, value] (strings)"]
    field, op = con[0], con[1]
    value = con[2] if len(con) == 3 else None
    if not field:
        return ["constraint field must not be empty"]
    if op not in OPERATORS:
        return [f"unknown constraint operator {op!r}; use one of {', '.join(sorted(OPERATORS))}"]
    if op in ("LIKE", "UNLIKE", "IS", "MAX_PER") and value is None:
        return [f"{op} needs a value"]
    if op in ("MAX_PER", "GROUP_BY") and value is not None and (not value.isdigit() or int(value) < 1):
        return [f"{op} value must be a positive integer"]
    if op in ("LIKE", "UNLIKE"):
        try:
            re.compile(value or "")
        except re.error as e:
            return [f"{op} value is not a valid regular expression: {e}"]
    if op == "UNIQUE" and value is not None:
        return ["UNIQUE takes no value"]
    return []


def _check_constraints(app: Json, c: _Check) -> None:
    cons = app.get("constraints")
    if not isinstance(cons, list):
        c.add("/constraints", "constraints must be a list")
        return
    for i, con in enumerate(cons):
        for e in constraint_errors(con):
            c.add(f"/constraints({i})", e)
    roles = app.get("acceptedResourceRoles")
    if roles is not None and (
        not isinstance(roles, list) or not roles or not all(isinstance(r, str) and r for r in roles)
    ):
        c.add("/acceptedResourceRoles", "acceptedResourceRoles must be a non-empty list of roles")


def _check_strategies(app: Json, c: _Check) -> None:
    us = app.get("upgradeStrategy")
    if not isinstance(us, dict):
        c.add("/upgradeStrategy", "upgradeStrategy must be an object")
    else:
        us = {**DEFAULTS["upgradeStrategy"], **us}
        for k in ("minimumHealthCapacity", "maximumOverCapacity"):
            if not _num(us.get(k)) or not 0 <= us[k] <= 1:
                c.add(f"/upgradeStrategy/{k}", "must be a number between 0.0 and 1.0")
        app["upgradeStrategy"] = {k: us[k] for k in ("minimumHealthCapacity", "maximumOverCapacity")}
    un = app.get("unreachableStrategy")
    if un == "disabled":
        return
    if not isinstance(un, dict):
        c.add("/unreachableStrategy", "unreachableStrategy must be an object or \"disabled\"")
        return
    un = {**DEFAULTS["unreachableStrategy"], **un}
    ia, ea = un.get("inactiveAfterSeconds"), un.get("expungeAfterSeconds")
    if not _num(ia) or ia < 0 or not _num(ea) or ea < 0:
        c.add("/unreachableStrategy", "inactiveAfterSeconds and expungeAfterSeconds must be >= 0")
    elif ea < ia:
        c.add("/unreachableStrategy/expungeAfterSeconds",
              "expungeAfterSeconds must be greater than or equal to inactiveAfterSeconds")  # fmt: skip
    app["unreachableStrategy"] = {"inactiveAfterSeconds": ia, "expungeAfterSeconds": ea}


def _check_health(app: Json, c: _Check) -> None:
    hcs = app.get("healthChecks")
    if not isinstance(hcs, list):
        c.add("/healthChecks", "healthChecks must be a list")
        return
    nports = len(app.get("portDefinitions") or [])
    out = []
    for i, hc in enumerate(hcs):
        where = f"/healthChecks({i})"
        if not isinstance(hc, dict):
            c.add(where, "a health check must be an object")
            continue
        hc = {**HEALTH_DEFAULTS, "protocol": "HTTP", **hc}
        proto = hc["protocol"]
        if proto not in HEALTH_PROTOCOLS:
            c.add(where + "/protocol", f"protocol must be one of {', '.join(sorted(HEALTH_PROTOCOLS))}")
        if proto == "COMMAND":
            cmd = hc.get("command")
            if isinstance(cmd, dict):
                cmd = cmd.get("value")
            if not isinstance(cmd, str) or not cmd:
                c.add(where + "/command", "a COMMAND health check needs command.value")
        elif "port" not in hc:
            idx = hc.setdefault("portIndex", 0)
            if not _int(idx) or not 0 <= idx < max(nports, 0) :
                c.add(where + "/portIndex", f"portIndex {idx!r} has no port (the app has {nports})")
        for k in ("gracePeriodSeconds", "intervalSeconds", "timeoutSeconds", "maxConsecutiveFailures", "delaySeconds"):
            if not _num(hc.get(k)) or hc[k] < 0:
                c.add(f"{where}/{k}", "must be a number >= 0")
        out.append(hc)
    app["healthChecks"] = out
    rcs = app.get("readinessChecks")
    if not isinstance(rcs, list):
        c.add("/readinessChecks", "readinessChecks must be a list")
        return
    names = [d.get("name") for d in app.get("portDefinitions") or []]
    rout = []
    for i, rc in enumerate(rcs):
        if not isinstance(rc, dict):
            c.add(f"/readinessChecks({i})", "a readiness check must be an object")
            continue
        rc = {**READINESS_DEFAULTS, **rc}
        if rc["protocol"] not in ("HTTP", "HTTPS"):
            c.add(f"/readinessChecks({i})/protocol", "protocol must be HTTP or HTTPS")
        if rc["portName"] not in names:
            c.add(f"/readinessChecks({i})/portName", f"no port definition is named {rc['portName']!r}")
        rout.append(rc)
    app["readinessChecks"] = rout


def _check_misc(app: Json, c: _Check, base: str) -> None:
    if not _num(app.get("backoffSeconds")) or app["backoffSeconds"] < 0:
        c.add("/backoffSeconds", "must be a number >= 0")
    if not _num(app.get("backoffFactor")) or app["backoffFactor"] < 1:
        c.add("/backoffFactor", "must be a number >= 1.0")
    if not _num(app.get("maxLaunchDelaySeconds")) or app["maxLaunchDelaySeconds"] < 0:
        c.add("/maxLaunchDelaySeconds", "must be a number >= 0")
    tk = app.get("taskKillGracePeriodSeconds")
    if tk is not None and (not _num(tk) or tk < 0):
        c.add("/taskKillGracePeriodSeconds", "must be a number >= 0")
    if app.get("killSelection") not in KILL_SELECTIONS:
        c.add("/killSelection", "killSelection must be YOUNGEST_FIRST or OLDEST_FIRST")
    env = app.get("env")
    if not isinstance(env, dict) or not all(
        isinstance(v, str) or (isinstance(v, dict) and "secret" in v) for v in env.values()
    ):
        c.add("/env", "env must map names to strings (or {\"secret\": name})")
    labels = app.get("labels")
    if not isinstance(labels, dict) or not all(isinstance(v, str) for v in labels.values()):
        c.add("/labels", "labels must map names to strings")
    deps = app.get("dependencies")
    if not isinstance(deps, list) or not all(isinstance(d, str) for d in deps):
        c.add("/dependencies", "dependencies must be a list of app or group paths")
    else:
        parent = app["id"].rsplit("/", 1)[0] or "/" if isinstance(app.get("id"), str) else base
        app["dependencies"] = [absolute(d, parent) for d in deps]
    uris, fetch = app.get("uris") or [], app.get("fetch") or []
    if not isinstance(uris, list) or not isinstance(fetch, list):
        c.add("/fetch", "fetch and uris must be lists")
    elif uris and not fetch:
        app["fetch"] = [{"uri": u, "extract": True, "executable": False, "cache": False} for u in uris]
    if app.get("user") is not None and not isinstance(app["user"], str):
        c.add("/user", "user must be a string")


def merge(current: Json, patch: Any) -> Any:
    """A PUT body applied over the current definition (Marathon's partial update): keys
    present in `patch` replace the current ones; `ports` replaces `portDefinitions`."""
    if not isinstance(patch, dict):
        return patch
    out = copy.deepcopy(current)
    for k in READ_ONLY:
        out.pop(k, None)
    if "ports" in patch and "portDefinitions" not in patch:
        out.pop("portDefinitions", None)
    for k, v in patch.items():
        if k not in READ_ONLY:
            out[k] = copy.deepcopy(v)
    out["id"] = current["id"]
    return out


def config_of(app: Json) -> Json:
    """The part of a definition whose change needs new tasks (everything but scaling and
    the version stamps)."""
    return {k: v for k, v in app.items() if k not in SCALING_FIELDS and k not in READ_ONLY}
