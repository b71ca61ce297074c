"""The OpenAPI 3.0 description of the webapp's Marathon v2 REST API, served at
``GET /openapi.json`` (`dcos.common.openapi.add_openapi_route`, registered by
`frameworks.webapp.api.server.build_app`).

What it describes: apps (list, create, update, delete, restart, versions, their tasks),
``/v2/tasks`` and ``/v2/tasks/delete``, deployments, the launch queue, groups (and their
versions), ``/v2/fit`` (the dry run), ``/v2/info``, ``/v2/leader``, the event stream
``/v2/events`` (Server-Sent Events), ``/v2/eventSubscriptions``, ``/ping``, ``/metrics``
(Marathon's JSON), ``/metrics/prometheus`` and ``/debug/stimuli``. Errors are Marathon's
bodies: ``{"message"}``, 409 ``{"message", "deployments"}``, 422 ``{"message", "details":
[{"path", "errors"}]}``. App and group ids nest (``/shop/web``); here a path parameter is one
segment of such an id.
"""

from __future__ import annotations

from typing import Any

from dcos.common.openapi import (
    ANY,
    BOOL,
    INT,
    NUM,
    STR,
    TEXT,
    Schema,
    arr,
    body,
    enum,
    integer,
    json_or_text,
    json_reply,
    map_of,
    nullable,
    obj,
    one_of,
    op,
    path_param,
    prometheus_paths,
    query,
    reply,
    spec,
    stimuli_path,
    string,
)

# --- shapes -------------------------------------------------------------------------------------

MESSAGE = obj({"message": STR}, required=["message"])
INVALID = obj({"message": STR, "details": arr(obj({"path": STR, "errors": arr(STR)}))},
              required=["message"])  # fmt: skip
CONFLICT = obj({"message": STR, "deployments": arr(obj({"id": STR}))}, required=["message"])
DEPLOYED = obj({"deploymentId": STR, "version": STR}, required=["deploymentId", "version"])

