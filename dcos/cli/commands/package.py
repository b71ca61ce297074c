"""`dcos-py package search|describe|install|uninstall|update|list|repo|build`: the package
service (Cosmos API, `dcos.packaging`) from the command line, as `dcos package` was on DC/OS.

The package service URL comes from `--package-service` (or env `DCOS_PACKAGE_SERVICE`), then
the attached cluster, then the config file's `package`, then http://127.0.0.1:7070
(`dcos.cli.config.resolve_package_service`); the webapp (install progress, `--dry-run` fit)
likewise from `--webapp`. Requests carry Cosmos' vendor media types (`_cosmos`). A Cosmos
error is one line on stderr and exit 1 (`JsonSchemaMismatch` lists every failing option path).

`install` describes the package first, shows its pre-install notes, asks to continue (unless
`--yes`; without a terminal it refuses rather than hang), installs, shows progress until the
app, or every app of the group, is running and healthy (`--timeout`; `--no-wait` skips it), then
shows the post-install notes. `--dry-run` renders the app instead, prints it, and asks the
webapp (`POST /v2/fit`) whether it fits on the cluster now and why not.

Called by: `dcos.cli.main`.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from dcos.cli.commands import _pkg_wait
from dcos.cli.commands._common import (
    JsonOpt,
    command_group,
    console,
    one_line_errors,
    print_json,
)
from dcos.cli.commands._cosmos import CosmosClient
from dcos.cli.commands.deployment import WebappOpt, client, read_json_arg
from dcos.cli.config import ENV_PACKAGE, resolve_package_service
from dcos.cli.errors import CliError, Rejected

app = command_group("Packages: search the repositories, install, update and uninstall "
                    "services (DC/OS Cosmos-style package service).")
repo_app = command_group("The package repositories the package service reads, in priority "
                         "order.")
app.add_typer(repo_app, name="repo")

DEFAULT_INSTALL_WAIT_S = 300.0

ServiceOpt = Annotated[str | None, typer.Option(
    "--package-service", envvar=ENV_PACKAGE, show_envvar=True, show_default=False,
    help="Package service URL (default: the attached cluster's, the config file's package, "
    "then http://127.0.0.1:7070).")]
VersionOpt = Annotated[str | None, typer.Option(
    "--package-version", help="The package version (default: the newest).")]
OptionsOpt = Annotated[Path | None, typer.Option(
    "--options", help="JSON file of options, merged over the package's defaults.")]
AppIdOpt = Annotated[str | None, typer.Option(
    "--app-id", help="The app (or group) id to install as (default: the package's).")]
TimeoutOpt = Annotated[float, typer.Option(
    "--timeout", help="Seconds to wait until the service is running and healthy.")]
NoWaitOpt = Annotated[bool, typer.Option(
    "--no-wait", help="Return once the package service accepted it.")]


def cosmos(flag: str | None) -> CosmosClient:
    return CosmosClient(resolve_package_service(flag))


def read_options(path: Path | None) -> dict[str, Any] | None:
    """The `--options` file's JSON object (None without one); `CliError` for a bad file."""
    if path is None:
        return None
    options = read_json_arg(str(path))
    if not isinstance(options, dict):
        raise CliError(f"{path}: options must be a JSON object")
    return options


def _table(*columns: str) -> Table:
    table = Table(show_edge=False, pad_edge=False, box=None, header_style="bold")
    for column in columns:
        table.add_column(column, overflow="fold")
    return table


def _say(text: str, err: bool = False) -> None:
    """One plain line (never folded) on stdout, or stderr with `err`."""
    typer.echo(text, err=err)


def describe_package(c: CosmosClient, name: str, version: str | None) -> dict[str, Any]:
    """The package definition (`/package/describe`, the v3 answer's `package`)."""
    body = c.call("/package/describe", {"packageName": name, "packageVersion": version})
    pkg = body.get("package") if isinstance(body, dict) else None
    if not isinstance(pkg, dict):
        raise CliError("unexpected answer from /package/describe: no 'package' object")
    return pkg


def render_app(c: CosmosClient, name: str, version: str | None,
               options: dict[str, Any] | None, app_id: str | None) -> dict[str, Any]:
    """The app (or group) definition the package would install (`/package/render`)."""
    body = c.call("/package/render", {"packageName": name, "packageVersion": version,
                                      "options": options, "appId": app_id})
    rendered = body.get("marathonJson") if isinstance(body, dict) else None
    if not isinstance(rendered, dict):
        raise CliError("unexpected answer from /package/render: no 'marathonJson' object")
    return rendered


# -- search, describe, list ----------------------------------------------------------------


