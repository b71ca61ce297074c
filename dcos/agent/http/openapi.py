"""The OpenAPI 3.0 description of the agent's HTTP API, served at ``GET /openapi.json``
(`dcos.common.openapi.add_openapi_route`, registered by `dcos.agent.http.app.make_app`).

What it describes: Mesos' agent endpoints (``/state`` and its ``/slave(1)`` aliases,
``/health``, ``/version``, ``/metrics/snapshot``, ``/monitor/statistics``), the Prometheus
metrics, ``/debug/stimuli``, the files API over the sandboxes and the agent's log, and the Mesos
v1 executor API (``POST /api/v1/executor``: SUBSCRIBE, a chunked RecordIO stream, UPDATE,
MESSAGE and HEARTBEAT; only executors this agent launched may call it, proven by their token).
"""

from __future__ import annotations

from typing import Any

from dcos.common.openapi import (
    ANY,
    NUM,
    STR,
    Schema,
    aliases,
    arr,
    body,
    empty,
    enum,
    files_paths,
    header,
    json_reply,
    map_of,
    obj,
    one_of,
    op,
    prometheus_paths,
    reply,
    spec,
    stimuli_path,
    text_reply,
)

ID = obj({"value": STR}, required=["value"])
TASK = obj({"id": STR, "name": STR, "framework_id": STR, "executor_id": STR, "slave_id": STR,
            "state": STR, "resources": map_of(ANY)}, required=["id", "state"])  # fmt: skip
EXECUTOR = obj({"id": STR, "name": STR, "directory": STR, "tasks": arr(TASK),
                "completed_tasks": arr(TASK), "queued_tasks": arr(TASK)},
               required=["id"])  # fmt: skip
FRAMEWORK = obj({"id": STR, "name": STR, "executors": arr(EXECUTOR),
                 "completed_executors": arr(EXECUTOR)}, required=["id"])  # fmt: skip
STATE = obj({"id": STR, "pid": STR, "hostname": STR, "resources": map_of(ANY),
             "attributes": ANY, "master_hostname": STR, "frameworks": arr(FRAMEWORK),
             "completed_frameworks": arr(FRAMEWORK)},
            required=["pid", "hostname", "resources", "frameworks"])  # fmt: skip
VERSION = obj({"version": STR, "git_sha": STR, "build_date": STR}, required=["version"])
STATISTICS = arr(obj({"executor_id": STR, "framework_id": STR, "source": STR,
                      "statistics": map_of(ANY)}, required=["executor_id", "framework_id"]))

STATUS = obj({"task_id": ID, "state": STR, "uuid": STR, "source": STR, "message": STR,
              "data": STR, "timestamp": NUM}, required=["task_id", "state", "uuid"])  # fmt: skip


def _call(ctype: str, payload: Schema | None) -> Schema:
    props: dict[str, Schema] = {"type": enum(ctype), "framework_id": ID, "executor_id": ID}
    required = ["type", "framework_id", "executor_id"]
    if payload is not None:
        props[ctype.lower()] = payload
        required.append(ctype.lower())
    return obj(props, required=required)


EXECUTOR_CALLS = [
    _call("SUBSCRIBE", obj({"unacknowledged_tasks": arr(ANY),
                            "unacknowledged_updates": arr(obj({"status": STATUS}))})),
    _call("UPDATE", obj({"status": STATUS}, required=["status"])),
    _call("MESSAGE", obj({"data": STR}, required=["data"])),
    _call("HEARTBEAT", None),
]
EXECUTOR_EVENT = obj({"type": enum("SUBSCRIBED", "LAUNCH", "LAUNCH_GROUP", "KILL",
                                   "ACKNOWLEDGED", "MESSAGE", "SHUTDOWN", "ERROR",
                                   "HEARTBEAT")}, required=["type"])  # fmt: skip
EXECUTOR_API = {"post": {**op(
    "The Mesos v1 executor API: SUBSCRIBE answers 200 with a chunked RecordIO stream of "
    "events (SUBSCRIBED, LAUNCH, KILL, ACKNOWLEDGED, MESSAGE, SHUTDOWN, HEARTBEAT); UPDATE, "
    "MESSAGE and HEARTBEAT answer 202. Only an executor this agent launched may call "
    "(Authorization: Bearer <its MESOS_EXECUTOR_AUTHENTICATION_TOKEN>)",
    {200: reply("SUBSCRIBE: RecordIO of executor events", EXECUTOR_EVENT),
     202: empty("accepted"),
     400: text_reply("malformed call, or an unknown framework or executor"),
     401: text_reply("no executor token"), 403: text_reply("a wrong executor token"),
     413: text_reply("the body is larger than 1 MiB"), 415: text_reply("the body is not JSON"),
     503: text_reply("the agent is recovering; try again")},
    params=[header("Authorization", STR)], request=body(one_of(*EXECUTOR_CALLS)),
    tags=["executor"]), "x-dcos-streaming-calls": ["SUBSCRIBE"]}}  # fmt: skip


def agent_spec() -> dict[str, Any]:
    """The whole description (built once per app by `dcos.agent.http.app.make_app`)."""
    paths: dict[str, dict[str, Schema]] = {
        "/state": {"get": op("The agent's state (Mesos /state)", {200: json_reply(STATE)},
                             tags=["agent"])},  # fmt: skip
        "/health": {"get": op("200 while the agent serves", {200: empty()}, tags=["agent"])},
        "/version": {"get": op("Mesos' /version", {200: json_reply(VERSION)}, tags=["agent"])},
        "/metrics/snapshot": {"get": op("Flat JSON metrics (slave/...)",
                                        {200: json_reply(map_of(NUM))}, tags=["agent"])},
        "/monitor/statistics": {"get": op("Resource usage of each executor",
                                          {200: json_reply(STATISTICS)}, tags=["agent"])},
        "/api/v1/executor": EXECUTOR_API,
        **files_paths("a sandbox path (/var/lib/mesos/slave/slaves/...) or /slave/log"),
        **prometheus_paths("/metrics", "/metrics/prometheus"),
        **stimuli_path("debug"),
    }
    paths = aliases(
        paths, ("/state.json", "/state"), ("/slave(1)/state", "/state"),
        ("/slave(1)/state.json", "/state"), ("/slave(1)/health", "/health"),
        ("/monitor/statistics.json", "/monitor/statistics"),
        ("/slave(1)/api/v1/executor", "/api/v1/executor"),
    )
    return spec("dcos-py agent (Mesos agent, files and executor APIs)", paths,
                description=__doc__ or "",
                auth_error=text_reply("security on: not authenticated (401) or not allowed"))

