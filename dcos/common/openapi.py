"""Small builders for the OpenAPI 3.0 descriptions every HTTP API of dcos-py serves at
``GET /openapi.json``, and the one route that serves them.

Each API keeps its description in a module next to its handlers (``dcos/master/http/openapi.py``,
``dcos/agent/http/openapi.py``, ``frameworks/webapp/api/openapi.py``, ``dcos/packaging/openapi.py``,
``dcos/gateway/openapi.py``, ``frameworks/batch/cluster/openapi.py``, ``dcos/dns/openapi.py``),
written with the helpers here so that a path reads as one short line per answer:

    paths = {"/v2/info": {"get": op("Marathon's info", {200: json_reply(INFO)})}}
    add_openapi_route(app, spec("dcos-py webapp", paths))

Schemas are plain JSON Schema dicts (the OpenAPI 3.0 dialect: ``nullable`` instead of a
``null`` type). Objects allow keys they do not name (the wire formats tolerate and add
fields); they name the keys clients read and the types those keys have. An operation marked
``streaming=True`` (a long-lived answer: Mesos SUBSCRIBE, Server-Sent Events) carries
``x-dcos-streaming: true``, which the fuzz suite (``tests/fuzz/openapi``) reads to leave it
out; ``x-dcos-streaming-calls`` names the call types (the JSON body's ``type``) of an operation
that answer with a stream, and ``x-dcos-empty-answers`` the statuses an operation may answer
with no body although others of its answers have one (Mesos' operator writes). The description is served without authentication (an open path of the auth middleware).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import orjson
from aiohttp import web

Schema = dict[str, Any]
PATH = "/openapi.json"
JSON = "application/json"
TEXT = "text/plain"

STR: Schema = {"type": "string"}
INT: Schema = {"type": "integer"}
NUM: Schema = {"type": "number"}
BOOL: Schema = {"type": "boolean"}
ANY: Schema = {}


def obj(props: Mapping[str, Schema] | None = None, *, required: Iterable[str] = (),
        extra: Schema | bool = True) -> Schema:  # fmt: skip
    """A JSON object with `props` (each optional unless named in `required`); `extra` says
    what other keys may hold (True: anything)."""
    out: Schema = {"type": "object", "properties": dict(props or {})}
    req = list(required)
    if req:
        out["required"] = req
    if extra is not True:
        out["additionalProperties"] = extra
    return out


def arr(items: Schema, *, max_items: int | None = None) -> Schema:
    out: Schema = {"type": "array", "items": items}
    if max_items is not None:
        out["maxItems"] = max_items
    return out


def nullable(schema: Schema) -> Schema:
    return {**schema, "nullable": True}


def enum(*values: Any) -> Schema:
    kinds = {type(v) for v in values}
    out: Schema = {"enum": list(values)}
    if kinds == {str}:
        out["type"] = "string"
    return out


def one_of(*schemas: Schema) -> Schema:
    return {"oneOf": list(schemas)}


def any_of(*schemas: Schema) -> Schema:
    return {"anyOf": list(schemas)}


def string(*, pattern: str | None = None, min_length: int | None = None,
           max_length: int | None = None, fmt: str | None = None) -> Schema:  # fmt: skip
    out: Schema = {"type": "string"}
    for key, value in (("pattern", pattern), ("minLength", min_length),
                       ("maxLength", max_length), ("format", fmt)):  # fmt: skip
        if value is not None:
            out[key] = value
    return out


def integer(*, minimum: int | None = None, maximum: int | None = None) -> Schema:
    out: Schema = {"type": "integer"}
    if minimum is not None:
        out["minimum"] = minimum
    if maximum is not None:
        out["maximum"] = maximum
    return out


def map_of(values: Schema) -> Schema:
    """An object used as a map: any keys, each value `values`."""
    return {"type": "object", "additionalProperties": values}


# --- parameters, bodies, answers ---------------------------------------------------------------


def query(name: str, schema: Schema = STR, *, required: bool = False,
          description: str = "") -> Schema:  # fmt: skip
    out: Schema = {"name": name, "in": "query", "required": required, "schema": schema}
    if description:
        out["description"] = description
    return out


def path_param(name: str, schema: Schema = STR, description: str = "") -> Schema:
    out: Schema = {"name": name, "in": "path", "required": True, "schema": schema}
    if description:
        out["description"] = description
    return out


def header(name: str, schema: Schema = STR, *, required: bool = False) -> Schema:
    return {"name": name, "in": "header", "required": required, "schema": schema}


def body(schema: Schema, media: str | Iterable[str] = JSON, *, required: bool = True) -> Schema:
    """A request body of `schema` in `media` (one media type or several)."""
    kinds = [media] if isinstance(media, str) else list(media)
    return {"required": required, "content": {m: {"schema": schema} for m in kinds}}


def reply(description: str, schema: Schema | None = None, media: str | Iterable[str] = JSON,
          headers: Mapping[str, Schema] | None = None) -> Schema:  # fmt: skip
    """An answer: `schema` in `media` (no content when `schema` is None)."""
    out: Schema = {"description": description}
    if schema is not None:
        kinds = [media] if isinstance(media, str) else list(media)
        out["content"] = {m: {"schema": schema} for m in kinds}
    if headers:
        out["headers"] = {k: {"schema": v} for k, v in headers.items()}
    return out


def json_reply(schema: Schema, description: str = "OK") -> Schema:
    return reply(description, schema, JSON)


def text_reply(description: str) -> Schema:
    """A plain-text answer (Mesos' error bodies, aiohttp's own 404/405)."""
    return reply(description, STR, TEXT)


def json_or_text(schema: Schema, description: str) -> Schema:
    """An answer in JSON (`schema`) or plain text: an API's own error body, or the one
    aiohttp's router gives a path no route matches (``404: Not Found``)."""
    return {"description": description,
            "content": {JSON: {"schema": schema}, TEXT: {"schema": STR}}}  # fmt: skip


