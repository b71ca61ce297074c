"""``python -m frameworks.webapp.lb``: run the load balancer (see `service.LoadBalancer`)."""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import signal
import sys
from pathlib import Path

from dcos.common.log import setup_logging
from frameworks.webapp.lb.config import LbOptions

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


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m frameworks.webapp.lb",
                                description="HAProxy load balancer for webapp apps")
    p.add_argument("--webapp", default="http://127.0.0.1:8080", help="webapp framework API URL")
    p.add_argument("--group", default="external", help="serve apps whose HAPROXY_GROUP has it")
    p.add_argument("--work-dir", default="./work-dir/lb")
    p.add_argument("--haproxy", default=None, help=f"haproxy binary (default: PATH, {DEFAULT_HAPROXY})")
    p.add_argument("--bind-address", default="127.0.0.1", help="address the frontends bind")
    p.add_argument("--http-port", type=int, default=80, help="virtual-host HTTP port (0: none)")
    p.add_argument("--stats-port", type=int, default=9090, help="stats/health port (0: none)")
    p.add_argument("--refresh-seconds", type=float, default=60.0,
                   help="safety-net full resync period (changes come from the event stream)")
    p.add_argument("--log-file", default=None)
    p.add_argument("--log-level", default="INFO")
    a = p.parse_args(argv)
    for name in ("http_port", "stats_port"):
        if not 0 <= getattr(a, name) <= 65535:
            p.error(f"--{name.replace('_', '-')} must be between 0 and 65535")
    return a


async def _main(a: argparse.Namespace, haproxy: str) -> None:
    from frameworks.webapp.lb.service import LoadBalancer, run_lb

    opts = LbOptions(group=a.group, bind_address=a.bind_address,
                     http_port=a.http_port or None, stats_port=a.stats_port or None)
    lb = LoadBalancer(a.webapp, opts, Path(a.work_dir), haproxy, debounce_s=0.05,
                      full_every_s=a.refresh_seconds)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await run_lb(lb, stop)


def main(argv: list[str] | None = None) -> int:
    a = parse_args(argv)
    haproxy = find_haproxy(a.haproxy)
    if haproxy is None:
        print(f"lb: haproxy not found ({a.haproxy or 'PATH, ' + DEFAULT_HAPROXY}); {INSTALL_HINT}",
              file=sys.stderr)
        return 1
    if a.log_file:
        os.makedirs(os.path.dirname(os.path.abspath(a.log_file)), exist_ok=True)
    setup_logging(a.log_level, file=a.log_file)
    try:
        asyncio.run(_main(a, haproxy))
    except (OSError, RuntimeError) as exc:
        print(f"lb: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
