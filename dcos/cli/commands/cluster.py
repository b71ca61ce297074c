"""`dcos-py cluster setup|list|attach|remove`: the clusters this CLI knows and the one every
command acts on (as `dcos cluster setup|list|attach` on DC/OS).

`setup URL` checks that a master answers at URL (`/master/state`, else `/health`), finds the
webapp from the master's frameworks (the `webui_url` of the active framework named `webapp`)
unless `--webapp` is given, takes the package service at http://<master host>:7070 unless
`--package-service` is given, saves the cluster (`dcos.cli.clusters`) and attaches it. With no
cluster attached, commands act on "local": the config file, then the local defaults of
`dcos-py up`. A secure cluster (issue 13): `--ssl-verify CA_FILE` (or true/false) is kept as the
cluster's ``core.ssl_verify`` and used for the probe; a master that answers 401 is secure, so
the webapp defaults to https://<master host>:8080 and the CLI says to `dcos-py auth login`.

Called by: `dcos.cli.main`.
"""

from __future__ import annotations

import re
from typing import Annotated, Any
from urllib.parse import urlsplit

import typer
from rich.table import Table

from dcos.cli import clusters, config, http
from dcos.cli.commands._common import (
    JsonOpt,
    command_group,
    console,
    one_line_errors,
    print_json,
)
from dcos.cli.config import (
    DEFAULT_MASTER,
    DEFAULT_PACKAGE,
    DEFAULT_WEBAPP,
    load_config,
    normalize_master_url,
    normalize_webapp_url,
)
from dcos.cli.errors import CliError, TimedOut, Unreachable
from dcos.common.addresses import zk_master

app = command_group("The clusters this CLI knows, and the one every command acts on.")

WEBAPP_FRAMEWORK = "webapp"
PACKAGE_PORT = 7070
WEBAPP_PORT = 8080
PROBE_TIMEOUT_S = 5.0


def default_name(master_url: str) -> str:
    """A cluster name from the master's URL: its host and port, e.g. ``10.0.0.1-5050``."""
    netloc = urlsplit(master_url).netloc
    return re.sub(r"[^A-Za-z0-9._-]+", "-", netloc).strip("-.") or "cluster"


def master_state(master_url: str) -> dict[str, Any]:
    """The master's `/master/state` (its frameworks); {} when only `/health` answers (a
    master that does not serve its state here). Unreachable/TimedOut when neither answers."""
    try:
        state = http.get_json(master_url, "/master/state", timeout=PROBE_TIMEOUT_S)
        return state if isinstance(state, dict) else {}
    except (Unreachable, TimedOut, http.NotLoggedIn):
        raise  # nothing there, or a secure master (401)
    except CliError:
        pass  # it answers, but not its state: is it alive?
    http.get_json(master_url, "/health", timeout=PROBE_TIMEOUT_S)
    return {}


def find_webapp(state: dict[str, Any]) -> str | None:
    """The `webui_url` of the active framework named `webapp` in a `/master/state` body."""
    for fw in state.get("frameworks") or []:
        if fw.get("name") == WEBAPP_FRAMEWORK and fw.get("active") and fw.get("webui_url"):
            return str(fw["webui_url"]).rstrip("/")
    return None


def package_default(master_url: str, port: int = PACKAGE_PORT) -> str:
    """<scheme>://<master host>:7070 (the package service runs on the masters; https when
    the master is)."""
    parts = urlsplit(master_url)
    host = parts.hostname or "127.0.0.1"
    host = f"[{host}]" if ":" in host else host
    return f"{parts.scheme or 'http'}://{host}:{port}"


