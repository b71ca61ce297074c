"""`dcos-py secret create|update|list|delete`: the secret store of a secure cluster (the
leading master's ``/secrets/v1/secret/default/<path>``; needs manage_secrets on the path).

Values come from --file (its exact bytes), --env, or stdin (everything it holds; a hidden
prompt on a terminal), never from the command line, and are never printed: no command
shows a value (apps get them as environment variables or files, see docs/security.md).
"""

from __future__ import annotations

import base64
import urllib.parse
from pathlib import Path
from typing import Annotated

import typer

from dcos.cli.commands._common import (
    JsonOpt,
    MasterOpt,
    command_group,
    console,
    expect_list,
    one_line_errors,
    print_json,
)
from dcos.cli.commands.auth import iam_call, read_secret_text

app = command_group("Secrets of a secure cluster (values are never shown).")

BASE = "/secrets/v1/secret/default/"
PathArg = Annotated[str, typer.Argument(help="The secret's path, e.g. team/db.")]
FileOpt = Annotated[Path | None, typer.Option(
    "--file", "-f", help="Read the value from this file (its exact bytes).", show_default=False)]
EnvOpt = Annotated[str | None, typer.Option(
    "--env", help="Read the value from this environment variable.", show_default=False)]


def _url_path(path: str) -> str:
    return BASE + urllib.parse.quote(path, safe="/")


def _value_body(path: str, file: Path | None, env: str | None) -> dict[str, str]:
    data = read_secret_text("secret value", file=file, env=env,
                            prompt=f"value of {path}: ")  # fmt: skip
    try:
        return {"value": data.decode("utf-8")}
    except UnicodeDecodeError:
        return {"value_base64": base64.b64encode(data).decode("ascii")}


@app.command("create")
@one_line_errors
def create(ctx: typer.Context, path: PathArg, file: FileOpt = None, env: EnvOpt = None,
           master: MasterOpt = None) -> None:  # fmt: skip
    """Create a secret (refused if the path exists)."""
    iam_call(ctx, master, "PUT", _url_path(path), _value_body(path, file, env))
    console().print(f"secret {path} created")


@app.command("update")
@one_line_errors
def update(ctx: typer.Context, path: PathArg, file: FileOpt = None, env: EnvOpt = None,
           master: MasterOpt = None) -> None:  # fmt: skip
    """Give an existing secret a new value (tasks launched later get it)."""
    iam_call(ctx, master, "PATCH", _url_path(path), _value_body(path, file, env))
    console().print(f"secret {path} updated")


@app.command("list")
@one_line_errors
def list_secrets(
    ctx: typer.Context,
    folder: Annotated[str, typer.Argument(help="Only the secrets under this folder.")] = "",
    master: MasterOpt = None,
    json: JsonOpt = False,
) -> None:
    """List the secret paths you may manage (never their values)."""
    prefix = folder.strip("/")
    url_path = _url_path(prefix + "/" if prefix else "") + "?list=true"
    paths = expect_list(iam_call(ctx, master, "GET", url_path), "array", url_path)
    full = [f"{prefix}/{p}" if prefix else str(p) for p in paths]
    if json:
        print_json(full)
    else:
        for p in full:
            console().print(p)


@app.command("delete")
@one_line_errors
def delete(ctx: typer.Context, path: PathArg, master: MasterOpt = None) -> None:
    """Delete a secret."""
    iam_call(ctx, master, "DELETE", _url_path(path))
    console().print(f"secret {path} deleted")
