"""``python -m dcos.dns``: the DNS server for the webapp framework's apps (see `service`).

    python -m dcos.dns --master 127.0.0.1:5050 --webapp http://127.0.0.1:8080 \
        --port 8053 --http-port 8123 [--domain dcos] [--log-file F] \
        [--security-dir DIR [--tls-name dns]] [--resolvers 8.8.8.8,10.0.0.2:5353]

HA: ``--master zk://h1:2181,h2:2181/dcos`` follows the leading master through ZooKeeper
(`leader.dcos` the leader, `master.dcos` every master), and ``--webapp`` takes every webapp
instance, comma-separated (``http://a:8080,http://b:8080``): the next one is asked when one
does not answer.

``--resolvers IP[:port],...`` (Mesos-DNS' ``resolvers``): names outside ``--domain`` are
forwarded there (`dcos.dns.forward`; ``--resolver-timeout`` seconds each, then the next;
SERVFAIL when none answers); without it they are REFUSED.

``--security-dir`` (security on): master and webapp over mutual TLS with the certificate
``--tls-name``, the HTTP API over HTTPS and authenticated (`dcos.dns.service`).

Every flag is also settable as ``DCOS_<FLAG>`` (`dcos.common.flags`); ``--help`` lists them.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping
from pathlib import Path

from dcos.common.flags import DaemonParser, ip_address, port, positive_seconds, setup_from
from dcos.common.service_main import run_until_signalled
from dcos.common.sse import parse_webapp_urls
from dcos.dns.forward import DEFAULT_TIMEOUT_S, parse_resolvers
from dcos.dns.service import DnsConfig, run_dns
from dcos.security.context import load_context


def build_parser(environ: Mapping[str, str] | None = None) -> DaemonParser:
    """The DNS server's flags; each also ``DCOS_<FLAG>``."""
    p = DaemonParser("python -m dcos.dns", "dcos-py DNS", environ=environ)
    p.shared("master", "webapp", "ip", "port", port=8053)
    p.flag("--master-ip", type=ip_address, default=None,
           help="publish this IP for leader/master.<domain> (a static --master only)")
    p.flag("--domain", default="dcos", help="the domain names are served under")
    p.flag("--http-port", type=port, default=8123, help="Mesos-DNS HTTP API port")
    p.flag("--ttl", type=int, default=5, help="seconds")
    p.flag("--security-dir", type=Path, default=None,
           help="the cluster's security directory (dcos-py up --secure): mutual TLS to the "
                "master and webapp, HTTPS + authentication on the HTTP API")
    p.flag("--tls-name", default="dns", help="the certificate (certs/<name>.crt) to use")
    p.flag("--refresh-seconds", type=positive_seconds, default=60.0,
           help="safety-net full resync period (changes come from the event stream)")
    p.flag("--resolvers", type=parse_resolvers, default=(),
           help="upstream DNS servers (IP[:port], comma-separated) for names outside the "
                "domain; none: such names are REFUSED")
    p.flag("--resolver-timeout", type=positive_seconds, default=DEFAULT_TIMEOUT_S,
           help="seconds to wait for one upstream resolver before trying the next")
    p.logging_flags()
    return p


def parse_args(argv: list[str] | None = None,
               environ: Mapping[str, str] | None = None) -> tuple[DnsConfig, argparse.Namespace]:  # fmt: skip
    """Flags -> `DnsConfig` (``--master ''``: no master); exits 2 on a bad value."""
    p = build_parser(environ)
    a = p.parse_args(argv)
    if a.ttl < 0:
        p.error("--ttl must be >= 0")
    try:
        parse_webapp_urls(a.webapp)
    except ValueError as exc:
        p.error(f"--webapp: {exc}")
    config = DnsConfig(webapp=a.webapp, master=a.master or None, master_ip=a.master_ip,
                       domain=a.domain, host=a.ip, port=a.port, http_port=a.http_port,
                       ttl=a.ttl, full_every_s=a.refresh_seconds,
                       resolvers=tuple(a.resolvers), resolver_timeout_s=a.resolver_timeout)
    return config, a


def main(argv: list[str] | None = None) -> int:
    config, args = parse_args(argv)
    setup_from(args)
    try:
        security = load_context(args.security_dir, args.tls_name) if args.security_dir else None
    except (OSError, ValueError) as exc:
        print(f"dns: cannot start: {exc}", file=sys.stderr)
        return 1
    return run_until_signalled("dns", lambda stop: run_dns(config, stop, security))


if __name__ == "__main__":
    sys.exit(main())