@app.command("setup")
@one_line_errors
def setup(url: Annotated[str, typer.Argument(
              help="The master: host:port, http(s)://host:port or zk://host:port/path.")],
          name: Annotated[str | None, typer.Option(
              "--name", help="The cluster's name (default: the master's host-port).")] = None,
          webapp: Annotated[str | None, typer.Option(
              "--webapp", help="Webapp API URL (default: found through the master).")] = None,
          package_service: Annotated[str | None, typer.Option(
              "--package-service", help="Package service URL (default: "
              "http://<master host>:7070).")] = None,
          ssl_verify: Annotated[str | None, typer.Option(
              "--ssl-verify", help="A secure cluster's CA bundle (or true/false): kept as the "
              "cluster's core.ssl_verify.")] = None,
          json: JsonOpt = False) -> None:
    """Set up a cluster: check its master, find its services, save it and attach it."""
    verify = None if ssl_verify is None else config.parse_ssl_verify(ssl_verify, "--ssl-verify")
    if verify is not None:
        http.use_transport(http.Transport(http.ssl_context_for(verify)))
    master = normalize_master_url(url)
    secure = False
    try:
        state = master_state(master)
    except http.NotLoggedIn:
        state, secure = {}, True
    finally:
        http.use_transport(None)
    found = webapp or find_webapp(state) or (package_default(master, WEBAPP_PORT) if secure
                                             else None)
    if not found:
        raise CliError(f"no active {WEBAPP_FRAMEWORK!r} framework is registered with the master "
                       f"at {master}: pass --webapp URL")
    cluster = clusters.Cluster(
        name=clusters.check_name(name or default_name(master)),
        master=url.strip() if zk_master(url.strip()) else master,
        webapp=normalize_webapp_url(found),
        package=normalize_webapp_url(package_service or package_default(master),
                                     "package service"))
    if cluster.name in clusters.names():
        raise CliError(f"a cluster named {cluster.name!r} is already set up "
                       f"(dcos-py cluster remove {cluster.name}, or pick another --name)")
    clusters.save(cluster)
    if verify is not None:
        config.store_ssl_verify(verify, cluster.name)
    clusters.attach(cluster.name)
    if json:
        print_json({**vars(cluster), "attached": True, "secure": secure})
        return
    console().print(f"set up and attached cluster {cluster.name}: master {cluster.master}, "
                    f"webapp {cluster.webapp}, package service {cluster.package}",
                    markup=False, highlight=False)
    if secure:
        console().print("the cluster asks for credentials: log in with `dcos-py auth login`",
                        markup=False, highlight=False)


def cluster_rows() -> list[dict[str, Any]]:
    """Every set-up cluster, then "local" (the config file and defaults) unless a set-up
    cluster has that name; `attached` marks the one commands act on."""
    attached = clusters.attached_name()
    rows = []
    for n in clusters.names():
        c = clusters.load(n)
        rows.append({**vars(c), "attached": n == attached})
    if clusters.LOCAL not in clusters.names():
        cfg = load_config()
        rows.append({"name": clusters.LOCAL, "master": cfg.master or DEFAULT_MASTER,
                     "webapp": cfg.webapp or DEFAULT_WEBAPP,
                     "package": cfg.package or DEFAULT_PACKAGE, "dispatcher": cfg.dispatcher,
                     "attached": attached is None})
    return rows


@app.command("list")
@one_line_errors
def list_clusters(json: JsonOpt = False) -> None:
    """List the clusters; `*` marks the attached one."""
    rows = cluster_rows()
    if json:
        print_json(rows)
        return
    table = Table(show_edge=False, pad_edge=False, box=None, header_style="bold")
    for column in ("NAME", "ATTACHED", "MASTER", "WEBAPP", "PACKAGE SERVICE"):
        table.add_column(column, overflow="fold")
    for r in rows:
        table.add_row(r["name"], "*" if r["attached"] else "", r["master"], r["webapp"],
                      r["package"])
    console().print(table)


@app.command("attach")
@one_line_errors
def attach(name: str) -> None:
    """Make NAME the cluster every command acts on (`local`: the config file and defaults)."""
    clusters.attach(name)
    console().print(f"attached cluster {name}", markup=False, highlight=False)


@app.command("remove")
@one_line_errors
def remove(name: str) -> None:
    """Forget a cluster (commands act on "local" when it was the attached one)."""
    was_attached = clusters.remove(name)
    suffix = "; commands now act on the local cluster" if was_attached else ""
    console().print(f"removed cluster {name}{suffix}", markup=False, highlight=False)
