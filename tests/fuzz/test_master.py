"""Fuzz of the master's HTTP APIs: the scheduler API (JSON calls with one field mutated,
garbage and msgpack bodies, hostile Content-Type / Mesos-Stream-Id / Accept headers), the v1
operator API (every call type mutated), the internal agent channel (msgpack garbage and
mutated SUBSCRIBE / UPDATE / PONG / MESSAGE / EXITED_EXECUTOR, also as a forger who knows
the real agent, framework and task ids) and the GET endpoints with bad query parameters.

A real master and one agent (simulated tasks) run in-process; a framework is subscribed and
runs one task. No request may get a 5xx or hang; a refused one changes nothing; after each
test the master still serves `/master/state` with that framework, agent and task intact.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import orjson
from hypothesis import given
from hypothesis import strategies as st

from dcos.protocol import internal
from dcos.testing.master import command_task
from tests.fuzz.envs import TASK, UUID, ClusterEnv
from tests.fuzz.harness import fuzz, send
from tests.fuzz.strategies import (
    CONTENT_TYPES,
    body_of,
    garbage_bodies,
    header_values,
    mutations,
    query_values,
)

# -- the scheduler API ------------------------------------------------------------------

OFFER = "{offer}"  # replaced by the newest offer the framework holds when the call is sent
_counter = itertools.count()  # "{n}" in a task id: a fresh number per call


def scheduler_calls(fid: str, aid: str) -> list[dict[str, Any]]:
    """A valid call of every type (those that would change our framework's task name ids no
    one has), for `mutations`."""
    f, a = {"value": fid}, {"value": aid}
    info = {"user": "u", "name": "fz", "failover_timeout": 1.0, "roles": ["*"], "checkpoint": True,
            "capabilities": [{"type": "MULTI_ROLE"}, {"type": "PARTITION_AWARE"}],
            "hostname": "h", "webui_url": "http://h:1", "labels": {"labels": [{"key": "k"}]}}
    task = command_task("fz-{n}", aid, "serve", 0.1)
    return [
        {"type": "SUBSCRIBE", "subscribe": {"framework_info": info, "suppressed_roles": []}},
        {"type": "ACCEPT", "framework_id": f, "accept": {  # a real offer: see `OFFER`
            "offer_ids": [{"value": OFFER}], "filters": {"refuse_seconds": 0.0},
            "operations": [{"type": "LAUNCH", "launch": {"task_infos": [task]}},
                           {"type": "LAUNCH_GROUP", "launch_group": {
                               "executor": {"executor_id": {"value": "e"}, "type": "DEFAULT"},
                               "task_group": {"tasks": [task]}}}]}},
        {"type": "DECLINE", "framework_id": f, "decline": {
            "offer_ids": [{"value": "o1"}], "filters": {"refuse_seconds": 1.0}}},
        {"type": "REVIVE", "framework_id": f, "revive": {"roles": ["*"]}},
        {"type": "SUPPRESS", "framework_id": f, "suppress": {"roles": ["*"]}},
        {"type": "KILL", "framework_id": f, "kill": {
            "task_id": {"value": "no-such-task"}, "agent_id": a,
            "kill_policy": {"grace_period": {"nanoseconds": 1}}}},
        {"type": "SHUTDOWN", "framework_id": f, "shutdown": {
            "executor_id": {"value": "no-such-executor"}, "agent_id": a}},
        {"type": "ACKNOWLEDGE", "framework_id": f, "acknowledge": {
            "agent_id": a, "task_id": {"value": "no-such-task"}, "uuid": UUID}},
        {"type": "RECONCILE", "framework_id": f, "reconcile": {
            "tasks": [{"task_id": {"value": TASK}, "agent_id": a}]}},
        {"type": "MESSAGE", "framework_id": f, "message": {
            "agent_id": a, "executor_id": {"value": "no-such"}, "data": "aGk="}},
        {"type": "REQUEST", "framework_id": f, "request": {"requests": [
            {"agent_id": a, "resources": [{"name": "cpus", "type": "SCALAR", "scalar": {"value": 1}}]}]}},
        {"type": "UPDATE_FRAMEWORK", "framework_id": f, "update_framework": {
            "framework_info": {**info, "id": f, "name": "fuzz-fw", "failover_timeout": 100}}},
        {"type": "TEARDOWN", "framework_id": {"value": "not-ours"}},
        {"type": "ACKNOWLEDGE_OPERATION_STATUS", "framework_id": f, "acknowledge_operation_status": {
            "agent_id": a, "uuid": UUID, "operation_id": {"value": "op"}}},
        {"type": "RECONCILE_OPERATIONS", "framework_id": f, "reconcile_operations": {
            "operations": [{"operation_id": {"value": "op"}}]}},
        {"type": "ACCEPT_INVERSE_OFFERS", "framework_id": f, "accept_inverse_offers": {
            "inverse_offer_ids": [{"value": "io"}]}},
        {"type": "DECLINE_INVERSE_OFFERS", "framework_id": f, "decline_inverse_offers": {
            "inverse_offer_ids": [{"value": "io"}]}},
    ]  # fmt: skip


def _sched_headers(sid: str) -> st.SearchStrategy[dict[str, str | bytes]]:
    return st.fixed_dictionaries({}, optional={
        "Content-Type": st.one_of(st.sampled_from(CONTENT_TYPES), header_values),
        "Mesos-Stream-Id": st.one_of(st.just(sid), header_values),
        "Accept": st.one_of(st.sampled_from(["application/json", "application/x-protobuf",
                                             "application/x-msgpack", "*/*", "é"]), header_values),
    })  # fmt: skip


def test_scheduler_api_mutated_calls(env: ClusterEnv) -> None:
    guard = env.guard("master /api/v1/scheduler (mutated JSON calls)", agent_side=False)
    templates = scheduler_calls(env.fid, env.aid)

    @fuzz(400)
    @given(doc=st.sampled_from(templates).flatmap(mutations),
           with_sid=st.sampled_from([True] * 4 + [False]))
    def run(doc: Any, with_sid: bool) -> None:
        headers: dict[str, str | bytes] = {"Content-Type": "application/json"}
        if with_sid:
            headers["Mesos-Stream-Id"] = env.sid
        body = body_of(doc).replace(b"{n}", str(next(_counter)).encode())
        if OFFER.encode() in body:
            body = body.replace(OFFER.encode(), env.latest_offer().encode())
        guard.request(env.port, "POST", "/api/v1/scheduler", body, headers)

    run()
    env.assert_healthy(launched=True)


def test_scheduler_api_bodies_and_headers(env: ClusterEnv) -> None:
    guard = env.guard("master /api/v1/scheduler (bodies, headers)", agent_side=False)
    templates = scheduler_calls(env.fid, env.aid)
    bodies = st.one_of(
        garbage_bodies,
        st.tuples(st.sampled_from(templates), st.sampled_from(["json", "msgpack"]))
        .map(lambda t: body_of(*t)),
    )

    @fuzz(300)
    @given(body=bodies, headers=_sched_headers(env.sid),
           method=st.sampled_from(["POST"] * 8 + ["GET", "PUT", "DELETE", "OPTIONS"]))  # fmt: skip
    def run(body: bytes, headers: dict[str, str | bytes], method: str) -> None:
        guard.request(env.port, method, "/api/v1/scheduler", body, headers)

    run()
    env.assert_healthy(launched=True)


# -- the v1 operator API ----------------------------------------------------------------

READS = ["GET_HEALTH", "GET_VERSION", "GET_AGENTS", "GET_FRAMEWORKS", "GET_TASKS", "GET_STATE",
         "GET_MASTER", "GET_METRICS", "GET_WEIGHTS", "GET_QUOTA", "GET_FLAGS", "GET_ROLES",
         "GET_EXECUTORS", "GET_OPERATIONS", "GET_LOGGING_LEVEL", "SUBSCRIBE", "NOPE"]  # fmt: skip
GUARANTEE = [{"name": "cpus", "type": "SCALAR", "scalar": {"value": 0.1}},
             {"name": "mem", "type": "SCALAR", "scalar": {"value": 1.0}}]  # fmt: skip
OPERATOR_CALLS: list[dict[str, Any]] = [
    *({"type": t} for t in READS),
    {"type": "GET_METRICS", "get_metrics": {"timeout": {"nanoseconds": 1000}}},
    {"type": "UPDATE_WEIGHTS", "update_weights": {"weight_infos": [{"role": "fz", "weight": 2.0}]}},
    {"type": "SET_QUOTA", "set_quota": {"quota_request": {
        "role": "fz", "guarantee": GUARANTEE, "force": False}}},
    {"type": "REMOVE_QUOTA", "remove_quota": {"role": "fz"}},
    {"type": "UPDATE_QUOTA", "update_quota": {"quota_configs": [
        {"role": "fz", "guarantees": {"cpus": {"value": 0.1}}}], "force": False}},
    # mutations never hit the id of the fuzz's own framework (a master-made id)
    {"type": "TEARDOWN", "teardown": {"framework_id": {"value": "not-a-framework"}}},
]  # fmt: skip


def test_operator_api_mutated_calls(env: ClusterEnv) -> None:
    guard = env.guard("master /api/v1 (operator calls)", agent_side=False)

    @fuzz(400)
    @given(doc=st.one_of(st.sampled_from(OPERATOR_CALLS).flatmap(mutations),
                         garbage_bodies.map(lambda b: RawBody(b))),
           path=st.sampled_from(["/api/v1", "/api/v1", "/api/v1/operator"]),
           ctype=st.sampled_from(["application/json", "application/json", "application/x-msgpack",
                                  "text/plain", "é"]))  # fmt: skip
    def run(doc: Any, path: str, ctype: str) -> None:
        body = doc.body if isinstance(doc, RawBody) else body_of(doc)
        guard.request(env.port, "POST", path, body, {"Content-Type": ctype})

    run()
    env.assert_healthy(launched=True)
    # an accepted quota may hold resources back (with "force" even more than the cluster
    # has: the operator asked for it); once removed, offers must flow again
    r = send(env.port, "POST", "/api/v1", b'{"type":"GET_QUOTA"}')
    assert r.status == 200, r.text()
    for info in orjson.loads(r.body)["get_quota"]["status"].get("infos", []):
        body = orjson.dumps({"type": "REMOVE_QUOTA", "remove_quota": {"role": info["role"]}})
        assert send(env.port, "POST", "/api/v1", body).status == 200, info
    env.assert_offers_flow()


@dataclass(frozen=True)
class RawBody:
    body: bytes


# -- the internal agent channel -----------------------------------------------------------


def agent_calls(env: ClusterEnv) -> list[dict[str, Any]]:
    """Valid-shaped agent calls: a new agent's SUBSCRIBE, and calls that name the real agent,
    framework and task (a forger's)."""
    from dcos.protocol.resources import Resources

    info = {"id": None, "hostname": "fz", "ip": "127.0.0.2", "port": 45051,
            "resources": Resources.parse("cpus:1;mem:64;disk:10;ports:[31000-31001]").to_dict(),
            "attributes": {"zone": "z"}, "version": "0.1.0", "capabilities": []}  # fmt: skip
    status = {"task_id": {"value": TASK}, "state": "TASK_KILLED", "source": "SOURCE_EXECUTOR",
              "timestamp": 1.0, "uuid": UUID, "agent_id": {"value": env.aid}}  # fmt: skip
    record = {"framework_id": env.fid, "state": "TASK_RUNNING",
              "task": command_task("fz-2", env.aid), "status": status}  # fmt: skip
    return [
        {"type": internal.SUBSCRIBE, "agent": info, "tasks": [], "frameworks": [], "unacked": []},
        {"type": internal.SUBSCRIBE, "agent": {**info, "id": env.aid}, "tasks": [record],
         "frameworks": [{"id": {"value": env.fid}, "name": "x", "user": "u"}], "unacked": []},
        {"type": internal.UPDATE, "agent_id": env.aid,
         "updates": [{"framework_id": env.fid, "status": status}]},
        {"type": internal.UPDATE, "agent_id": "no-such-agent",
         "updates": [{"framework_id": env.fid, "status": status}]},
        {"type": internal.PONG, "agent_id": env.aid},
        {"type": internal.MESSAGE, "agent_id": env.aid, "framework_id": env.fid,
         "executor_id": TASK, "data": "aGk="},
        {"type": internal.EXITED_EXECUTOR, "agent_id": env.aid, "framework_id": env.fid,
         "executor_id": TASK, "status": 9},
    ]  # fmt: skip


def test_internal_agent_channel(env: ClusterEnv) -> None:
    guard = env.guard("master /internal/agent (msgpack)", agent_side=False)
    templates = agent_calls(env)
    body = st.one_of(
        st.tuples(st.sampled_from(templates).flatmap(mutations),
                  st.sampled_from(["msgpack"] * 4 + ["json"])).map(lambda t: body_of(*t)),
        garbage_bodies,
    )

    @fuzz(400)
    @given(body=body, ctype=st.sampled_from(["application/x-msgpack"] * 4 + [
        "application/json", "é", ""]))  # fmt: skip
    def run(body: bytes, ctype: str) -> None:
        guard.request(env.port, "POST", internal.PATH, body, {"Content-Type": ctype})

    run()
    env.assert_healthy(launched=True)


# -- GETs ---------------------------------------------------------------------------------

GET_PATHS = ["/master/state", "/state", "/master/state.json", "/state.json", "/master/slaves",
             "/master/frameworks", "/master/tasks", "/master/state-summary", "/health",
             "/master/health", "/version", "/metrics/snapshot", "/debug/stimuli", "/metrics",
             "/metrics/prometheus", "/master/nope", "/master/state/..", "/master/%00",
             "/master/%ff", "//master//state", "/master/state?", "/api/v1", "/api/v1/scheduler"]  # fmt: skip
QUERY_KEYS = ["limit", "offset", "order", "framework_id", "task_id", "jsonp", "timeout",
              "depth", "é", "", "%00"]  # fmt: skip


def queries() -> st.SearchStrategy[str]:
    pair = st.tuples(st.sampled_from(QUERY_KEYS), query_values()).map(lambda kv: f"{kv[0]}={kv[1]}")
    return st.lists(pair, max_size=3).map(lambda ps: "?" + "&".join(ps) if ps else "")


def test_gets_with_bad_query_parameters(env: ClusterEnv) -> None:
    guard = env.guard("master GET endpoints", agent_side=False)

    @fuzz(300)
    @given(path=st.sampled_from(GET_PATHS), query=queries(),
           method=st.sampled_from(["GET"] * 6 + ["HEAD", "POST", "DELETE", "PATCH"]))  # fmt: skip
    def run(path: str, query: str, method: str) -> None:
        guard.request(env.port, method, path + query)

    run()
    env.assert_healthy(launched=True)


def test_state_is_json_after_fuzz(env: ClusterEnv) -> None:
    """The state the fuzz left renders (no value it accepted breaks a reader)."""

    for path in ("/master/state", "/master/state-summary", "/master/tasks", "/metrics/snapshot"):
        status, body = env.get(env.cluster.url + path)
        assert status == 200, (path, body[:300])
        orjson.loads(body)
    status, _ = env.get(env.cluster.url + "/metrics")
    assert status == 200