def empty(description: str = "OK") -> Schema:
    return reply(description)


def op(summary: str, responses: Mapping[Any, Schema], *,
       params: Iterable[Schema] = (), request: Schema | None = None,
       tags: Iterable[str] = (), streaming: bool = False,
       description: str = "", operation_id: str | None = None) -> Schema:  # fmt: skip
    """One operation. `responses` maps status codes (or "default") to `reply(...)`s."""
    out: Schema = {"summary": summary,
                   "responses": {str(k): v for k, v in responses.items()}}  # fmt: skip
    if description:
        out["description"] = description
    ps = list(params)
    if ps:
        out["parameters"] = ps
    if request is not None:
        out["requestBody"] = request
    tag_list = list(tags)
    if tag_list:
        out["tags"] = tag_list
    if streaming:
        out["x-dcos-streaming"] = True
    if operation_id:
        out["operationId"] = operation_id
    return out


OPEN_PATHS = frozenset({PATH, "/health", "/master/health", "/slave(1)/health", "/ping",
                        "/gateway/health"})  # never authenticated
SECURITY_SCHEMES: Schema = {
    "token": {"type": "apiKey", "in": "header", "name": "Authorization",
              "description": "`token=<jwt>` or `Bearer <jwt>`: a user's or service account's "
                             "token (`dcos-py auth login`)"},
    "basic": {"type": "http", "scheme": "basic",
              "description": "a framework's principal and secret (credentials.json)"},
}  # a client certificate (mutual TLS) authenticates too; OpenAPI 3.0 cannot name it


def spec(title: str, paths: Mapping[str, Mapping[str, Schema]], *, version: str = "1.0",
         description: str = "", components: Mapping[str, Schema] | None = None,
         auth_error: Schema | None = None) -> Schema:  # fmt: skip
    """The whole document (OpenAPI 3.0.3); the /openapi.json path itself is added. With
    `auth_error` (the API's own 401/403 answer, `reply(...)`), every operation but those of
    `OPEN_PATHS` also lists 401 and 403: what it answers when security is on
    (``--security-dir``) and the caller is not authenticated or not allowed; authentication
    is optional in the description (security is off by default)."""
    all_paths = {k: dict(v) for k, v in paths.items()}
    if auth_error is not None:
        for path, item in all_paths.items():
            if path in OPEN_PATHS:
                continue
            for method, operation in item.items():
                codes = {"401": auth_error, "403": auth_error, **operation["responses"]}
                item[method] = {**operation, "responses": codes}
    all_paths[PATH] = {"get": op("This OpenAPI description (open without authentication)",
                                 {200: json_reply(obj(required=["openapi", "paths"]))})}
    doc: Schema = {"openapi": "3.0.3",
                   "info": {"title": title, "version": version, "description": description},
                   "paths": all_paths}  # fmt: skip
    parts: Schema = {}
    if components:
        parts["schemas"] = dict(components)
    if auth_error is not None:
        parts["securitySchemes"] = SECURITY_SCHEMES
        doc["security"] = [{}, {"token": []}, {"basic": []}]
    if parts:
        doc["components"] = parts
    return doc


