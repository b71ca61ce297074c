"""Schemathesis against the package service's description (`dcos.packaging.openapi`): the
Cosmos RPCs with their vendor media types, capabilities, package resources, health.

Not sent: ``/package/repository/add`` and ``/package/repository/delete`` (they change the
catalogue every other client of the shared cluster reads: a generated repository that cannot
be fetched would turn later searches into errors, a deleted default one would empty them).
Install and uninstall are sent: generated package names match no package of the catalogue.
"""

from __future__ import annotations

from tests.fuzz.openapi.harness import Cluster, alive, fuzz, load


def test_package(up_cluster: Cluster) -> None:
    ops = load(up_cluster.package, exclude=[("POST", "/package/repository/add"),
                                            ("POST", "/package/repository/delete")])
    fuzz("package", ops, up_cluster.session)
    alive(up_cluster.package)
