"""``python -m dcos.packaging``: the package service (Cosmos-compatible API, port 7070).

    python -m dcos.packaging --master 127.0.0.1:5050 --webapp http://127.0.0.1:8080 \
        --work-dir .dcos-py/package [--port 7070] [--ip 127.0.0.1] \
        [--default-repo Universe=file:///path/packages-repo/build/index.json] \
        [--zk zk://127.0.0.1:2181/dcos-packaging] [--advertise-url http://10.0.0.5:7070] \
        [--security-dir DIR [--tls-name package] [--gateway-name gateway]]

State (the repository list): SQLite in ``--work-dir``, or ZooKeeper under ``--zk``'s path (HA:
every instance shares it). ``--default-repo NAME=URI`` (repeatable) seeds the list once, when the
store has never held one. ``--webapp`` takes every webapp instance, comma-separated. Asset URIs
in rendered apps point at ``--advertise-url`` (default ``http://<ip>:<port>``). Every flag is
also settable as ``DCOS_<FLAG>`` (`dcos.common.flags`).

``--security-dir`` (security on, `dcos.packaging.security`): HTTPS with the certificate
``--tls-name``, authentication and ACLs, the webapp and the master called over mutual TLS (a
master address without a scheme is https; give ``--webapp https://...``), the advertised URL
https by default; repositories are still fetched with the system's trust store.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Mapping
from pathlib import Path

import aiohttp
from aiohttp import web

from dcos.common.addresses import parse_master
from dcos.common.flags import DaemonParser, setup_from
from dcos.common.service_main import run_until_signalled
from dcos.common.sse import WebappEndpoints, parse_webapp_urls
from dcos.packaging import errors
from dcos.packaging.api import build_app
from dcos.packaging.clients import HttpMaster, HttpWebapp
from dcos.packaging.indexes import IndexCache
from dcos.packaging.repositories import Repository, RepositoryStore, make_repository
from dcos.packaging.security import DEFAULT_GATEWAY
from dcos.packaging.service import PackageService
from dcos.security.context import SecurityContext, load_context
from dcos.security.http import PolicyFeed
from dcos.state.detector import MasterDetector, StaticDetector, ZooKeeperDetector, master_detector
from dcos.state.sqlite import SQLiteStateStore
from dcos.state.store import StateStore
from dcos.state.zk import is_zk_url, parse_zk_url
from dcos.state.zookeeper import ZooKeeperStateStore

log = logging.getLogger("dcos.packaging")


def build_parser(environ: Mapping[str, str] | None = None) -> DaemonParser:
    p = DaemonParser("python -m dcos.packaging", "dcos-py package service", environ=environ)
    p.shared("master", "webapp", "ip", "port", port=7070)
    p.flag("--work-dir", default=".dcos-py/package",
           help="where the SQLite state (repository list) lives when --zk is not given")
    p.flag("--zk", default=None, help="keep the state in ZooKeeper under this zk:// URL's path")
    repos = p.flag("--default-repo", action="append", default=None, metavar="NAME=URI",
                   help="repository seeded when the store holds no list yet (repeatable; in "
                        "order)")
    if isinstance(repos.default, str):  # from $DCOS_DEFAULT_REPO: one repository
        repos.default = [repos.default]
    p.flag("--advertise-url", default=None,
           help="this service's URL as agents reach it (asset URIs); default http(s)://<ip>:<port>")
    p.flag("--security-dir", type=Path, default=None,
           help="the cluster's security directory (dcos-py up --secure): HTTPS, authentication, "
                "ACLs, mutual TLS to the webapp and the master")
    p.flag("--tls-name", default="package", help="the certificate (certs/<name>.crt) to use")
    p.flag("--gateway-name", default=DEFAULT_GATEWAY,
           help="the gateway's principal: X-Forwarded-Host is believed from its certificate only")
    p.logging_flags()
    return p


def parse_default_repos(values: list[str] | str | None) -> list[Repository]:
    """`NAME=URI` values -> repositories (ValueError naming a bad one)."""
    if values is None:
        return []
    items = [values] if isinstance(values, str) else values
    out = []
    for item in items:
        name, sep, uri = item.partition("=")
        if not sep or not name or not uri:
            raise ValueError(f"--default-repo {item!r}: expected NAME=URI")
        try:
            out.append(make_repository(name, uri))
        except errors.CosmosError as exc:
            raise ValueError(f"--default-repo {item!r}: {exc.message}") from None
    return out


def parse_args(argv: list[str] | None = None) -> tuple[argparse.Namespace, list[Repository]]:
    p = build_parser()
    a = p.parse_args(argv)
    try:
        parse_webapp_urls(a.webapp)
        repos = parse_default_repos(a.default_repo)
    except ValueError as exc:
        p.error(str(exc))
    if a.zk is not None and not is_zk_url(a.zk):
        p.error(f"--zk {a.zk!r}: expected zk://host:port[,host:port]/path")
    if a.port == 0 and a.advertise_url is None:
        p.error("--port 0 needs --advertise-url (asset URLs must name the real port)")
    return a, repos


async def open_store(args: argparse.Namespace) -> StateStore:
    if args.zk:
        return await ZooKeeperStateStore.open(args.zk)
    os.makedirs(args.work_dir, exist_ok=True)
    return SQLiteStateStore(os.path.join(args.work_dir, "packaging.db"))


def detector_for(master: str, ctx: SecurityContext | None) -> MasterDetector:
    """The master detector; https for an address without a scheme when security is on."""
    if ctx is None:
        return master_detector(master)
    if is_zk_url(master):
        return ZooKeeperDetector(parse_zk_url(master), scheme="https")
    return StaticDetector(parse_master(master, "https"))


def _leader_url(detector: MasterDetector) -> str | None:
    leader = detector.current()
    return leader.url if leader is not None else None


async def run(args: argparse.Namespace, defaults: list[Repository],
              stop: asyncio.Event) -> None:
    """Serve until `stop` is set."""
    ctx = load_context(args.security_dir, args.tls_name) if args.security_dir else None
    store = await open_store(args)
    detector = detector_for(args.master, ctx)
    await detector.start()
    session = aiohttp.ClientSession()  # repositories and assets: the system's trust store
    # the webapp and the master: mutual TLS with this service's certificate when secure
    cluster = aiohttp.ClientSession(**ctx.client_kwargs()) if ctx else session
    runner: web.AppRunner | None = None
    policy = PolicyFeed(ctx, lambda: _leader_url(detector), cluster) if ctx else None
    try:
        if ctx is not None and ctx.reloader is not None:
            ctx.reloader.start()
        if policy is not None:
            policy.start()
        repos = RepositoryStore(store)
        seeded = await repos.seed(defaults)
        scheme = "https" if ctx else "http"
        advertise = args.advertise_url or f"{scheme}://{args.ip}:{args.port}"
        service = PackageService(
            repos=repos, indexes=IndexCache(session),
            webapp=HttpWebapp(cluster, WebappEndpoints(args.webapp)),
            master=HttpMaster(cluster, detector), advertise_url=advertise.rstrip("/"))
        runner = web.AppRunner(build_app(service, session, ctx, args.gateway_name),
                               access_log=None, shutdown_timeout=1.0)  # fmt: skip
        await runner.setup()
        await web.TCPSite(runner, args.ip, args.port, reuse_address=True,
                          ssl_context=ctx.server_ssl if ctx else None).start()  # fmt: skip
        log.info("package service on %s://%s:%d (advertised %s), repositories: %s", scheme,
                 args.ip, args.port, advertise, ", ".join(r.name for r in seeded) or "none")
        await stop.wait()
    finally:
        if runner is not None:
            await runner.cleanup()
        if policy is not None:
            await policy.stop()
        if ctx is not None and ctx.reloader is not None:
            await ctx.reloader.stop()
        if cluster is not session:
            await cluster.close()
        await session.close()
        await detector.close()
        await store.close()


def main(argv: list[str] | None = None) -> int:
    args, defaults = parse_args(argv)
    setup_from(args)
    return run_until_signalled("package service", lambda stop: run(args, defaults, stop),
                               errors=(OSError, TimeoutError, ValueError))  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
