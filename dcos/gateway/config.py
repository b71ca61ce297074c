"""The gateway's options (`GatewayConfig`) and its command line (`parse_args`).

Called by: `dcos.gateway.__main__` (``python -m dcos.gateway``); tests build a
`GatewayConfig` directly for `dcos.gateway.app.serve`.

    python -m dcos.gateway --ip 127.0.0.1 --port 8000 \
        --master http://127.0.0.1:5050 [--master http://127.0.0.1:5052 ...] | --zk zk://h:2181/dcos \
        [--package http://127.0.0.1:7070] [--dns-http http://127.0.0.1:8123] \
        [--cluster-id ID] [--cluster-name NAME] [--web-dir DIR] [--log-file PATH] \
        [--security-dir DIR [--tls-name gateway]]

``--security-dir`` (made by ``dcos-py up --secure``, `dcos.security.layout`) turns security on:
HTTPS with the certificate ``--tls-name``, a token needed at the edge (`dcos.gateway.auth`),
upstreams over mutual TLS; master URLs without a scheme are https then.
Several ``--master`` URLs: the gateway follows the one they name as leader
(`dcos.gateway.leader`). Without ``--master`` and ``--zk``: ``127.0.0.1:5050``. Every flag is
also settable as ``DCOS_<FLAG>`` (`dcos.common.flags`; ``DCOS_MASTER`` gives one master).
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from dcos.common.addresses import http_base_url, zk_master
from dcos.common.flags import DaemonParser, master_address
from dcos.state.zk import is_zk_url
from dcos.web import DIST

DEFAULT_MASTER = "127.0.0.1:5050"


@dataclass(frozen=True)
class GatewayConfig:
    """Everything the gateway needs (module docstring); `connect_timeout` bounds connecting
    to an upstream (then 504), `cache_ttl` how long a directory snapshot is reused."""

    ip: str = "127.0.0.1"
    port: int = 8000
    masters: tuple[str, ...] = (DEFAULT_MASTER,)
    zk: str | None = None
    package: str | None = None
    dns_http: str | None = None
    cluster_id: str | None = None
    cluster_name: str | None = None
    web_dir: Path = DIST
    log_file: str | None = None
    connect_timeout: float = 3.0
    cache_ttl: float = 1.0
    security_dir: Path | None = None
    tls_name: str = "gateway"

    @property
    def secure(self) -> bool:
        return self.security_dir is not None


def base_url(text: str) -> str:
    """An upstream's base URL (`dcos.common.addresses.http_base_url`), the flag's type."""
    try:
        return http_base_url(text)
    except ValueError as exc:
        raise ValueError(f"{text!r}: {exc}") from None


def build_parser(environ: Mapping[str, str] | None = None) -> DaemonParser:
    p = DaemonParser("python -m dcos.gateway", "dcos-py gateway and web UI", environ=environ)
    p.shared("ip", "port", port=8000)
    masters = p.flag("--master", action="append", type=master_address, default=None,
                     help="a master's URL; repeat it for several masters (the gateway follows "
                          "the leader they name), or give zk://host:port/path")  # fmt: skip
    if isinstance(masters.default, str):  # from $DCOS_MASTER: one master
        masters.default = [masters.default]
    p.flag("--zk", default=None, help="the masters' ZooKeeper URL zk://host:port[,host:port]/path "
                                      "(the leader is read from there)")  # fmt: skip
    p.flag("--package", type=base_url, default=None,
           help="the package service's URL (absent: /package answers 503)")
    p.flag("--dns-http", type=base_url, default=None,
           help="the DNS HTTP API's URL (absent: /dns answers 503)")
    p.flag("--cluster-id", default=None, help="the cluster's id (for /metadata)")
    p.flag("--cluster-name", default=None, help="the cluster's name (for /metadata)")
    p.flag("--web-dir", type=Path, default=DIST, help="the built web UI (make web)")
    p.flag("--security-dir", type=Path, default=None,
           help="the cluster's security directory (dcos-py up --secure): HTTPS, tokens at "
                "the edge, mutual TLS to the upstreams")
    p.flag("--tls-name", default="gateway",
           help="the certificate (certs/<name>.crt) the gateway serves and presents")
    p.logging_flags()
    return p


def parse_args(argv: Sequence[str] | None = None,
               environ: Mapping[str, str] | None = None) -> tuple[GatewayConfig, argparse.Namespace]:  # fmt: skip
    """Flags -> `GatewayConfig`; exits 2 with a usage error on a bad value."""
    p = build_parser(environ)
    a = p.parse_args(argv)
    masters = [m for m in a.master or [] if m]
    zk = a.zk
    if zk is not None and not is_zk_url(zk):
        p.error(f"--zk {zk!r}: expected zk://host:port[,host:port]/path")
    zk_given = [m for m in masters if zk_master(m) is not None]
    if zk_given:
        if len(masters) > 1 or zk:
            p.error("give either one ZooKeeper URL or master URLs, not both")
        zk, masters = zk_given[0], []
    if zk and masters:
        p.error("give either --zk or --master, not both")
    if not zk and not masters:
        masters = [DEFAULT_MASTER]
    config = GatewayConfig(
        ip=a.ip, port=a.port, masters=tuple(masters), zk=zk, package=a.package,
        dns_http=a.dns_http, cluster_id=a.cluster_id, cluster_name=a.cluster_name,
        web_dir=a.web_dir, log_file=a.log_file, security_dir=a.security_dir,
        tls_name=a.tls_name,
    )  # fmt: skip
    return config, a


__all__ = ["GatewayConfig", "base_url", "build_parser", "parse_args"]
