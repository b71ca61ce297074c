"""`dcos-py task list|log|ls`: tasks from the master's state (GET /master/state), their logs
and sandbox files through the agent's files API, like `dcos task`."""

from __future__ import annotations

import sys
import time
from datetime import datetime
from typing import Annotated

import typer
from rich.table import Table

from dcos.cli import http
from dcos.cli.commands import _sandbox as sandboxes
from dcos.cli.commands._common import (
    JsonOpt,
    MasterOpt,
    command_group,
    console,
    master_url,
    one_line_errors,
    print_json,
)
from dcos.cli.errors import CliError
from dcos.cli.tables import select_tasks, task_table

app = command_group("Tasks of the cluster.")


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


FOLLOW_POLL = 0.5  # seconds between reads while following
STATE_POLL = 2.0  # seconds between checks whether the followed task has ended

TaskArg = Annotated[str, typer.Argument(help="Task id (an unambiguous prefix is enough).")]


def _locate(ctx: typer.Context, master: str | None, task: str) -> sandboxes.Sandbox:
    url = master_url(ctx, master)
    state = http.get_json(url, "/master/state")
    if not isinstance(state, dict):
        raise CliError(f"unexpected answer from {url}/master/state: not a JSON object")
    return sandboxes.locate(state, task, url)[0]


def _write(text: str) -> None:
    if text:
        sys.stdout.write(text)
        sys.stdout.flush()


def _follow(box: sandboxes.Sandbox, path: str, offset: int) -> None:
    """Print what is appended to `path` until the task has ended and all is printed."""
    next_state_check = 0.0
    ended = False
    while True:
        size = sandboxes.file_size(box, path)
        if size < offset:  # rotated (copytruncate): the file starts again
            offset = 0
        if size > offset:
            text, offset = sandboxes.read_range(box, path, offset, size)
            _write(text)
            continue
        if ended:
            return
        now = time.monotonic()
        if now >= next_state_check:
            ended = sandboxes.task_state(box) in (sandboxes.TERMINAL | {""})
            next_state_check = now + STATE_POLL
            if ended:
                continue  # one last read: what the task wrote just before it ended
        time.sleep(FOLLOW_POLL)


@app.command("log")
@one_line_errors
def log(
    ctx: typer.Context,
    task: TaskArg,
    file: Annotated[str | None, typer.Argument(
        help="File in the sandbox (default: stdout, or stderr with --stderr).")] = None,
    master: MasterOpt = None,
    follow: Annotated[bool, typer.Option(
        "--follow", "-f", help="Keep printing new output until the task ends (or Ctrl-C).")
    ] = False,
    lines: Annotated[int, typer.Option(
        "--lines", "-n", help="Print the last N lines.", min=0)] = 10,
    stderr: Annotated[bool, typer.Option("--stderr", help="Print stderr instead of stdout.")
    ] = False,
) -> None:
    """Print the last lines of a task's stdout (or stderr, or FILE); running or completed."""
    box = _locate(ctx, master, task)
    path = sandboxes.file_path(box, file or ("stderr" if stderr else "stdout"))
    text, offset = sandboxes.tail(box, path, lines)
    _write(text)
    if follow:
        try:
            _follow(box, path, offset)
        except KeyboardInterrupt:
            raise typer.Exit(0) from None


def _mtime(value: object) -> str:
    if not isinstance(value, int | float):
        return "-"
    return datetime.fromtimestamp(value).strftime("%Y-%m-%d %H:%M:%S")


@app.command("ls")
@one_line_errors
def ls(
    ctx: typer.Context,
    task: TaskArg,
    path: Annotated[str, typer.Argument(help="Directory in the sandbox.")] = "",
    master: MasterOpt = None,
    json: JsonOpt = False,
) -> None:
    """List a task's sandbox (or a directory in it): mode, size, modification time, name."""
    box = _locate(ctx, master, task)
    entries = sandboxes.browse(box, sandboxes.file_path(box, path) if path else box.directory)
    if json:
        print_json(entries)
        return
    table = Table(show_edge=False, pad_edge=False, box=None, header_style="bold")
    for column in ("MODE", "SIZE", "MTIME", "NAME"):
        table.add_column(column, overflow="fold", justify="right" if column == "SIZE" else "left")
    for e in entries:
        table.add_row(str(e.get("mode", "-")), str(e.get("size", "-")), _mtime(e.get("mtime")),
                      str(e.get("path", "")).rstrip("/").rsplit("/", 1)[-1])
    console().print(table)
