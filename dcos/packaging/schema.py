"""The rules of Universe packagingVersion 4.0 documents, as dcos-py applies them: package.json in
a source repository, resource.json, and one entry of a v4 index. The rules live in
`universe_v4.schema.json` next to this module (JSON Schema, Draft 7); this module answers with
every broken rule as a readable problem.

Called by: `dcos.packaging.validate` (source files, before a release is built) and
`dcos.packaging.index` (entries of an index read from a repository URL).
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

import jsonschema

from dcos.packaging.render import json_pointer, leaf_errors

SCHEMA_FILE = "universe_v4.schema.json"


@cache
def _document() -> dict[str, Any]:
    text = resources.files("dcos.packaging").joinpath(SCHEMA_FILE).read_text(encoding="utf-8")
    doc: dict[str, Any] = json.loads(text)
    return doc


@cache
def _validator(definition: str) -> jsonschema.Draft7Validator:
    doc = _document()
    if definition not in doc["definitions"]:
        raise KeyError(f"no definition {definition!r} in {SCHEMA_FILE}")
    schema = {"$ref": f"#/definitions/{definition}", "definitions": doc["definitions"]}
    return jsonschema.Draft7Validator(schema)


def problems(definition: str, document: Any) -> list[str]:
    """Each way `document` breaks `#/definitions/<definition>`, as `"<pointer>: <message>"`
    (pointer "/" for the document itself), sorted; [] when it conforms. Definitions:
    `packageJson`, `resource`, `indexEntry`, `index`."""
    out = set()
    for error in leaf_errors(_validator(definition).iter_errors(document)):
        out.add(f"{json_pointer(error.absolute_path) or '/'}: {error.message}")
    return sorted(out)


def package_json_problems(document: Any) -> list[str]:
    """Problems of a source package.json (packagingVersion "4.0", required fields, no others)."""
    return problems("packageJson", document)


def resource_problems(document: Any) -> list[str]:
    """Problems of a resource.json (assets.uris, assets.container.docker, images, cli)."""
    return problems("resource", document)


def index_entry_problems(document: Any) -> list[str]:
    """Problems of one package entry of a v4 index (unknown keys are allowed and kept)."""
    return problems("indexEntry", document)
