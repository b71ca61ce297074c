"""The OpenAPI 3.0 description of the master's HTTP API, served at ``GET /openapi.json``
(`dcos.common.openapi.add_openapi_route`, registered by `dcos.master.http.routes.add_routes`).

What it describes: the Mesos v1 scheduler API (``POST /api/v1/scheduler``, calls told apart by
``type``; SUBSCRIBE is a chunked RecordIO stream), the v1 operator API (``POST /api/v1``, its
GET_* reads, the UPDATE_WEIGHTS / SET_QUOTA / REMOVE_QUOTA / TEARDOWN / DEACTIVATE_AGENT /
REACTIVATE_AGENT / MARK_AGENT_GONE writes, SUBSCRIBE), the
Mesos operator endpoints (``/master/state`` and its aliases, slaves, frameworks, tasks,
state-summary, redirect, teardown, health, version, ``/metrics/snapshot``), the Prometheus
metrics, ``/debug/stimuli`` and the files API of the master's log. The internal agent channel
(``POST /internal/agent``, msgpack, agents only) is not a public API and is left out.

Every leader-only route may also answer 307 (to the leader) or 503 (none elected).
"""

from __future__ import annotations

from typing import Any

from dcos.common.openapi import (
    ANY,
    BOOL,
    INT,
    JSON,
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
    integer,
    json_reply,
    map_of,
    obj,
    one_of,
    op,
    prometheus_paths,
    query,
    reply,
    spec,
    stimuli_path,
    text_reply,
)

ID = obj({"value": STR}, required=["value"])
SCALAR = obj({"value": NUM}, required=["value"])
RANGES = obj({"range": arr(obj({"begin": INT, "end": INT}, required=["begin", "end"]))})
RESOURCE = obj({"name": STR, "type": enum("SCALAR", "RANGES", "SET"), "scalar": SCALAR,
                "ranges": RANGES, "set": obj({"item": arr(STR)}), "role": STR,
                "reservations": arr(ANY)}, required=["name"])  # fmt: skip
COMMAND = obj({"value": STR, "shell": BOOL, "arguments": arr(STR), "user": STR,
               "uris": arr(obj({"value": STR}, required=["value"])),
               "environment": obj({"variables": arr(obj({"name": STR, "value": STR}))})})  # fmt: skip
TASK_INFO = obj({"name": STR, "task_id": ID, "agent_id": ID, "resources": arr(RESOURCE),
                 "command": COMMAND, "executor": ANY, "container": ANY, "labels": ANY,
                 "health_check": ANY, "kill_policy": ANY, "data": STR},
                required=["name", "task_id", "agent_id", "resources"])  # fmt: skip
FRAMEWORK_INFO = obj({"user": STR, "name": STR, "id": ID, "failover_timeout": NUM,
                      "checkpoint": BOOL, "role": STR, "roles": arr(STR), "hostname": STR,
                      "principal": STR, "webui_url": STR, "capabilities": arr(ANY),
                      "labels": ANY}, required=["user", "name"])  # fmt: skip
OPERATION = obj({"type": enum("LAUNCH", "LAUNCH_GROUP", "RESERVE", "UNRESERVE", "CREATE",
                              "DESTROY"),
                 "launch": obj({"task_infos": arr(TASK_INFO)}),
                 "launch_group": ANY, "reserve": ANY, "unreserve": ANY},
                required=["type"])  # fmt: skip
FILTERS = obj({"refuse_seconds": NUM})


def _call(ctype: str, payload: Schema | None = None, *, fid: bool = True) -> Schema:
    """A scheduler Call of `ctype` with its lower-case payload `payload`."""
    props: dict[str, Schema] = {"type": enum(ctype)}
    required = ["type"]
    if fid:
        props["framework_id"] = ID
        required.append("framework_id")
    if payload is not None:
        props[ctype.lower()] = payload
    return obj(props, required=required)


