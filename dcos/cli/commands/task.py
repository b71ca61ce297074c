"""`dcos-py task list`: tasks from the master's state (GET /master/state), like `dcos task`."""

from __future__ import annotations

from typing import Annotated

import typer

from dcos.cli import http
from dcos.cli.commands._common import (
    JsonOpt,
    MasterOpt,
    console,
    master_url,
    one_line_errors,
    print_json,
)
from dcos.cli.errors import CliError
from dcos.cli.tables import select_tasks, task_table

app = typer.Typer(help="Tasks of the cluster.", no_args_is_help=True)


@app.command("list")
@one_line_errors
def list_tasks(
    ctx: typer.Context,
    task_filter: Annotated[str | None, typer.Argument(
        help="Only tasks whose id or name contains this text.")] = None,
    master: MasterOpt = None,
    json: JsonOpt = False,
    completed: Annotated[bool, typer.Option(
        "--completed", help="Only completed tasks.")] = False,
    all_tasks: Annotated[bool, typer.Option(
        "--all", help="Active and completed tasks.")] = False,
) -> None:
    """List tasks: id, name, framework, agent host, state. Active ones unless --completed/--all."""
    url = master_url(ctx, master)
    state = http.get_json(url, "/master/state")
    if not isinstance(state, dict):
        raise CliError(f"unexpected answer from {url}/master/state: not a JSON object")
    tasks = select_tasks(state, active=all_tasks or not completed, completed=completed or all_tasks)
    if task_filter:
        tasks = [t for t in tasks
                 if task_filter in str(t.get("id", "")) or task_filter in str(t.get("name", ""))]
    if json:
        print_json(tasks)
    else:
        console().print(task_table(state, tasks))