APP_ID = string(pattern=r"^(/?[a-z0-9]([a-z0-9.-]*[a-z0-9])?)+/?$", max_length=200)
SEGMENT = string(pattern=r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$", max_length=40)
PORT_DEF = obj({"port": integer(minimum=0, maximum=65535), "protocol": STR, "name": STR,
                "labels": map_of(STR)})  # fmt: skip
HEALTH_CHECK = obj({"protocol": enum("HTTP", "HTTPS", "TCP", "COMMAND", "MESOS_HTTP",
                                     "MESOS_HTTPS", "MESOS_TCP"),
                    "path": STR, "portIndex": INT, "port": INT, "command": ANY,
                    "gracePeriodSeconds": INT, "intervalSeconds": INT, "timeoutSeconds": INT,
                    "maxConsecutiveFailures": INT})  # fmt: skip
CONTAINER = obj({"type": enum("DOCKER", "MESOS"), "docker": ANY, "portMappings": arr(ANY),
                 "volumes": arr(ANY)})  # fmt: skip
APP_FIELDS: dict[str, Schema] = {
    "id": APP_ID, "cmd": nullable(STR), "args": nullable(arr(STR)),
    "cpus": NUM, "mem": NUM, "disk": NUM, "gpus": NUM,
    "instances": integer(minimum=0),
    "env": map_of(one_of(STR, obj({"secret": STR}, required=["secret"]))),
    "labels": map_of(STR),
    "constraints": arr(arr(STR)),
    "portDefinitions": arr(PORT_DEF), "ports": arr(INT), "requirePorts": BOOL,
    "healthChecks": arr(HEALTH_CHECK), "readinessChecks": arr(ANY),
    "container": nullable(CONTAINER), "user": nullable(STR),
    "uris": arr(STR), "fetch": arr(obj({"uri": STR, "extract": BOOL, "executable": BOOL,
                                        "cache": BOOL})),
    "upgradeStrategy": obj({"minimumHealthCapacity": NUM, "maximumOverCapacity": NUM}),
    "unreachableStrategy": one_of(enum("disabled"), obj({"inactiveAfterSeconds": NUM,
                                                         "expungeAfterSeconds": NUM})),
    "backoffSeconds": NUM, "backoffFactor": NUM, "maxLaunchDelaySeconds": NUM,
    "killSelection": enum("YOUNGEST_FIRST", "OLDEST_FIRST"),
    "taskKillGracePeriodSeconds": nullable(NUM),
    "dependencies": arr(STR), "acceptedResourceRoles": nullable(arr(STR)), "role": STR,
    "secrets": map_of(obj({"source": STR}, required=["source"])),
    "networks": arr(ANY), "residency": nullable(ANY), "executor": STR,
}  # fmt: skip
APP_DEFINITION = obj(APP_FIELDS)  # what a client sends (create: "id" required)
NEW_APP = obj(APP_FIELDS, required=["id"])
TASK = obj({"appId": STR, "id": STR, "host": STR, "ports": arr(INT), "servicePorts": arr(INT),
            "slaveId": nullable(STR), "stagedAt": nullable(STR), "startedAt": nullable(STR),
            "version": STR, "state": STR, "ipAddresses": arr(ANY),
            "healthCheckResults": arr(ANY)}, required=["appId", "id"])  # fmt: skip
APP = obj({**APP_FIELDS, "id": STR, "version": STR, "versionInfo": ANY,
           "tasksRunning": INT, "tasksStaged": INT, "tasksHealthy": INT,
           "tasksUnhealthy": INT, "deployments": arr(obj({"id": STR})), "tasks": arr(TASK),
           "lastTaskFailure": ANY},
          required=["id", "instances", "cpus", "mem"])  # fmt: skip
DEPLOYMENT = obj({"id": STR, "version": STR, "affectedApps": arr(STR),
                  "affectedPods": arr(STR), "steps": arr(ANY), "currentActions": arr(ANY),
                  "currentStep": INT, "totalSteps": INT},
                 required=["id", "version", "affectedApps", "steps"])  # fmt: skip
GROUP: Schema = obj({"id": STR, "apps": arr(APP), "groups": arr(ANY), "pods": arr(ANY),
                     "dependencies": arr(STR), "version": nullable(STR)}, required=["id"])  # fmt: skip
GROUP_DEFINITION = obj({"id": APP_ID, "apps": arr(APP_DEFINITION), "groups": arr(ANY),
                        "dependencies": arr(STR), "scaleBy": NUM, "version": STR})  # fmt: skip
QUEUE = obj({"queue": arr(obj({"app": APP, "count": INT,
                               "delay": obj({"timeLeftSeconds": INT, "overdue": BOOL},
                                            required=["timeLeftSeconds", "overdue"]),
                               "since": nullable(STR)}, required=["app", "count", "delay"]))},
            required=["queue"])  # fmt: skip
INFO = obj({"name": STR, "version": STR, "buildref": nullable(STR), "elected": BOOL,
            "leader": nullable(STR), "frameworkId": nullable(STR),
            "event_subscriber": nullable(ANY), "http_config": obj(),
            "marathon_config": obj(), "zookeeper_config": obj()},
           required=["name", "version", "http_config", "marathon_config",
                     "zookeeper_config"])  # fmt: skip
FIT = obj({"fits": BOOL}, extra=True)

# --- parameters and answers ---------------------------------------------------------------------

TRUE_FALSE = enum("true", "false", "True", "False")
FORCE = query("force", TRUE_FALSE)
EMBED = query("embed", enum("apps.tasks", "apps.counts", "apps.deployments", "apps.lastTaskFailure",
                            "apps.failures", "apps.taskStats", "apps.readiness",
                            "app.tasks", "app.counts", "app.deployments", "app.lastTaskFailure",
                            "app.readiness", "group.apps", "group.groups",
                            "lastUnusedOffers"))  # fmt: skip
KILL = [query("scale", TRUE_FALSE), query("wipe", TRUE_FALSE), FORCE]
APP_PATH = path_param("app_id", SEGMENT, "an app id (one segment of it here)")
GROUP_PATH = path_param("group_id", SEGMENT, "a group id (one segment of it here)")


def _err(status: int, schema: Schema, what: str) -> dict[int, Schema]:
    return {status: json_reply(schema, what)}


E400 = _err(400, MESSAGE, "bad request")
E404 = {404: json_or_text(MESSAGE, "unknown app, group, task, version or deployment (plain "
                                   "text: a path no route matches)")}
E409 = _err(409, CONFLICT, "locked by a deployment (use force=true)")
E422 = _err(422, INVALID, "invalid definition")
E413 = _err(413, MESSAGE, "body too large")
CHANGE = {**E400, **E409, **E413, **E422}
TASKS = obj({"tasks": arr(TASK)}, required=["tasks"])
KILLED = one_of(TASKS, DEPLOYED)


def _op(summary: str, responses: dict[int, Schema], **kw: Any) -> Schema:
    return op(summary, responses, tags=["marathon"], **kw)


APPS: dict[str, dict[str, Schema]] = {
    "/v2/apps": {
        "get": _op("List apps", {200: json_reply(obj({"apps": arr(APP)}, required=["apps"]))},
                   params=[query("cmd"), query("id"), query("label"), EMBED]),
        "post": _op("Create an app: 201 with the app and its deployment",
                    {201: json_reply(APP, "created"), **CHANGE},
                    params=[FORCE], request=body(NEW_APP)),
        "put": _op("Create or update several apps (one deployment)",
                   {200: json_reply(DEPLOYED), **CHANGE, **E404}, params=[FORCE],
                   request=body(arr(APP_DEFINITION))),
    },
    "/v2/apps/{app_id}": {
        "get": _op("One app", {200: json_reply(obj({"app": APP}, required=["app"])), **E404},
                   params=[APP_PATH, EMBED]),
        "put": _op("Update (partialUpdate, the default: merge) or create an app",
                   {200: json_reply(DEPLOYED), 201: json_reply(DEPLOYED, "created"),
                    **CHANGE, **E404},
                   params=[APP_PATH, FORCE, query("partialUpdate", TRUE_FALSE)],
                   request=body(APP_DEFINITION)),
        "delete": _op("Destroy an app (a deployment)",
                      {200: json_reply(DEPLOYED), **E404, **E409}, params=[APP_PATH, FORCE]),
    },
    "/v2/apps/{app_id}/restart": {"post": _op(
        "Restart an app's tasks (a deployment)", {200: json_reply(DEPLOYED), **E404, **E409},
        params=[APP_PATH, FORCE])},  # fmt: skip
    "/v2/apps/{app_id}/tasks": {
        "get": _op("An app's tasks", {200: json_reply(TASKS), **E404}, params=[APP_PATH]),
        "delete": _op("Kill an app's tasks (optionally on one host)",
                      {200: json_reply(KILLED), **E400, **E404, **E409},
                      params=[APP_PATH, query("host"), *KILL]),
    },
    "/v2/apps/{app_id}/tasks/{task_id}": {
        "get": _op("One task of an app", {200: json_reply(obj({"task": TASK})), **E404},
                   params=[APP_PATH, path_param("task_id")]),
        "delete": _op("Kill one task", {200: json_reply(one_of(obj({"task": TASK}), TASKS,
                                                               DEPLOYED)),
                                        **E400, **E404, **E409},
                      params=[APP_PATH, path_param("task_id"), *KILL]),
    },
    "/v2/apps/{app_id}/versions": {"get": _op(
        "An app's versions", {200: json_reply(obj({"versions": arr(STR)})), **E404},
        params=[APP_PATH])},  # fmt: skip
    "/v2/apps/{app_id}/versions/{version}": {"get": _op(
        "An app as it was in one version", {200: json_reply(APP), **E404},
        params=[APP_PATH, path_param("version")])},  # fmt: skip
}
GROUP_OPS: dict[str, Schema] = {
    "get": _op("A group (tree of apps and groups)", {200: json_reply(GROUP), **E404},
               params=[EMBED]),
    "post": _op("Create a group (or change it)",
                {200: json_reply(DEPLOYED), 201: json_reply(DEPLOYED, "created"), **CHANGE,
                 **E404},
                params=[FORCE], request=body(GROUP_DEFINITION)),
    "put": _op("Update a group (or scale it: {\"scaleBy\": x})",
               {200: json_reply(DEPLOYED), **CHANGE, **E404}, params=[FORCE],
               request=body(GROUP_DEFINITION)),
    "delete": _op("Destroy a group and its apps", {200: json_reply(DEPLOYED), **E404, **E409},
                  params=[FORCE]),
}


def _with(operation: Schema, param: Schema) -> Schema:
    return {**operation, "parameters": [param, *operation.get("parameters", [])]}


GROUPS: dict[str, dict[str, Schema]] = {
    "/v2/groups": GROUP_OPS,
    "/v2/groups/{group_id}": {m: _with(o, GROUP_PATH) for m, o in GROUP_OPS.items()},
    "/v2/groups/{group_id}/versions": {"get": _op(
        "A group's versions", {200: json_reply(arr(STR)), **E404}, params=[GROUP_PATH])},
    "/v2/groups/{group_id}/versions/{version}": {
        "get": _op("A group as it was in one version", {200: json_reply(GROUP), **E404},
                   params=[GROUP_PATH, path_param("version")]),
        "put": _op("Roll a group back to one version", {200: json_reply(DEPLOYED), **CHANGE,
                                                         **E404},
                   params=[GROUP_PATH, path_param("version"), FORCE]),
    },
}
OTHERS: dict[str, dict[str, Schema]] = {
    "/v2/tasks": {"get": _op("Every task", {200: json_reply(TASKS)}, params=[query(
        "status", enum("running", "staging", "starting", "finished", "failed", "killed",
                       "killing", "lost", "unreachable"))])},
    "/v2/tasks/delete": {"post": _op(
        "Kill tasks by id", {200: json_reply(KILLED), **E400, **E409, **E413, **E422},
        params=KILL, request=body(obj({"ids": arr(STR)}, required=["ids"])))},  # fmt: skip
    "/v2/deployments": {"get": _op("Running deployments", {200: json_reply(arr(DEPLOYMENT))})},
    "/v2/deployments/{deployment_id}": {"delete": _op(
        "Stop a deployment (force: without rolling back)",
        {200: json_reply(DEPLOYED), 202: json_reply(obj(), "stopped"), **E404},
        params=[path_param("deployment_id"), FORCE])},  # fmt: skip
    "/v2/queue": {"get": _op("The launch queue", {200: json_reply(QUEUE)}, params=[EMBED])},
    "/v2/queue/{app_id}/delay": {"delete": _op(
        "Reset an app's launch delay", {204: reply("reset"), **E404}, params=[APP_PATH])},
    "/v2/info": {"get": _op("Marathon's info", {200: json_reply(INFO)})},
    "/v2/leader": {
        "get": _op("The leading instance", {200: json_reply(obj({"leader": STR})), **E404}),
        "delete": _op("Abdicate (another instance leads)",
                      {200: json_reply(MESSAGE), **E404}),
    },
    "/v2/events": {"get": _op(
        "The event stream (Server-Sent Events: event_stream_attached, api_post_event, "
        "status_update_event, deployment_* ...)",
        {200: reply("SSE stream", STR, "text/event-stream"),
         429: json_reply(MESSAGE, "too many open streams")},
        params=[query("event_type")], streaming=True)},  # fmt: skip
    "/v2/eventSubscriptions": {
        "get": _op("HTTP callback subscribers",
                   {200: json_reply(obj({"callbackUrls": arr(STR)}))}),
        "post": _op("Subscribe a callback URL", {200: json_reply(obj({"eventType": STR})),
                                                 **E400, **E422},
                    params=[query("callbackUrl", STR, required=True)]),
        "delete": _op("Unsubscribe a callback URL", {200: json_reply(obj({"eventType": STR})),
                                                     **E400, **E422},
                      params=[query("callbackUrl", STR, required=True)]),
    },
    "/v2/fit": {"post": _op(
        "Would this app (or group) fit now, and why not (a dry run)",
        {200: json_reply(FIT), **E400, **E413, **E422,
         503: json_reply(MESSAGE, "no offers known yet")},
        request=body(one_of(NEW_APP, GROUP_DEFINITION)))},  # fmt: skip
    "/ping": {"get": _op("Readiness", {200: reply("pong", STR, TEXT)})},
    "/metrics": {"get": _op("Marathon's JSON metrics", {200: json_reply(obj())})},
}


def webapp_spec() -> dict[str, Any]:
    """The whole description (built once per app by `build_app`)."""
    paths = {**APPS, **GROUPS, **OTHERS, **prometheus_paths("/metrics/prometheus"),
             **stimuli_path("debug")}  # fmt: skip
    return spec("dcos-py webapp (Marathon v2 REST API)", paths, description=__doc__ or "",
                auth_error=json_reply(MESSAGE, "security on: not authenticated (401) or not "
                                               "allowed (403)"))
