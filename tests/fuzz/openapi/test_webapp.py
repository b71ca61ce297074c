"""Schemathesis against the webapp's description (`frameworks.webapp.api.openapi`): the
Marathon v2 REST API.

Not sent: ``GET /v2/events`` (a stream) and ``DELETE /v2/leader`` (the only instance would
abdicate and the webapp would stop serving /v2 until it leads again). Generated app and group
bodies are made harmless before they are sent (`harmless`: every ``instances`` and ``scaleBy``
is 0), so the apps this module creates start no tasks; they are left in the webapp, which no
later module reads. So that requests reach more than the "unknown app" answer, the module
first creates an app (`APP`) and a group (`GROUP`) and every other request but a DELETE names
one of them (`harmless` again).
"""

from __future__ import annotations

from typing import Any

import requests

from tests.fuzz.openapi.harness import TIMEOUT_S, Cluster, alive, fuzz, load

APP, GROUP = "fuzzweb", "fuzzgroup"
KNOWN = {"app_id": APP, "group_id": GROUP}


def _zero(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: (0 if k in ("instances", "scaleBy") and isinstance(v, (int, float))
                    and not isinstance(v, bool) else _zero(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [_zero(v) for v in value]
    return value


def harmless(case: Any) -> Any:
    """`case` with no app instance to start (generated commands never run), naming a known
    app or group in every other request but a DELETE (by the generated id's length)."""
    if case.body is not None and not isinstance(case.body, (str, bytes)):
        case.body = _zero(case.body)
    params = case.path_parameters or {}
    if case.method.upper() != "DELETE":
        for name, known in KNOWN.items():
            value = params.get(name)
            if isinstance(value, str) and len(value) % 2:
                params[name] = known
    return case


def _create(base: str, path: str, body: dict[str, Any]) -> None:
    resp = requests.post(f"{base}{path}", json=body, timeout=TIMEOUT_S)
    assert resp.status_code in (200, 201), (path, resp.status_code, resp.text)


def test_webapp(up_cluster: Cluster) -> None:
    app = {"cmd": "sleep 1000", "instances": 0, "cpus": 0.01, "mem": 16}
    _create(up_cluster.webapp, "/v2/apps", {"id": f"/{APP}", **app})
    _create(up_cluster.webapp, "/v2/groups", {"id": f"/{GROUP}",
                                              "apps": [{"id": f"/{GROUP}/a", **app}]})
    ops = load(up_cluster.webapp, exclude=[("DELETE", "/v2/leader")])
    fuzz("webapp", ops, up_cluster.session, prepare=harmless)
    alive(up_cluster, up_cluster.webapp)
