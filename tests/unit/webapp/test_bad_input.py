"""Bad input to the /v2 API gets Marathon's 4xx, never a 500, and changes nothing (issue 9):
deep nesting, wrong types inside the app model, ids with ``.``/``..`` or too long; a task that
fails without a message is still reported with a reason."""

from __future__ import annotations

import asyncio
import json

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from frameworks.webapp.actions import Deploy, TaskUpdate
from frameworks.webapp.core import WebappCore
from frameworks.webapp.model.app import normalize
from frameworks.webapp.model.group import flatten_group
from frameworks.webapp.model.paths import MAX_ID_LENGTH
from frameworks.webapp.model.spec import AppSpec
from tests.unit.webapp.test_core import T0, launched, offers


def app(**kw):
    return {"id": "/web", "cmd": "sleep 100", "cpus": 0.1, "mem": 16, **kw}


class Deep:
    """`levels` nested objects, encoded by `encode` (orjson and json refuse to write them)."""

    def __init__(self, levels: int) -> None:
        self.levels = levels


def deep(levels: int) -> Deep:
    return Deep(levels)


def encode(body: object) -> bytes:
    """JSON bytes of `body`, with each `Deep` written out as its nesting."""
    if isinstance(body, Deep):
        return b'{"a":' * body.levels + b"{}" + b"}" * body.levels
    if isinstance(body, dict):
        return b"{" + b",".join(orjson.dumps(k) + b":" + encode(v) for k, v in body.items()) + b"}"
    if isinstance(body, list):
        return b"[" + b",".join(encode(v) for v in body) + b"]"
    return json.dumps(body).encode()


async def assert_nothing_created(client) -> None:
    resp = await client.get("/v2/apps")
    assert (await resp.json())["apps"] == []
    resp = await client.get("/v2/groups")
    assert (await resp.json())["groups"] == []


async def refused(client, method: str, path: str, body: object, where: str) -> dict:
    resp = await client.request(method, path, data=encode(body),
                                headers={"Content-Type": "application/json"})
    text = await resp.text()
    assert resp.status == 422, (resp.status, text[:500])
    got = orjson.loads(text)
    paths = [d["path"] for d in got["details"]]
    # a body nested too deep is refused before the model, at the member holding the nesting
    assert got["message"] and any(p == where or (p != "/" and where.startswith(p)) for p in paths), got
    return got


BAD_APPS = [
    ({"labels": deep(1000)}, "/labels"),
    ({"portDefinitions": [{"port": 0, "name": {}}]}, "/portDefinitions(0)/name"),
    ({"portDefinitions": [{"port": 0, "labels": {"a": []}}]}, "/portDefinitions(0)/labels"),
    ({"healthChecks": [{"protocol": []}]}, "/healthChecks(0)/protocol"),
    ({"healthChecks": [{"protocol": "HTTP", "path": 7}]}, "/healthChecks(0)/path"),
    ({"healthChecks": [{"protocol": "TCP", "port": "x"}]}, "/healthChecks(0)/port"),
    ({"portDefinitions": 7}, "/portDefinitions"),
    ({"portDefinitions": 7, "readinessChecks": [{"portName": "http"}]}, "/portDefinitions"),
    ({"killSelection": {}}, "/killSelection"),
    ({"fetch": ["http://x/y"]}, "/fetch(0)"),
    ({"fetch": [{"uri": "http://x/y", "extract": "yes"}]}, "/fetch(0)"),
    ({"readinessChecks": [{"httpStatusCodesForReady": "200"}]}, "/readinessChecks(0)/httpStatusCodesForReady"),
    ({"requirePorts": "true"}, "/requirePorts"),
    ({"instances": 10**30}, "/instances"),
    ({"container": [1]}, "/container"),
]


