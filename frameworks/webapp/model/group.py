"""Groups: nested group bodies flattened to apps, the dependency graph and its order (pure).

Called by the API for POST/PUT /v2/groups (`flatten_group`) and by the core whenever it plans
a deployment over several apps (`dependency_layers`), and by the GET /v2/groups renderer
(`group_tree`). A dependency names an app or a group; depending on a group means depending on
every app under it. A cycle is an error the API answers with 422.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import networkx as nx

from frameworks.webapp.model.app import Errors, Json, absolute, normalize
from frameworks.webapp.model.paths import id_errors


def parent_of(path: str) -> str:
    return path.rsplit("/", 1)[0] or "/"


def ancestors(path: str) -> list[str]:
    """``/a/b/c`` -> ``["/a/b", "/a", "/"]``."""
    out = []
    while path != "/":
        path = parent_of(path)
        out.append(path)
    return out


def _child(path: str, parent: str) -> bool:
    """`path` is strictly below group `parent` (Marathon: ids in a group body are its children)."""
    return path != parent and path.startswith(parent.rstrip("/") + "/")


def flatten_group(
    raw: Any, base: str = "/"
) -> tuple[dict[str, Json], dict[str, list[str]], Errors]:
    """A group body -> (apps by id, group dependencies by group id, errors).

    Ids inside are relative to their group. Every app is normalized (defaults, validation);
    the error paths name the app (``/apps(0)/cpus``) or group (``/groups(1)/id``)."""
    apps: dict[str, Json] = {}
    groups: dict[str, list[str]] = {}
    errors: Errors = []

    def walk(g: Any, parent: str, where: str) -> None:
        if not isinstance(g, dict):
            errors.append((where or "/", ["a group must be a JSON object"]))
            return
        gid = g.get("id", parent if not where else None)
        if not isinstance(gid, str):
            errors.append((f"{where}/id", ["a group needs an id"]))
            return
        path, id_errs = id_errors(gid, parent) if where or gid.strip("/") else ("/", [])
        if where and not id_errs and not _child(path, parent):
            id_errs = [f"Identifier is not child of {parent}. Hint: use relative paths."]
        if id_errs:
            errors.append((f"{where}/id", id_errs))
            return
        deps = g.get("dependencies") or []
        if not isinstance(deps, list) or not all(isinstance(d, str) for d in deps):
            errors.append((f"{where}/dependencies", ["dependencies must be a list of paths"]))
            deps = []
        groups[path] = [absolute(d, parent_of(path)) for d in deps]
        apps_in, subs = g.get("apps") or [], g.get("groups") or []
        for key, value in (("apps", apps_in), ("groups", subs)):
            if not isinstance(value, list):
                errors.append((f"{where}/{key}", [f"{key} must be a list"]))
                return
        for i, a in enumerate(apps_in):
            app, errs = normalize(a, path)
            errors.extend((f"{where}/apps({i}){p if p != '/' else ''}", e) for p, e in errs)
            if app is not None and not _child(app["id"], path):
                errors.append((f"{where}/apps({i})/id",
                               [f"Identifier is not child of {path}. Hint: use relative paths."]))
            elif app is not None:
                if app["id"] in apps:
                    errors.append((f"{where}/apps({i})/id", [f"{app['id']} appears twice"]))
                apps[app["id"]] = app
        for i, sub in enumerate(subs):
            walk(sub, path, f"{where}/groups({i})")

    walk(raw, absolute(base), "")
    return apps, groups, errors


def dependency_graph(
    apps: Mapping[str, Json], group_deps: Mapping[str, list[str]]
) -> nx.DiGraph:
    """Edges app -> app it depends on (its own dependencies and its groups' dependencies)."""
    g = nx.DiGraph()
    g.add_nodes_from(apps)
    ids = sorted(apps)

    def targets(dep: str) -> list[str]:
        if dep in apps:
            return [dep]
        prefix = dep.rstrip("/") + "/"
        return [a for a in ids if a.startswith(prefix)]

    for aid, app in apps.items():
        deps = list(app.get("dependencies") or [])
        for grp in ancestors(aid):
            deps += group_deps.get(grp, [])
        for dep in deps:
            for t in targets(dep):
                if t != aid:
                    g.add_edge(aid, t)
    return g


def cycle_errors(apps: Mapping[str, Json], group_deps: Mapping[str, list[str]]) -> Errors:
    """[('/dependencies', ['dependency cycle: /a -> /b -> /a'])] or []."""
    g = dependency_graph(apps, group_deps)
    try:
        cyc = nx.find_cycle(g)
    except nx.NetworkXNoCycle:
        return []
    path = " -> ".join([cyc[0][0], *(e[1] for e in cyc)])
    return [("/dependencies", [f"dependency cycle: {path}"])]


def dependency_layers(
    ids: Iterable[str], apps: Mapping[str, Json], group_deps: Mapping[str, list[str]]
) -> list[list[str]]:
    """`ids` in dependency order: each layer depends only on earlier layers (and on apps not
    in `ids`). Assumes no cycle (checked before)."""
    wanted = set(ids)
    if not any(group_deps.values()) and not any(apps[a].get("dependencies") for a in wanted if a in apps):
        if not any(a.get("dependencies") for a in apps.values()):
            return [sorted(wanted)] if wanted else []
    g = dependency_graph(apps, group_deps).reverse(copy=False)  # dependency -> dependant
    sub = g.subgraph(wanted)
    return [sorted(layer) for layer in nx.topological_generations(sub)]


def group_tree(
    apps: Mapping[str, Any], groups: Mapping[str, Json], gid: str = "/"
) -> dict[str, Any]:
    """The nested group structure for GET /v2/groups[/{id}]: ``{id, apps, groups,
    dependencies, version}`` with `apps` the app dicts as given (already rendered)."""
    children: dict[str, set[str]] = {}
    known = set(groups) | {parent_of(a) for a in apps} | {"/"}
    for path in list(known):
        for anc in ancestors(path):
            known.add(anc)
    for path in known:
        if path != "/":
            children.setdefault(parent_of(path), set()).add(path)

    def build(path: str) -> dict[str, Any]:
        meta = groups.get(path) or {}
        return {
            "id": path,
            "apps": [apps[a] for a in sorted(apps) if parent_of(a) == path],
            "groups": [build(c) for c in sorted(children.get(path, ()))],
            "pods": [],
            "dependencies": list(meta.get("dependencies") or []),
            "version": meta.get("version"),
        }

    return build(gid)
