"""``python -m frameworks.webapp``: run the webapp framework (Marathon-like) and its API.

    python -m frameworks.webapp --master 127.0.0.1:5050 --port 8080 --work-dir /var/lib/webapp \
        [--role ROLE] [--hostname H] [--framework-name webapp] [--log-file F] [--gpus]

Every flag is also settable as ``DCOS_<FLAG>`` (`dcos.common.flags`); ``--help`` lists them.
The API binds ``--ip`` (default 127.0.0.1; give 0.0.0.0 to listen everywhere).

State lives in ``<work-dir>/state.db`` (SQLite); restarting with the same work dir resumes the
same framework (same id), reconciles its tasks and neither duplicates nor loses instances.
SIGTERM/SIGINT stop it with failover (the tasks keep running for the next process).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import socket
import sys
from collections.abc import Mapping

import uvloop
from aiohttp import web

from dcos.common.flags import DaemonParser, positive_seconds, seconds, setup_from
from dcos.common.version import version_line
from dcos.state import SQLiteStateStore
from frameworks.webapp.api.server import build_app
from frameworks.webapp.scheduler import WebappService
from frameworks.webapp.store import WebappStore

log = logging.getLogger("frameworks.webapp")  # the package this process runs (__name__ is "__main__")


def build_parser(environ: Mapping[str, str] | None = None) -> DaemonParser:
    """The webapp framework's flags; each also ``DCOS_<FLAG>`` (``DCOS_MASTER`` ...)."""
    p = DaemonParser("python -m frameworks.webapp", __doc__.splitlines()[0], environ=environ)
    p.shared("master", "ip", "port", "hostname", "work_dir", port=8080, work_dir=None,
             work_dir_required=True)
    p.flag("--role", default="*", help="role the framework subscribes with")
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
    p.logging_flags()
    return p


def parse_args(argv: list[str] | None = None,
               environ: Mapping[str, str] | None = None) -> argparse.Namespace:  # fmt: skip
    """Parse the flags (and their environment variables); exits 2 on a bad value."""
    return build_parser(environ).parse_args(argv)


async def run(args: argparse.Namespace) -> int:
    os.makedirs(args.work_dir, exist_ok=True)
    store = WebappStore(SQLiteStateStore(os.path.join(args.work_dir, "state.db")))
    hostname = args.hostname or (args.ip if args.ip not in ("0.0.0.0", "") else socket.gethostname())
    service = WebappService(
        store, master=args.master, framework_name=args.framework_name, role=args.role,
        hostname=hostname, http_port=args.port, gpus=args.gpus,
        failover_timeout=args.failover_timeout,
    )  # fmt: skip
    service.core.config.decline_long = args.decline_seconds
    service.core.config.minimum_viable_seconds = args.minimum_viable_task_duration
    service.core.config.drain_seconds = args.lb_drain_seconds
    runner = web.AppRunner(build_app(service), access_log=None, handler_cancellation=True)
    await runner.setup()
    site = web.TCPSite(runner, args.ip, args.port, reuse_address=True)
    await site.start()
    await service.start()
    log.info("webapp API on %s:%d, master %s", args.ip, args.port, args.master)
    done = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, done.set)
    await done.wait()
    log.info("stopping (failover: tasks keep running)")
    await service.stop(failover=True)
    await runner.cleanup()
    await store.store.close()
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    setup_from(args)
    log.info("%s", version_line())
    return uvloop.run(run(args))


if __name__ == "__main__":
    sys.exit(main())
