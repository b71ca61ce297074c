"""Schemathesis against the webapp's description (`frameworks.webapp.api.openapi`): the
Marathon v2 REST API.

Not sent: ``GET /v2/events`` (a stream) and ``DELETE /v2/leader`` (the only instance would
abdicate and the webapp would stop serving /v2 until it leads again). Generated app and group
bodies are made harmless before they are sent (`harmless`: every ``instances`` and ``scaleBy``
is 0), so the apps this module creates start no tasks; the apps are left in the webapp, which
no later module reads.
"""

from __future__ import annotations

from typing import Any

from tests.fuzz.openapi.harness import Cluster, alive, fuzz, load


def _zero(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: (0 if k in ("instances", "scaleBy") and isinstance(v, (int, float))
                    and not isinstance(v, bool) else _zero(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [_zero(v) for v in value]
    return value


def harmless(case: Any) -> Any:
    """`case` with no app instance to start (generated commands never run)."""
    if case.body is not None and not isinstance(case.body, (str, bytes)):
        case.body = _zero(case.body)
    return case


def test_webapp(up_cluster: Cluster) -> None:
    ops = load(up_cluster.webapp, exclude=[("DELETE", "/v2/leader")])
    fuzz("webapp", ops, up_cluster.session, prepare=harmless)
    alive(up_cluster.webapp)