@app.command("search")
@one_line_errors
def search(query: Annotated[str | None, typer.Argument(
               help="Words to look for in names, descriptions and tags.")] = None,
           package_service: ServiceOpt = None, json: JsonOpt = False) -> None:
    """Search the repositories: name, version, selected, framework, description."""
    body = cosmos(package_service).call("/package/search", {"query": query or ""})
    packages = body.get("packages") if isinstance(body, dict) else None
    if not isinstance(packages, list):
        raise CliError("unexpected answer from /package/search: no 'packages' list")
    if json:
        print_json(body)
        return
    if not packages:
        raise CliError(f"no packages found{f' for {query!r}' if query else ''}")
    table = _table("NAME", "VERSION", "SELECTED", "FRAMEWORK", "DESCRIPTION")
    for p in packages:
        table.add_row(str(p.get("name", "-")), str(p.get("currentVersion", "-")),
                      str(bool(p.get("selected"))).lower(), str(bool(p.get("framework"))).lower(),
                      " ".join(str(p.get("description", "")).split())[:80])
    console().print(table)


@app.command("describe")
@one_line_errors
def describe(name: str, package_service: ServiceOpt = None,
             config: Annotated[bool, typer.Option(
                 "--config", help="Print the options schema (config.json).")] = False,
             render: Annotated[bool, typer.Option(
                 "--render", help="Print the app definition rendered with the defaults and "
                 "--options.")] = False,
             options: OptionsOpt = None,
             package_versions: Annotated[bool, typer.Option(
                 "--package-versions", help="Print every version of the package.")] = False,
             package_version: VersionOpt = None, app_id: AppIdOpt = None) -> None:
    """Print a package's definition (JSON), or its options schema, rendered app or versions."""
    if package_versions and (config or render or options or package_version):
        raise CliError("--package-versions goes with no other option")
    user_options = read_options(options)
    c = cosmos(package_service)
    if package_versions:
        body = c.call("/package/list-versions",
                      {"packageName": name, "includePackageVersions": True})
        results = body.get("results") if isinstance(body, dict) else None
        if not isinstance(results, dict):
            raise CliError("unexpected answer from /package/list-versions: no 'results'")
        print_json(sorted(results, key=lambda v: int(results[v]) if str(results[v]).isdigit()
                          else 0, reverse=True))
        return
    if render or options is not None:
        print_json(render_app(c, name, package_version, user_options, app_id))
        return
    pkg = describe_package(c, name, package_version)
    print_json((pkg.get("config") or {}) if config else pkg)


