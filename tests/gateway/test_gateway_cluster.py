"""The gateway as a real process (`python -m dcos.gateway`) in front of a real master, agent
and webapp framework (`dcos.testing.ProcessCluster` + ``python -m frameworks.webapp``): JSON
through ``/mesos/`` and ``/service/marathon/`` (an app created through the gateway), the
agent's ``/state`` and a task's stdout through ``/agent/<id>/`` and ``/slave/<id>/``, unknown
service and agent 404, and a clean exit on SIGTERM. The tests share one cluster."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest

from dcos.testing import QUICK_MASTER_FLAGS, ProcessCluster, free_port

pytestmark = pytest.mark.integration


@dataclass
class Env:
    cluster: ProcessCluster
    url: str  # the gateway's

    def call(self, method: str, path: str, body: object = None) -> tuple[int, Any, dict[str, str]]:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})  # fmt: skip
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return r.status, _decode(r.read()), dict(r.headers)
        except urllib.error.HTTPError as e:
            return e.code, _decode(e.read()), dict(e.headers)

    def get(self, path: str) -> Any:
        status, body, _ = self.call("GET", path)
        assert status == 200, (path, status, body)
        return body

    def status(self, path: str) -> int:
        try:
            return self.call("GET", path)[0]
        except (OSError, ValueError):
            return 0


def _decode(raw: bytes) -> Any:
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return raw.decode(errors="replace")


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    c = ProcessCluster(tmp_path_factory.mktemp("gateway"), agents=1,
                       master_flags=list(QUICK_MASTER_FLAGS))  # fmt: skip
    try:
        c.start()
        webapp_port, port = free_port(), free_port()
        c._spawn("webapp", [
            "-m", "frameworks.webapp", "--master", c.master, "--ip", "127.0.0.1",
            "--port", str(webapp_port), "--work-dir", str(c.work_dir / "webapp"),
            "--log-file", str(c.work_dir / "webapp.log"),
        ])  # fmt: skip
        c._spawn("gateway", [
            "-m", "dcos.gateway", "--ip", "127.0.0.1", "--port", str(port), "--master", c.url,
            "--log-file", str(c.work_dir / "gateway.log"), "--cluster-name", "gw-test",
        ])  # fmt: skip
        e = Env(c, f"http://127.0.0.1:{port}")
        c.wait_for(lambda: "webapp" in e.get("/gateway/health")["frameworks"]
                   if e.status("/gateway/health") == 200 else False, "webapp through the gateway")  # fmt: skip
        yield e
        gw = c.procs["gateway"]
        gw.send_signal(signal.SIGTERM)
        assert gw.wait(timeout=5) == 0, c.log_tail("gateway.log")
    finally:
        c.stop()


def test_mesos_json_through_the_gateway(env: Env) -> None:
    state = env.get("/mesos/master/state.json")
    assert state["leader"] and len(state["slaves"]) == 1
    slaves = env.get("/mesos/master/slaves")["slaves"]
    assert [s["id"] for s in slaves] == [s["id"] for s in state["slaves"]]
    assert env.get("/mesos/state-summary")["slaves"][0]["id"] == slaves[0]["id"]
    status, body, _ = env.call("POST", "/mesos/api/v1", {"type": "GET_AGENTS"})
    assert status == 200 and body["type"] == "GET_AGENTS"
    status, body, _ = env.call("POST", "/mesos/api/v1", {"type": "NO_SUCH_CALL"})
    assert status == 400  # the master's own answer passes through


@pytest.fixture(scope="module")
def hello_app(env: Env) -> str:
    """An app created through ``/service/marathon/v2/apps``, running; its id."""
    app = {"id": "/gw/hello", "cmd": "echo hello-through-gateway; sleep 600", "cpus": 0.1,
           "mem": 16, "instances": 1}  # fmt: skip
    status, body, headers = env.call("POST", "/service/marathon/v2/apps", app)
    assert status == 201, body
    assert headers.get("Location", "/service/marathon/").startswith("/service/marathon/")
    env.cluster.wait_for(lambda: [t for t in env.get("/service/marathon/v2/apps/gw/hello/tasks")["tasks"]
                                  if t["state"] == "TASK_RUNNING"], "the app running")  # fmt: skip
    return "/gw/hello"


def test_marathon_and_webapp_names_through_the_gateway(env: Env, hello_app: str) -> None:
    info = env.get("/service/marathon/v2/info")
    assert info == env.get("/service/webapp/v2/info") and info["frameworkId"]
    apps = env.get("/service/webapp/v2/apps")["apps"]
    assert [a["id"] for a in apps] == [hello_app]
    status, body, _ = env.call("POST", "/service/marathon/v2/apps", {"id": "bad id!"})
    assert status == 422 and body["message"]  # Marathon's error passes through


def test_agent_state_and_task_stdout_through_the_gateway(env: Env, hello_app: str) -> None:
    agent_id = env.get("/mesos/master/slaves")["slaves"][0]["id"]
    state = env.get(f"/agent/{agent_id}/state")
    assert state["id"] == agent_id == env.get(f"/slave/{agent_id}/state")["id"]

    def sandbox() -> str | None:
        for fw in env.get(f"/agent/{agent_id}/state")["frameworks"]:
            for ex in fw["executors"]:
                if ex["id"].startswith("gw_hello"):
                    return str(ex["directory"])
        return None

    env.cluster.wait_for(sandbox, "the task's sandbox on the agent")
    path = f"{sandbox()}/stdout"

    def stdout() -> str:
        return str(env.get(f"/agent/{agent_id}/files/read?path={path}&offset=0")["data"])

    env.cluster.wait_for(lambda: "hello-through-gateway" in stdout(), "the task's stdout")
    assert "hello-through-gateway" in env.get(f"/slave/{agent_id}/files/read.json?path={path}&offset=0")["data"]


def test_unknown_service_and_agent_are_404_json(env: Env) -> None:
    status, body, headers = env.call("GET", "/service/no-such-service/v2/apps")
    assert status == 404 and headers["Content-Type"].startswith("application/json")
    assert body["code"] == 404 and "service 'no-such-service' not found" in body["message"]
    status, body, _ = env.call("GET", "/agent/no-such-agent/state")
    assert status == 404 and "agent 'no-such-agent' not found" in body["message"]


def test_health_and_metadata(env: Env) -> None:
    health = env.get("/gateway/health")
    assert health["healthy"] and health["master"]["leader"] == env.cluster.url
    assert health["agents"] == 1 and health["package"] is None
    assert env.get("/metadata")["CLUSTER_ID"]


def test_gateway_refuses_a_taken_port(env: Env) -> None:
    port = int(env.url.rsplit(":", 1)[1])
    done = subprocess.run([sys.executable, "-m", "dcos.gateway", "--port", str(port)],
                          capture_output=True, text=True, timeout=20)  # fmt: skip
    assert done.returncode == 1 and "cannot start" in done.stderr


async def _record(content: aiohttp.StreamReader) -> dict[str, Any]:
    size = int((await content.readline()).strip())
    return dict(json.loads(await content.readexactly(size)))


async def test_master_subscribe_streams_through_the_gateway(env: Env, hello_app: str) -> None:
    """The operator SUBSCRIBE stream (chunked RecordIO) through ``/mesos/api/v1``: the
    snapshot first, then a task added by scaling the app (through the gateway too)."""
    async with aiohttp.ClientSession() as s:
        async with s.post(env.url + "/mesos/api/v1", json={"type": "SUBSCRIBE"},
                          headers={"Accept": "application/json"}) as r:  # fmt: skip
            assert r.status == 200 and r.headers["Content-Type"].startswith("application/json")
            first = await asyncio.wait_for(_record(r.content), 5)
            assert first["type"] == "SUBSCRIBED"
            assert first["subscribed"]["get_state"]["get_tasks"]["tasks"]
            async with s.put(env.url + f"/service/marathon/v2/apps{hello_app}",
                             json={"instances": 2}) as put:  # fmt: skip
                assert put.status == 200, await put.text()
            while True:
                event = await asyncio.wait_for(_record(r.content), 15)
                if event["type"] == "TASK_ADDED":
                    assert event["task_added"]["task"]["task_id"]["value"].startswith("gw_hello")
                    break
