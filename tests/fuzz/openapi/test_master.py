"""Schemathesis against the master's description (`dcos.master.http.openapi`): the Mesos v1
scheduler and operator APIs, the operator endpoints, files and metrics.

Not sent: SUBSCRIBE calls (scheduler and operator: streams). Every other write is sent: a
generated TEARDOWN names a framework id no framework has, so the webapp's and the batch
dispatcher's frameworks stay registered for the modules after this one.
"""

from __future__ import annotations

from tests.fuzz.openapi.harness import Cluster, alive, fuzz, load


def test_master(up_cluster: Cluster) -> None:
    fuzz("master", load(up_cluster.master), up_cluster.session)
    alive(up_cluster, up_cluster.master)