SCHEDULER_CALLS = [
    _call("ACCEPT", obj({"offer_ids": arr(ID), "operations": arr(OPERATION),
                         "filters": FILTERS}, required=["offer_ids"])),  # fmt: skip
    _call("DECLINE", obj({"offer_ids": arr(ID), "filters": FILTERS}, required=["offer_ids"])),
    _call("KILL", obj({"task_id": ID, "agent_id": ID, "kill_policy": ANY}, required=["task_id"])),
    _call("ACKNOWLEDGE", obj({"agent_id": ID, "task_id": ID, "uuid": STR},
                            required=["agent_id", "task_id", "uuid"])),  # fmt: skip
    _call("RECONCILE", obj({"tasks": arr(obj({"task_id": ID, "agent_id": ID},
                                             required=["task_id"]))})),  # fmt: skip
    _call("MESSAGE", obj({"agent_id": ID, "executor_id": ID, "data": STR},
                        required=["agent_id", "executor_id", "data"])),  # fmt: skip
    _call("SHUTDOWN", obj({"executor_id": ID, "agent_id": ID}, required=["executor_id"])),
    _call("REVIVE", obj({"role": STR, "roles": arr(STR)})),
    _call("SUPPRESS", obj({"role": STR, "roles": arr(STR)})),
    _call("TEARDOWN"),
]
SUBSCRIBE_CALL = obj({"type": enum("SUBSCRIBE"), "framework_id": ID,
                      "subscribe": obj({"framework_info": FRAMEWORK_INFO},
                                       required=["framework_info"])},
                     required=["type", "subscribe"])  # fmt: skip

# an event of the scheduler stream (each RecordIO record), for the reader of this description
SCHEDULER_EVENT = obj({"type": enum("SUBSCRIBED", "OFFERS", "INVERSE_OFFERS", "RESCIND",
                                    "RESCIND_INVERSE_OFFER", "UPDATE", "UPDATE_OPERATION_STATUS",
                                    "MESSAGE", "FAILURE", "ERROR", "HEARTBEAT")},
                      required=["type"])  # fmt: skip

LEAD = {307: empty("not the leader: Location names the leader"),
        503: text_reply("no leading master elected")}  # fmt: skip
BAD = {400: text_reply("malformed call or bad parameter"),
       413: text_reply("the body is larger than --max-body-bytes")}
AUTH = text_reply("security on: not authenticated (401, WWW-Authenticate) or not allowed (403)")

# --- operator endpoints ---------------------------------------------------------------------------

RESOURCES_MAP = map_of(ANY)  # {"cpus": 1.0, "mem": 128.0, "ports": "[31000-32000]"}
TASK = obj({"id": STR, "name": STR, "framework_id": STR, "executor_id": STR, "slave_id": STR,
            "state": STR, "resources": RESOURCES_MAP, "statuses": arr(ANY)},
           required=["id", "name", "framework_id", "slave_id", "state"])  # fmt: skip
FRAMEWORK = obj({"id": STR, "name": STR, "user": STR, "hostname": STR, "active": BOOL,
                 "connected": BOOL, "role": STR, "tasks": arr(TASK),
                 "completed_tasks": arr(TASK), "offers": arr(ANY), "executors": arr(ANY),
                 "resources": RESOURCES_MAP, "used_resources": RESOURCES_MAP},
                required=["id", "name", "active"])  # fmt: skip
AGENT = obj({"id": STR, "pid": STR, "hostname": STR, "port": INT, "resources": RESOURCES_MAP,
             "used_resources": RESOURCES_MAP, "attributes": ANY, "active": BOOL},
            required=["id", "pid", "hostname", "resources"])  # fmt: skip
STATE = obj({"version": STR, "id": STR, "pid": STR, "hostname": STR, "leader": STR,
             "leader_info": ANY, "flags": map_of(STR), "slaves": arr(AGENT),
             "frameworks": arr(FRAMEWORK), "completed_frameworks": arr(FRAMEWORK),
             "orphan_tasks": arr(ANY), "unregistered_frameworks": arr(ANY)},
            required=["version", "id", "pid", "hostname", "slaves", "frameworks"])  # fmt: skip
SLAVES = obj({"slaves": arr(AGENT), "recovered_slaves": arr(ANY)}, required=["slaves"])
FRAMEWORKS = obj({"frameworks": arr(FRAMEWORK), "completed_frameworks": arr(FRAMEWORK),
                  "unregistered_frameworks": arr(ANY)}, required=["frameworks"])  # fmt: skip
