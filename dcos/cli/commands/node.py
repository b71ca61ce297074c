"""`dcos-py node list`: the agents the master knows (GET /master/slaves)."""

from __future__ import annotations

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
from dcos.cli.tables import node_table

app = command_group("Agents of the cluster.")


@app.command("list")
@one_line_errors
def list_nodes(ctx: typer.Context, master: MasterOpt = None, json: JsonOpt = False) -> None:
    """List the agents: id, host, port, resources used / total, active, attributes."""
    url = master_url(ctx, master)
    agents = expect_list(http.get_json(url, "/master/slaves"), "slaves", url + "/master/slaves")
    if json:
        print_json(agents)
    else:
        console().print(node_table(agents))
