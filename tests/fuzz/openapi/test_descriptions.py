"""The seven OpenAPI descriptions, built in-process (no server): well-formed OpenAPI 3.0
documents whose every schema is valid JSON Schema, whose path parameters are declared, and
whose streaming operations are marked (the fuzz modules leave those out)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import orjson
import pytest
from jsonschema import Draft4Validator

from dcos.agent.http.openapi import agent_spec
from dcos.dns.openapi import dns_spec
from dcos.gateway.openapi import gateway_spec
from dcos.master.http.openapi import master_spec
from dcos.packaging.openapi import package_spec
from frameworks.batch.cluster.openapi import batch_spec
from frameworks.webapp.api.openapi import webapp_spec

SPECS: dict[str, Callable[[], dict[str, Any]]] = {
    "master": master_spec, "agent": agent_spec, "webapp": webapp_spec,
    "package": package_spec, "gateway": gateway_spec, "batch": batch_spec, "dns": dns_spec,
}  # fmt: skip
METHODS = {"get", "put", "post", "delete", "patch", "head", "options"}


def _schemas(node: Any) -> Iterator[dict[str, Any]]:
    """Every ``schema`` object of a description (parameters, bodies, answers)."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "schema" and isinstance(value, dict):
                yield value
            else:
                yield from _schemas(value)
    elif isinstance(node, list):
        for item in node:
            yield from _schemas(item)


def _draft4(schema: Any) -> Any:
    """`schema` without OpenAPI's own keywords (``nullable``)."""
    if isinstance(schema, dict):
        return {k: _draft4(v) for k, v in schema.items() if k != "nullable"}
    if isinstance(schema, list):
        return [_draft4(v) for v in schema]
    return schema


@pytest.mark.parametrize("name", sorted(SPECS))
def test_description_is_well_formed(name: str) -> None:
    doc = SPECS[name]()
    assert doc["openapi"].startswith("3.0.")
    orjson.dumps(doc)  # served as JSON
    assert "/openapi.json" in doc["paths"]
    for path, item in doc["paths"].items():
        assert path.startswith("/"), path
        for method, operation in item.items():
            assert method in METHODS, (path, method)
            assert operation["responses"], (path, method)
            declared = {p["name"] for p in operation.get("parameters", []) if p["in"] == "path"}
            assert declared == set(re.findall(r"{(\w+)}", path)), (path, method)
    for schema in _schemas(doc):
        Draft4Validator.check_schema(_draft4(schema))


def test_streams_are_marked() -> None:
    """The operations that answer with an endless stream are the ones marked as streaming."""
    webapp = webapp_spec()["paths"]
    assert webapp["/v2/events"]["get"]["x-dcos-streaming"] is True
    master = master_spec()["paths"]
    for path in ("/api/v1/scheduler", "/api/v1"):
        assert master[path]["post"]["x-dcos-streaming-calls"] == ["SUBSCRIBE"]
    agent = agent_spec()["paths"]
    assert agent["/api/v1/executor"]["post"]["x-dcos-streaming-calls"] == ["SUBSCRIBE"]
