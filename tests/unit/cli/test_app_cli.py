"""`dcos-py app ...` and `dcos-py deployment ...` against a small stateful fake Marathon
(aiohttp in a thread): requests sent, tables and JSON printed, deployments waited for (success
and failure through `/v2/events`), and Marathon errors turned into one line with exit 1."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiohttp import web
from cli_fakes import free_port, serve_in_thread
from typer.testing import CliRunner

from dcos.cli.config import CliConfig, resolve_webapp
from dcos.cli.main import app as cli

runner = CliRunner()
VERSION = "2024-01-01T00:00:00.000Z"


@dataclass
class FakeMarathon:
    url: str = ""
    apps: dict[str, dict[str, Any]] = field(default_factory=dict)
    deployments: dict[str, dict[str, Any]] = field(default_factory=dict)
    countdown: dict[str, int] = field(default_factory=dict)  # polls left before a deployment ends
    requests: list[tuple[str, str, Any]] = field(default_factory=list)
    queues: list[asyncio.Queue[bytes]] = field(default_factory=list)
    ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def deploy(self, app_id: str, fail: bool = False) -> str:
        did = f"dep-{next(self.ids)}"
        self.deployments[did] = {"id": did, "version": VERSION, "affectedApps": [app_id],
                                 "affectedPods": [], "currentStep": 1, "totalSteps": 1,
                                 "steps": [], "currentActions": [{"action": "ScaleApplication",
                                                                  "app": app_id}],
                                 "fail": fail}
        self.countdown[did] = 2
        return did

    def _broadcast(self, event: dict[str, Any]) -> None:
        data = b"data: " + orjson.dumps(event) + b"\n\n"
        for q in self.queues:
            q.put_nowait(data)

    def task(self, app_id: str, n: int) -> dict[str, Any]:
        return {"id": f"{app_id.strip('/')}.{n}", "appId": app_id, "host": "127.0.0.1",
                "ports": [31000 + n], "state": "TASK_RUNNING", "version": VERSION,
                "healthCheckResults": [{"alive": True}]}


def json_response(body: Any, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(body), status=status, content_type="application/json")


def make_app(fake: FakeMarathon) -> web.Application:
    async def record(request: web.Request) -> Any:
        body = await request.json() if request.can_read_body else None
        fake.requests.append((request.method, request.path_qs, body))
        return body

    async def apps(request: web.Request) -> web.StreamResponse:
        body = await record(request)
        tail = request.match_info["tail"].strip("/")
        if request.method == "POST" and not tail:
            if not isinstance(body.get("cpus", 1), int | float) or body.get("cpus", 1) < 0:
                return json_response({"message": "Object is not valid", "details": [
                    {"path": "/cpus", "errors": ["error.min"]}]}, 422)
            app_id = "/" + body["id"].strip("/")
            did = fake.deploy(app_id, fail="fail" in str(body.get("cmd")))
            fake.apps[app_id] = {**body, "id": app_id, "version": VERSION,
                                 "tasks": [fake.task(app_id, i) for i in range(body.get("instances", 1))]}
            return json_response({**fake.apps[app_id], "deployments": [{"id": did}]}, 201)
        if not tail:
            out = [{**a, "tasksRunning": len(a["tasks"]), "tasksHealthy": len(a["tasks"]),
                    "deployments": []} for a in fake.apps.values()]
            return json_response({"apps": out})
        app_id, _, action = ("/" + tail).partition("/restart")
        if tail.endswith("/versions"):
            app_id, action = "/" + tail.removesuffix("/versions"), "versions"
        if app_id not in fake.apps:
            return json_response({"message": f"App '{app_id}' does not exist"}, 404)
        if action == "versions":
            return json_response({"versions": [VERSION, "2023-12-31T00:00:00.000Z"]})
        if request.method == "GET":
            return json_response({"app": {**fake.apps[app_id], "deployments": []}})
        if request.method == "PUT":
            fake.apps[app_id].update(body)
        if request.method == "DELETE":
            del fake.apps[app_id]
        return json_response({"deploymentId": fake.deploy(app_id), "version": VERSION})

    async def deployments(request: web.Request) -> web.Response:
        await record(request)
        for did in list(fake.countdown):
            fake.countdown[did] -= 1
            if fake.countdown[did] < 0:
                d = fake.deployments.pop(did)
                del fake.countdown[did]
                kind = "deployment_failed" if d["fail"] else "deployment_success"
                fake._broadcast({"eventType": kind, "id": did, "timestamp": VERSION})
        return json_response([{k: v for k, v in d.items() if k != "fail"}
                              for d in fake.deployments.values()])

    async def delete_deployment(request: web.Request) -> web.Response:
        await record(request)
        did = request.match_info["id"]
        if did not in fake.deployments:
            return json_response({"message": f"DeploymentPlan {did} does not exist"}, 404)
        d = fake.deployments.pop(did)
        fake.countdown.pop(did, None)
        if request.query.get("force") == "true":
            return json_response({}, 202)
        return json_response({"deploymentId": fake.deploy(d["affectedApps"][0]),
                              "version": VERSION})

    async def queue(request: web.Request) -> web.Response:
        await record(request)
        return json_response({"queue": [{
            "app": {"id": "/big"}, "count": 2, "since": VERSION,
            "delay": {"timeLeftSeconds": 0, "overdue": True},
            "processedOffersSummary": {
                "reasons": ["no offer with 64 cpus (largest: 4)"],
                "rejectSummaryLastOffers": [
                    {"reason": "InsufficientCpus", "declined": 3, "processed": 3},
                    {"reason": "InsufficientMemory", "declined": 0, "processed": 3}]},
            "lastUnusedOffers": [{"offer": {"hostname": "node-a"}, "reason": ["InsufficientCpus"],
                                  "message": "insufficient cpus: 4 < 64"}],
        }]})

    async def events(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        q: asyncio.Queue[bytes] = asyncio.Queue()
        fake.queues.append(q)
        await resp.write(b"event: event_stream_attached\ndata: {}\n\n")
        try:
            while True:
                await resp.write(await q.get())
        finally:
            fake.queues.remove(q)

    a = web.Application()
    a.router.add_route("*", "/v2/apps{tail:.*}", apps)
    a.router.add_get("/v2/deployments", deployments)
    a.router.add_delete("/v2/deployments/{id}", delete_deployment)
    a.router.add_get("/v2/queue", queue)
    a.router.add_get("/v2/events", events)
    return a


@pytest.fixture
def marathon() -> Iterator[FakeMarathon]:
    fake = FakeMarathon()
    with serve_in_thread(make_app(fake)) as url:
        fake.url = url
        yield fake


def invoke(fake: FakeMarathon, *args: str, stdin: str | None = None):
    return runner.invoke(cli, list(args), input=stdin, env={"DCOS_WEBAPP": fake.url})


def write_app(tmp_path: Path, **fields: Any) -> str:
    path = tmp_path / "app.json"
    path.write_bytes(orjson.dumps({"id": "/shop/web", "cmd": "sleep 100", "cpus": 0.1,
                                   "mem": 32, "instances": 2, **fields}))
    return str(path)


def test_add_posts_the_file_and_prints_json(marathon: FakeMarathon, tmp_path: Path) -> None:
    result = invoke(marathon, "app", "add", write_app(tmp_path), "--json")
    assert result.exit_code == 0, result.output
    assert orjson.loads(result.stdout)["id"] == "/shop/web"
    assert marathon.requests[0][:2] == ("POST", "/v2/apps")
    assert marathon.requests[0][2]["instances"] == 2


def test_add_from_stdin_waits_for_the_deployment(marathon: FakeMarathon) -> None:
    result = invoke(marathon, "app", "add", "-", "--wait",
                    stdin='{"id": "db", "cmd": "sleep 1", "instances": 1}')
    assert result.exit_code == 0, result.output
    assert "created app db (deployment dep-1)" in result.stdout
    assert "deployment dep-1 finished" in result.stdout
    assert sum(1 for r in marathon.requests if r[1] == "/v2/deployments") >= 3
    assert any(r[1].startswith("/v2/apps/db?embed=app.tasks") for r in marathon.requests)


def test_wait_reports_a_failed_deployment_with_exit_1(marathon: FakeMarathon) -> None:
    result = invoke(marathon, "app", "add", "-", "--wait",
                    stdin='{"id": "bad", "cmd": "fail now", "instances": 1}')
    assert result.exit_code == 1
    assert "dcos-py: deployment dep-1 failed" in result.output


def test_invalid_definition_is_one_line_with_marathons_details(marathon: FakeMarathon) -> None:
    result = invoke(marathon, "app", "add", "-", stdin='{"id": "x", "cpus": -1}')
    assert result.exit_code == 4  # rejected by the server
    assert result.output.strip().splitlines() == [
        f"dcos-py: POST {marathon.url}/v2/apps answered 422: Object is not valid "
        "(/cpus: error.min)"]
    assert invoke(marathon, "app", "add", "-", stdin="{nope").exit_code == 1


def test_list_and_show(marathon: FakeMarathon, tmp_path: Path) -> None:
    invoke(marathon, "app", "add", write_app(tmp_path))
    listed = invoke(marathon, "app", "list")
    assert listed.exit_code == 0
    assert "/shop/web" in listed.stdout and "2/2" in listed.stdout
    assert [a["id"] for a in orjson.loads(invoke(marathon, "app", "list", "--json").stdout)] == [
        "/shop/web"]
    shown = invoke(marathon, "app", "show", "shop/web")
    assert shown.exit_code == 0 and "shop/web.1" in shown.stdout and "healthy" in shown.stdout
    assert orjson.loads(invoke(marathon, "app", "show", "/shop/web", "--json").stdout)["id"] == \
        "/shop/web"


def test_unknown_app_is_one_line_exit_4(marathon: FakeMarathon) -> None:
    result = invoke(marathon, "app", "show", "nope")
    assert result.exit_code == 4  # rejected (404)
    assert result.output.strip().endswith("answered 404: App '/nope' does not exist")


def test_update_scale_restart_remove_send_the_right_requests(
        marathon: FakeMarathon, tmp_path: Path) -> None:
    invoke(marathon, "app", "add", write_app(tmp_path))
    patch = tmp_path / "patch.json"
    patch.write_text('{"cmd": "sleep 200"}')
    assert invoke(marathon, "app", "update", "shop/web", str(patch)).exit_code == 0
    assert invoke(marathon, "app", "update", "shop/web", "--instances", "3", "--force",
                  "--wait").exit_code == 0
    assert invoke(marathon, "app", "scale", "shop/web", "1").exit_code == 0
    assert invoke(marathon, "app", "restart", "shop/web").exit_code == 0
    removed = invoke(marathon, "app", "remove", "shop/web", "--json")
    assert orjson.loads(removed.stdout)["deploymentId"]
    sent = [(m, p, b) for m, p, b in marathon.requests if p.startswith("/v2/apps/shop/web")
            and m != "GET"]
    assert sent == [
        ("PUT", "/v2/apps/shop/web", {"cmd": "sleep 200"}),
        ("PUT", "/v2/apps/shop/web?force=true", {"instances": 3}),
        ("PUT", "/v2/apps/shop/web", {"instances": 1}),
        ("POST", "/v2/apps/shop/web/restart", None),
        ("DELETE", "/v2/apps/shop/web", None),
    ]
    assert invoke(marathon, "app", "update", "shop/web").exit_code == 1  # neither FILE nor -i


def test_versions(marathon: FakeMarathon, tmp_path: Path) -> None:
    invoke(marathon, "app", "add", write_app(tmp_path))
    result = invoke(marathon, "app", "versions", "/shop/web")
    assert result.exit_code == 0 and "2023-12-31T00:00:00.000Z" in result.stdout
    assert len(orjson.loads(invoke(marathon, "app", "versions", "shop/web", "--json").stdout)) == 2


def test_why_shows_the_unplaced_offer_reasons(marathon: FakeMarathon) -> None:
    result = invoke(marathon, "app", "why", "big")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert "- no offer with 64 cpus (largest: 4)" in lines
    assert "InsufficientCpus: declined 3 of 3 offer(s)" in lines
    assert "offer from node-a: insufficient cpus: 4 < 64" in lines
    assert not any("InsufficientMemory" in line for line in lines)
    assert "not waiting" in invoke(marathon, "app", "why", "other").stdout
    assert orjson.loads(invoke(marathon, "app", "why", "big", "--json").stdout)["count"] == 2


def test_deployment_list_rollback_stop(marathon: FakeMarathon, tmp_path: Path) -> None:
    invoke(marathon, "app", "add", write_app(tmp_path))
    marathon.countdown["dep-1"] = 100  # keep it running
    listed = invoke(marathon, "deployment", "list")
    assert listed.exit_code == 0 and "dep-1" in listed.stdout and "ScaleApplication" in listed.stdout
    assert [d["id"] for d in orjson.loads(invoke(marathon, "deployment", "list", "--json",
                                                 "--app", "shop/web").stdout)] == ["dep-1"]
    rolled = invoke(marathon, "deployment", "rollback", "dep-1")
    assert rolled.exit_code == 0 and "rolling back deployment dep-1 (deployment dep-2)" in \
        rolled.stdout
    marathon.countdown["dep-2"] = 100
    stopped = invoke(marathon, "deployment", "stop", "dep-2")
    assert stopped.exit_code == 0 and ("DELETE", "/v2/deployments/dep-2?force=true", None) in \
        marathon.requests
    assert invoke(marathon, "deployment", "stop", "dep-9").exit_code == 4  # 404: rejected


def test_deployment_watch_until_it_ends(marathon: FakeMarathon, tmp_path: Path) -> None:
    invoke(marathon, "app", "add", write_app(tmp_path))
    result = invoke(marathon, "deployment", "watch", "dep-1")
    assert result.exit_code == 0 and "deployment dep-1 finished" in result.stdout
    assert invoke(marathon, "deployment", "watch", "dep-1").exit_code == 1  # gone now


def test_unreachable_webapp_is_one_line() -> None:
    port = free_port()
    result = runner.invoke(cli, ["app", "list", "--webapp", f"127.0.0.1:{port}"])
    assert result.exit_code == 3  # unreachable
    assert result.output.strip() == (f"dcos-py: cannot reach the webapp at "
                                     f"http://127.0.0.1:{port}: connection refused")


def test_webapp_url_precedence() -> None:
    assert resolve_webapp("h:1", CliConfig(webapp="http://c:3")) == "http://h:1"
    assert resolve_webapp("http://e:2/", CliConfig()) == "http://e:2"  # the flag or DCOS_WEBAPP
    assert resolve_webapp(None, CliConfig(webapp="http://c:3/")) == "http://c:3"
    assert resolve_webapp(None, CliConfig()) == "http://127.0.0.1:8080"
