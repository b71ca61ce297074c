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
from typing import Any

from frameworks.webapp.model.checks import (
    HEALTH_DEFAULTS,
    HEALTH_PROTOCOLS,
    READINESS_DEFAULTS,
    Check,
    check_health,
    integer,
    num,
    seconds,
    str_map,
    strs,
)
from frameworks.webapp.model.paths import SEGMENT, absolute, id_errors, path_errors
from frameworks.webapp.model.secrets import check_secrets

Json = dict[str, Any]
Errors = list[tuple[str, list[str]]]

__all__ = [
    "HEALTH_DEFAULTS", "HEALTH_PROTOCOLS", "READINESS_DEFAULTS", "SEGMENT", "absolute", "config_of",
    "constraint_errors", "merge", "normalize", "path_errors",
]  # fmt: skip
MAX_INSTANCES = 1_000_000
OPERATORS = {"UNIQUE", "CLUSTER", "GROUP_BY", "LIKE", "UNLIKE", "MAX_PER", "IS"}
KILL_SELECTIONS = {"YOUNGEST_FIRST", "OLDEST_FIRST"}
USER = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,31}$")  # a POSIX user name (tasks run as it)
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
def normalize(raw: Any, base: str = "/") -> tuple[Json | None, Errors]:
    """A complete app definition from a request body, or (None, errors)."""
    if not isinstance(raw, dict):
        return None, [("/", ["an app definition must be a JSON object"])]
    c = Check()
    app: Json = copy.deepcopy(DEFAULTS)
    for k, v in raw.items():
        if k not in READ_ONLY:
            app[k] = copy.deepcopy(v)
    if not isinstance(app.get("id"), str) or not app["id"].strip("/"):
        c.add("/id", "id is required and must be a non-empty path")
        app["id"] = None
    else:
        app["id"], errs = id_errors(app["id"], base)
        for e in errs:
            c.add("/id", e)
    _check_command(app, c)
    _check_resources(app, c)
    _check_ports(app, c)
    _check_constraints(app, c)
    _check_strategies(app, c)
    check_health(app, c)
    _check_misc(app, c, base)
    check_secrets(app, c.add)
    if c.errors:
        return None, c.result()
    return app, []


def _check_command(app: Json, c: Check) -> None:
    cmd, args = app.get("cmd"), app.get("args")
    if cmd is not None and (not isinstance(cmd, str) or not cmd.strip()):
        c.add("/cmd", "cmd must be a non-empty string")
    if args is not None and (not isinstance(args, list) or not all(isinstance(a, str) for a in args)):
        c.add("/args", "args must be a list of strings")
    if cmd is not None and args:
        c.add("/", "AppDefinition must not contain both 'cmd' and 'args'")
    if cmd is None and not args and not app.get("container"):
        c.add("/", "AppDefinition must either contain one of 'cmd' or 'args', and/or a 'container'")


def _check_resources(app: Json, c: Check) -> None:
    for key in ("cpus", "mem", "disk"):
        if not num(app.get(key)) or app[key] < 0:
            c.add(f"/{key}", "got " + repr(app.get(key))[:40] + ", expected a number >= 0")
        else:
            app[key] = float(app[key])
    for key in ("gpus", "instances"):
        if not integer(app.get(key)) or not 0 <= app[key] <= MAX_INSTANCES:
            c.add(f"/{key}", f"got {repr(app.get(key))[:40]}, expected an integer in 0..{MAX_INSTANCES}")
    if num(app.get("cpus")) and num(app.get("mem")) and app["cpus"] == 0 and app["mem"] == 0:
        c.add("/cpus", "an app needs some cpus or mem")


def _port_defs(app: Json, c: Check) -> list[Any]:
    """The port definitions as given (``portDefinitions``, else ``ports``, else one port 0)."""
    defs = app.get("portDefinitions")
    ports = app.pop("ports", None)
    if defs is None and ports is not None:
        if not isinstance(ports, list) or not all(integer(p) for p in ports):
            c.add("/ports", "ports must be a list of integers")
            return []
        return [{"port": p} for p in ports]
    if defs is None:
        return [{"port": 0}]
    if not isinstance(defs, list):
        c.add("/portDefinitions", "portDefinitions must be a list")
        return []
    return defs


