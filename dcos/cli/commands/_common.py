"""What every cluster-reading command shares: the `--master`/`--json` options, the console,
JSON printing, and turning a `CliError` into one line on stderr and exit code 1.

Called by: the command modules in this package.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

import orjson
import typer
from rich.console import Console

from dcos.cli.config import resolve_master
from dcos.cli.errors import CliError

F = TypeVar("F", bound=Callable[..., Any])

MasterOpt = Annotated[
    str | None,
    typer.Option("--master", help="Master address, host:port or http://host:port "
                 "(default: $DCOS_MASTER, then 127.0.0.1:5050).", show_default=False),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print the JSON instead of a table.")]


def master_url(ctx: typer.Context, flag: str | None) -> str:
    """The master's base URL: this command's `--master`, else the root `--master`, else
    `DCOS_MASTER`, else 127.0.0.1:5050."""
    root = ctx.find_root().obj
    root_flag = root.get("master") if isinstance(root, dict) else None
    return resolve_master(flag or root_flag)


def console() -> Console:
    """A console on stdout; wide when stdout is not a terminal, so piped tables do not fold."""
    tty = sys.stdout.isatty()
    return Console(file=sys.stdout, width=None if tty else 200, highlight=False)


def print_json(value: Any) -> None:
    sys.stdout.write(orjson.dumps(value, option=orjson.OPT_INDENT_2).decode() + "\n")


def one_line_errors(fn: F) -> F:
    """Decorate a command: a `CliError` becomes `dcos-py: <message>` on stderr and exit 1."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except CliError as exc:
            sys.stderr.write(f"dcos-py: {exc.message}\n")
            raise typer.Exit(1) from None

    return wrapper  # type: ignore[return-value]


def expect_list(body: Any, key: str, url: str) -> list[Any]:
    """`body[key]` when it is a list; a `CliError` when the master answered another shape."""
    value = body.get(key) if isinstance(body, dict) else None
    if not isinstance(value, list):
        raise CliError(f"unexpected answer from {url}: no {key!r} list")
    return value
