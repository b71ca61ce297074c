"""``python -m frameworks.webapp``: run the webapp framework (Marathon-like) and its API.

    python -m frameworks.webapp --master 127.0.0.1:5050 --port 8080 --work-dir /var/lib/webapp \
        [--role ROLE] [--hostname H] [--framework-name webapp] [--log-file F] [--gpus] \
        [--zk zk://127.0.0.1:2181/dcos-webapp [--zk-session-timeout 10]] \
        [--security-dir DIR [--tls-name webapp]] [--event-callback-allow HOST:PORT ...]

Every flag is also settable as ``DCOS_<FLAG>`` (`dcos.common.flags`); ``--help`` lists them.
The API binds ``--ip`` (default 127.0.0.1; give 0.0.0.0 to listen everywhere).

State lives in ``<work-dir>/state.db`` (SQLite); restarting with the same work dir resumes the
same framework (same id), reconciles its tasks and neither duplicates nor loses instances.
SIGTERM/SIGINT stop it with failover (the tasks keep running for the next process).

Security (``--security-dir``, made by ``dcos-py up --secure``): the API is HTTPS with the
``--tls-name`` certificate (default ``webapp``) and needs authentication (token, Basic or a
client certificate; ``/ping`` stays open); changes are checked against the ``webapp_groups``
and ``use_secrets`` ACLs; the master is reached over mutual TLS (the framework authenticates
by that certificate, principal ``webapp``), as is the leader by HA followers
(`frameworks.webapp.api.security`). The certificates are reloaded when they change on disk.
Event callback URLs: ``--event-callback-allow`` (`frameworks.webapp.callback_policy`).

High availability (Marathon's ``--zk``): run 2 or more instances with the same ``--zk
zk://hosts/<path>``. They elect one leader under ``<path>/leader`` (ephemeral sequential
``json.info_*`` znodes holding ``{"id", "host", "port", "url", "version"}``) and keep the state
in ZooKeeper under ``<path>/state`` (writes fenced with the leader's znode). Only the leader
runs the scheduler; the others proxy ``/v2`` to it and take over, with the same framework id
and tasks, when it goes (`frameworks.webapp.leading`). ``--zk-session-timeout`` is the
ZooKeeper session timeout: a leader cut off from ZooKeeper steps down before the others can
take over.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import socket
import sys
from collections.abc import Mapping

import aiohttp
import uvloop
from aiohttp import web
from kazoo.client import KazooClient

from dcos.common.addresses import parse_master, zk_master
from dcos.common.flags import DaemonParser, positive_seconds, seconds, setup_from
from dcos.common.version import version_info, version_line
from dcos.security.context import SecurityContext
from dcos.security.http import PolicyFeed
from dcos.security.options import add_security_args, context_from_args
from dcos.state import SQLiteStateStore, StateStore
from dcos.state.election import ZooKeeperElection
from dcos.state.zk import ZkUrl, ZkUrlError, new_client, parse_zk_url, start_client, stop_client
from dcos.state.zookeeper import ZooKeeperStateStore
from frameworks.webapp.api.security import ApiSecurity
from frameworks.webapp.api.server import build_app
from frameworks.webapp.callback_policy import CallbackPolicy, parse_patterns
from frameworks.webapp.ha import Election, HaState, LeaderRecord, SoloElection, ZkSettings
from frameworks.webapp.leading import LeaderLoop
from frameworks.webapp.scheduler import WebappService
from frameworks.webapp.store import WebappStore

log = logging.getLogger("frameworks.webapp")  # the package this process runs (__name__ is "__main__")


def _roles(text: str) -> tuple[str, ...]:
    """``--default-accepted-resource-roles``: ``*`` or ``*,slave_public``."""
    roles = tuple(r.strip() for r in text.split(",") if r.strip())
    if not roles:
        raise argparse.ArgumentTypeError("expected one or more roles, comma separated")
    return roles


def build_parser(environ: Mapping[str, str] | None = None) -> DaemonParser:
    """The webapp framework's flags; each also ``DCOS_<FLAG>`` (``DCOS_MASTER`` ...)."""
    p = DaemonParser("python -m frameworks.webapp", __doc__.splitlines()[0], environ=environ)
    p.shared("master", "ip", "port", "hostname", "work_dir", port=8080, work_dir=None,
             work_dir_required=True)
    p.flag("--role", default="*", help="role the framework subscribes with (e.g. slave_public: "
           "it then gets unreserved resources and those statically reserved to that role)")
    p.flag("--default-accepted-resource-roles", type=_roles, default=None, metavar="ROLES",
           help="acceptedResourceRoles of apps that give none, comma separated (e.g. '*': "
           "such apps never land on agents reserved to a role; default: any role)")
    p.flag("--framework-name", default="webapp", help="name the framework registers under")
    p.flag("--gpus", action="store_true", help="ask for GPU_RESOURCES")
    p.flag("--failover-timeout", type=positive_seconds, default=7 * 24 * 3600.0,
           help="seconds the master keeps the framework's tasks while it is away")
    p.flag("--decline-seconds", type=positive_seconds, default=120.0,
           help="refuse unneeded offers for this long")
    p.flag("--minimum-viable-task-duration", type=seconds, default=60.0,
           help="seconds without a failure after a launch delay that reset an app's backoff")
    p.flag("--lb-drain-seconds", type=seconds, default=2.0,
           help="a task of an app in a load-balancer group (HAPROXY_GROUP) is shown as "
                "TASK_KILLING this long before its kill, so load balancers drain it (at most "
                "its taskKillGracePeriodSeconds; 0: kill at once)")
    p.flag("--zk", type=zk_url_flag, default=None,
           help="ZooKeeper URL zk://host:port[,host:port]/path: run highly available (state "
                "under <path>/state, leader election under <path>/leader); without it the state "
                "is in <work-dir>/state.db and this instance always leads")
    p.flag("--zk-session-timeout", type=positive_seconds, default=10.0,
           help="ZooKeeper session timeout in seconds (a leader that loses its session steps "
                "down; a dead leader is replaced after about this long)")
    p.flag("--event-callback-allow", action="append", default=None, metavar="HOST:PORT",
           help="allow /v2/eventSubscriptions callback URLs to this host:port (host may be * "
                "or *.domain, port may be *; repeat or separate with commas). With it only "
                "listed URLs are allowed; without it none when security is on, and when off any "
                "but the cluster's own loopback component ports (frameworks.webapp.callback_policy)")
    p.flag("--mesos-user", default=None,
           help="user of tasks of apps without a 'user' (FrameworkInfo.user; default: this "
                "process's user, or nobody with --security-dir)")
    add_security_args(p)
    p.logging_flags()
    return p


