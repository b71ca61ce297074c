"""The `dcos-py` command line (typer): `up`, `node`, `framework`, `task`, `app`, `deployment`,
`batch`, `package`, `cluster`, `ca`, `auth`, `secret`, `user`, `acl`, `install`, `uninstall`,
`master`, `agent`. ``-h``/``--help`` everywhere; shell
completion with ``dcos-py --install-completion``; exit codes in `dcos.cli.errors` (and every ``--help``).

Called by: the console script `dcos-py = dcos.cli.main:main` and `python -m dcos.cli`. Later
issues add their command groups here with `app.add_typer(...)`.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from dcos.cli.commands import (
    acl,
    auth,
    batch,
    ca,
    cluster,
    deployment,
    framework,
    node,
    package,
    secret,
    task,
    user,
)
from dcos.cli.commands import app as app_cmd
from dcos.cli.commands import install as install_cmd
from dcos.cli.commands._common import CONTEXT_SETTINGS, one_line_errors
from dcos.cli.config import ENV_MASTER
from dcos.cli.errors import EXIT_CODES_HELP, CliError
from dcos.cli.up import UpOptions, run_up
from dcos.common.version import version_line

app = typer.Typer(
    name="dcos-py",
    help="dcos-py: a datacenter operating system in Python (Mesos + Marathon + DC/OS style). "
    "Addresses come from the options, their DCOS_* environment variables, then the attached "
    "cluster (dcos-py cluster attach), then the config file ($DCOS_PY_CONFIG, else "
    "~/.config/dcos-py/config.toml: master, webapp, dispatcher, package).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=True,
    rich_markup_mode=None,
    context_settings=CONTEXT_SETTINGS,
    epilog=EXIT_CODES_HELP,
)
app.add_typer(node.app, name="node")
app.add_typer(framework.app, name="framework")
app.add_typer(task.app, name="task")
app.add_typer(app_cmd.app, name="app")
app.add_typer(deployment.app, name="deployment")
app.add_typer(batch.app, name="batch")
app.add_typer(package.app, name="package")
app.add_typer(cluster.app, name="cluster")
app.add_typer(ca.app, name="ca")

app.add_typer(auth.app, name="auth")
app.add_typer(secret.app, name="secret")
app.add_typer(user.app, name="user")
app.add_typer(acl.app, name="acl")
app.command("install", epilog=EXIT_CODES_HELP)(install_cmd.install)
app.command("uninstall", epilog=EXIT_CODES_HELP)(install_cmd.uninstall)

PASSTHROUGH = {"allow_extra_args": True, "ignore_unknown_options": True}


def _print_version(value: bool) -> None:
    if value:
        typer.echo(version_line())
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    master: Annotated[str | None, typer.Option(
        "--master", envvar=ENV_MASTER, show_envvar=True, show_default=False,
        help="Master address for every command (host:port, http://host:port, or "
        "zk://host:port/path: the leader, found through ZooKeeper).")] = None,
    version: Annotated[bool, typer.Option(
        "--version", callback=_print_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """Options that apply to every command."""
    ctx.obj = {"master": master}


@app.command()
@one_line_errors
def up(
    agents: Annotated[int, typer.Option("--agents", help="Number of local agents.")] = 3,
    work_dir: Annotated[Path, typer.Option(
        "--work-dir", help="Where every component keeps its state and logs.")] = Path(".dcos-py"),
    master_port: Annotated[int, typer.Option("--master-port")] = 5050,
    agent_port: Annotated[int, typer.Option(
        "--agent-port", help="Port of the first agent; agent i listens on this + i.")] = 5051,
    webapp_port: Annotated[int, typer.Option(
        "--webapp-port", help="Webapp framework (Marathon-like) API port.")] = 8080,
    dns_port: Annotated[int, typer.Option("--dns-port", help="DNS port (UDP and TCP).")] = 8053,
    dns_http_port: Annotated[int, typer.Option(
        "--dns-http-port", help="DNS HTTP API port (Mesos-DNS /v1).")] = 8123,
    lb_http_port: Annotated[int, typer.Option(
        "--lb-http-port", help="Load balancer virtual-host HTTP port.")] = 9080,
    lb_stats_port: Annotated[int, typer.Option(
        "--lb-stats-port", help="Load balancer stats/health port.")] = 9090,
    no_webapp: Annotated[bool, typer.Option(
        "--no-webapp", help="Do not start the webapp.")] = False,
    no_dns: Annotated[bool, typer.Option("--no-dns", help="Do not start DNS.")
                      ] = False,
    no_lb: Annotated[bool, typer.Option(
        "--no-lb", help="Do not start the load balancer.")] = False,
    batch_port: Annotated[int, typer.Option(
        "--batch-port", help="Batch dispatcher (cluster-mode job submission) port.")] = 7077,
    no_batch: Annotated[bool, typer.Option(
        "--no-batch", help="Do not start the batch dispatcher.")] = False,
    package_port: Annotated[int, typer.Option(
        "--package-port", help="Package service (Cosmos API) port.")] = 7070,
    no_packages: Annotated[bool, typer.Option(
        "--no-packages", help="Do not start the package service.")] = False,
    gateway_port: Annotated[int, typer.Option(
        "--gateway-port", help="Gateway port: the web UI and every API behind one URL (what "
        "the DC/OS CLI's core.dcos_url points at).")] = 8000,
    no_gateway: Annotated[bool, typer.Option(
        "--no-gateway", help="Do not start the gateway (web UI).")] = False,
    ha: Annotated[bool, typer.Option(
        "--ha", help="High availability: a local ZooKeeper, three masters (--master-port, "
        "+100, +200) and two webapp instances (--webapp-port, +1) that elect their leaders "
        "in it; everything else follows the leaders (docs/operations.md).")] = False,
    zk: Annotated[str | None, typer.Option(
        "--zk", help="HA on an existing ZooKeeper ensemble instead of a local one: the "
        "masters elect under this URL's path, the webapp under <path>-webapp (implies --ha).",
        metavar="zk://HOST:PORT[,HOST:PORT]/PATH")] = None,
    zk_port: Annotated[int, typer.Option(
        "--zk-port", help="Port of the ZooKeeper that --ha starts.")] = 2181,
    task_ports: Annotated[int | None, typer.Option(
        "--task-ports", envvar="DCOS_UP_TASK_PORTS_BASE", show_envvar=True,
        help="First port of the agents' task port ranges (agent i: this + i*1000, 1000 each; "
        "default 31000): a second local cluster on this machine then never hands its tasks "
        "the same ports.")] = None,
    secure: Annotated[bool, typer.Option(
        "--secure", help="Security on: a cluster CA in <work dir>/security (kept across "
        "restarts), mutual TLS between every component, authentication and ACLs on every API; "
        "the admin password is printed at the first start, and the CLI is set up with the CA "
        "and an admin token (docs/security.md).")] = False,
) -> None:
    """Run a local cluster (a master, N agents, the webapp framework, DNS, the batch
    dispatcher, the package service, the load balancer and the gateway with the web UI) in the
    foreground until Ctrl-C or SIGTERM; with --ha or --zk, three masters and two webapp
    instances on ZooKeeper."""
    opts = UpOptions(agents=agents, work_dir=work_dir, master_port=master_port,
                     agent_port=agent_port, webapp=not no_webapp, webapp_port=webapp_port,
                     dns=not no_dns, dns_port=dns_port, dns_http_port=dns_http_port,
                     lb=not no_lb, lb_http_port=lb_http_port, lb_stats_port=lb_stats_port,
                     batch=not no_batch, batch_port=batch_port, package=not no_packages,
                     package_port=package_port, ha=ha, zk=zk, zk_port=zk_port,
                     task_ports=task_ports, gateway=not no_gateway, gateway_port=gateway_port,
                     secure=secure)
    width = None if sys.stdout.isatty() else 200  # piped (make up | tee): do not fold the table
    code = run_up(opts, Console(soft_wrap=True, width=width),
                  Console(stderr=True, soft_wrap=True, width=width))
    raise typer.Exit(code)


def _exec_module(module: str, args: list[str]) -> None:
    """Replace this process with `python -m <module> <args>` (same interpreter)."""
    argv = [sys.executable, "-m", module, *args]
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, argv)


@app.command(context_settings=PASSTHROUGH, add_help_option=False)
def master(ctx: typer.Context) -> None:
    """Run one master: `python -m dcos.master ARGS` (try `dcos-py master --help`)."""
    _exec_module("dcos.master", list(ctx.args))


@app.command(context_settings=PASSTHROUGH, add_help_option=False)
def agent(ctx: typer.Context) -> None:
    """Run one agent: `python -m dcos.agent ARGS` (try `dcos-py agent --help`)."""
    _exec_module("dcos.agent", list(ctx.args))


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except CliError as exc:  # raised outside a decorated command (should not happen)
        sys.stderr.write(f"dcos-py: {exc.message}\n")
        sys.exit(exc.exit_code)


if __name__ == "__main__":
    main()
