"""What every cluster-reading command shares: the `--master`/`--json` options, the console,
JSON printing, and turning a `CliError` into one line on stderr and its exit code
(`dcos.cli.errors`: 1 failed, 3 unreachable, 4 rejected, 5 timed out).

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

from dcos.cli.config import ENV_MASTER, master_text, resolve_master
from dcos.cli.errors import EXIT_CODES_HELP, CliError

F = TypeVar("F", bound=Callable[..., Any])

# Every command group: -h as well as --help, plain click-style help (flags shown as plain flags,
# env vars listed), the exit codes at the end of each --help.
CONTEXT_SETTINGS: dict[str, Any] = {"help_option_names": ["-h", "--help"]}


def command_group(help_text: str) -> typer.Typer:
    """A Typer app for one command group (`node`, `task`, `app` ...), with the shared settings."""
    return typer.Typer(help=help_text, no_args_is_help=True, rich_markup_mode=None,
                       context_settings=CONTEXT_SETTINGS, epilog=EXIT_CODES_HELP)

MasterOpt = Annotated[
    str | None,
    typer.Option("--master", envvar=ENV_MASTER, show_envvar=True, show_default=False,
                 help="Master address, host:port, http://host:port or zk://host:port/path "
                 "(the leader, found through ZooKeeper) (default: the config file's master, "
                 "then 127.0.0.1:5050)."),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print the JSON instead of a table.")]


def master_given(ctx: typer.Context, flag: str | None) -> str:
    """The master as given (a ``zk://`` URL stays one): this command's `--master`, else the
    root `--master` (both also read `DCOS_MASTER`), else the config file, else
    127.0.0.1:5050."""
    root = ctx.find_root().obj
    root_flag = root.get("master") if isinstance(root, dict) else None
    return master_text(flag or root_flag)


def master_url(ctx: typer.Context, flag: str | None) -> str:
    """The master's base URL, from `master_given`; for a ``zk://`` URL the leading master's,
    read from ZooKeeper once (`Unreachable`, exit code 3, when none leads)."""
    return resolve_master(master_given(ctx, flag))


def console() -> Console:
    """A console on stdout; wide when stdout is not a terminal, so piped tables do not fold."""
    tty = sys.stdout.isatty()
    return Console(file=sys.stdout, width=None if tty else 200, highlight=False)


def print_json(value: Any) -> None:
    sys.stdout.write(orjson.dumps(value, option=orjson.OPT_INDENT_2).decode() + "\n")


def one_line_errors(fn: F) -> F:
    """Decorate a command: a `CliError` becomes `dcos-py: <message>` on stderr and its
    `exit_code` (1 failed, 3 unreachable, 4 rejected, 5 timed out)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except CliError as exc:
            sys.stderr.write(f"dcos-py: {exc.message}\n")
            raise typer.Exit(exc.exit_code) from None

    return wrapper  # type: ignore[return-value]


def expect_list(body: Any, key: str, url: str) -> list[Any]:
    """`body[key]` when it is a list; a `CliError` when the master answered another shape."""
    value = body.get(key) if isinstance(body, dict) else None
    if not isinstance(value, list):
        raise CliError(f"unexpected answer from {url}: no {key!r} list")
    return value