def api_security(args: argparse.Namespace, ctx: SecurityContext | None) -> ApiSecurity:
    """The API's protections from the flags: the callback policy (with this webapp's own port
    and the master's among the internal ones) and the security context."""
    raw = args.event_callback_allow or []
    allow = parse_patterns([raw] if isinstance(raw, str) else raw)
    internal = [args.port]
    if zk_master(args.master) is None:
        with contextlib.suppress(ValueError):
            internal.append(parse_master(args.master).port)
    policy = CallbackPolicy(allow, secure=ctx is not None).with_ports(internal)
    return ApiSecurity(ctx, policy)


def zk_url_flag(text: str) -> ZkUrl:
    """``--zk``: a ``zk://`` URL (a usage error saying what is wrong otherwise)."""
    try:
        return parse_zk_url(text)
    except ZkUrlError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def parse_args(argv: list[str] | None = None,
               environ: Mapping[str, str] | None = None) -> argparse.Namespace:  # fmt: skip
    """Parse the flags (and their environment variables); exits 2 on a bad value."""
    return build_parser(environ).parse_args(argv)


class Backend:
    """Where the state lives and how the leader is chosen: SQLite and `SoloElection` by
    default, or the ZooKeeper store and election (one kazoo session for both) with ``--zk``."""

    def __init__(self, store: StateStore, election: Election, zk: ZkSettings | None = None,
                 client: KazooClient | None = None) -> None:  # fmt: skip
        self.store = store
        self.election = election
        self.zk = zk
        self.client = client
        self.fence = store.fence if isinstance(store, ZooKeeperStateStore) else None

    @classmethod
    async def open(cls, args: argparse.Namespace, me: LeaderRecord) -> Backend:
        url: ZkUrl | None = args.zk
        if url is None:
            return cls(SQLiteStateStore(os.path.join(args.work_dir, "state.db")), SoloElection(me.to_bytes()))
        timeout = args.zk_session_timeout
        client = new_client(url, session_timeout=timeout)
        await start_client(client, timeout=max(timeout, 5.0))
        store = ZooKeeperStateStore(client, url.path + "/state")
        election = ZooKeeperElection(client, url.path + "/leader", me.to_bytes())
        zk = ZkSettings(url.redacted(), url.hosts, url.path, timeout)
        return cls(store, election, zk, client)

    async def close(self) -> None:
        await self.store.close()
        if self.client is not None:
            await stop_client(self.client)


