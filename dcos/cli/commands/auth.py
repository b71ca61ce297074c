"""`dcos-py auth login|logout|token`: log in to a secure cluster's IAM (on the leading master)
and keep the bearer token in the current cluster's settings (`dcos.cli.config.store_token`);
every later command sends it (`dcos.cli.http`).

Also the helpers the other IAM command groups share (`secret`, `user`, `acl`): `iam_call`
(one request to the master's ``/acs/api/v1`` or ``/secrets/v1`` API) and `read_secret_text`
(a password or a value from a file, an environment variable, stdin or a hidden prompt: never
from the command line, never echoed).
"""

from __future__ import annotations

import getpass
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from dcos.cli import config, http
from dcos.cli.commands._common import MasterOpt, command_group, console, master_url, one_line_errors
from dcos.cli.errors import CliError

app = command_group("Log in to a secure cluster (dcos-py up --secure) and manage the token.")

ACS = "/acs/api/v1"


def iam_call(ctx: typer.Context, master: str | None, method: str, path: str, body: Any = None,
             *, login_hint: bool = True) -> Any:  # fmt: skip
    """`method` on the leading master's IAM API at `path`; the JSON answer (None if empty)."""
    url = master_url(ctx, master)
    return http.request(method, url + path, body, server="the master", base=url,
                        login_hint=login_hint)  # fmt: skip


def read_secret_text(what: str, *, file: Path | None = None, env: str | None = None,
                     prompt: str | None = None, confirm: bool = False) -> bytes:
    """`what` (a password, a secret value) from `file` (its exact bytes), else the
    environment variable `env`, else stdin when it is not a terminal (everything it holds),
    else a hidden prompt. `CliError` when it is empty or unreadable."""
    if file is not None and env is not None:
        raise CliError(f"give the {what} once: a file or an environment variable, not both")
    if file is not None:
        try:
            data = Path(file).expanduser().read_bytes()
        except OSError as exc:
            raise CliError(f"cannot read the {what} from {file}: {exc.strerror}") from None
    elif env is not None:
        if env not in os.environ:
            raise CliError(f"environment variable {env} is not set")
        data = os.environ[env].encode()
    elif not sys.stdin.isatty():
        data = sys.stdin.buffer.read()
    else:
        first = getpass.getpass(prompt or f"{what}: ")
        if confirm and getpass.getpass(f"{what} (again): ") != first:
            raise CliError(f"the two {what}s differ")
        data = first.encode()
    if not data:
        raise CliError(f"empty {what}")
    return data


def password_text(data: bytes) -> str:
    """A password read by `read_secret_text`: text, without the final newline of a file."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise CliError("the password is not UTF-8 text") from None
    text = text[:-1] if text.endswith("\n") else text
    text = text[:-1] if text.endswith("\r") else text
    if not text:
        raise CliError("empty password")
    return text


PasswordFileOpt = Annotated[Path | None, typer.Option(
    "--password-file", help="Read the password from this file (its first line).",
    show_default=False)]
PasswordEnvOpt = Annotated[str | None, typer.Option(
    "--password-env", help="Read the password from this environment variable.",
    show_default=False)]


@app.command("login")
@one_line_errors
def login(
    ctx: typer.Context,
    username: Annotated[str | None, typer.Option(
        "--username", "-u", help="The uid to log in as (default: prompt).",
        show_default=False)] = None,
    password_file: PasswordFileOpt = None,
    password_env: PasswordEnvOpt = None,
    master: MasterOpt = None,
) -> None:
    """Log in with a uid and password (POST /acs/api/v1/auth/login) and keep the token for
    the current cluster. The password comes from --password-file, --password-env, stdin
    when it is not a terminal, else a hidden prompt."""
    uid = username
    if not uid:
        if not sys.stdin.isatty():
            raise CliError("give --username (stdin is not a terminal to ask)")
        uid = input("username: ").strip()
    if not uid:
        raise CliError("empty username")
    raw = read_secret_text("password", file=password_file, env=password_env,
                           prompt=f"{uid}'s password: ")  # fmt: skip
    password = password_text(raw.split(b"\n", 1)[0] if password_file else raw)
    answer = iam_call(ctx, master, "POST", ACS + "/auth/login",
                      {"uid": uid, "password": password}, login_hint=False)  # fmt: skip
    token = answer.get("token") if isinstance(answer, dict) else None
    if not isinstance(token, str) or not token:
        raise CliError("the master answered the login without a token")
    path = config.store_token(token)
    console().print(f"logged in as {uid} (token kept in {path})")


@app.command("logout")
@one_line_errors
def logout(ctx: typer.Context, master: MasterOpt = None) -> None:
    """Revoke the current token on the cluster (POST /acs/api/v1/auth/logout) and forget it."""
    settings = config.core_settings()
    if settings.token is None:
        raise CliError("not logged in")
    try:
        iam_call(ctx, master, "POST", ACS + "/auth/logout", login_hint=False)
    except CliError as exc:
        if getattr(exc, "status", None) != 401:  # an expired or revoked token: just forget it
            raise
    removed = config.remove_token()
    console().print("logged out" if removed else
                    "logged out (the token comes from $DCOS_ACS_TOKEN or the config file: "
                    "remove it there)")  # fmt: skip


@app.command("token")
@one_line_errors
def token() -> None:
    """Print the current token (to pass it to other tools)."""
    settings = config.core_settings()
    if settings.token is None:
        raise CliError("not logged in: run `dcos-py auth login`")
    sys.stdout.write(settings.token + "\n")
