"""`dcos-py app add|list|show|update|scale|restart|remove|versions|why`: the webapp framework's
apps through its Marathon-like `/v2` API.

Tables by default, `--json` everywhere, errors as one line and exit 1; `--wait` on commands
that start a deployment shows its progress until it ends. Called by: `dcos.cli.main`.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from dcos.cli.commands._common import (
    JsonOpt,
    command_group,
    console,
    one_line_errors,
    print_json,
)
from dcos.cli.commands.deployment import (
    DEFAULT_WAIT_S,
    WebappOpt,
    app_path,
    client,
    deploy_and_wait,
    read_json_arg,
)
from dcos.cli.errors import CliError

app = command_group("Apps of the webapp framework (Marathon-like).")

WaitOpt = Annotated[bool, typer.Option("--wait", help="Wait for the deployment, with progress.")]
ForceOpt = Annotated[bool, typer.Option("--force", help="Override a running deployment.")]
TimeoutOpt = Annotated[float, typer.Option("--timeout", help="Seconds to --wait.")]


def _table(*columns: str) -> Table:
    table = Table(show_edge=False, pad_edge=False, box=None, header_style="bold")
    for column in columns:
        table.add_column(column, overflow="fold")
    return table


def _num(value: Any) -> str:
    return f"{float(value):g}" if isinstance(value, int | float) else "-"


def app_rows(apps: list[dict[str, Any]]) -> list[tuple[str, ...]]:
    """One row per app: id, running/instances, healthy, cpus, mem, deploying, cmd."""
    rows: list[tuple[str, ...]] = []
    for a in apps:
        checks = bool(a.get("healthChecks"))
        health = f"{a.get('tasksHealthy', 0)}/{a.get('instances', 0)}" if checks else "-"
        rows.append((
            str(a.get("id", "-")), f"{a.get('tasksRunning', 0)}/{a.get('instances', 0)}", health,
            _num(a.get("cpus")), _num(a.get("mem")),
            "yes" if a.get("deployments") else "-", str(a.get("cmd") or "-")[:60],
        ))
    return rows


def task_rows(tasks: list[dict[str, Any]]) -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = []
    for t in tasks:
        results = t.get("healthCheckResults") or []
        health = "-" if not results else ("healthy" if all(r.get("alive") for r in results)
                                          else "unhealthy")
        rows.append((str(t.get("id", "-")), str(t.get("host", "-")),
                     ",".join(str(p) for p in t.get("ports") or []) or "-",
                     str(t.get("state", "-")), health, str(t.get("version", "-"))))
    return rows


def _get_app(webapp: str | None, app_id: str) -> tuple[Any, dict[str, Any]]:
    c = client(webapp)
    body = c.get(app_path(app_id) + "?embed=app.tasks&embed=app.counts")
    found = body.get("app") if isinstance(body, dict) else None
    if not isinstance(found, dict):
        raise CliError(f"unexpected answer for app {app_id}: no 'app' object")
    return c, found


@app.command("add")
@one_line_errors
def add(source: Annotated[str, typer.Argument(help="App JSON file, or - for stdin.")],
        webapp: WebappOpt = None, json: JsonOpt = False, wait: WaitOpt = False,
        timeout: TimeoutOpt = DEFAULT_WAIT_S) -> None:
    """Create an app from its JSON definition (Marathon's app format)."""
    definition = read_json_arg(source)
    if not isinstance(definition, dict):
        raise CliError("an app definition must be a JSON object")
    c = client(webapp)
    what = f"created app {definition.get('id', '?')}"
    deploy_and_wait(c, lambda: c.call("POST", "/v2/apps", definition), wait, json, what, timeout)


@app.command("list")
@one_line_errors
def list_apps(webapp: WebappOpt = None, json: JsonOpt = False) -> None:
    """List the apps: id, running/instances, healthy, cpus, mem, deploying, cmd."""
    body = client(webapp).get("/v2/apps?embed=apps.counts&embed=apps.deployments")
    apps = body.get("apps") if isinstance(body, dict) else None
    if not isinstance(apps, list):
        raise CliError("unexpected answer from /v2/apps: no 'apps' list")
    if json:
        print_json(apps)
        return
    table = _table("ID", "RUNNING", "HEALTHY", "CPUS", "MEM", "DEPLOYING", "CMD")
    for row in app_rows(apps):
        table.add_row(*row)
    console().print(table)


@app.command("show")
@one_line_errors
def show(app_id: str, webapp: WebappOpt = None, json: JsonOpt = False) -> None:
    """Show one app (its definition summary and its tasks)."""
    _, found = _get_app(webapp, app_id)
    if json:
        print_json(found)
        return
    out = console()
    summary = _table("FIELD", "VALUE")
    for key in ("id", "cmd", "instances", "cpus", "mem", "disk", "version"):
        summary.add_row(key, str(found.get(key, "-")))
    summary.add_row("running", str(found.get("tasksRunning", len(found.get("tasks") or []))))
    summary.add_row("deployments", ",".join(d.get("id", "") for d in found.get("deployments") or [])
                    or "-")
    if found.get("labels"):
        summary.add_row("labels", ",".join(f"{k}={v}" for k, v in found["labels"].items()))
    out.print(summary)
    tasks = _table("TASK", "HOST", "PORTS", "STATE", "HEALTH", "VERSION")
    for row in task_rows(found.get("tasks") or []):
        tasks.add_row(*row)
    out.print(tasks)


@app.command("update")
@one_line_errors
def update(app_id: str,
           source: Annotated[str | None, typer.Argument(
               help="JSON with the fields to change (file, or - for stdin).")] = None,
           instances: Annotated[int | None, typer.Option("--instances", min=0)] = None,
           webapp: WebappOpt = None, json: JsonOpt = False, wait: WaitOpt = False,
           force: ForceOpt = False, timeout: TimeoutOpt = DEFAULT_WAIT_S) -> None:
    """Change an app (a partial definition is merged into the current one)."""
    if (source is None) == (instances is None):
        raise CliError("give either a JSON FILE (or -) or --instances N")
    changes = {"instances": instances} if source is None else read_json_arg(source)
    if not isinstance(changes, dict):
        raise CliError("an app update must be a JSON object")
    c = client(webapp)
    path = app_path(app_id) + ("?force=true" if force else "")
    deploy_and_wait(c, lambda: c.call("PUT", path, changes), wait, json,
                    f"updated app {app_id}", timeout)


@app.command("scale")
@one_line_errors
def scale(app_id: str, instances: Annotated[int, typer.Argument(min=0)],
          webapp: WebappOpt = None, json: JsonOpt = False, wait: WaitOpt = False,
          force: ForceOpt = False, timeout: TimeoutOpt = DEFAULT_WAIT_S) -> None:
    """Set the number of instances of an app."""
    c = client(webapp)
    path = app_path(app_id) + ("?force=true" if force else "")
    deploy_and_wait(c, lambda: c.call("PUT", path, {"instances": instances}), wait, json,
                    f"scaling app {app_id} to {instances}", timeout)


@app.command("restart")
@one_line_errors
def restart(app_id: str, webapp: WebappOpt = None, json: JsonOpt = False, wait: WaitOpt = False,
            force: ForceOpt = False, timeout: TimeoutOpt = DEFAULT_WAIT_S) -> None:
    """Replace every task of an app (a rolling restart under its upgrade strategy)."""
    c = client(webapp)
    path = app_path(app_id) + "/restart" + ("?force=true" if force else "")
    deploy_and_wait(c, lambda: c.call("POST", path), wait, json, f"restarting app {app_id}",
                    timeout)


@app.command("remove")
@one_line_errors
def remove(app_id: str, webapp: WebappOpt = None, json: JsonOpt = False, wait: WaitOpt = False,
           force: ForceOpt = False, timeout: TimeoutOpt = DEFAULT_WAIT_S) -> None:
    """Remove an app and kill its tasks."""
    c = client(webapp)
    path = app_path(app_id) + ("?force=true" if force else "")
    deploy_and_wait(c, lambda: c.call("DELETE", path), wait, json, f"removing app {app_id}",
                    timeout)


@app.command("versions")
@one_line_errors
def versions(app_id: str, webapp: WebappOpt = None, json: JsonOpt = False) -> None:
    """List the stored versions of an app (newest first)."""
    body = client(webapp).get(app_path(app_id) + "/versions")
    found = body.get("versions") if isinstance(body, dict) else None
    if not isinstance(found, list):
        raise CliError(f"unexpected answer for the versions of {app_id}: no 'versions' list")
    if json:
        print_json(found)
        return
    table = _table("VERSION")
    for v in found:
        table.add_row(str(v))
    console().print(table)


def why_lines(entry: dict[str, Any]) -> list[str]:
    """Human lines from a `/v2/queue` entry: the reasons, the per-reason decline counts of the
    last offers, and the last unused offers with their reason."""
    summary = entry.get("processedOffersSummary") or {}
    lines = [f"waiting for {entry.get('count', '?')} instance(s) since {entry.get('since', '?')}"]
    delay = entry.get("delay") or {}
    if delay.get("timeLeftSeconds"):
        lines.append(f"launch delayed (backoff): {delay['timeLeftSeconds']} s left")
    lines += [f"- {r}" for r in summary.get("reasons") or []]
    declined = [r for r in summary.get("rejectSummaryLastOffers") or [] if r.get("declined")]
    for r in declined:
        lines.append(f"{r.get('reason')}: declined {r.get('declined')} of "
                     f"{r.get('processed')} offer(s)")
    for o in entry.get("lastUnusedOffers") or []:
        offer = o.get("offer") or {}
        reason = o.get("message") or ", ".join(o.get("reason") or [])
        lines.append(f"offer from {offer.get('hostname', '?')}: {reason}")
    return lines


@app.command("why")
@one_line_errors
def why(app_id: str, webapp: WebappOpt = None, json: JsonOpt = False) -> None:
    """Why an app's instances are not placed: the reasons recent offers were declined."""
    body = client(webapp).get("/v2/queue?embed=lastUnusedOffers")
    queue = body.get("queue") if isinstance(body, dict) else None
    if not isinstance(queue, list):
        raise CliError("unexpected answer from /v2/queue: no 'queue' list")
    wanted = "/" + app_id.strip("/")
    entry = next((q for q in queue if (q.get("app") or {}).get("id") == wanted), None)
    if json:
        print_json(entry)
        return
    if entry is None:
        console().print(f"app {wanted} is not waiting for offers (nothing to place)",
                        markup=False)
        return
    for line in why_lines(entry):
        console().print(line, markup=False, highlight=False)