async def run(args: argparse.Namespace) -> int:
    os.makedirs(args.work_dir, exist_ok=True)
    hostname = args.hostname or (args.ip if args.ip not in ("0.0.0.0", "") else socket.gethostname())
    try:
        ctx = context_from_args(args, "webapp")
        security = api_security(args, ctx)
    except (OSError, ValueError) as e:
        log.error("cannot start: %s", e)
        return 1
    me = LeaderRecord.new(hostname, args.port, version_info().version,
                          scheme="https" if ctx is not None else "http")  # fmt: skip
    try:
        backend = await Backend.open(args, me)
    except TimeoutError as e:
        log.error("%s", e)
        return 1
    store = WebappStore(backend.store)
    service = WebappService(
        store, master=args.master, framework_name=args.framework_name, role=args.role,
        hostname=hostname, http_port=args.port, gpus=args.gpus,
        failover_timeout=args.failover_timeout, security=ctx, callback_policy=security.callbacks,
        mesos_user=args.mesos_user,
    )  # fmt: skip
    service.core.config.decline_long = args.decline_seconds
    service.core.config.minimum_viable_seconds = args.minimum_viable_task_duration
    service.core.config.drain_seconds = args.lb_drain_seconds
    service.core.config.default_accepted_roles = args.default_accepted_resource_roles
    ha = HaState(me, backend.zk)
    leader = LeaderLoop(service, backend.election, ha, fence=backend.fence)
    runner = web.AppRunner(build_app(service, ha, leader.abdicate, security), access_log=None,
                           handler_cancellation=True)  # fmt: skip
    await runner.setup()
    site = web.TCPSite(runner, args.ip, args.port, reuse_address=True,
                       ssl_context=ctx.server_ssl if ctx is not None else None)  # fmt: skip
    await site.start()
    feed = start_security(ctx, service, args.master)
    leader.start()
    log.info("webapp API on %s:%d, master %s%s", args.ip, args.port, args.master,
             f", ZooKeeper {backend.zk.url}" if backend.zk else "")  # fmt: skip
    done = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, done.set)
    await done.wait()
    log.info("stopping (failover: tasks keep running)")
    await leader.stop()
    await runner.cleanup()
    await backend.close()
    if feed is not None:
        await feed.stop()
        await feed.session.close()
    if ctx is not None and ctx.reloader is not None:
        await ctx.reloader.stop()
    return 0


def start_security(ctx: SecurityContext | None, service: WebappService, master: str) -> PolicyFeed | None:
    """Security on: start the certificate reloader and the `PolicyFeed` that keeps the ACLs
    (and revoked tokens) equal to the leading master's, asked at the master the scheduler
    driver currently follows (else the ``--master`` address). Returns the feed to stop."""
    if ctx is None:
        return None
    if ctx.reloader is not None:
        ctx.reloader.start()

    def master_urls() -> list[str]:
        driver = service.driver
        if driver is not None and driver.master is not None:
            return [driver.master.url]
        if zk_master(master) is None:
            return [parse_master(master, default_scheme="https").url]
        return []

    feed = PolicyFeed(ctx, master_urls, aiohttp.ClientSession(**ctx.client_kwargs()))
    feed.start()
    return feed


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    setup_from(args)
    log.info("%s", version_line())
    return uvloop.run(run(args))


if __name__ == "__main__":
    sys.exit(main())
