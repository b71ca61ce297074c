"""`dcos-py acl get|set FILE`: the cluster's Mesos-style ACL document (the leading master's
``/acs/api/v1/acls``; needs manage_iam). `set` validates on the master: a bad document is
refused with the path of its first error and changes nothing."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import orjson
import typer

from dcos.cli.commands._common import MasterOpt, command_group, console, one_line_errors, print_json
from dcos.cli.commands.auth import ACS, iam_call
from dcos.cli.errors import CliError

app = command_group("The cluster's ACLs (Mesos style: permissive + rules per action).")


@app.command("get")
@one_line_errors
def get(ctx: typer.Context, master: MasterOpt = None) -> None:
    """Print the ACL document (JSON)."""
    print_json(iam_call(ctx, master, "GET", ACS + "/acls"))


@app.command("set")
@one_line_errors
def set_acls(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="The JSON ACL document ('-': stdin).")],
    master: MasterOpt = None,
) -> None:
    """Replace the ACL document with FILE's."""
    try:
        raw = sys.stdin.buffer.read() if str(file) == "-" else file.read_bytes()
    except OSError as exc:
        raise CliError(f"cannot read {file}: {exc.strerror}") from None
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise CliError(f"{file} is not JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise CliError(f"{file}: the ACL document must be a JSON object")
    iam_call(ctx, master, "PUT", ACS + "/acls", doc)
    console().print("ACLs replaced")
