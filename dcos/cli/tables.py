"""Rich tables from the master's operator JSON (Mesos field names).

Called by: the `node`, `framework` and `task` commands, with the decoded bodies of
`/master/slaves`, `/master/frameworks` and `/master/state`. Pure: JSON in, `rich.table.Table` or
plain rows out; missing fields show as `-` rather than failing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from rich.table import Table

Json = Mapping[str, Any]


def _num(value: Any) -> str:
    if isinstance(value, int | float):
        return f"{round(float(value), 2):g}"
    return "-"


def _used_total(used: Json, total: Json, name: str) -> str:
    return f"{_num(used.get(name, 0))} / {_num(total.get(name))}"


def _attributes(attrs: Any) -> str:
    if not isinstance(attrs, Mapping) or not attrs:
        return "-"
    return ",".join(f"{k}:{v}" for k, v in sorted(attrs.items()))


def _table(*columns: str) -> Table:
    table = Table(show_edge=False, pad_edge=False, box=None, header_style="bold")
    for column in columns:
        table.add_column(column.upper(), overflow="fold")
    return table


def node_rows(agents: Iterable[Json]) -> list[tuple[str, ...]]:
    """One row per agent: id, hostname, port, cpus/mem/disk `used / total`, active, attributes."""
    rows: list[tuple[str, ...]] = []
    for a in agents:
        total = a.get("resources") or {}
        used = a.get("used_resources") or {}
        rows.append((
            str(a.get("id", "-")), str(a.get("hostname", "-")), str(a.get("port", "-")),
            _used_total(used, total, "cpus"), _used_total(used, total, "mem"),
            _used_total(used, total, "disk"), str(bool(a.get("active"))).lower(),
            _attributes(a.get("attributes")),
        ))
    return rows


def node_table(agents: Iterable[Json]) -> Table:
    table = _table("id", "hostname", "port", "cpus", "mem", "disk", "active", "attributes")
    for row in node_rows(agents):
        table.add_row(*row)
    return table


def _role(f: Json) -> str:
    roles = f.get("roles")
    if isinstance(roles, list) and roles:
        return ",".join(str(r) for r in roles)
    return str(f.get("role", "*"))


def framework_rows(frameworks: Iterable[Json]) -> list[tuple[str, ...]]:
    """One row per framework: id, name, role, active, tasks, cpus used, mem used."""
    rows: list[tuple[str, ...]] = []
    for f in frameworks:
        used = f.get("used_resources") or f.get("resources") or {}
        rows.append((
            str(f.get("id", "-")), str(f.get("name", "-")), _role(f),
            str(bool(f.get("active"))).lower(), str(len(f.get("tasks") or [])),
            _num(used.get("cpus", 0)), _num(used.get("mem", 0)),
        ))
    return rows


def framework_table(frameworks: Iterable[Json]) -> Table:
    table = _table("id", "name", "role", "active", "tasks", "cpus", "mem")
    for row in framework_rows(frameworks):
        table.add_row(*row)
    return table


def select_tasks(state: Json, active: bool = True, completed: bool = False) -> list[Json]:
    """Tasks from a `/master/state` body: running/staging ones (`tasks`) when `active`,
    finished ones (`completed_tasks`, and those of completed frameworks) when `completed`."""
    frameworks = list(state.get("frameworks") or [])
    done_frameworks = list(state.get("completed_frameworks") or [])
    out: list[Json] = []
    for f in frameworks + done_frameworks:
        if active:
            out.extend(f.get("tasks") or [])
        if completed:
            out.extend(f.get("completed_tasks") or [])
    return out


def task_rows(state: Json, tasks: Iterable[Json]) -> list[tuple[str, ...]]:
    """One row per task: id, name, framework (name), agent host, state."""
    frameworks = list(state.get("frameworks") or []) + list(state.get("completed_frameworks") or [])
    names = {f.get("id"): f.get("name") for f in frameworks}
    hosts = {a.get("id"): a.get("hostname") for a in state.get("slaves") or []}
    rows: list[tuple[str, ...]] = []
    for t in tasks:
        fid = t.get("framework_id")
        aid = t.get("slave_id")
        rows.append((
            str(t.get("id", "-")), str(t.get("name", "-")), str(names.get(fid) or fid or "-"),
            str(hosts.get(aid) or aid or "-"), str(t.get("state", "-")),
        ))
    return rows


def task_table(state: Json, tasks: Iterable[Json]) -> Table:
    table = _table("id", "name", "framework", "host", "state")
    for row in task_rows(state, tasks):
        table.add_row(*row)
    return table