TASKS = obj({"tasks": arr(TASK)}, required=["tasks"])
SUMMARY = obj({"hostname": STR, "cluster": STR, "slaves": arr(obj({"id": STR})),
               "frameworks": arr(obj({"id": STR, "name": STR}))},
              required=["hostname", "slaves", "frameworks"])  # fmt: skip
VERSION = obj({"version": STR, "build_date": STR, "build_time": NUM, "build_user": STR,
               "git_sha": STR, "git_tag": STR}, required=["version"])  # fmt: skip
METRICS = map_of(NUM)
GZIP = [header("Accept-Encoding", enum("gzip", "identity"))]


def _read(summary: str, schema: Schema, params: list[Schema] | None = None) -> dict[str, Schema]:
    return {"get": op(summary, {200: json_reply(schema), **LEAD, **BAD},
                      params=(params or []) + GZIP, tags=["operator"])}  # fmt: skip


OPERATOR_PATHS: dict[str, dict[str, Schema]] = {
    "/master/state": _read("The whole state (Mesos /master/state)", STATE),
    "/master/slaves": _read("The agents", SLAVES),
    "/master/frameworks": _read("The frameworks", FRAMEWORKS),
    "/master/tasks": _read("The tasks, a page of them", TASKS, [
        query("limit", integer(minimum=0)), query("offset", integer(minimum=0)),
        query("order", enum("asc", "des"))]),  # fmt: skip
    "/master/state-summary": _read("A summary of agents and frameworks", SUMMARY),
    "/master/redirect": {"get": op(
        "307 to the leading master (Location //host:port)",
        {307: empty("Location names the leader"), 503: text_reply("no leader elected")},
        tags=["operator"])},  # fmt: skip
    "/master/teardown": {"post": op(
        "Tear a framework down (the operator TEARDOWN)",
        {200: empty(), **LEAD, **BAD, 403: text_reply("refused"),
         404: text_reply("unknown framework")},
        params=[query("frameworkId", STR)],
        request=body(obj({"frameworkId": STR}), "application/x-www-form-urlencoded",
                     required=False),
        tags=["operator"])},  # fmt: skip
    "/health": {"get": op("200 while the process serves", {200: empty()}, tags=["operator"])},
    "/version": {"get": op("Mesos' /version", {200: json_reply(VERSION)}, tags=["operator"])},
    "/metrics/snapshot": {"get": op("Flat JSON metrics (master/elected, ...)",
                                    {200: json_reply(METRICS)}, tags=["operator"])},  # fmt: skip
}
OPERATOR_PATHS = aliases(
    OPERATOR_PATHS,
    ("/state", "/master/state"), ("/master/state.json", "/master/state"),
    ("/state.json", "/master/state"), ("/slaves", "/master/slaves"),
    ("/frameworks", "/master/frameworks"), ("/tasks", "/master/tasks"),
    ("/state-summary", "/master/state-summary"), ("/redirect", "/master/redirect"),
    ("/teardown", "/master/teardown"), ("/master/health", "/health"),
)

# --- v1 operator API ----------------------------------------------------------------------------

READ_TYPES = ("GET_HEALTH", "GET_VERSION", "GET_STATE", "GET_AGENTS", "GET_FRAMEWORKS",
              "GET_TASKS", "GET_MASTER", "GET_METRICS", "GET_WEIGHTS", "GET_QUOTA")  # fmt: skip
SCALAR_RESOURCE = obj({"name": STR, "type": enum("SCALAR"), "scalar": SCALAR},
                      required=["name", "scalar"])  # fmt: skip
OPERATOR_CALLS = [
    obj({"type": enum(*READ_TYPES)}, required=["type"]),
    obj({"type": enum("UPDATE_WEIGHTS"), "update_weights": obj(
        {"weight_infos": arr(obj({"role": STR, "weight": NUM}, required=["role"]))},
        required=["weight_infos"])}, required=["type", "update_weights"]),  # fmt: skip
    obj({"type": enum("SET_QUOTA"), "set_quota": obj({"quota_request": obj(
        {"role": STR, "guarantee": arr(SCALAR_RESOURCE), "force": BOOL}, required=["role"])},
        required=["quota_request"])}, required=["type", "set_quota"]),  # fmt: skip
    obj({"type": enum("REMOVE_QUOTA"), "remove_quota": obj({"role": STR}, required=["role"])},
        required=["type", "remove_quota"]),  # fmt: skip
    obj({"type": enum("TEARDOWN"), "teardown": obj({"framework_id": ID},
                                                   required=["framework_id"])},
        required=["type", "teardown"]),  # fmt: skip
    *(obj({"type": enum(t), t.lower(): obj({"agent_id": ID}, required=["agent_id"])},
          required=["type", t.lower()])
      for t in ("DEACTIVATE_AGENT", "REACTIVATE_AGENT", "MARK_AGENT_GONE")),  # fmt: skip
]