@pytest.mark.parametrize(("extra", "where"), BAD_APPS)
async def test_bad_app_fields_are_422_on_every_route(client, extra, where) -> None:
    await refused(client, "POST", "/v2/apps", app(**extra), where)
    await refused(client, "PUT", "/v2/apps/web", app(**extra), where)
    await refused(client, "PUT", "/v2/apps", [app(**extra)], f"(0){where}")
    await refused(client, "POST", "/v2/groups", {"id": "/g", "apps": [app(id="web", **extra)]},
                  f"/apps(0){where}")
    await assert_nothing_created(client)


async def test_deep_nesting_anywhere_is_refused_before_parsing_the_model(client) -> None:
    await refused(client, "POST", "/v2/apps", app(container=deep(500)), "/container")
    await refused(client, "POST", "/v2/groups", {"id": "/g", "groups": [deep(300)]}, "/groups")
    await refused(client, "PUT", "/v2/groups/g", {"apps": [app(env=deep(200))]}, "/apps")
    # orjson itself refuses nesting past 1,024 levels: still Marathon's 422
    resp = await client.post("/v2/apps", data=b"[" * 2000 + b"]" * 2000)
    assert resp.status == 422
    await assert_nothing_created(client)


async def test_an_app_updated_on_top_of_a_good_one_keeps_it_unchanged(client) -> None:
    resp = await client.post("/v2/apps", json=app())
    assert resp.status == 201
    await refused(client, "PUT", "/v2/apps/web", {"killSelection": {}}, "/killSelection")
    await refused(client, "PUT", "/v2/groups/", {"scaleBy": 1e308}, "/scaleBy")
    got = await (await client.get("/v2/apps/web")).json()
    assert got["app"]["killSelection"] == "YOUNGEST_FIRST" and got["app"]["instances"] == 1


async def test_long_ids_are_refused_at_marathons_limit(client) -> None:
    long_id = "/" + "a" * 299
    got = await refused(client, "POST", "/v2/apps", app(id=long_id), "/id")
    assert "at most" in str(got)
    await refused(client, "POST", "/v2/groups", {"id": "/" + "g" * 150, "apps": [app(id="w" * 60)]},
                  "/apps(0)/id")
    await assert_nothing_created(client)
    ok = "/" + "a" * (MAX_ID_LENGTH - 1)
    resp = await client.post("/v2/apps", json=app(id=ok))
    assert resp.status == 201, await resp.text()


async def raw_request(client, method: str, target: str, body: bytes) -> tuple[int, bytes]:
    """Send a request line exactly as given (no client normalises ``..`` away)."""
    reader, writer = await asyncio.open_connection(client.server.host, client.server.port)
    writer.write(f"{method} {target} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                 f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode() + body)
    await writer.drain()
    data = await reader.read()
    writer.close()
    head, _, rest = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), rest


@pytest.mark.parametrize(("method", "target"), [
    ("PUT", "/v2/apps/../../etc/passwd"), ("PUT", "/v2/apps/%2E%2E/%2e%2e/etc/passwd"),
    ("PUT", "/v2/apps/etc/./passwd"), ("DELETE", "/v2/apps/x/../web"),
    ("POST", "/v2/apps/x/../web/restart"), ("DELETE", "/v2/queue/x/../web/delay"),
])
async def test_dot_segments_in_app_urls_are_refused(client, method, target) -> None:
    status, body = await raw_request(client, method, target, orjson.dumps({"cmd": "sleep 1"}))
    assert status == 422, body
    assert b"not allowed in an id" in body
    await assert_nothing_created(client)