def installed_rows(installs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """`/package/list` installations grouped as `dcos package list --json` showed them: the
    package definition with an `apps` list, one entry per package name and version."""
    grouped: dict[tuple[str, str], dict[str, Any]] = {}
    for inst in installs:
        info = inst.get("packageInformation") or {}
        definition = dict(info.get("packageDefinition") or {})
        key = (str(definition.get("name")), str(definition.get("version")))
        entry = grouped.setdefault(key, {**definition, "apps": []})
        entry["apps"].append(inst.get("appId"))
    return sorted(grouped.values(), key=lambda e: (str(e.get("name")), str(e.get("version"))))


@app.command("list")
@one_line_errors
def list_installed(package_service: ServiceOpt = None, json: JsonOpt = False,
                   app_id: AppIdOpt = None,
                   name: Annotated[str | None, typer.Argument(
                       help="Only this package.")] = None) -> None:
    """List the installed packages: name, version, apps, description."""
    body = cosmos(package_service).call("/package/list", {"packageName": name, "appId": app_id})
    installs = body.get("packages") if isinstance(body, dict) else None
    if not isinstance(installs, list):
        raise CliError("unexpected answer from /package/list: no 'packages' list")
    rows = installed_rows(installs)
    if json:
        print_json(rows)
        return
    if not rows:
        raise CliError("there are no installed packages (dcos-py package install NAME)")
    table = _table("NAME", "VERSION", "APPS", "DESCRIPTION")
    for r in rows:
        table.add_row(str(r.get("name", "-")), str(r.get("version", "-")),
                      ",".join(str(a) for a in r["apps"]),
                      " ".join(str(r.get("description", "")).split())[:60])
    console().print(table)


# -- install, uninstall, update ------------------------------------------------------------


def has_terminal() -> bool:
    """Whether stdin is a terminal someone can answer a question on."""
    return sys.stdin.isatty()


def confirm(question: str, yes: bool) -> bool:
    """`yes`, else the operator's answer; refuse without a terminal (it would hang)."""
    if yes:
        return True
    if not has_terminal():
        raise CliError("no terminal to confirm on: pass --yes to install without asking")
    return bool(typer.confirm(question, default=False))


def dry_run(c: CosmosClient, webapp: str | None, name: str, version: str | None,
            options: dict[str, Any] | None, app_id: str | None, as_json: bool) -> None:
    """Render, print the app, ask the webapp whether it fits now; exit 1 when it does not."""
    rendered = render_app(c, name, version, options, app_id)
    w = client(webapp)
    try:
        answer = w.call("POST", "/v2/fit", rendered)
    except Rejected as exc:
        if exc.status not in (404, 405):
            raise
        answer = None
    if as_json:
        print_json({"app": rendered, "fit": answer})
    else:
        print_json(rendered)
    if answer is None:
        _say(f"note: the webapp at {w.base} has no /v2/fit (an older webapp): "
             "cannot tell whether it fits now", err=True)
        return
    if not isinstance(answer, dict):
        raise CliError("unexpected answer from /v2/fit: not an object")
    fits, lines = _pkg_wait.fit_lines(answer)
    if not as_json:
        for line in lines:
            _say(line)
    if not fits:
        raise typer.Exit(1)


@app.command("install")
@one_line_errors
def install(name: str, package_service: ServiceOpt = None, webapp: WebappOpt = None,
            options: OptionsOpt = None, package_version: VersionOpt = None,
            app_id: AppIdOpt = None,
            yes: Annotated[bool, typer.Option(
                "--yes", "-y", help="Do not ask for confirmation.")] = False,
            dry: Annotated[bool, typer.Option(
                "--dry-run", help="Print the rendered app and whether it fits now; install "
                "nothing (exit 1 when it does not fit).")] = False,
            timeout: TimeoutOpt = DEFAULT_INSTALL_WAIT_S, no_wait: NoWaitOpt = False,
            json: JsonOpt = False) -> None:
    """Install a package: show its notes, confirm, install, wait until it is healthy."""
    user_options = read_options(options)
    c = cosmos(package_service)
    if dry:
        dry_run(c, webapp, name, package_version, user_options, app_id, json)
        return
    pkg = describe_package(c, name, package_version)
    version = str(pkg.get("version", package_version or "?"))
    notes = str(pkg.get("preInstallNotes") or "").strip()
    if notes and not json:
        _say(notes)
    if not confirm("Continue installing?", yes):
        _say("Exiting installation.")
        raise typer.Exit(0)
    if not json:
        _say(f"Installing package [{name}] version [{version}]"
             + (f" with app id [{app_id}]" if app_id else ""))
    result = c.call("/package/install", {"packageName": name, "packageVersion": version,
                                         "options": user_options, "appId": app_id})
    installed = str((result or {}).get("appId") or app_id or "")
    state = None
    if installed and not no_wait:
        state = _pkg_wait.wait_ready(client(webapp), installed, Console(stderr=True), timeout)
    if json:
        print_json({**(result or {}), **({"ready": state.detail} if state else {})})
        return
    if state is not None:
        _say(f"{installed} is running: {state.detail}")
    post = str((result or {}).get("postInstallNotes") or pkg.get("postInstallNotes") or "")
    if post.strip():
        _say(post.strip())


@app.command("uninstall")
@one_line_errors
def uninstall(name: str, package_service: ServiceOpt = None, app_id: AppIdOpt = None,
              all_: Annotated[bool, typer.Option(
                  "--all", help="Uninstall every installed instance of the package.")] = False,
              json: JsonOpt = False) -> None:
    """Uninstall a package: its app or group, its tasks and, for a framework, the framework."""
    if all_ and app_id:
        raise CliError("give --app-id or --all, not both")
    body = cosmos(package_service).call(
        "/package/uninstall", {"packageName": name, "appId": app_id, "all": all_ or None})
    results = body.get("results") if isinstance(body, dict) else None
    if not isinstance(results, list):
        raise CliError("unexpected answer from /package/uninstall: no 'results' list")
    if json:
        print_json(body)
        return
    for r in results:
        _say(f"Uninstalled package [{r.get('packageName', name)}] version "
             f"[{r.get('packageVersion', '?')}] app [{r.get('appId', '?')}]")
        notes = str(r.get("postUninstallNotes") or "").strip()
        if notes:
            _say(notes)


@app.command("update")
@one_line_errors
def update(app_id: Annotated[str, typer.Argument(help="The installed app (or group) id.")],
           package_version: Annotated[str, typer.Option(
               "--package-version", help="The version to move to (an upgrade or downgrade "
               "the package allows).")],
           package_service: ServiceOpt = None, webapp: WebappOpt = None,
           options: OptionsOpt = None,
           replace: Annotated[bool, typer.Option(
               "--replace", help="Use --options instead of the installed options (default: "
               "merge them over the installed ones).")] = False,
           timeout: TimeoutOpt = DEFAULT_INSTALL_WAIT_S, no_wait: NoWaitOpt = False,
           json: JsonOpt = False) -> None:
    """Move an installed package to another version (and options) through a rolling
    deployment; wait until it is healthy again."""
    user_options = read_options(options)
    body = cosmos(package_service).call(
        "/cosmos/service/update", {"appId": app_id, "packageVersion": package_version,
                                   "options": user_options, "replace": replace})
    state = None
    if not no_wait:
        state = _pkg_wait.wait_ready(client(webapp), app_id, Console(stderr=True), timeout)
    if json:
        print_json(body)
        return
    pkg = (body or {}).get("package") or {}
    _say(f"Updated {app_id} to package [{pkg.get('name', '?')}] version "
         f"[{pkg.get('version', package_version)}]"
         + (f": {state.detail}" if state else ""))


# -- repositories --------------------------------------------------------------------------


def _print_repos(body: Any, as_json: bool, where: str) -> None:
    repos = body.get("repositories") if isinstance(body, dict) else None
    if not isinstance(repos, list):
        raise CliError(f"unexpected answer from {where}: no 'repositories' list")
    if as_json:
        print_json(body)
        return
    table = _table("PRIORITY", "NAME", "URI")
    for i, r in enumerate(repos):
        table.add_row(str(i), str(r.get("name", "-")), str(r.get("uri", "-")))
    console().print(table)


@repo_app.command("list")
@one_line_errors
def repo_list(package_service: ServiceOpt = None, json: JsonOpt = False) -> None:
    """List the repositories, highest priority (0) first."""
    body = cosmos(package_service).call("/package/repository/list", {})
    _print_repos(body, json, "/package/repository/list")


@repo_app.command("add")
@one_line_errors
def repo_add(name: str, url: Annotated[str, typer.Argument(
                 help="The index URL: http(s)://.../index.json or file:///...")],
             index: Annotated[int | None, typer.Option(
                 "--index", min=0, help="Priority position (0 = first; default: last).")
             ] = None,
             token: Annotated[str | None, typer.Option(
                 "--token", envvar="DCOS_PACKAGE_REPO_TOKEN", show_envvar=True,
                 help="Bearer token of a private repository (sent as Authorization: Bearer; "
                 "never shown by repo list). Basic auth goes in the URL: "
                 "https://user:password@host/index.json.")] = None,
             package_service: ServiceOpt = None, json: JsonOpt = False) -> None:
    """Add a repository (the service reads its index first: a bad one changes nothing)."""
    request: dict[str, object] = {"name": name, "uri": url, "index": index}
    if token:
        request["token"] = token
    body = cosmos(package_service).call("/package/repository/add", request)
    _print_repos(body, json, "/package/repository/add")


@repo_app.command("remove")
@one_line_errors
def repo_remove(name: str, package_service: ServiceOpt = None, json: JsonOpt = False) -> None:
    """Remove a repository by name."""
    body = cosmos(package_service).call("/package/repository/delete", {"name": name})
    _print_repos(body, json, "/package/repository/delete")


# -- build ---------------------------------------------------------------------------------


@app.command("build")
def build(src: Annotated[Path, typer.Argument(
              help="The source repository (packages/<name>/<release>/, wheels/, src/).")],
          out: Annotated[Path | None, typer.Option(
              "--out", help="Output folder (default: DIR/build).")] = None,
          skip_assets: Annotated[bool, typer.Option(
              "--skip-assets", help="Validate and write the index without building the "
              "wheel sets.")] = False) -> None:
    """Validate every package of a repository and write its Universe v4 index (and assets).
    Every faulty file is listed with its reason (exit 1); nothing is written then."""
    from dcos.packaging.build import AssetsFailed, build_repository
    from dcos.packaging.validate import RepositoryInvalid

    if not src.is_dir():
        _say(f"dcos-py: {src} is not a folder", err=True)
        raise typer.Exit(1)
    try:
        result = build_repository(src, out, skip_assets=skip_assets)
    except RepositoryInvalid as exc:
        _say(f"dcos-py: {len(exc.problems)} problem(s) in the package repository {src}:",
             err=True)
        for problem in exc.problems:
            _say(f"  {problem.path}: {problem.reason}", err=True)
        raise typer.Exit(1) from None
    except AssetsFailed as exc:
        _say(f"dcos-py: {len(exc.errors)} wheel set(s) of {src} could not be built:", err=True)
        for error in exc.errors:
            _say(f"  {error}", err=True)
        raise typer.Exit(1) from None
    except OSError as exc:
        _say(f"dcos-py: cannot build {src}: {exc}", err=True)
        raise typer.Exit(1) from None
    _say(result.summary())
