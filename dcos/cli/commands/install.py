"""`dcos-py install` and `dcos-py uninstall`: stand a cluster up on hosts over SSH from one
`cluster.yaml`, and take it down again (docs/install.md).

The options become a `dcos.installer.main.InstallOptions`; `dcos.installer.main` decides the
steps and prints the tables. ``--hash-password`` is answered here (a scrypt hash of
`dcos.security.passwords` for ``security.bootstrap_user.password_hash``).

Called by: `dcos.cli.main`, which registers `install` and `uninstall` as top-level commands.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from dcos.cli.commands._common import one_line_errors
from dcos.cli.errors import CliError

ConfigOpt = Annotated[Path, typer.Option(
    "--config", "-c", help="The cluster's config file (installer/cluster.yaml.example; "
    "docs/install.md has every key).", show_default=True)]
GenconfDirOpt = Annotated[Path | None, typer.Option(
    "--genconf-dir", help="Where the bundle, the cluster CA, the inventory and the hosts' logs "
    "are kept (default: genconf/ next to the config file).", show_default=False)]
HostsOpt = Annotated[str | None, typer.Option(
    "--hosts", help="Only these hosts (comma-separated addresses from the config).",
    metavar="A,B", show_default=False)]
QuietOpt = Annotated[bool, typer.Option(
    "--quiet", "-q", help="Plain lines instead of progress bars (for logs and CI).")]


def _hosts(text: str | None) -> tuple[str, ...]:
    return tuple(a.strip() for a in (text or "").split(",") if a.strip())


def _hash_password(password: str | None) -> None:
    from dcos.cli.commands.auth import password_text, read_secret_text
    from dcos.security.passwords import hash_password

    if password:
        text = password
    else:
        text = password_text(read_secret_text("password", prompt="Password: ", confirm=True))
    typer.echo(hash_password(text))


def _run(code: int) -> None:
    if code:
        raise typer.Exit(code)


@one_line_errors
def install(
    config: ConfigOpt = Path("cluster.yaml"),
    genconf_dir: GenconfDirOpt = None,
    validate_config: Annotated[bool, typer.Option(
        "--validate-config", help="Only check the config: every problem at once; no host is "
        "touched.")] = False,
    genconf: Annotated[bool, typer.Option(
        "--genconf", help="Build the bundle in genconf/serve: wheels for an offline install, "
        "per-host configuration and service definitions, the CA and certificates.")] = False,
    preflight: Annotated[bool, typer.Option(
        "--preflight", help="Check every host over SSH (ssh, python, ports, cgroups, disk, "
        "memory, clock, zookeeper, version, ip_detect): a PASS/FAIL table.")] = False,
    deploy: Annotated[bool, typer.Option(
        "--deploy", help="Copy the bundle to the hosts, install, start the services (masters "
        "first, then agents).")] = False,
    postflight: Annotated[bool, typer.Option(
        "--postflight", help="Wait until the cluster is healthy, install the configured "
        "packages, print the URL and how to log in.")] = False,
    upgrade: Annotated[bool, typer.Option(
        "--upgrade", help="Build a new bundle and roll it through the cluster one host at a "
        "time (masters keep a leader, tasks keep running).")] = False,
    add_agent: Annotated[str | None, typer.Option(
        "--add-agent", help="Add the agent at this address (certificate, preflight, deploy).",
        metavar="HOST", show_default=False)] = None,
    public: Annotated[bool, typer.Option(
        "--public", help="With --add-agent: a public agent (slave_public, load balancer).")
    ] = False,
    remove_agent: Annotated[str | None, typer.Option(
        "--remove-agent", help="Drain the agent at this address (its tasks are started "
        "elsewhere first), then uninstall it.", metavar="HOST", show_default=False)] = None,
    hash_password: Annotated[bool, typer.Option(
        "--hash-password", help="Print a scrypt hash of PASSWORD (the argument; asked twice, "
        "hidden, when not given) for security.bootstrap_user.password_hash.")] = False,
    hosts: HostsOpt = None,
    source: Annotated[Path | None, typer.Option(
        "--source", help="genconf: build the dcos-py wheel from this checkout instead of the "
        "installed dcos-py.", show_default=False)] = None,
    quiet: QuietOpt = False,
    password: Annotated[str | None, typer.Argument(
        help="Only with --hash-password: the password to hash.", metavar="PASSWORD",
        show_default=False)] = None,
) -> None:
    """Install dcos-py on the hosts of cluster.yaml over SSH: with no step flag, genconf,
    preflight, deploy and postflight in order (it stops at the first step a host failed).
    Exit 0 when every host succeeded, 1 otherwise (a table names the host, check and reason)."""
    if hash_password:
        if any((validate_config, genconf, preflight, deploy, postflight, upgrade, public,
                add_agent, remove_agent, hosts, source)):
            raise CliError("--hash-password goes alone")
        _hash_password(password)
        return
    if password is not None:
        raise CliError(f"unexpected argument {password!r} (a PASSWORD goes with --hash-password)")
    from dcos.installer.main import InstallOptions, run

    opts = InstallOptions(
        config=config, genconf_dir=genconf_dir, validate_config=validate_config,
        genconf=genconf, preflight=preflight, deploy=deploy, postflight=postflight,
        upgrade=upgrade, add_agent=add_agent, remove_agent=remove_agent, public=public,
        hosts=_hosts(hosts), source=source, quiet=quiet)
    _run(run(opts))


@one_line_errors
def uninstall(
    config: ConfigOpt = Path("cluster.yaml"),
    genconf_dir: GenconfDirOpt = None,
    hosts: HostsOpt = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")
                   ] = False,
    quiet: QuietOpt = False,
) -> None:
    """Stop every dcos-py service and task on the hosts (all of them, or --hosts) and remove
    what the installer put there (install_dir, work_dir, /etc/dcos-py, service units)."""
    from dcos.installer.main import InstallOptions, run_uninstall

    def confirm(question: str) -> bool:
        if not sys.stdin.isatty():
            raise CliError("no terminal to confirm on: pass --yes to uninstall without asking")
        return bool(typer.confirm(question, default=False))

    opts = InstallOptions(config=config, genconf_dir=genconf_dir, hosts=_hosts(hosts),
                          yes=yes, quiet=quiet)
    _run(run_uninstall(opts, confirm=confirm))
