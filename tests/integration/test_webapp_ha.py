"""Integration: the webapp framework highly available on a real ZooKeeper (fixture
`zk_server`), a real master and two real agents, with two webapp processes (`python -m
frameworks.webapp --zk ...`). One leads and the follower proxies the API to it; SIGKILL the
leader and the follower takes over with the apps, the same framework id and the running tasks
(no task launched twice); a deployment pending when its leader dies goes on under the next one.
The tests share one cluster and run in order."""

from __future__ import annotations

import json
import signal
import urllib.error
import urllib.request
import uuid

import pytest

from dcos.testing import ProcessCluster, free_port, get_json

pytestmark = pytest.mark.integration

SESSION_TIMEOUT = 3.0


class Webapp:
    """One webapp process of the HA pair, `webapp-<i>` in the cluster's processes."""

    def __init__(self, cluster: ProcessCluster, zk: str, i: int) -> None:
        self.cluster = cluster
        self.zk = zk
        self.name = f"webapp-{i}"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.host_port = f"127.0.0.1:{self.port}"

    def start(self) -> None:
        c = self.cluster
        c._spawn(self.name, [
            "-m", "frameworks.webapp", "--master", c.master, "--ip", "127.0.0.1",
            "--port", str(self.port), "--work-dir", str(c.work_dir / self.name),
            "--log-file", str(c.work_dir / f"{self.name}.log"),
            "--zk", self.zk, "--zk-session-timeout", str(SESSION_TIMEOUT),
        ])  # fmt: skip
        c.wait_for(lambda: self.call("GET", "/ping")[0] == 200, f"{self.name} /ping")

    def kill(self) -> None:
        self.cluster.kill(self.name, signal.SIGKILL)

    def call(self, method: str, path: str, body: object = None) -> tuple[int, object, dict[str, str]]:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})  # fmt: skip
        try:
            with urllib.request.urlopen(req, timeout=5) as r:
                return r.status, _decode(r.read(), r.headers), dict(r.headers)
        except urllib.error.HTTPError as e:
            return e.code, _decode(e.read(), e.headers), dict(e.headers)
        except OSError:
            return 0, None, {}

    def get(self, path: str) -> object:
        code, body, _ = self.call("GET", path)
        return body if code == 200 else None

    def leader(self) -> str | None:
        body = self.get("/v2/leader")
        return body.get("leader") if isinstance(body, dict) else None

    def info(self) -> dict:
        body = self.get("/v2/info")
        return body if isinstance(body, dict) else {}

    def running(self, app: str) -> list[str]:
        body = self.get(f"/v2/apps{app}/tasks") or {}
        return sorted(t["id"] for t in body.get("tasks", []) if t["state"] == "TASK_RUNNING")  # type: ignore[union-attr]

    def settled(self, app: str, n: int) -> bool:
        body = self.get(f"/v2/apps{app}") or {}
        a = body.get("app") or {}  # type: ignore[union-attr]
        return a.get("deployments") == [] and len(self.running(app)) == n == len(a.get("tasks", []))


def _decode(raw: bytes, headers: object) -> object:
    if "json" not in str(headers.get("Content-Type", "")):  # type: ignore[attr-defined]
        return raw.decode(errors="replace")
    return json.loads(raw) if raw else None


def framework(c: ProcessCluster, fid: str) -> dict:
    """The master's record of framework `fid` ({} while it does not answer)."""
    try:
        state = get_json(c.url + "/master/state")
    except (OSError, ValueError):
        return {}
    return next((f for f in state["frameworks"] if f["id"] == fid), {})


def launched(c: ProcessCluster, fid: str, prefix: str) -> list[str]:
    """Every task id the master ever saw for `prefix` (running, finished or lost)."""
    fw = framework(c, fid)
    return sorted(t["id"] for k in ("tasks", "completed_tasks", "unreachable_tasks")
                  for t in fw.get(k, []) if t["id"].startswith(prefix))  # fmt: skip


@pytest.fixture(scope="module")
def env(tmp_path_factory, zk_server):
    zk = zk_server.url(f"/t{uuid.uuid4().hex}/dcos-webapp")
    c = ProcessCluster(tmp_path_factory.mktemp("webapp-ha"), agents=2, master_flags=[
        "--allocation-interval", "0.1", "--agent-ping-timeout", "0.5", "--max-agent-ping-timeouts", "3",
    ])  # fmt: skip
    try:
        c.start()
        a, b = Webapp(c, zk, 0), Webapp(c, zk, 1)
        a.start()
        c.wait_for(lambda: a.leader() == a.host_port and a.info().get("frameworkId"), "webapp-0 leads")
        b.start()
        yield c, a, b
    finally:
        c.stop()


APP = {"id": "/ha/web", "cmd": "sleep 600", "cpus": 0.1, "mem": 16, "instances": 3}


def test_one_leads_and_both_agree_on_the_leader(env):
    c, a, b = env
    c.wait_for(lambda: b.leader() == a.host_port, "the follower knows the leader")
    assert a.leader() == b.leader() == a.host_port
    ia, ib = a.info(), b.info()
    assert ia["elected"] is True and ib["elected"] is False
    assert ia["leader"] == ib["leader"] == a.host_port
    assert ib["frameworkId"] == ia["frameworkId"]  # the follower reads it from the store
    assert ib["zookeeper_config"]["zk"] == a.zk and ib["zookeeper_config"]["zk_session_timeout"] == 3000


