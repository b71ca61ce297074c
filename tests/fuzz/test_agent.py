"""Fuzz of the agent's HTTP APIs: the executor API (JSON calls with one field mutated, as a
stranger and as a forger who knows the real framework, executor and task ids; garbage bodies,
hostile headers), the files API (paths with ``..``, NUL, ``/proc/1/root``, non-UTF-8 escapes,
links out of the sandbox, a FIFO; bad offsets and lengths) and the GET endpoints (``/state``,
``/monitor/statistics``, ``/metrics``, ``/debug/stimuli``) with bad query parameters.

No request may get a 5xx or hang; a refused one changes nothing; after each test the agent
still serves ``/state`` with exactly the executor it launched (no phantom executors) and its
task still runs.
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import quote

import orjson
from hypothesis import given
from hypothesis import strategies as st

from dcos.testing.master import command_task
from tests.fuzz.envs import TASK, UUID, ClusterEnv
from tests.fuzz.harness import fuzz
from tests.fuzz.strategies import (
    CONTENT_TYPES,
    SPECIAL_STRINGS,
    body_of,
    garbage_bodies,
    header_values,
    mutations,
    query_values,
    quoted,
)


def executor_calls(env: ClusterEnv) -> list[dict[str, Any]]:
    """Valid-shaped executor calls naming the real framework and executor (a forger without
    the executor's token) or ids the agent never launched."""
    f, e = {"value": env.fid}, {"value": TASK}
    status = {"task_id": {"value": TASK}, "state": "TASK_FINISHED", "source": "SOURCE_EXECUTOR",
              "uuid": UUID, "timestamp": 1.0, "message": "forged"}  # fmt: skip
    return [
        {"type": "SUBSCRIBE", "framework_id": f, "executor_id": e, "subscribe": {
            "unacknowledged_tasks": [{"task_id": {"value": "t2"}, "name": "x"}],
            "unacknowledged_updates": [{"framework_id": f, "status": status}]}},
        {"type": "SUBSCRIBE", "framework_id": {"value": "phantom-fw"},
         "executor_id": {"value": "phantom-ex"}, "subscribe": {}},
        {"type": "UPDATE", "framework_id": f, "executor_id": e, "update": {"status": status}},
        {"type": "UPDATE", "framework_id": {"value": "phantom-fw"},
         "executor_id": {"value": "phantom-ex"}, "update": {"status": status}},
        {"type": "MESSAGE", "framework_id": f, "executor_id": e, "message": {"data": "aGk="}},
        {"type": "HEARTBEAT", "framework_id": f, "executor_id": e},
    ]  # fmt: skip


def test_executor_api(env: ClusterEnv) -> None:
    guard = env.guard("agent /api/v1/executor")
    templates = executor_calls(env)
    mutated = st.sampled_from(templates).flatmap(mutations).map(body_of)
    bodies = st.one_of(mutated, mutated, mutated, garbage_bodies)
    headers = st.fixed_dictionaries({}, optional={
        "Content-Type": st.one_of(st.sampled_from(CONTENT_TYPES), header_values),
        "Content-Type ": st.just("application/json"),  # most requests: the right type
        "Authorization": st.one_of(st.sampled_from(["Bearer x", "Basic é", ""]), header_values),
        "Accept": header_values,
    })  # fmt: skip

    @fuzz(400)
    @given(body=bodies, headers=headers,
           path=st.sampled_from(["/api/v1/executor"] * 4 + ["/slave(1)/api/v1/executor"]))  # fmt: skip
    def run(body: bytes, headers: dict[str, str | bytes], path: str) -> None:
        if headers.pop("Content-Type ", None) or "Content-Type" not in headers:
            headers["Content-Type"] = "application/json"
        guard.request(env.agent_port, "POST", path, body, headers)

    run()
    env.assert_healthy()


SANDBOX_TAILS = ["", "/", "/stdout", "/sub", "/sub/", "/sub/empty", "/sub/../stdout",
                 "/../../../../../../etc/passwd", "/root/etc/passwd", "/root", "/passwd",
                 "/up", "/up/", "/fifo", "/bad-%FF%FE", "/nope", "/stdout/x", "/%00",
                 "/./stdout", "//stdout", "/sub/deeper/../../stdout"]  # fmt: skip


def file_paths(env: ClusterEnv) -> st.SearchStrategy[str]:
    """Percent-encoded `path=` values: the real sandbox (absolute and virtual) and tails that
    leave it, and hostile strings."""
    virt = f"/frameworks/{env.fid}/executors/{TASK}/runs/latest"
    bases = [env.sandbox, virt] * 4 + [f"/frameworks/{env.fid}/executors/{TASK}/runs/nope",
             f"/frameworks/{env.fid}/executors/../runs/latest", "", "/", "/proc/1/root",
             "/proc/1/root/etc/passwd", "/proc/self/root" + env.sandbox, "/etc/passwd",
             env.sandbox + "/../../..", "relative/path", "../" * 20 + "etc/passwd"]  # fmt: skip
    keep = "/%"  # tails carry their own escapes
    encoded = st.tuples(st.sampled_from(bases), st.sampled_from(SANDBOX_TAILS)).map(
        lambda bt: quote(bt[0], safe="/") + quote(bt[1], safe=keep))
    hostile = st.one_of(st.sampled_from(SPECIAL_STRINGS).map(quoted),
                        query_values())  # fmt: skip
    return st.one_of(encoded, encoded, hostile)


def test_files_api(env: ClusterEnv) -> None:
    guard = env.guard("agent /files/*")
    endpoints = ["/files/browse", "/files/browse.json", "/files/read", "/files/read.json",
                 "/files/download", "/files/download.json"] * 3 + ["/files/debug", "/files/nope"]  # fmt: skip
    numbers = st.one_of(query_values(), st.integers(-5, 10**6).map(str))
    extra = st.one_of(st.just({}), st.fixed_dictionaries({}, optional={
        "offset": numbers, "length": numbers, "jsonp": query_values()}))  # fmt: skip

    @fuzz(400)
    @given(endpoint=st.sampled_from(endpoints), path=file_paths(env), extra=extra,
           has_path=st.sampled_from([True] * 9 + [False]))  # fmt: skip
    def run(endpoint: str, path: str, extra: dict[str, str], has_path: bool) -> None:
        params = ([f"path={path}"] if has_path else []) + [f"{k}={v}" for k, v in extra.items()]
        guard.request(env.agent_port, "GET", endpoint + "?" + "&".join(params))

    run()
    env.assert_healthy()


GET_PATHS = ["/state", "/state.json", "/slave(1)/state", "/slave(1)/state.json", "/health",
             "/slave(1)/health", "/version", "/metrics/snapshot", "/metrics",
             "/metrics/prometheus", "/monitor/statistics", "/monitor/statistics.json",
             "/debug/stimuli", "/nope", "/%ff", "/state/..", "/api/v1/executor"]  # fmt: skip


def test_agent_gets(env: ClusterEnv) -> None:
    guard = env.guard("agent GET endpoints")
    keys = ["limit", "offset", "jsonp", "timeout", "framework_id", "é", ""]
    pair = st.tuples(st.sampled_from(keys), query_values()).map(lambda kv: f"{kv[0]}={kv[1]}")
    queries = st.lists(pair, max_size=3).map(lambda ps: "?" + "&".join(ps) if ps else "")

    @fuzz(250)
    @given(path=st.sampled_from(GET_PATHS), query=queries,
           method=st.sampled_from(["GET"] * 6 + ["HEAD", "POST", "PUT", "DELETE"]))  # fmt: skip
    def run(path: str, query: str, method: str) -> None:
        guard.request(env.agent_port, method, path + query)

    run()
    env.assert_healthy()


# -- an executor with its real token (runs last: it launches a second task) -------------------

CUSTOM = "fz-custom-executor"


def _launch_custom_executor(env: ClusterEnv) -> str:
    """Launch a task under a custom executor; its authentication token (from the executor's
    environment, as the agent gave it)."""
    from dcos.agent.core.custom_executor import TOKEN_ENV
    from dcos.testing.master import launch

    task = {**command_task("fz-custom-task", env.aid, "serve", 0.1), "executor": {
        "executor_id": {"value": CUSTOM}, "framework_id": {"value": env.fid},
        "command": {"value": "serve"},
        "resources": [{"name": "cpus", "type": "SCALAR", "scalar": {"value": 0.1}}]}}  # fmt: skip
    del task["command"]
    offer = env.fresh_offer()

    async def go() -> int:
        r = await launch(env.session, env.cluster.url, env.fid, env.sid, {"value": offer}, [task])
        return r.status

    assert env.srv.run(go()) == 202
    containerizer = env.cluster.containerizers[0]
    for _ in range(200):
        tokens = [c.env.get(TOKEN_ENV) for c in containerizer.configs.values()]
        tokens = [t for t in tokens if t]
        if tokens:
            return tokens[0]
        time.sleep(0.02)
    env.latest_offer()
    raise AssertionError(f"the custom executor was not started (offer {offer}): "
                         f"{[u for u in env.updates if 'custom' in str(u)]}")


def test_executor_api_with_the_executors_own_token(env: ClusterEnv) -> None:
    """Calls that pass authentication reach the executor call handlers: SUBSCRIBE, UPDATE and
    MESSAGE of the real executor with its token, one field mutated (ids of other executors,
    tasks it does not run, bad statuses)."""
    token = _launch_custom_executor(env)
    guard = env.guard("agent /api/v1/executor (with the executor's token)")
    f, e = {"value": env.fid}, {"value": CUSTOM}
    status = {"task_id": {"value": "fz-custom-task"}, "state": "TASK_RUNNING",
              "source": "SOURCE_EXECUTOR", "uuid": UUID, "timestamp": 1.0,
              "message": "m", "data": "aGk=", "labels": {"labels": [{"key": "k"}]}}  # fmt: skip
    templates = [
        {"type": "SUBSCRIBE", "framework_id": f, "executor_id": e, "subscribe": {
            "unacknowledged_tasks": [{"task_id": {"value": "fz-custom-task"}, "name": "t"}],
            "unacknowledged_updates": [{"framework_id": f, "status": status}]}},
        {"type": "UPDATE", "framework_id": f, "executor_id": e, "update": {"status": status}},
        {"type": "UPDATE", "framework_id": f, "executor_id": e, "update": {"status": {
            **status, "task_id": {"value": TASK}, "state": "TASK_FAILED"}}},
        {"type": "MESSAGE", "framework_id": f, "executor_id": e, "message": {"data": "aGk="}},
        {"type": "HEARTBEAT", "framework_id": f, "executor_id": e},
    ]  # fmt: skip
    auth = st.one_of(st.just(f"Bearer {token}"), st.just(f"Bearer {token}"),
                     st.just(f"bearer {token}"), st.just(f"Bearer {token}x"), header_values)  # fmt: skip

    @fuzz(300)
    @given(doc=st.sampled_from(templates).flatmap(mutations), auth=auth)
    def run(doc: Any, auth: str) -> None:
        headers = {"Content-Type": "application/json", "Authorization": auth}
        guard.request(env.agent_port, "POST", "/api/v1/executor", body_of(doc), headers)

    run()
    env.assert_healthy(launched=True)
    status_, raw = env.get(f"http://127.0.0.1:{env.agent_port}/state")
    state = orjson.loads(raw)
    assert [f["id"] for f in state["frameworks"]] == [env.fid]
    execs = {e["id"] for f in state["frameworks"] for e in f["executors"]}
    assert execs <= {TASK, CUSTOM}, execs  # no phantom executor