def _check_ports(app: Json, c: Check) -> None:
    out: list[Json] = []
    seen_ports: set[int] = set()
    seen_names: set[str] = set()
    for i, d in enumerate(_port_defs(app, c)):
        where = f"/portDefinitions({i})"
        if not isinstance(d, dict):
            c.add(where, "a port definition must be an object")
            continue
        p = d.get("port", 0)
        if not integer(p) or not 0 <= p <= 65535:
            c.add(where + "/port", "port must be an integer in 0..65535")
            continue
        if p and p in seen_ports:
            c.add("/portDefinitions", f"port {p} is used twice: ports must be unique")
        seen_ports.add(p)
        name = d.get("name")
        if name is not None and (not isinstance(name, str) or name in seen_names):
            c.add(where + "/name", "port names must be unique strings")
            name = None
        if name is not None:
            seen_names.add(name)
        proto = d.get("protocol", "tcp")
        if proto not in ("tcp", "udp", "udp,tcp", "tcp,udp"):
            c.add(where + "/protocol", "protocol must be tcp, udp or udp,tcp")
        pd: Json = {"port": p, "protocol": proto}
        if name is not None:
            pd["name"] = name
        labels = d.get("labels")
        if labels is not None and not str_map(labels):
            c.add(where + "/labels", "labels must map names to strings")
        elif labels:
            pd["labels"] = labels
        out.append(pd)
    if not isinstance(app.get("requirePorts"), bool):
        c.add("/requirePorts", "requirePorts must be a boolean")
    elif app["requirePorts"] and any(d["port"] == 0 for d in out):
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
    if op in ("MAX_PER", "GROUP_BY") and value is not None and (
            not (value.isascii() and value.isdigit()) or int(value) < 1):  # "¹".isdigit()
        return [f"{op} value must be a positive integer"]
    if op in ("LIKE", "UNLIKE"):
        try:
            re.compile(value or "")
        except re.error as e:
            return [f"{op} value is not a valid regular expression: {e}"]
    if op == "UNIQUE" and value is not None:
        return ["UNIQUE takes no value"]
    return []


def _check_constraints(app: Json, c: Check) -> None:
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


def _check_strategies(app: Json, c: Check) -> None:
    us = app.get("upgradeStrategy")
    if not isinstance(us, dict):
        c.add("/upgradeStrategy", "upgradeStrategy must be an object")
    else:
        us = {**DEFAULTS["upgradeStrategy"], **us}
        for k in ("minimumHealthCapacity", "maximumOverCapacity"):
            if not num(us.get(k)) or not 0 <= us[k] <= 1:
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
    if not seconds(ia) or not seconds(ea):
        c.add("/unreachableStrategy", "inactiveAfterSeconds and expungeAfterSeconds must be numbers of seconds >= 0")
    elif ea < ia:
        c.add("/unreachableStrategy/expungeAfterSeconds",
              "expungeAfterSeconds must be greater than or equal to inactiveAfterSeconds")  # fmt: skip
    app["unreachableStrategy"] = {"inactiveAfterSeconds": ia, "expungeAfterSeconds": ea}


def _check_misc(app: Json, c: Check, base: str) -> None:
    if not seconds(app.get("backoffSeconds")):
        c.add("/backoffSeconds", "must be a number of seconds >= 0")
    if not num(app.get("backoffFactor")) or not 1 <= app["backoffFactor"] <= 1000:
        c.add("/backoffFactor", "must be a number >= 1.0")
    if not seconds(app.get("maxLaunchDelaySeconds")):
        c.add("/maxLaunchDelaySeconds", "must be a number of seconds >= 0")
    tk = app.get("taskKillGracePeriodSeconds")
    if tk is not None and not seconds(tk):
        c.add("/taskKillGracePeriodSeconds", "must be a number of seconds >= 0")
    if not isinstance(app.get("killSelection"), str) or app["killSelection"] not in KILL_SELECTIONS:
        c.add("/killSelection", "killSelection must be YOUNGEST_FIRST or OLDEST_FIRST")
    env = app.get("env")
    if not isinstance(env, dict) or not all(
        isinstance(v, str) or (isinstance(v, dict) and isinstance(v.get("secret"), str)) for v in env.values()
    ):
        c.add("/env", "env must map names to strings (or {\"secret\": name})")
    if not str_map(app.get("labels")):
        c.add("/labels", "labels must map names to strings")
    for key in ("secrets", "container"):
        if app.get(key) is not None and not isinstance(app[key], dict):
            c.add(f"/{key}", f"{key} must be an object")
    for key in ("executor", "user"):
        if app.get(key) is not None and not isinstance(app[key], str):
            c.add(f"/{key}", f"{key} must be a string")
    if isinstance(app.get("user"), str) and app["user"] and not USER.match(app["user"]):
        c.add("/user", "user must be a user name (letters, digits, '_', '-', '.'), or absent")
    deps = app.get("dependencies")
    if not strs(deps):
        c.add("/dependencies", "dependencies must be a list of app or group paths")
    else:
        parent = app["id"].rsplit("/", 1)[0] or "/" if isinstance(app.get("id"), str) else base
        app["dependencies"] = [absolute(d, parent) for d in deps]
    _check_fetch(app, c)


def _check_fetch(app: Json, c: Check) -> None:
    """``fetch`` (objects with a ``uri``) or the older ``uris`` (strings), and ``storeUrls``."""
    uris, fetch = app.get("uris") or [], app.get("fetch") or []
    if not strs(uris):
        c.add("/uris", "uris must be a list of strings")
    elif not isinstance(fetch, list):
        c.add("/fetch", "fetch must be a list")
    elif uris and not fetch:
        app["fetch"] = [{"uri": u, "extract": True, "executable": False, "cache": False} for u in uris]
    else:
        for i, f in enumerate(fetch):
            if not isinstance(f, dict) or not isinstance(f.get("uri"), str):
                c.add(f"/fetch({i})", "a fetch entry must be an object with a uri string")
            elif any(not isinstance(f.get(k, False), bool) for k in ("extract", "executable", "cache")):
                c.add(f"/fetch({i})", "extract, executable and cache must be booleans")
    if app.get("storeUrls") is not None and not strs(app["storeUrls"]):
        c.add("/storeUrls", "storeUrls must be a list of strings")


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
