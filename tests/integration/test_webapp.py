"""Integration: the webapp framework as a real process (`python -m frameworks.webapp`) on a
real master and three real agents: create, scale, rolling upgrade, restart, a killed task
replaced, the reason an app cannot be placed, framework restart without duplicates, and an
agent killed with its tasks replaced elsewhere. The tests share one cluster and run in order
(the last one kills an agent)."""

from __future__ import annotations

import json
import signal
import time
import urllib.error
import urllib.request

import pytest

from dcos.testing import ProcessCluster, free_port

pytestmark = pytest.mark.integration


class Webapp:
    def __init__(self, cluster: ProcessCluster) -> None:
        self.cluster = cluster
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        c = self.cluster
        c._spawn("webapp", [
            "-m", "frameworks.webapp", "--master", c.master, "--ip", "127.0.0.1",
            "--port", str(self.port), "--work-dir", str(c.work_dir / "webapp"),
            "--log-file", str(c.work_dir / "webapp.log"),
        ])  # fmt: skip
        c.wait_for(lambda: self.status("/ping") == 200, "webapp /ping")
        c.wait_for(lambda: (self.get("/v2/info") or {}).get("frameworkId"), "webapp registered")

    def status(self, path: str) -> int:
        try:
            with urllib.request.urlopen(self.url + path, timeout=2) as r:
                return r.status
        except urllib.error.HTTPError as e:
            return e.code
        except OSError:
            return 0

    def call(self, method: str, path: str, body: object = None) -> tuple[int, object]:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})  # fmt: skip
        try:
            with urllib.request.urlopen(req, timeout=5) as r:
                raw = r.read()
                return r.status, json.loads(raw) if raw else None
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"null")

    def get(self, path: str) -> object:
        try:
            return self.call("GET", path)[1]
        except OSError:
            return None

    def tasks(self, app: str) -> list[dict]:
        body = self.get(f"/v2/apps{app}/tasks") or {}
        return body.get("tasks", [])  # type: ignore[union-attr]

    def running(self, app: str) -> list[dict]:
        return [t for t in self.tasks(app) if t["state"] == "TASK_RUNNING"]

    def settled(self, app: str, n: int) -> bool:
        body = self.get(f"/v2/apps{app}") or {}
        a = body.get("app") or {}  # type: ignore[union-attr]
        return a.get("deployments") == [] and len(self.running(app)) == n == len(a.get("tasks", []))

    def wait_settled(self, app: str, n: int, timeout: float = 40) -> None:
        self.cluster.wait_for(lambda: self.settled(app, n), f"{app} to run {n} tasks", timeout)


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    c = ProcessCluster(tmp_path_factory.mktemp("webapp"), agents=3, master_flags=[
        "--allocation-interval", "0.1", "--agent-ping-timeout", "0.5",
        "--max-agent-ping-timeouts", "3",
    ], agent_flags={i: ["--attributes", f"rack:r{i}"] for i in range(3)})  # fmt: skip
    try:
        c.start()
        w = Webapp(c)
        w.start()
        yield c, w
    finally:
        c.stop()


APP = {"id": "/itest/web", "cmd": "sleep 600", "cpus": 0.1, "mem": 16, "instances": 2,
       "unreachableStrategy": {"inactiveAfterSeconds": 1, "expungeAfterSeconds": 2},
       "constraints": [["rack", "GROUP_BY", "3"]]}  # fmt: skip


def master_running(c: ProcessCluster, prefix: str) -> list[str]:
    return [t["id"] for t in c.tasks() if t["id"].startswith(prefix) and t["state"] == "TASK_RUNNING"]


def test_create_and_scale(env):
    c, w = env
    code, body = w.call("POST", "/v2/apps", APP)
    assert code == 201 and body["deployments"]  # type: ignore[index]
    assert len(w.get("/v2/deployments")) == 1  # type: ignore[arg-type]
    w.wait_settled("/itest/web", 2)
    assert w.get("/v2/deployments") == []
    code, _ = w.call("PUT", "/v2/apps//itest/web?force=False", {"instances": 4})
    assert code == 200
    w.wait_settled("/itest/web", 4)
    racks = [t["host"] for t in w.tasks("/itest/web")]
    assert len(racks) == 4
    code, _ = w.call("PUT", "/v2/apps/itest/web", {"instances": 3})
    w.wait_settled("/itest/web", 3)
    c.wait_for(lambda: len(master_running(c, "itest_web.")) == 3, "master to agree")