def test_the_follower_proxies_to_the_leader(env):
    c, a, b = env
    code, body, headers = b.call("POST", "/v2/apps", APP)
    assert code == 201, body
    assert body["id"] == "/ha/web" and body["deployments"]  # type: ignore[index]
    assert headers["X-Marathon-Via"] == f"1.1 {b.host_port}"
    assert headers["X-Marathon-Leader"] == a.url
    listed = b.get("/v2/apps")
    assert [x["id"] for x in listed["apps"]] == ["/ha/web"]  # type: ignore[index]
    code, body, _ = b.call("POST", "/v2/apps", APP)
    assert code == 409  # the leader's answer, relayed
    c.wait_for(lambda: b.settled("/ha/web", 3), "3 instances running (seen through the follower)")
    assert a.running("/ha/web") == b.running("/ha/web")


def test_sigkill_the_leader_and_the_follower_takes_over(env):
    c, a, b = env
    fid = a.info()["frameworkId"]
    before = a.running("/ha/web")
    assert len(before) == 3 and launched(c, fid, "ha_web.") == before
    a.kill()
    c.wait_for(lambda: b.leader() == b.host_port, "the follower leads", timeout=30)
    c.wait_for(lambda: framework(c, fid).get("active"), "the framework re-subscribed", timeout=30)
    info = b.info()
    assert info["elected"] is True and info["frameworkId"] == fid
    c.wait_for(lambda: b.settled("/ha/web", 3), "the new leader has the 3 instances")
    assert b.running("/ha/web") == before  # the same tasks, still running
    assert launched(c, fid, "ha_web.") == before  # none launched twice
    ids = [f["id"] for f in get_json(c.url + "/master/state")["frameworks"]]
    assert ids == [fid]  # one framework: the same one, failed over


def test_a_pending_deployment_goes_on_under_the_next_leader(env):
    c, a, b = env
    fid = b.info()["frameworkId"]
    web = b.running("/ha/web")
    a.start()  # back, as a follower
    c.wait_for(lambda: a.leader() == b.host_port, "the old leader follows")
    big = {"id": "/ha/big", "cmd": "sleep 600", "cpus": 3, "mem": 16, "instances": 3}
    code, body, _ = a.call("POST", "/v2/apps", big)  # through the follower
    assert code == 201, body
    did = body["deployments"][0]["id"]  # type: ignore[index]
    c.wait_for(lambda: len(b.running("/ha/big")) == 2, "2 of 3 placed (one per 4-cpu agent)")
    started = b.running("/ha/big")
    b.kill()
    c.wait_for(lambda: a.leader() == a.host_port, "webapp-0 leads again", timeout=30)
    assert [d["id"] for d in a.get("/v2/deployments")] == [did]  # type: ignore[union-attr]
    c.wait_for(lambda: a.running("/ha/big") == started, "the 2 tasks reconciled")
    c.start_agent(2)  # room for the third: the new leader carries the deployment on
    c.wait_for(lambda: a.settled("/ha/big", 3), "the deployment finishes with 3 instances", timeout=40)
    assert set(started) < set(a.running("/ha/big")) and a.get("/v2/deployments") == []
    assert len(launched(c, fid, "ha_big.")) == 3  # the third launched once, by the new leader
    assert a.running("/ha/web") == web and launched(c, fid, "ha_web.") == web


def test_delete_leader_through_the_follower_hands_over(env):
    c, a, b = env
    fid = a.info()["frameworkId"]
    web = a.running("/ha/web")
    b.start()  # back, as a follower
    c.wait_for(lambda: b.leader() == a.host_port, "webapp-1 follows")
    code, body, _ = b.call("DELETE", "/v2/leader")  # proxied: the leader abdicates
    assert code == 200 and body == {"message": "Leadership abdicated"}
    c.wait_for(lambda: b.leader() == b.host_port == a.leader(), "webapp-1 leads, webapp-0 follows")
    c.wait_for(lambda: framework(c, fid).get("active"), "the framework re-subscribed")
    assert b.info()["frameworkId"] == fid
    c.wait_for(lambda: b.settled("/ha/web", 3), "the new leader has the 3 instances")
    assert b.running("/ha/web") == web and launched(c, fid, "ha_web.") == web


def test_a_frozen_leader_loses_its_session_and_stands_by(env):
    c, a, b = env
    fid = b.info()["frameworkId"]
    web = b.running("/ha/web")
    c.signal(b.name, signal.SIGSTOP)  # frozen past its ZooKeeper session timeout
    try:
        c.wait_for(lambda: a.leader() == a.host_port, "webapp-0 takes over", timeout=30)
        c.wait_for(lambda: framework(c, fid).get("active"), "the framework failed over to webapp-0")
    finally:
        c.signal(b.name, signal.SIGCONT)
    c.wait_for(lambda: b.info().get("elected") is False and b.leader() == a.host_port,
               "the thawed instance stands by")  # fmt: skip
    c.wait_for(lambda: a.settled("/ha/web", 3), "webapp-0 has the 3 instances")
    assert a.info()["elected"] is True and a.info()["frameworkId"] == fid
    code, _, _ = b.call("POST", "/v2/apps", {**APP, "id": "/ha/after", "instances": 1})
    assert code == 201  # proxied to the leader
    c.wait_for(lambda: a.settled("/ha/after", 1), "the leader runs the new app")
    assert a.running("/ha/web") == web and launched(c, fid, "ha_web.") == web
    assert "leadership ends" in c.log_tail(b.name, 200)
