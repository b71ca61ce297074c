"""Schemathesis against the gateway's description (`dcos.gateway.openapi`): its own DC/OS
compatibility endpoints and health (what it relays is fuzzed at each upstream).

Not sent: ``POST /cluster/v1/links`` and ``POST /acs/api/v1/auth/login``, whose one answer
with security off is, by design, 501 Not Implemented (cluster linking is not supported; no
token is needed).
"""

from __future__ import annotations

from tests.fuzz.openapi.harness import Cluster, alive, fuzz, load


def test_gateway(up_cluster: Cluster) -> None:
    ops = load(up_cluster.gateway, exclude=[("POST", "/cluster/v1/links"),
                                            ("POST", "/acs/api/v1/auth/login")])
    fuzz("gateway", ops, up_cluster.session)
    alive(up_cluster, up_cluster.gateway)
