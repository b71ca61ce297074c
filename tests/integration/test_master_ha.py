"""Masters in HA mode as real processes on a real ZooKeeper (`zk_url`, or a server of the
test's own where it must stop it): one of three leads and publishes its MasterInfo, the
standbys redirect the leader's endpoints as Mesos does, a SIGKILLed leader is replaced and
its successor recovers the registry (weights, quota, frameworks, agents), and a leader that
loses its ZooKeeper session stops leading at once (its streams closed, no more offers)."""

from __future__ import annotations

import asyncio
import http.client
import time
from pathlib import Path

import aiohttp
import orjson
from kazoo.client import KazooClient

from dcos.state.zk import parse_zk_url
from dcos.testing.master import subscribe
from dcos.testing.processes import QUICK_MASTER_FLAGS, ProcessCluster, get_json
from dcos.testing.waiting import wait_until
from dcos.testing.zookeeper import ZooKeeperServer

SESSION_S = 2.0


def _cluster(tmp_path: Path, zk: str, *, masters: int = 3, agents: int = 0) -> ProcessCluster:
    return ProcessCluster(
        tmp_path, agents=agents, masters=masters, zk=zk, zk_session_timeout=SESSION_S,
        master_flags=[*QUICK_MASTER_FLAGS, "--agent-reregister-timeout", "30"],
    )  # fmt: skip


