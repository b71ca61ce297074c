"""``python -m frameworks.webapp``: run the webapp framework (Marathon-like) and its API.

    python -m frameworks.webapp --master 127.0.0.1:5050 --port 8080 --work-dir /var/lib/webapp \
        [--role ROLE] [--hostname H] [--framework-name webapp] [--log-file F] [--gpus]

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

from aiohttp import web

from dcos.state import SQLiteStateStore
from frameworks.webapp.api.server import build_app
from frameworks.webapp.scheduler import WebappService
from frameworks.webapp.store import WebappStore

log = logging.getLogger("webapp")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m frameworks.webapp", description=__doc__.splitlines()[0])
    p.add_argument("--master", default=os.environ.get("DCOS_MASTER", "127.0.0.1:5050"))
    p.add_argument("--ip", default="0.0.0.0", help="address the API listens on")
    p.add_argument("--port", type=int, default=8080)
    p.add_argument("--work-dir", required=True)
    p.add_argument("--role", default="*")
    p.add_argument("--hostname", default=None, help="advertised host name (default: this host)")
    p.add_argument("--framework-name", default="webapp")
    p.add_argument("--log-file", default=None)
    p.add_argument("--log-level", default="INFO")
    p.add_argument("--gpus", action="store_true", help="ask for GPU_RESOURCES")
    p.add_argument("--failover-timeout", type=float, default=7 * 24 * 3600.0)
    p.add_argument("--decline-seconds", type=float, default=120.0)
    p.add_argument("--minimum-viable-task-duration", type=float, default=60.0,
                   help="seconds without a failure after a launch delay that reset an app's backoff")
    return p.parse_args(argv)


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
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if args.log_file:
        os.makedirs(os.path.dirname(os.path.abspath(args.log_file)), exist_ok=True)
        handlers = [logging.FileHandler(args.log_file)]
    logging.basicConfig(level=args.log_level.upper(), handlers=handlers,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")  # fmt: skip
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    return asyncio.run(run(args))


if __name__ == "__main__":
    sys.exit(main())
