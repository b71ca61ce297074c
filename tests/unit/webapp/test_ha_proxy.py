"""A follower's API proxies ``/v2`` to the leader (two real aiohttp servers on loopback):
method, path, query, body, status and headers go through (``X-Marathon-Via`` added,
``X-Marathon-Leader`` from the leader), event streams are relayed as they come, ``/v2/leader``
and ``/v2/info`` are answered locally, and Marathon's errors come back when no leader is
known (503), for a loop or a leader that is down (502)."""

from __future__ import annotations

import asyncio

import pytest
from aiohttp.test_utils import TestClient, TestServer

from dcos.state import MemoryStateStore
from dcos.testing import free_port
from frameworks.webapp.api.proxy import REFUSED
from frameworks.webapp.api.server import PROXY_KEY, build_app
from frameworks.webapp.ha import NO_LEADER, PROXY_LOOP, HaState, LeaderRecord, ZkSettings
from frameworks.webapp.scheduler import WebappService
from frameworks.webapp.store import WebappStore

APP = {"id": "/web", "cmd": "sleep 100", "cpus": 0.1, "mem": 16, "instances": 2}


class Pair:
    """A leader and a follower API sharing one store, each a real HTTP server."""

    def __init__(self) -> None:
        self.shared = MemoryStateStore()
        self.leader_port, self.follower_port = free_port(), free_port()
        self.leader_rec = LeaderRecord.new("127.0.0.1", self.leader_port, "t")
        self.follower_rec = LeaderRecord.new("127.0.0.1", self.follower_port, "t")
        zk = ZkSettings("zk://127.0.0.1:2181/dcos-webapp", "127.0.0.1:2181", "/dcos-webapp", 4.0)
        self.leader_ha = HaState(self.leader_rec, zk, leading=True, leader=self.leader_rec)
        self.follower_ha = HaState(self.follower_rec, zk, leading=False, leader=self.leader_rec)
        self.leader_svc = self._service(self.leader_port)
        self.follower_svc = self._service(self.follower_port)
        self.abdications: list[str] = []

    def _service(self, port: int) -> WebappService:
        return WebappService(WebappStore(self.shared), master="127.0.0.1:1", http_port=port)

    def abdicate(self) -> bool:
        self.abdications.append("leader")
        return True


@pytest.fixture
async def pair():
    p = Pair()
    leader_app = build_app(p.leader_svc, p.leader_ha, p.abdicate)
    follower_app = build_app(p.follower_svc, p.follower_ha)
    follower_app[PROXY_KEY].settle = 0.0
    async with TestServer(leader_app, host="127.0.0.1", port=p.leader_port) as ls, \
            TestServer(follower_app, host="127.0.0.1", port=p.follower_port) as fs:  # fmt: skip
        async with TestClient(ls) as lc, TestClient(fs) as fc:
            p.lc, p.fc = lc, fc
            yield p


async def test_post_and_get_apps_through_the_follower(pair):
    r = await pair.fc.post("/v2/apps", json=APP)
    assert r.status == 201, await r.text()
    body = await r.json()
    assert body["id"] == "/web" and body["deployments"]
    assert r.headers["X-Marathon-Via"] == f"1.1 127.0.0.1:{pair.follower_port}"
    assert r.headers["X-Marathon-Leader"] == pair.leader_rec.url
    assert r.headers["Location"] == "/v2/apps/web"
    assert "/web" in pair.leader_svc.view.apps  # the leader did it ...
    assert "/web" not in pair.follower_svc.view.apps  # ... not the follower
    listed = await (await pair.fc.get("/v2/apps", params={"embed": "apps.tasks"})).json()
    assert [a["id"] for a in listed["apps"]] == ["/web"]
    none = await (await pair.fc.get("/v2/apps", params={"id": "nomatch"})).json()
    assert none == {"apps": []}  # the query went along
    r = await pair.fc.put("/v2/apps/web", data=b"{not json", headers={"Content-Type": "application/json"})
    assert r.status == 422 and (await r.json())["message"] == "Invalid JSON"
    r = await pair.fc.delete("/v2/apps/nope")
    assert r.status == 404 and (await r.json()) == {"message": "App '/nope' does not exist"}


