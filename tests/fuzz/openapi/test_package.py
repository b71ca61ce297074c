"""Schemathesis against the package service's description (`dcos.packaging.openapi`): the
Cosmos RPCs with their vendor media types, capabilities, package resources, health.

Not sent: ``/package/repository/add`` and ``/package/repository/delete`` (they change the
catalogue every other client of the shared cluster reads: a generated repository that cannot
be fetched would turn later searches into errors, a deleted default one would empty them).
Install and uninstall are sent with generated package names, which match no package of the
catalogue; the read-only RPCs (describe, list-versions, render) name a real package in every
other request (`real_names`), so its options are validated against generated ones.
"""

from __future__ import annotations

from typing import Any

from tests.fuzz.openapi.harness import Cluster, alive, fuzz, load

REAL = "hello-world"  # a package of packages-repo/
READ_ONLY = {"/package/describe", "/package/list-versions", "/package/render"}


def real_names(case: Any) -> Any:
    """Every other request of a read-only RPC (by the generated name's length) names `REAL`."""
    body = case.body
    if (case.operation.path in READ_ONLY and isinstance(body, dict)
            and isinstance(body.get("packageName"), str) and len(body["packageName"]) % 2):
        case.body = {**body, "packageName": REAL}
    return case


def test_package(up_cluster: Cluster) -> None:
    ops = load(up_cluster.package, exclude=[("POST", "/package/repository/add"),
                                            ("POST", "/package/repository/delete")])
    fuzz("package", ops, up_cluster.session, prepare=real_names)
    alive(up_cluster, up_cluster.package)