def _request(port: int, method: str, path: str, body: object = None) -> tuple[int, dict, bytes]:
    """One request, redirects not followed: (status, headers, body)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        data = orjson.dumps(body) if body is not None else None
        headers = {"Content-Type": "application/json"} if data is not None else {}
        conn.request(method, path, body=data, headers=headers)
        resp = conn.getresponse()
        return resp.status, dict(resp.getheaders()), resp.read()
    finally:
        conn.close()


def _operator(cluster: ProcessCluster, call: dict) -> dict:
    status, _, body = _request(cluster.master_ports[cluster.wait_leader()], "POST", "/api/v1", call)
    assert status == 200, body
    return orjson.loads(body) if body else {}


def test_one_of_three_leads_and_standbys_redirect(tmp_path, zk_url):
    cluster = _cluster(tmp_path, zk_url).start()
    try:
        leader = cluster.wait_leader()
        assert cluster.elected() == [leader]
        port = cluster.master_ports[leader]
        # the election as Mesos publishes it: json.info_ znodes, the lowest is the leader
        zk = KazooClient(hosts=parse_zk_url(zk_url).hosts)
        zk.start(10)
        try:
            path = parse_zk_url(zk_url).path
            wait_until(lambda: len(zk.get_children(path)) == 3, "three contenders", 10)
            names = sorted(zk.get_children(path))
            assert all(n.startswith("json.info_") for n in names)
            info = orjson.loads(zk.get(f"{path}/{names[0]}")[0])
        finally:
            zk.stop()
            zk.close()
        assert info["address"]["port"] == port and info["pid"] == f"master@127.0.0.1:{port}"
        state = get_json(cluster.master_url(leader) + "/master/state")
        assert state["leader"] == state["pid"] == f"master@127.0.0.1:{port}"
        assert state["leader_info"]["id"] == info["id"] == state["id"]
        for i in set(range(3)) - {leader}:
            mine = cluster.master_ports[i]
            for method, target, body in [
                ("POST", "/api/v1/scheduler", {"type": "SUBSCRIBE"}),
                ("POST", "/api/v1", {"type": "GET_STATE"}),
                ("POST", "/internal/agent", None),
                ("GET", "/master/state?jsonp=f", None),
                ("GET", "/master/frameworks", None),
            ]:
                status, headers, _ = _request(mine, method, target, body)
                assert (status, headers.get("Location")) == (
                    307, f"//127.0.0.1:{port}{target}"), (i, target)  # fmt: skip
            status, headers, _ = _request(mine, "GET", "/master/redirect")
            assert (status, headers["Location"]) == (307, f"//127.0.0.1:{port}")
            assert _request(mine, "GET", "/health")[0] == 200
            snapshot = get_json(cluster.master_url(i) + "/metrics/snapshot")
            assert snapshot["master/elected"] == 0
    finally:
        cluster.stop()


async def test_killed_leader_is_replaced_and_the_registry_survives(tmp_path, zk_url):
    cluster = await asyncio.to_thread(_cluster(tmp_path, zk_url, agents=1).start)
    try:
        old = cluster.wait_leader()
        weights = {"type": "UPDATE_WEIGHTS",
                   "update_weights": {"weight_infos": [{"role": "web", "weight": 2.5}]}}  # fmt: skip
        quota = {"type": "SET_QUOTA", "set_quota": {"quota_request": {
            "role": "web", "force": True,
            "guarantee": [{"name": "cpus", "type": "SCALAR", "scalar": {"value": 1}}]}}}  # fmt: skip
        await asyncio.to_thread(_operator, cluster, weights)
        await asyncio.to_thread(_operator, cluster, quota)
        async with aiohttp.ClientSession() as s:
            stream, fid, _ = await subscribe(s, cluster.master_url(old), name="survivor")
            [agent] = await asyncio.to_thread(cluster.active_agents)
            started = time.monotonic()
            await asyncio.to_thread(cluster.kill_master, old)
            await asyncio.wait_for(stream.ended.wait(), 5)
            new = await asyncio.to_thread(cluster.wait_leader, SESSION_S + 20, {old})
            print(f"new leader after {time.monotonic() - started:.2f} s "
                  f"(session timeout {SESSION_S} s)")  # fmt: skip
            await stream.close()
        got = await asyncio.to_thread(_operator, cluster, {"type": "GET_WEIGHTS"})
        assert got["get_weights"]["weight_infos"] == [{"role": "web", "weight": 2.5}]
        got = await asyncio.to_thread(_operator, cluster, {"type": "GET_QUOTA"})
        [role] = got["get_quota"]["status"]["infos"]
        assert role["role"] == "web"
        frameworks = get_json(cluster.master_url(new) + "/master/frameworks")["frameworks"]
        assert [(f["id"], f["connected"]) for f in frameworks] == [(fid, False)]
        # the agent follows the leader through ZooKeeper and re-registers with the same id
        await asyncio.to_thread(
            cluster.wait_for,
            lambda: [a["id"] for a in cluster.active_agents()] == [agent["id"]],
            "the agent re-registered with the new leader",
            30,
        )
        assert cluster.leader_index() == new
    finally:
        await asyncio.to_thread(cluster.stop)


async def test_leader_without_zookeeper_stops_leading(tmp_path):
    """The only ZooKeeper server stops: the leader's session is suspended, so it closes its
    framework streams and stops answering as leader (no more offers can go out) long before
    the session could expire; when ZooKeeper is back, a master leads again."""
    server = await asyncio.to_thread(ZooKeeperServer(tmp_path / "zk").start)
    cluster = _cluster(tmp_path / "c", server.url("/dcos"), masters=2)
    try:
        await asyncio.to_thread(cluster.start)
        leader = cluster.wait_leader()
        url = cluster.master_url(leader)
        async with aiohttp.ClientSession() as s:
            stream, _fid, _ = await subscribe(s, url, name="cut-off")
            await asyncio.to_thread(server.stop)
            await asyncio.wait_for(stream.ended.wait(), SESSION_S + 5)
            async with s.get(url + "/metrics/snapshot") as r:
                assert (await r.json())["master/elected"] == 0
            async with s.get(url + "/master/state", allow_redirects=False) as r:
                assert r.status == 503, await r.text()
            async with s.post(url + "/api/v1/scheduler", json={"type": "SUBSCRIBE"}) as r:
                assert r.status == 503
            await stream.close()
        await asyncio.to_thread(server.start)
        await asyncio.to_thread(cluster.wait_leader, 30)
    finally:
        await asyncio.to_thread(cluster.stop)
        await asyncio.to_thread(server.stop)