def _read_answer(ctype: str) -> Schema:
    return obj({"type": enum(ctype), ctype.lower(): obj()}, required=["type", ctype.lower()])


OPERATOR_ANSWER = one_of(*(_read_answer(t) for t in READ_TYPES))
STREAMING_CALLS = ["SUBSCRIBE"]  # x-dcos-streaming-calls: the fuzz suite sends none of them
OPERATOR_V1 = {"post": {**op(
    "The Mesos v1 operator API: GET_* reads, UPDATE_WEIGHTS, SET_QUOTA, REMOVE_QUOTA, "
    "TEARDOWN, DEACTIVATE_AGENT, REACTIVATE_AGENT, MARK_AGENT_GONE; SUBSCRIBE answers a chunked RecordIO stream of v1 Event JSON (SUBSCRIBED, "
    "TASK_ADDED, TASK_UPDATED, AGENT_ADDED ... HEARTBEAT)",
    {200: reply("a read's answer (mirrors the call's type); empty for a write; SUBSCRIBE: "
                "the event stream", OPERATOR_ANSWER, JSON),
     **LEAD, **BAD, 403: text_reply("refused"), 404: text_reply("unknown framework, or MARK_AGENT_GONE of an unknown agent"),
     406: text_reply("the Accept header admits no JSON"),
     429: text_reply("too many open streams")},
    request=body(one_of(*OPERATOR_CALLS, obj({"type": enum("SUBSCRIBE")}, required=["type"]))),
    tags=["operator v1"]), "x-dcos-streaming-calls": STREAMING_CALLS,
    "x-dcos-empty-answers": [200]}}  # a write's 200 has no body  # fmt: skip

# --- scheduler API ------------------------------------------------------------------------------

SCHEDULER = {"post": {**op(
    "The Mesos v1 scheduler API: SUBSCRIBE registers a framework and answers 200 with a "
    "chunked RecordIO stream of events (SUBSCRIBED, OFFERS, UPDATE, HEARTBEAT ...) and a "
    "Mesos-Stream-Id header; every other call answers 202 when accepted",
    {200: reply("SUBSCRIBE: RecordIO of scheduler events", SCHEDULER_EVENT, JSON,
                headers={"Mesos-Stream-Id": STR}),
     202: empty("accepted"), **LEAD, **BAD,
     403: text_reply("framework not subscribed or refused"),
     404: text_reply("unknown framework"), 415: text_reply("Content-Type is not JSON"),
     429: text_reply("too many calls")},
    params=[header("Mesos-Stream-Id", STR)],
    request=body(one_of(SUBSCRIBE_CALL, *SCHEDULER_CALLS)), tags=["scheduler"]),
    "x-dcos-streaming-calls": STREAMING_CALLS}}  # fmt: skip


def master_spec() -> dict[str, Any]:
    """The whole description (built once per app by `dcos.master.http.routes`)."""
    paths: dict[str, dict[str, Schema]] = {
        "/api/v1/scheduler": SCHEDULER,
        "/master/api/v1/scheduler": SCHEDULER,
        "/api/v1": OPERATOR_V1,
        "/api/v1/operator": OPERATOR_V1,
        "/master/api/v1": OPERATOR_V1,
        **OPERATOR_PATHS,
        **files_paths("/master/log, the master's log (the only file the master serves)"),
        **prometheus_paths("/metrics", "/metrics/prometheus"),
        **stimuli_path("debug"),
    }
    return spec("dcos-py master (Mesos scheduler, operator and files APIs)", paths,
                description=__doc__ or "", auth_error=AUTH)

