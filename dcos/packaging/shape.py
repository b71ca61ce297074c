"""Structural checks of a rendered package template: the basic shape of a webapp (Marathon v2)
app or group definition, so that `package build` rejects a template the webapp would refuse
for an obvious reason before anyone installs it. The webapp's own validation stays the judge
at install time (dcos must not import frameworks: these checks only look at the JSON).

Called by: `dcos.packaging.validate` (each release rendered with its defaults).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dcos.packaging.render import RenderError, definition_kind

MAX_PORT = 65535
# The label through which the package service finds (and on uninstall tears down) the framework a
# framework package registers: Cosmos' name for it.
FRAMEWORK_NAME_LABEL = "DCOS_PACKAGE_FRAMEWORK_NAME"


def definition_problems(doc: Mapping[str, Any]) -> list[str]:
    """Each structural fault of an app or group definition as `"<pointer>: <reason>"`; []
    when the shape is right."""
    try:
        kind = definition_kind(doc)
    except RenderError as exc:
        return [f"/: {exc.reason}"]
    out: list[str] = []
    if kind == "group":
        _group(doc, "", out)
    else:
        _app(doc, "", out)
    return out


def framework_problems(doc: Mapping[str, Any]) -> list[str]:
    """For a package with `"framework": true`: a fault unless some app of the definition carries a
    non-empty `DCOS_PACKAGE_FRAMEWORK_NAME` label (without it uninstall cannot tear the framework
    down and its state would stay behind)."""
    for app in _apps(doc):
        labels = app.get("labels")
        if isinstance(labels, Mapping) and isinstance(labels.get(FRAMEWORK_NAME_LABEL), str) \
                and labels[FRAMEWORK_NAME_LABEL].strip():
            return []
    return [f"/: a framework package's app needs the label {FRAMEWORK_NAME_LABEL} (the name its"
            " framework registers with), so that uninstall can tear the framework down"]


def _apps(doc: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    if "apps" not in doc and "groups" not in doc:
        return [doc]
    out = [a for a in doc.get("apps") or [] if isinstance(a, Mapping)]
    for sub in doc.get("groups") or []:
        if isinstance(sub, Mapping):
            out.extend(_apps(sub))
    return out


def _group(group: Mapping[str, Any], where: str, out: list[str]) -> None:
    if not _non_empty_str(group.get("id")):
        out.append(f"{where}/id: a group needs a non-empty string id")
    apps = group.get("apps", [])
    groups = group.get("groups", [])
    if not isinstance(apps, list):
        out.append(f"{where}/apps: must be an array of apps")
        apps = []
    if not isinstance(groups, list):
        out.append(f"{where}/groups: must be an array of groups")
        groups = []
    if not apps and not groups:
        out.append(f"{where or '/'}: a group with no apps and no groups runs nothing")
    for i, app in enumerate(apps):
        if not isinstance(app, Mapping):
            out.append(f"{where}/apps/{i}: an app must be a JSON object")
        else:
            _app(app, f"{where}/apps/{i}", out)
    for i, sub in enumerate(groups):
        if not isinstance(sub, Mapping):
            out.append(f"{where}/groups/{i}: a group must be a JSON object")
        else:
            _group(sub, f"{where}/groups/{i}", out)
    _string_list(group.get("dependencies"), f"{where}/dependencies", out)


def _app(app: Mapping[str, Any], where: str, out: list[str]) -> None:
    if not _non_empty_str(app.get("id")) or not str(app["id"]).strip("/"):
        out.append(f"{where}/id: an app needs a non-empty string id")
    _command(app, where, out)
    for key in ("cpus", "mem", "disk"):
        value = app.get(key)
        if value is not None and (not _number(value) or value < 0):
            out.append(f"{where}/{key}: got {value!r}, expected a number >= 0")
    instances = app.get("instances")
    if instances is not None and (not _integer(instances) or instances < 0):
        out.append(f"{where}/instances: got {instances!r}, expected an integer >= 0")
    _string_map(app.get("labels"), f"{where}/labels", out)
    env = app.get("env")
    if env is not None:
        if not isinstance(env, Mapping):
            out.append(f"{where}/env: must be an object")
        else:
            for name, value in env.items():
                if not isinstance(value, str | Mapping):
                    out.append(f"{where}/env/{name}: got {value!r}, expected a string")
    _ports(app.get("portDefinitions"), f"{where}/portDefinitions", out)
    _objects(app.get("healthChecks"), f"{where}/healthChecks", out)
    _objects(app.get("fetch"), f"{where}/fetch", out)
    _string_list(app.get("uris"), f"{where}/uris", out)
    _string_list(app.get("dependencies"), f"{where}/dependencies", out)
    constraints = app.get("constraints")
    if constraints is not None:
        if not isinstance(constraints, list):
            out.append(f"{where}/constraints: must be an array")
        else:
            for i, con in enumerate(constraints):
                if not isinstance(con, list) or not 2 <= len(con) <= 3 \
                        or not all(isinstance(x, str) for x in con):
                    out.append(f"{where}/constraints/{i}: expected [field, OPERATOR, value?]")


def _command(app: Mapping[str, Any], where: str, out: list[str]) -> None:
    cmd, args, container = app.get("cmd"), app.get("args"), app.get("container")
    if cmd is not None and not (isinstance(cmd, str) and cmd.strip()):
        out.append(f"{where}/cmd: must be a non-empty string")
    if args is not None and not (isinstance(args, list) and all(isinstance(a, str) for a in args)):
        out.append(f"{where}/args: must be an array of strings")
    if cmd is not None and args:
        out.append(f"{where or '/'}: an app has cmd or args, not both")
    if cmd is None and not args and not container:
        out.append(f"{where or '/'}: an app needs cmd, args or a container")


def _ports(value: Any, where: str, out: list[str]) -> None:
    if value is None:
        return
    if not isinstance(value, list):
        out.append(f"{where}: must be an array")
        return
    for i, port in enumerate(value):
        if not isinstance(port, Mapping):
            out.append(f"{where}/{i}: a port definition must be an object")
            continue
        number = port.get("port", 0)
        if not _integer(number) or not 0 <= number <= MAX_PORT:
            out.append(f"{where}/{i}/port: got {number!r}, expected an integer in 0..{MAX_PORT}")


def _objects(value: Any, where: str, out: list[str]) -> None:
    if value is None:
        return
    if not isinstance(value, list) or not all(isinstance(v, Mapping) for v in value):
        out.append(f"{where}: must be an array of objects")


def _string_list(value: Any, where: str, out: list[str]) -> None:
    if value is None:
        return
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        out.append(f"{where}: must be an array of strings")


def _string_map(value: Any, where: str, out: list[str]) -> None:
    if value is None:
        return
    if not isinstance(value, Mapping):
        out.append(f"{where}: must be an object")
        return
    for name, item in value.items():
        if not isinstance(item, str):
            out.append(f"{where}/{name}: got {item!r}, expected a string")


def _non_empty_str(value: Any) -> bool:
    return isinstance(value, str) and bool(value)


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
