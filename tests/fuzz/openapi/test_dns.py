"""Schemathesis against the DNS HTTP API's description (`dcos.dns.openapi`). Every operation
is sent (all are reads)."""

from __future__ import annotations

from tests.fuzz.openapi.harness import Cluster, alive, fuzz, load


def test_dns(up_cluster: Cluster) -> None:
    fuzz("dns", load(up_cluster.dns_http), up_cluster.session)
    alive(up_cluster, up_cluster.dns_http)
