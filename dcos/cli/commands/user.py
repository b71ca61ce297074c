"""`dcos-py user create|list|delete|password`: users and service accounts of a secure
cluster (the leading master's ``/acs/api/v1/users``; needs the manage_iam ACL)."""

from __future__ import annotations

import urllib.parse
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from dcos.cli.commands._common import (
    JsonOpt,
    MasterOpt,
    command_group,
    console,
    expect_list,
    one_line_errors,
    print_json,
)
from dcos.cli.commands.auth import (
    ACS,
    PasswordEnvOpt,
    PasswordFileOpt,
    iam_call,
    password_text,
    read_secret_text,
)

app = command_group("Users and service accounts of a secure cluster.")

UidArg = Annotated[str, typer.Argument(help="The uid (letters, digits, '.', '_', '@', '-').")]


def _user_path(uid: str) -> str:
    return f"{ACS}/users/{urllib.parse.quote(uid, safe='')}"


def _password(uid: str, password_file: Path | None, password_env: str | None) -> str:
    raw = read_secret_text("password", file=password_file, env=password_env,
                           prompt=f"{uid}'s new password: ", confirm=True)  # fmt: skip
    return password_text(raw.split(b"\n", 1)[0] if password_file else raw)


@app.command("create")
@one_line_errors
def create(
    ctx: typer.Context,
    uid: UidArg,
    service: Annotated[bool, typer.Option(
        "--service", help="A service account (its tokens say kind 'service').")] = False,
    description: Annotated[str, typer.Option("--description", help="Free text.")] = "",
    password_file: PasswordFileOpt = None,
    password_env: PasswordEnvOpt = None,
    master: MasterOpt = None,
) -> None:
    """Create a user (or, with --service, a service account). The password comes from
    --password-file, --password-env, stdin, else a hidden prompt (asked twice)."""
    body = {"password": _password(uid, password_file, password_env),
            "description": description, "service": service}  # fmt: skip
    iam_call(ctx, master, "PUT", _user_path(uid), body)
    console().print(f"{'service account' if service else 'user'} {uid} created")


@app.command("password")
@one_line_errors
def password(
    ctx: typer.Context,
    uid: UidArg,
    password_file: PasswordFileOpt = None,
    password_env: PasswordEnvOpt = None,
    master: MasterOpt = None,
) -> None:
    """Set a new password (the uid's earlier tokens are revoked)."""
    iam_call(ctx, master, "PATCH", _user_path(uid),
             {"password": _password(uid, password_file, password_env)})  # fmt: skip
    console().print(f"password of {uid} changed; its earlier tokens are revoked")


@app.command("list")
@one_line_errors
def list_users(ctx: typer.Context, master: MasterOpt = None, json: JsonOpt = False) -> None:
    """List the users and service accounts you may manage."""
    answer = iam_call(ctx, master, "GET", ACS + "/users")
    users = expect_list(answer, "array", ACS + "/users")
    if json:
        print_json(users)
        return
    table = Table(box=None)
    for col in ("UID", "KIND", "DESCRIPTION"):
        table.add_column(col)
    for u in users:
        table.add_row(str(u.get("uid")), "service" if u.get("is_service") else "user",
                      str(u.get("description") or ""))  # fmt: skip
    console().print(table)


@app.command("delete")
@one_line_errors
def delete(ctx: typer.Context, uid: UidArg, master: MasterOpt = None) -> None:
    """Delete a user or service account (its tokens are revoked)."""
    iam_call(ctx, master, "DELETE", _user_path(uid))
    console().print(f"{uid} deleted")