def test_rolling_upgrade_and_restart(env):
    c, w = env
    before = {t["id"] for t in w.tasks("/itest/web")}
    code, body = w.call("PUT", "/v2/apps/itest/web", {"cmd": "sleep 700",
                        "upgradeStrategy": {"minimumHealthCapacity": 0.5, "maximumOverCapacity": 0.0}})  # fmt: skip
    assert code == 200
    w.wait_settled("/itest/web", 3)
    after = w.tasks("/itest/web")
    assert not before & {t["id"] for t in after}
    assert {t["version"] for t in after} == {body["version"]}  # type: ignore[index]
    code, body = w.call("POST", "/v2/apps/itest/web/restart")
    assert code == 200 and body["deploymentId"]  # type: ignore[index]
    w.wait_settled("/itest/web", 3)
    assert not {t["id"] for t in after} & {t["id"] for t in w.tasks("/itest/web")}


def test_killed_task_is_replaced(env):
    c, w = env
    victim = w.tasks("/itest/web")[0]["id"]
    code, body = w.call("DELETE", f"/v2/apps/itest/web/tasks/{victim}")
    assert code == 200 and body["task"]["id"] == victim  # type: ignore[index]
    c.wait_for(lambda: victim not in {t["id"] for t in w.tasks("/itest/web")} and w.settled("/itest/web", 3),
               "replacement")  # fmt: skip
    # scale=true: killed and not replaced
    victim = w.tasks("/itest/web")[0]["id"]
    code, body = w.call("DELETE", f"/v2/apps/itest/web/tasks/{victim}?scale=true")
    assert code == 200 and "deploymentId" in body  # type: ignore[operator]
    w.wait_settled("/itest/web", 2)
    assert (w.get("/v2/apps/itest/web") or {})["app"]["instances"] == 2  # type: ignore[index]


def test_unique_with_too_few_agents_says_why(env):
    c, w = env
    code, _ = w.call("POST", "/v2/apps", {"id": "/itest/uniq", "cmd": "sleep 600", "cpus": 0.1,
                                          "mem": 16, "instances": 4,
                                          "constraints": [["rack", "UNIQUE"]]})  # fmt: skip
    assert code == 201

    def reasons() -> list[str]:
        q = w.get("/v2/queue?embed=lastUnusedOffers") or {"queue": []}
        for item in q["queue"]:  # type: ignore[index]
            if item["app"]["id"] == "/itest/uniq":
                return item["processedOffersSummary"]["reasons"]
        return []

    c.wait_for(lambda: any("rack:UNIQUE satisfied by only 3 agents" in r for r in reasons()), "reason")
    c.wait_for(lambda: len(w.running("/itest/uniq")) == 3, "one task per rack")
    assert len(w.tasks("/itest/uniq")) == 3
    code, _ = w.call("DELETE", "/v2/apps/itest/uniq?force=true")
    assert code == 200
    c.wait_for(lambda: not master_running(c, "itest_uniq."), "uniq tasks gone")


def test_framework_restart_keeps_tasks_without_duplicates(env):
    c, w = env
    before = sorted(t["id"] for t in w.tasks("/itest/web"))
    fid = w.get("/v2/info")["frameworkId"]  # type: ignore[index]
    c.kill("webapp", signal.SIGKILL)
    w.start()
    assert w.get("/v2/info")["frameworkId"] == fid  # type: ignore[index]
    w.wait_settled("/itest/web", 2)
    time.sleep(1.0)  # give a duplicate launch the time to show up
    assert sorted(t["id"] for t in w.tasks("/itest/web")) == before
    assert sorted(master_running(c, "itest_web.")) == before


def test_killed_agent_tasks_replaced_elsewhere(env):
    c, w = env
    tasks = w.tasks("/itest/web")
    victim_agent = tasks[0]["slaveId"]
    pid = next(a["pid"] for a in c.active_agents() if a["id"] == victim_agent)
    name = f"agent-{c.agent_ports.index(int(pid.rsplit(':', 1)[1]))}"
    c.kill(name, signal.SIGKILL)
    lost = {t["id"] for t in tasks if t["slaveId"] == victim_agent}
    c.wait_for(lambda: w.settled("/itest/web", 2) and not lost & {t["id"] for t in w.tasks("/itest/web")},
               "tasks replaced on the other agents", 60)  # fmt: skip
    assert all(t["slaveId"] != victim_agent for t in w.tasks("/itest/web"))
