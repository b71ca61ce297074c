"""``python -m frameworks.webapp.lb``: run the load balancer (see `service.LoadBalancer`).

Every flag is also settable as ``DCOS_<FLAG>`` (`dcos.common.flags`); ``--help`` lists them.
``--webapp`` takes every webapp instance, comma-separated (``http://a:8080,http://b:8080``).
``--security-dir DIR`` (``--tls-name``, default ``lb``): the webapp is read over mutual TLS
with the LB's certificate (give ``https://`` webapp URLs).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import signal
import sys
from collections.abc import Mapping
from pathlib import Path

import uvloop

from dcos.common.flags import DaemonParser, ip_address, port, positive_seconds, setup_from
from dcos.common.sse import parse_webapp_urls
from dcos.security.options import add_security_args, context_from_args
from frameworks.webapp.lb.config import LbOptions
from frameworks.webapp.lb.service import LoadBalancer, run_lb

DEFAULT_HAPROXY = "/usr/sbin/haproxy"
INSTALL_HINT = "install it with: apt-get install -y haproxy (or scripts/install-system-deps.sh)"


def find_haproxy(flag: str | None = None) -> str | None:
    """The haproxy binary: `flag` if executable, else `haproxy` on PATH, else /usr/sbin."""
    for candidate in (flag, shutil.which("haproxy"), DEFAULT_HAPROXY):
        if candidate and os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
        if flag:
            return None  # an explicit path that does not work is an error, not a fallback
    return None


def build_parser(environ: Mapping[str, str] | None = None) -> DaemonParser:
    """The load balancer's flags; each also ``DCOS_<FLAG>``."""
    p = DaemonParser("python -m frameworks.webapp.lb", "HAProxy load balancer for webapp apps",
                     environ=environ)  # fmt: skip
    p.shared("webapp", "work_dir", work_dir="./work-dir/lb")
    p.flag("--group", default="external", help="serve apps whose HAPROXY_GROUP has it")
    p.flag("--haproxy", default=None, help=f"haproxy binary (default: PATH, {DEFAULT_HAPROXY})")
    p.flag("--bind-address", type=ip_address, default="127.0.0.1",
           help="address the frontends bind")
    p.flag("--http-port", type=port, default=80, help="virtual-host HTTP port (0: none)")
    p.flag("--stats-port", type=port, default=9090, help="stats/health port (0: none)")
    p.flag("--refresh-seconds", type=positive_seconds, default=60.0,
           help="safety-net full resync period (changes come from the event stream)")
    add_security_args(p)
    p.logging_flags()
    return p


def parse_args(argv: list[str] | None = None,
               environ: Mapping[str, str] | None = None) -> argparse.Namespace:  # fmt: skip
    """Parse the flags (and their environment variables); exits 2 on a bad value."""
    p = build_parser(environ)
    a = p.parse_args(argv)
    try:
        a.webapp = ",".join(parse_webapp_urls(a.webapp))
    except ValueError as exc:
        p.error(f"--webapp: {exc}")
    return a


async def _main(a: argparse.Namespace, haproxy: str) -> None:
    opts = LbOptions(group=a.group, bind_address=a.bind_address,
                     http_port=a.http_port or None, stats_port=a.stats_port or None)
    ctx = context_from_args(a, "lb")
    lb = LoadBalancer(a.webapp, opts, Path(a.work_dir), haproxy, debounce_s=0.05,
                      full_every_s=a.refresh_seconds, ssl_context=ctx.client_ssl if ctx else None)
    if ctx is not None and ctx.reloader is not None:
        ctx.reloader.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await run_lb(lb, stop)
    finally:
        if ctx is not None and ctx.reloader is not None:
            await ctx.reloader.stop()


def main(argv: list[str] | None = None) -> int:
    a = parse_args(argv)
    haproxy = find_haproxy(a.haproxy)
    if haproxy is None:
        print(f"lb: haproxy not found ({a.haproxy or 'PATH, ' + DEFAULT_HAPROXY}); {INSTALL_HINT}",
              file=sys.stderr)
        return 1
    setup_from(a)
    try:
        uvloop.run(_main(a, haproxy))
    except (OSError, RuntimeError) as exc:
        print(f"lb: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
