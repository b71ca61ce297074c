"""Fuzz of the webapp's (Marathon's) HTTP API: ``POST /v2/apps`` with a complete valid app
mutated one field at a time (wrong JSON types in every position, huge numbers, NaN, deep
nesting, long ids, ``.``/``..`` segments), ``PUT /v2/apps/<id>`` partial updates, bulk ``PUT
/v2/apps``, ``/v2/groups`` trees, and every other route (``/v2/apps/<id>/restart|tasks|
versions``, ``/v2/tasks``, ``/v2/tasks/delete``, ``/v2/deployments``, ``/v2/queue``,
``/v2/eventSubscriptions``, ``/v2/info``, ``/v2/leader``, ``/ping``, ``/metrics``,
``/debug/stimuli``) with hostile paths, query parameters and bodies.

The webapp service runs in-process against a real master and two agents (simulated tasks),
with one app (`BASE`) running. No request may get a 5xx or hang; a refused one changes no
app, group or subscription; after each test the webapp still serves ``/v2/apps`` with `BASE`.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import aiohttp
import orjson
import pytest
from aiohttp import web
from hypothesis import example, given
from hypothesis import strategies as st

from dcos.state import MemoryStateStore
from dcos.testing import InProcessCluster
from frameworks.webapp.api.server import build_app
from frameworks.webapp.model.paths import MAX_ID_LENGTH
from frameworks.webapp.scheduler import WebappService
from frameworks.webapp.store import WebappStore
from tests.fuzz.harness import Guard, ServerLoop, fuzz, send
from tests.fuzz.strategies import (
    SPECIAL_STRINGS,
    bad_values,
    body_of,
    garbage_bodies,
    mutations,
    query_values,
    quoted,
)

BASE = "/keep/base"
N = "{n}"  # replaced by a fresh number per request, so accepted apps do not collide
VALID_APP: dict[str, Any] = {
    "id": f"/fuzz/app-{N}", "cmd": "serve $PORT0", "cpus": 0.01, "mem": 1.0, "disk": 0.0,
    "instances": 0, "env": {"A": "b"}, "labels": {"HAPROXY_GROUP": "external", "k": "v"},
    "portDefinitions": [{"port": 0, "name": "http", "protocol": "tcp", "labels": {"l": "1"}}],
    "healthChecks": [{"protocol": "HTTP", "path": "/", "portIndex": 0, "gracePeriodSeconds": 5,
                      "intervalSeconds": 10, "timeoutSeconds": 5, "maxConsecutiveFailures": 3}],
    "readinessChecks": [{"name": "ready", "protocol": "HTTP", "path": "/", "portName": "http",
                         "intervalSeconds": 30, "timeoutSeconds": 10,
                         "httpStatusCodesForReady": [200]}],
    "constraints": [["hostname", "UNIQUE"], ["rack", "GROUP_BY", "2"]],
    "upgradeStrategy": {"minimumHealthCapacity": 1.0, "maximumOverCapacity": 1.0},
    "unreachableStrategy": {"inactiveAfterSeconds": 300, "expungeAfterSeconds": 600},
    "killSelection": "YOUNGEST_FIRST", "backoffSeconds": 1, "backoffFactor": 1.15,
    "maxLaunchDelaySeconds": 3600, "fetch": [{"uri": "file:///dev/null", "extract": False}],
    "dependencies": [], "taskKillGracePeriodSeconds": 2, "acceptedResourceRoles": ["*"],
    "requirePorts": False, "secrets": {}, "user": None, "executor": "", "gpus": 0,
}  # fmt: skip
VALID_GROUP: dict[str, Any] = {
    "id": f"/fuzz/group-{N}", "dependencies": [],
    "apps": [{**VALID_APP, "id": f"/fuzz/group-{N}/a"}],
    "groups": [{"id": f"/fuzz/group-{N}/sub", "apps": [{"id": "b", "cmd": "serve", "mem": 1,
                                                          "cpus": 0.01, "instances": 0}]}],
}  # fmt: skip
_counter = itertools.count()


def numbered(body: bytes) -> bytes:
    return body.replace(N.encode(), str(next(_counter)).encode())


@dataclass
class WebappEnv:
    srv: ServerLoop
    cluster: InProcessCluster
    svc: WebappService
    runner: web.AppRunner
    port: int

    def snapshot(self) -> Any:
        """Apps (with their versions), groups and callback URLs: what a refused request must
        leave as it was."""

        def snap() -> Any:
            view = self.svc.view
            return (sorted((str(a), s.json.get("version"), s.json.get("instances"))
                           for a, s in view.apps.items()),
                    sorted(map(str, view.groups)), list(self.svc.callbacks.urls))  # fmt: skip

        return self.srv.call(snap)

    def guard(self, name: str) -> Guard:
        return Guard(name, self.snapshot)

    def assert_healthy(self) -> None:
        """The webapp still answers (the base app may have been deleted by an accepted
        request: a DELETE of a group above it is a fine request)."""
        r = send(self.port, "GET", "/v2/apps/keep/base?embed=app.counts")
        assert r.status in (200, 404), r.text()
        assert r.status == 404 or orjson.loads(r.body)["app"]["id"] == BASE
        for path in ("/ping", "/v2/info", "/v2/deployments", "/v2/queue", "/v2/tasks",
                     "/v2/groups"):  # fmt: skip
            r = send(self.port, "GET", path)
            assert r.status == 200, (path, r.text())

        def apps() -> list[Any]:
            return [s.json for s in self.svc.view.apps.values()]

        for app in self.srv.call(apps):  # nothing the fuzz got accepted is a bad app
            segments = app["id"].split("/")[1:]
            assert all(s not in ("", ".", "..") for s in segments), app["id"]
            assert len(app["id"]) <= MAX_ID_LENGTH, app["id"]
        status, raw = self.srv.run(self._get("/v2/apps?embed=apps.lastTaskFailure"))
        assert status == 200, raw[:300]
        for app in orjson.loads(raw)["apps"]:
            failure = app.get("lastTaskFailure")
            assert not failure or failure.get("message"), f"failure without a reason: {failure}"

    async def _get(self, path: str) -> tuple[int, bytes]:
        """A GET with a client that reads the whole answer (however large)."""
        async with aiohttp.ClientSession() as s, s.get(f"http://127.0.0.1:{self.port}{path}") as r:
            return r.status, await r.read()

    def ensure_base(self) -> None:
        """(Re)create the base app, so the routes have a real app with a task to act on."""
        if send(self.port, "GET", "/v2/apps/keep/base").status == 200:
            return
        body = orjson.dumps({"id": BASE, "cmd": "serve", "cpus": 0.1, "mem": 16, "instances": 1})
        r = send(self.port, "POST", "/v2/apps?force=true", body)
        assert r.status == 201, r.text()


async def _start(srv: ServerLoop) -> WebappEnv:
    cluster = InProcessCluster(agents=2, agent_http=False,
                               agent_resources="cpus:64;mem:65536;disk:10000;ports:[31000-32000]")  # fmt: skip
    await cluster.start()
    svc = WebappService(WebappStore(MemoryStateStore()), master=cluster.address, tick_interval=0.2)
    await svc.start()
    runner = web.AppRunner(build_app(svc), access_log=None, shutdown_timeout=1.0)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return WebappEnv(srv, cluster, svc, runner, port)


@pytest.fixture(scope="module")
def webapp() -> Iterator[WebappEnv]:
    srv = ServerLoop()
    try:
        env = srv.run(_start(srv))
        env.ensure_base()
        env.srv.run(env.cluster.wait_until(lambda: len(env.cluster.running_tasks()) == 1,
                                           10, "the base app's task"))  # fmt: skip
        env.assert_healthy()
        yield env

        async def stop() -> None:
            await env.runner.cleanup()
            await env.svc.stop(failover=False)
            await env.cluster.stop()

        srv.run(stop())
    finally:
        srv.close()


JSON = {"Content-Type": "application/json"}


def test_create_app_one_field_mutated(webapp: WebappEnv) -> None:
    webapp.ensure_base()
    guard = webapp.guard("webapp POST /v2/apps (one field mutated)")

    @fuzz(400)
    @example(doc={**VALID_APP, "constraints": [["rack", "GROUP_BY", "¹"]]}, force=False)  # a 500
    @given(doc=mutations(VALID_APP), force=st.booleans())
    def run(doc: Any, force: bool) -> None:
        path = "/v2/apps" + ("?force=true" if force else "")
        guard.request(webapp.port, "POST", path, numbered(body_of(doc)), JSON)

    run()
    webapp.assert_healthy()


def test_update_app_and_bulk(webapp: WebappEnv) -> None:
    webapp.ensure_base()
    guard = webapp.guard("webapp PUT /v2/apps (partial, bulk)")
    partial = {"cmd": "serve 2", "instances": 1, "cpus": 0.1, "mem": 16, "labels": {"a": "b"},
               "env": {"X": "y"}, "upgradeStrategy": {"minimumHealthCapacity": 0.5}}  # fmt: skip
    bulk = [{**VALID_APP, "id": BASE, "instances": 1, "cpus": 0.1, "mem": 16,
             "healthChecks": [], "readinessChecks": [], "constraints": []}]  # fmt: skip
    cases = st.one_of(
        st.tuples(st.just("/v2/apps/keep/base"), mutations(partial)),
        st.tuples(st.just("/v2/apps"), mutations(bulk)),
        st.tuples(st.sampled_from(["/v2/apps/fuzz/new-{n}", "/v2/apps//keep//base"]),
                  mutations(VALID_APP)),
    )

    @fuzz(300)
    @given(case=cases, query=st.sampled_from(["", "?force=true", "?force=True", "?force=%ff",
                                              "?partialUpdate=false", "?force=1"]))  # fmt: skip
    def run(case: tuple[str, Any], query: str) -> None:
        path, doc = case
        guard.request(webapp.port, "PUT", numbered((path + query).encode()).decode(),
                      numbered(body_of(doc)), JSON)  # fmt: skip

    run()
    webapp.assert_healthy()


def test_groups(webapp: WebappEnv) -> None:
    webapp.ensure_base()
    guard = webapp.guard("webapp /v2/groups")
    methods = st.sampled_from(["POST", "POST", "PUT", "GET", "DELETE"])
    paths = st.sampled_from(["/v2/groups", "/v2/groups/fuzz", "/v2/groups/fuzz/group-{n}",
                             "/v2/groups/fuzz/versions", "/v2/groups/fuzz/versions/x",
                             "/v2/groups/../etc", "/v2/groups/%2e%2e/x", "/v2/groups/a/./b",
                             "/v2/groups/" + "x" * 300, "/v2/groups//fuzz//"])  # fmt: skip

    deep_groups = st.sampled_from([50, 99, 101, 300, 900]).map(lambda d: Raw(
        b'{"id":"/fuzz/deep-{n}","groups":[' + b'{"id":"g","groups":[' * d + b"]}" * d + b"]}"))

    @fuzz(300)
    @given(doc=st.one_of(mutations(VALID_GROUP), mutations(VALID_GROUP), garbage_bodies.map(Raw),
                         deep_groups), method=methods,
           path=paths, query=st.sampled_from(["", "?force=true", "?embed=group.apps",
                                              "?embed=%00", "?force=x"]))  # fmt: skip
    def run(doc: Any, method: str, path: str, query: str) -> None:
        if method == "DELETE" and path.rstrip("/") == "/v2/groups":
            method = "GET"  # removing every app is a fine request, and ends the fuzz
        body = doc.body if isinstance(doc, Raw) else body_of(doc)
        guard.request(webapp.port, method, numbered((path + query).encode()).decode(),
                      numbered(body), JSON)  # fmt: skip

    run()
    webapp.assert_healthy()


@dataclass(frozen=True)
class Raw:
    body: bytes


APP_IDS = [BASE, "/fuzz/nope", "/../../etc/passwd", "/keep/./base", "/fuzz/../keep/base",
           "/%2e%2e/%2e%2e/etc", "/" + "a" * 300, "/" + "/".join(["a"] * 200), "/A/B", "/é",
           "/%00", "/%ff%fe", "/keep/base/", "//", "/keep/base;x", "/keep//base"]  # fmt: skip
SUFFIXES = ["", "/restart", "/tasks", "/tasks/fuzz.nope", "/tasks/x?scale=true",
            "/versions", "/versions/nope", "/versions/2020-01-01T00:00:00.000Z", "/delay"]  # fmt: skip
OTHER = ["/v2/tasks", "/v2/tasks?status=running", "/v2/tasks?status=%ff", "/v2/deployments",
         "/v2/deployments/nope", "/v2/deployments/%2e%2e", "/v2/queue", "/v2/queue?embed=x",
         "/v2/queue/keep/base/delay", "/v2/queue/%00/delay", "/v2/info", "/v2/leader", "/ping",
         "/metrics", "/debug/stimuli", "/v2/eventSubscriptions", "/v2/apps", "/v2/nope",
         "/v2/tasks/delete", "/v2/tasks/delete?scale=true&wipe=true", "/v2/groups",
         "/v2/events", "/v2/events?event_type=%ff", "/v2/events?plan-format=light",
         "/metrics/prometheus", "/v2/tasks.txt", "/v2/info?x=%00"]  # fmt: skip


def test_routes_with_hostile_paths_queries_and_bodies(webapp: WebappEnv) -> None:
    webapp.ensure_base()
    guard = webapp.guard("webapp /v2/* routes")
    app_paths = st.tuples(st.sampled_from(APP_IDS), st.sampled_from(SUFFIXES)).map(
        lambda t: "/v2/apps" + t[0] + t[1])
    keys = ["force", "embed", "label", "cmd", "id", "limit", "status", "scale", "wipe",
            "callbackUrl", "partialUpdate", "é"]  # fmt: skip
    pair = st.tuples(st.sampled_from(keys), query_values()).map(lambda kv: f"{kv[0]}={kv[1]}")
    queries = st.lists(pair, max_size=3).map(lambda ps: "&".join(ps))
    bodies = st.one_of(
        st.just(b""), garbage_bodies,
        mutations({"ids": ["fuzz.nope"]}).map(body_of),
        bad_values.map(body_of),
    )

    @fuzz(400)
    @given(path=st.one_of(app_paths, st.sampled_from(OTHER)), query=queries,
           method=st.sampled_from(["GET", "GET", "POST", "PUT", "DELETE", "PATCH"]),
           body=bodies)  # fmt: skip
    def run(path: str, query: str, method: str, body: bytes) -> None:
        if query:
            path += ("&" if "?" in path else "?") + query
        guard.request(webapp.port, method, path, body, JSON)

    run()
    webapp.assert_healthy()


def test_event_subscriptions(webapp: WebappEnv) -> None:
    webapp.ensure_base()
    guard = webapp.guard("webapp /v2/eventSubscriptions")
    urls = st.one_of(
        st.sampled_from(["http://127.0.0.1:1/cb", "http://127.0.0.1:1/" + "x" * 5000,
                         "file:///etc/passwd", "http://[::1", "http://%00/", "gopher://x",
                         "http://é.invalid/", "", "javascript:alert(1)", "http://127.0.0.1:99999/",
                         "http://127.0.0.1:1/cb#frag"]),
        st.sampled_from(SPECIAL_STRINGS),
    ).map(lambda u: quoted(u, safe=":/"))  # fmt: skip

    @fuzz(150)
    @given(url=urls, method=st.sampled_from(["POST", "DELETE", "GET", "PUT"]),
           extra=st.sampled_from(["", "&callbackUrl=http://127.0.0.1:2/", "&x=%ff"]))  # fmt: skip
    def run(url: str, method: str, extra: str) -> None:
        guard.request(webapp.port, method, f"/v2/eventSubscriptions?callbackUrl={url}{extra}")

    run()
    webapp.assert_healthy()
    for url in webapp.srv.call(lambda: list(webapp.svc.callbacks.urls)):  # leave none behind
        send(webapp.port, "DELETE", f"/v2/eventSubscriptions?callbackUrl={quote(url, safe=':/')}")
