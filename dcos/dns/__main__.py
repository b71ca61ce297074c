"""``python -m dcos.dns``: the DNS server for the webapp framework's apps (see `service`).

    python -m dcos.dns --master 127.0.0.1:5050 --webapp http://127.0.0.1:8080 \
        --port 8053 --http-port 8123 [--domain dcos] [--log-file F]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys

from dcos.common.log import setup_logging
from dcos.dns.service import DnsConfig


def parse_args(argv: list[str] | None = None) -> tuple[DnsConfig, argparse.Namespace]:
    p = argparse.ArgumentParser(prog="python -m dcos.dns", description="dcos-py DNS")
    p.add_argument("--master", default="127.0.0.1:5050",
                   help="master HOST:PORT (agent IPs and the leader come from it); '' for none")
    p.add_argument("--master-ip", default=None, help="publish this IP for leader/master.<domain>")
    p.add_argument("--webapp", default="http://127.0.0.1:8080", help="webapp framework API URL")
    p.add_argument("--domain", default="dcos")
    p.add_argument("--ip", default="127.0.0.1", help="address to listen on")
    p.add_argument("--port", type=int, default=8053, help="DNS port (UDP and TCP)")
    p.add_argument("--http-port", type=int, default=8123, help="Mesos-DNS HTTP API port")
    p.add_argument("--ttl", type=int, default=5, help="seconds")
    p.add_argument("--refresh-seconds", type=float, default=60.0,
                   help="safety-net full resync period (changes come from the event stream)")
    p.add_argument("--log-file", default=None)
    p.add_argument("--log-level", default="INFO")
    a = p.parse_args(argv)
    for name in ("port", "http_port"):
        if not 0 <= getattr(a, name) <= 65535:
            p.error(f"--{name.replace('_', '-')} must be between 0 and 65535")
    if a.ttl < 0 or a.refresh_seconds <= 0:
        p.error("--ttl must be >= 0 and --refresh-seconds > 0")
    config = DnsConfig(webapp=a.webapp, master=a.master or None, master_ip=a.master_ip,
                       domain=a.domain, host=a.ip, port=a.port, http_port=a.http_port,
                       ttl=a.ttl, full_every_s=a.refresh_seconds)
    return config, a


async def _main(config: DnsConfig) -> None:
    from dcos.dns.service import run_dns

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await run_dns(config, stop)


def main(argv: list[str] | None = None) -> int:
    config, args = parse_args(argv)
    if args.log_file:
        os.makedirs(os.path.dirname(os.path.abspath(args.log_file)), exist_ok=True)
    setup_logging(args.log_level, file=args.log_file)
    try:
        asyncio.run(_main(config))
    except OSError as exc:
        print(f"dns: cannot start: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