async def test_the_leader_names_itself_on_its_own_answers(pair):
    r = await pair.lc.get("/v2/apps")
    assert r.headers["X-Marathon-Leader"] == pair.leader_rec.url and "X-Marathon-Via" not in r.headers


async def test_leader_and_info_are_answered_locally(pair):
    for c in (pair.lc, pair.fc):
        assert await (await c.get("/v2/leader")).json() == {"leader": f"127.0.0.1:{pair.leader_port}"}
    await pair.follower_svc.store.save_framework_id("fw-1")
    info = await (await pair.fc.get("/v2/info")).json()
    assert info["elected"] is False and info["leader"] == f"127.0.0.1:{pair.leader_port}"
    assert info["frameworkId"] == "fw-1"  # read from the store
    assert info["zookeeper_config"]["zk"] == "zk://127.0.0.1:2181/dcos-webapp"
    assert info["zookeeper_config"]["zk_session_timeout"] == 4000
    assert info["marathon_config"]["ha"] is True and info["marathon_config"]["master"] == "127.0.0.1:1"
    assert info["http_config"]["http_port"] == pair.follower_port
    assert (await (await pair.lc.get("/v2/info")).json())["elected"] is True
    assert (await pair.fc.get("/ping")).status == 200


async def test_delete_leader_through_the_follower_makes_the_leader_abdicate(pair):
    r = await pair.fc.delete("/v2/leader")
    assert r.status == 200 and await r.json() == {"message": "Leadership abdicated"}
    assert pair.abdications == ["leader"]


async def test_no_known_leader_is_503_and_no_leader_for_v2_leader(pair):
    pair.follower_ha.leader = None
    r = await pair.fc.get("/v2/apps")
    assert r.status == 503 and await r.json() == {"message": NO_LEADER}
    r = await pair.fc.get("/v2/leader")
    assert r.status == 404 and await r.json() == {"message": "There is no leader"}
    assert (await (await pair.fc.get("/v2/info")).json())["leader"] is None


async def test_a_loop_is_502(pair):
    r = await pair.fc.get("/v2/apps", headers={"X-Marathon-Via": f"1.1 127.0.0.1:{pair.follower_port}"})
    assert r.status == 502 and await r.json() == {"message": PROXY_LOOP}


async def test_a_leader_that_is_down_is_502(pair):
    dead = free_port()
    pair.follower_ha.leader = LeaderRecord("x", "127.0.0.1", dead, f"http://127.0.0.1:{dead}", "t")
    r = await pair.fc.post("/v2/apps", json=APP)
    assert r.status == 502 and await r.json() == {"message": REFUSED}


async def test_event_stream_is_relayed_as_it_comes(pair):
    r = await pair.fc.get("/v2/events", headers={"Accept": "text/event-stream"})
    assert r.status == 200 and r.headers["Content-Type"].startswith("text/event-stream")
    assert r.headers["X-Marathon-Via"] == f"1.1 127.0.0.1:{pair.follower_port}"
    first = await asyncio.wait_for(r.content.readuntil(b"\n\n"), 5)
    assert first.startswith(b"event: event_stream_attached")
    while pair.leader_svc.bus.subscribers == 0:  # the leader's end of the relayed stream
        await asyncio.sleep(0.01)
    pair.leader_svc.bus.publish("deployment_success", {"id": "d1"})
    ev = await asyncio.wait_for(r.content.readuntil(b"\n\n"), 5)
    assert ev.startswith(b"event: deployment_success") and b'"id":"d1"' in ev
    r.close()


async def test_a_stepped_down_leader_answers_503_for_changes(pair):
    pair.leader_svc.acting = False  # what LeaderLoop does at the first sign of loss
    r = await pair.lc.post("/v2/apps", json=APP)
    assert r.status == 503 and "stepped down" in (await r.json())["message"]