async def test_dot_segments_in_group_urls_and_bodies_are_refused(client) -> None:
    resp = await client.post("/v2/groups", json={"id": "/keep", "apps": [app(id="web")]})
    assert resp.status == 201, await resp.text()
    for method, target, body in [
        ("DELETE", "/v2/groups/keep/..", b""),
        ("PUT", "/v2/groups/x/%2E%2E/keep", orjson.dumps({"apps": []})),
        ("POST", "/v2/groups/..", orjson.dumps({"id": "/evil", "apps": []})),
        ("PUT", "/v2/groups/keep/../versions/x", b""),
    ]:
        status, answer = await raw_request(client, method, target, body)
        assert status == 422, (target, answer)
    for body in [{"id": "../evil", "apps": [app(id="w")]},
                 {"id": "/g", "apps": [app(id="/keep/web")]},  # not a child of /g
                 {"id": "/g", "groups": [{"id": "/other", "apps": [app(id="w")]}]},
                 {"id": "/g", "apps": [app(id="../evil")]},
                 {"id": "/g", "groups": [{"id": "./h", "apps": [app(id="w")]}]}]:
        resp = await client.post("/v2/groups", json=body)
        assert resp.status == 422, await resp.text()
    got = await (await client.get("/v2/apps")).json()
    assert [a["id"] for a in got["apps"]] == ["/keep/web"]


def test_a_failure_without_a_message_is_reported_with_what_is_known() -> None:
    core = WebappCore()
    spec = AppSpec.parse(normalize(app())[0])
    core.deploy(T0, Deploy({spec.id: spec}))
    core.evaluate(T0)
    [task] = launched(core.offers(T0, offers(1)))
    tid = task["task_id"]["value"]
    core.status(T0 + 1, TaskUpdate.of({"task_id": {"value": tid}, "state": "TASK_FAILED",
                                       "reason": "REASON_COMMAND_EXECUTOR_FAILED"}))
    failure = core.app_state("/web").last_failure
    assert failure["message"] == ("task failed: REASON_COMMAND_EXECUTOR_FAILED "
                                  "(no message given by the agent)")
    [task] = launched(core.offers(T0 + 100, offers(1)))
    core.status(T0 + 101, TaskUpdate.of({"task_id": {"value": task["task_id"]["value"]},
                                         "state": "TASK_FAILED"}))
    assert core.app_state("/web").last_failure["message"] == "task failed (no reason given by the agent)"


# What a body can hold once orjson parsed it: integers within [-2**63, 2**64) (larger ones
# arrive as floats), so the stored definition can always be encoded again.
JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | st.floats(allow_nan=False)
    | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8,
)
FIELDS = ["id", "cmd", "args", "cpus", "mem", "disk", "gpus", "instances", "env", "labels",
          "portDefinitions", "ports", "requirePorts", "constraints", "acceptedResourceRoles",
          "healthChecks", "readinessChecks", "upgradeStrategy", "unreachableStrategy",
          "killSelection", "backoffSeconds", "backoffFactor", "maxLaunchDelaySeconds",
          "taskKillGracePeriodSeconds", "fetch", "uris", "dependencies", "user", "container",
          "secrets", "executor", "storeUrls"]
SHAPES = {
    "portDefinitions": st.lists(st.dictionaries(st.sampled_from(["port", "name", "protocol", "labels"]), JSON), max_size=2),
    "healthChecks": st.lists(st.dictionaries(st.sampled_from(
        ["protocol", "path", "port", "portIndex", "command", "gracePeriodSeconds", "intervalSeconds",
         "timeoutSeconds", "maxConsecutiveFailures", "delaySeconds", "ignoreHttp1xx"]), JSON), max_size=2),
    "readinessChecks": st.lists(st.dictionaries(st.sampled_from(
        ["name", "protocol", "path", "portName", "intervalSeconds", "timeoutSeconds",
         "httpStatusCodesForReady", "preserveLastResponse"]), JSON), max_size=2),
}


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.fixed_dictionaries({}, optional={
    f: SHAPES[f] | JSON if f in SHAPES else JSON for f in FIELDS}))
def test_any_json_app_is_either_valid_and_parseable_or_a_422(extra) -> None:
    body = {**app(), **extra}
    full, errs = normalize(body)
    if full is None:
        assert errs and all(isinstance(p, str) and msgs for p, msgs in errs)
        return
    spec = AppSpec.parse(full)
    orjson.dumps(full)
    assert spec.id == full["id"]
    apps, _, gerrs = flatten_group({"id": "/g", "apps": [{**body, "id": "w"}]})
    assert gerrs or "/g/w" in apps
