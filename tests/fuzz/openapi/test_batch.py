"""Schemathesis against the batch dispatcher's description (`frameworks.batch.cluster.openapi`).

Every operation is sent. Generated submissions are made harmless before they are sent
(`harmless`: a script sent as content becomes ``pass``), so an accepted one runs a driver
that exits at once; kills and driver reports name submission ids that do not exist.
"""

from __future__ import annotations

from typing import Any

from tests.fuzz.openapi.harness import Cluster, alive, fuzz, load


def harmless(case: Any) -> Any:
    """`case` whose script content, if any, does nothing."""
    if isinstance(case.body, dict) and isinstance(case.body.get("script_content"), str):
        case.body = {**case.body, "script_content": "pass\n"}
    return case


def test_batch(up_cluster: Cluster) -> None:
    fuzz("batch", load(up_cluster.batch), up_cluster.session, prepare=harmless)
    alive(up_cluster, up_cluster.batch)