def aliases(paths: Mapping[str, Mapping[str, Schema]], *extra: tuple[str, str]
            ) -> dict[str, dict[str, Schema]]:  # fmt: skip
    """`paths` plus, for each (alias, original) in `extra`, the original's operations again
    under the alias (Mesos serves ``/state`` and ``/master/state`` alike)."""
    out = {k: dict(v) for k, v in paths.items()}
    for alias, original in extra:
        out[alias] = dict(out[original])
    return out


# --- serving -----------------------------------------------------------------------------------

OPENAPI_KEY: web.AppKey[bytes] = web.AppKey("openapi_json", bytes)


async def _serve(request: web.Request) -> web.Response:
    return web.Response(body=request.app[OPENAPI_KEY], content_type=JSON)


def add_openapi_route(app: web.Application, document: Schema) -> None:
    """Serve `document` at ``GET /openapi.json`` on `app` (encoded once). Called once by each
    API's app builder; the route must be registered before a catch-all route (the gateway)."""
    app[OPENAPI_KEY] = orjson.dumps(document)
    app.router.add_get(PATH, _serve)


# --- pieces several APIs share -----------------------------------------------------------------

PROMETHEUS = "text/plain; version=0.0.4; charset=utf-8"


def prometheus_paths(*paths: str) -> dict[str, dict[str, Schema]]:
    """``GET`` of the Prometheus text exposition (`dcos.common.metrics.add_prometheus_routes`)."""
    get = op("Metrics in Prometheus' text format", {200: reply("metrics", STR, PROMETHEUS)},
             tags=["metrics"])  # fmt: skip
    return {p: {"get": get} for p in paths}


FILE_ENTRY = obj({"path": STR, "nlink": INT, "size": INT, "mtime": NUM, "mode": STR,
                  "uid": STR, "gid": STR}, required=["path", "size", "mode"])  # fmt: skip


def files_paths(description: str) -> dict[str, dict[str, Schema]]:
    """Mesos' files API (`dcos.common.files_routes`): browse, read, download and their
    ``.json`` names. Errors are plain text: 400 bad parameters, 403 refused, 404 missing."""
    errors = {400: text_reply("bad parameter"), 403: text_reply("refused"),
              404: text_reply("no such file")}  # fmt: skip
    path = query("path", STR, required=True, description=description)
    offset = query("offset", integer(minimum=-1))
    length = query("length", integer(minimum=-1))
    browse = op("List a directory (or one file)", {200: json_reply(arr(FILE_ENTRY)), **errors},
                params=[path], tags=["files"])  # fmt: skip
    read = op("Read part of a file", {
        200: json_reply(obj({"data": STR, "offset": INT}, required=["data", "offset"])),
        **errors}, params=[path, offset, length], tags=["files"])  # fmt: skip
    download = op("Download a file", {
        200: reply("the file", string(fmt="binary"), "application/octet-stream"), **errors},
        params=[path], tags=["files"])  # fmt: skip
    out: dict[str, dict[str, Schema]] = {}
    for suffix in ("", ".json"):
        out[f"/files/browse{suffix}"] = {"get": browse}
        out[f"/files/read{suffix}"] = {"get": read}
        out[f"/files/download{suffix}"] = {"get": download}
    return out


def stimuli_path(tag: str) -> dict[str, dict[str, Schema]]:
    """``GET /debug/stimuli?limit=N``: a core's last events and the actions they gave."""
    bad = {"description": "bad limit", "content": {TEXT: {"schema": STR}, JSON: {"schema": ANY}}}
    return {"/debug/stimuli": {"get": op(
        "The core's newest events and the actions they gave",
        {200: json_reply(ANY), 400: bad},
        params=[query("limit", integer(minimum=0))], tags=[tag])}}  # fmt: skip
