"""The OpenAPI 3.0 description of the batch dispatcher's HTTP API, served at
``GET /openapi.json`` (`dcos.common.openapi.add_openapi_route`, registered by
`frameworks.batch.cluster.dispatcher.Dispatcher`'s app).

What it describes: ``POST /v1/submissions`` (a driver script, sent as its content or named by
an allowed path, with its args, ``spark.*`` conf, driver resources and user), the list and one
submission, ``POST /v1/submissions/<id>/kill``, the driver's own report
``POST /v1/submissions/<id>/driver`` (its web UI URL and framework id), and ``/health``.
Refusals are plain text with 400, 403 or 404.
"""

from __future__ import annotations

from typing import Any

from dcos.common.openapi import (
    BOOL,
    NUM,
    STR,
    Schema,
    arr,
    body,
    enum,
    integer,
    json_reply,
    map_of,
    nullable,
    obj,
    one_of,
    op,
    path_param,
    spec,
    string,
    text_reply,
)

SUBMISSION = obj({"id": STR, "name": STR, "script": STR, "args": arr(STR), "conf": map_of(STR),
                  "driver_cpus": NUM, "driver_mem": NUM,
                  "state": enum("QUEUED", "LAUNCHED", "RUNNING", "FINISHED", "FAILED",
                                "KILLED", "LOST", "ERROR"),
                  "message": nullable(STR), "task_id": STR, "agent_id": STR, "submitted": NUM,
                  "started": nullable(NUM), "finished": nullable(NUM), "driver_ui": STR,
                  "driver_framework_id": STR, "user": nullable(STR),
                  "principal": nullable(STR)},
                 required=["id", "name", "state", "submitted"])  # fmt: skip
SCALAR = one_of(STR, NUM, BOOL)
REQUEST = obj({"script": string(min_length=1, max_length=255),
               "script_content": STR, "args": arr(one_of(STR, NUM), max_items=64),
               "conf": map_of(SCALAR), "driver_cpus": {"type": "number", "exclusiveMinimum": True,
                                                       "minimum": 0},
               "driver_mem": {"type": "number", "exclusiveMinimum": True, "minimum": 0},
               "name": string(max_length=200), "user": string(pattern=r"^[A-Za-z0-9_.-]*$")},
              required=["script"])  # fmt: skip
ID = path_param("id", STR, "a submission id (driver-<time>-<hex>)")


def batch_spec() -> dict[str, Any]:
    """The whole description (built once per app by the dispatcher)."""
    paths: dict[str, dict[str, Schema]] = {
        "/v1/submissions": {
            "post": op("Submit a driver: it is queued, then launched as a task", {
                200: json_reply(SUBMISSION), 400: text_reply("a bad submission"),
                403: text_reply("a script path not allowed, or a user the caller may not "
                                "run tasks as"),
                413: text_reply("body too large")}, request=body(REQUEST), tags=["batch"]),
            "get": op("Every submission, newest first", {
                200: json_reply(obj({"submissions": arr(SUBMISSION)},
                                    required=["submissions"]))}, tags=["batch"]),
        },
        "/v1/submissions/{id}": {"get": op(
            "One submission", {200: json_reply(SUBMISSION), 404: text_reply("unknown")},
            params=[ID], tags=["batch"])},
        "/v1/submissions/{id}/kill": {"post": op(
            "Kill a submission's driver", {200: json_reply(SUBMISSION),
                                           403: text_reply("not the submitter's"),
                                           404: text_reply("unknown")},
            params=[ID], tags=["batch"])},
        "/v1/submissions/{id}/driver": {"post": op(
            "A driver reports its web UI and framework id (called by the driver)",
            {200: json_reply(SUBMISSION), 400: text_reply("unknown submission or bad body")},
            params=[ID], request=body(obj({"ui_url": STR, "framework_id": STR})),
            tags=["batch"])},
        "/health": {"get": op("The dispatcher's name, role, pid and master", {
            200: json_reply(obj({"name": STR, "role": STR, "pid": integer(minimum=0),
                                 "master": STR}, required=["name"]))}, tags=["batch"])},
    }
    return spec("dcos-py batch dispatcher", paths, description=__doc__ or "",
                auth_error=text_reply("security on: not authenticated (401) or not allowed"))



