"""`dcos-py framework list`: the frameworks the master knows (GET /master/frameworks);
`dcos-py framework teardown ID`: the operator TEARDOWN (POST /api/v1)."""

from __future__ import annotations

from typing import Annotated

import typer

from dcos.cli import http
from dcos.cli.commands._common import (
    JsonOpt,
    MasterOpt,
    command_group,
    console,
    expect_list,
    master_url,
    one_line_errors,
    print_json,
)
from dcos.cli.tables import framework_table

app = command_group("Frameworks registered with the master.")


@app.command("list")
@one_line_errors
def list_frameworks(
    ctx: typer.Context,
    master: MasterOpt = None,
    json: JsonOpt = False,
    completed: Annotated[bool, typer.Option(
        "--completed", help="Also list completed (torn down) frameworks.")] = False,
) -> None:
    """List the frameworks: id, name, role, active, tasks, cpus and mem used."""
    url = master_url(ctx, master)
    body = http.get_json(url, "/master/frameworks")
    frameworks = expect_list(body, "frameworks", url + "/master/frameworks")
    if completed:
        frameworks = frameworks + list(body.get("completed_frameworks") or [])
    if json:
        print_json(frameworks)
    else:
        console().print(framework_table(frameworks))


@app.command("teardown")
@one_line_errors
def teardown_framework(
    ctx: typer.Context,
    framework_id: Annotated[str, typer.Argument(help="The framework id (see `framework list`).")],
    master: MasterOpt = None,
) -> None:
    """Tear a framework down (the operator's TEARDOWN, as `dcos service shutdown`): the
    master kills its tasks and forgets it, connected or not."""
    url = master_url(ctx, master)
    call = {"type": "TEARDOWN", "teardown": {"framework_id": {"value": framework_id}}}
    http.request("POST", url + "/api/v1", call, server="the master", base=url)
    console().print(f"framework {framework_id} torn down")
