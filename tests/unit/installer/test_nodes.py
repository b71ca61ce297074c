"""`dcos.installer.nodes`: the drain decisions (which tasks are on the agent, how many run
elsewhere, why the webapp cannot place them) and `remove_agent`'s sequence against a fake
cluster (deactivate, scale up, wait, kill the old tasks with scale=true, uninstall, mark gone;
on a drain that cannot place its tasks: the apps scaled back, the agent reactivated, nothing
uninstalled, the app and the webapp's reasons named)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from dcos.installer import config, nodes
from dcos.installer.cluster_api import AgentEntry, ApiError
from dcos.installer.config import ClusterConfig, HostSpec
from dcos.installer.progress import QuietProgress
from dcos.installer.runner import HostResult
from dcos.protocol.ids import AgentID, TaskID

A1 = AgentID("agent-1")


def task(tid: str, app: str, agent: str, state: str = "TASK_RUNNING",
         healthy: bool | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"id": tid, "appId": app, "slaveId": agent, "host": "box",
                           "state": state, "healthCheckResults": []}
    if healthy is not None:
        out["healthCheckResults"] = [{"alive": healthy}]
    return out


def test_drain_plan_groups_live_tasks_on_the_agent() -> None:
    tasks = [task("w1", "/web", A1), task("w2", "/web", A1), task("w3", "/web", "agent-2"),
             task("d1", "/db", A1, "TASK_STAGING"), task("x1", "/web", A1, "TASK_FINISHED")]
    assert nodes.drain_plan(tasks, A1, "10.0.0.21") == {"/web": ["w1", "w2"], "/db": ["d1"]}
    # unknown agent id (it is down): by address; a shared host name matches nothing
    assert nodes.drain_plan(tasks, None, "10.0.0.21") == {}
    by_host = [dict(task("h1", "/web", "agent-9"), host="10.0.0.21")]
    assert nodes.drain_plan(by_host, None, "10.0.0.21") == {"/web": ["h1"]}


def test_placed_elsewhere_counts_running_and_healthy() -> None:
    tasks = [task("w1", "/web", A1), task("w2", "/web", "agent-2", healthy=True),
             task("w3", "/web", "agent-3", healthy=False), task("w4", "/web", "agent-3",
                                                                   "TASK_STAGING")]
    assert nodes.placed_elsewhere(tasks, "/web", A1, "a", health_checks=False) == 2
    assert nodes.placed_elsewhere(tasks, "/web", A1, "a", health_checks=True) == 1


def test_queue_reasons() -> None:
    queue = [
        {"app": {"id": "/other"}, "processedOffersSummary": {"reasons": ["nope"]}},
        {"app": {"id": "/web"}, "count": 2,
         "processedOffersSummary": {"reasons": ["insufficient mem (2 of 2 offers)",
                                                "constraint hostname:UNIQUE"]}},
    ]
    assert nodes.queue_reasons(queue, "/web") == \
        "insufficient mem (2 of 2 offers); constraint hostname:UNIQUE"
    offers = [{"app": {"id": "/web"}, "processedOffersSummary": {},
               "lastUnusedOffers": [{"message": "insufficient cpus"},
                                    {"message": "insufficient cpus"}]}]
    assert nodes.queue_reasons(offers, "/web") == "insufficient cpus"
    bare = [{"app": {"id": "/web"}, "count": 1, "processedOffersSummary":
             {"processedOffersCount": 0}}]
    assert nodes.queue_reasons(bare, "/web") == "1 instance(s) waiting, 0 offer(s) seen"
    assert nodes.queue_reasons([], "/web") == ""


def test_old_tasks_gone() -> None:
    tasks = [task("w1", "/web", A1, "TASK_KILLING"), task("w2", "/web", A1, "TASK_KILLED")]
    assert nodes.old_tasks_gone(tasks, [TaskID("w1"), TaskID("w2")]) == ["w1"]
    assert nodes.old_tasks_gone([], [TaskID("w1")]) == []


# -- remove_agent against a fake cluster -------------------------------------------------------


class FakeCluster:
    """The leading master and the webapp as the drain sees them. `room`: whether the other
    agents can take the tasks."""

    def __init__(self, room: bool = True, conflict_once: bool = False) -> None:
        self.room = room
        self.conflict = conflict_once
        self.calls: list[str] = []
        self.apps = {"/web": {"id": "/web", "instances": 3, "healthChecks": [{"path": "/"}]}}
        self.task_list = [task("w1", "/web", A1, healthy=True),
                          task("w2", "/web", A1, healthy=True),
                          task("w3", "/web", "agent-2", healthy=True)]
        self.n = 3

    def __call__(self, cfg: ClusterConfig) -> FakeCluster:
        return self

    async def __aenter__(self) -> FakeCluster:
        return self

    async def __aexit__(self, *exc: object) -> None:
        pass

    async def agent(self, address: str) -> AgentEntry | None:
        return AgentEntry(A1, address, "box", True, 1.0, None) if address == "10.0.0.21" else None

    async def operator_call(self, call_type: str, agent_id: AgentID) -> None:
        self.calls.append(f"{call_type} {agent_id}")

    async def tasks(self) -> list[dict[str, Any]]:
        return [dict(t) for t in self.task_list]

    async def app(self, app_id: str) -> dict[str, Any]:
        return dict(self.apps[app_id])

    async def scale(self, app_id: str, instances: int) -> None:
        if self.conflict:
            self.conflict = False
            raise ApiError("PUT /v2/apps/web: 409 deployment in progress", 409)
        self.calls.append(f"scale {app_id} {instances}")
        self.apps[app_id]["instances"] = instances
        live = [t for t in self.task_list if t["appId"] == app_id]
        if self.room:
            while len(live) < instances:
                self.n += 1
                new = task(f"w{self.n}", app_id, "agent-3", healthy=True)
                self.task_list.append(new)
                live.append(new)

    async def delete_tasks(self, ids: list[str], *, scale: bool = True) -> None:
        self.calls.append(f"delete {','.join(ids)} scale={scale}")
        self.task_list = [t for t in self.task_list if t["id"] not in ids]

    async def queue(self) -> list[dict[str, Any]]:
        return [{"app": {"id": "/web"}, "count": 2,
                 "processedOffersSummary": {"reasons": ["insufficient mem on agent-2"]}}]


def make_cfg(tmp: Path) -> ClusterConfig:
    body: dict[str, Any] = {
        "cluster_name": "prod", "master_list": ["10.0.0.11"],
        "agent_list": ["10.0.0.21", "10.0.0.22"], "public_agent_list": [],
        "ssh_key_path": str(tmp / "key"), "security": {"enabled": False},
    }
    return config.parse(body, tmp / "cluster.yaml", check_key_file=False)


@pytest.fixture
def uninstalled(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    done: list[str] = []

    async def fake_uninstall(cfg: ClusterConfig, hosts: list[HostSpec], progress: Any,
                             connect: Any = None) -> list[HostResult]:
        done.extend(h.address for h in hosts)
        return [HostResult(h.address, True, "removed /opt/dcos-py (1M)") for h in hosts]

    monkeypatch.setattr(nodes, "uninstall", fake_uninstall)
    return done


async def test_remove_agent_drains_then_uninstalls_then_marks_gone(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, uninstalled: list[str]) -> None:
    cluster = FakeCluster(conflict_once=True)
    monkeypatch.setattr(nodes, "ClusterApi", cluster)
    monkeypatch.setattr(nodes, "wait_until", fast_wait)
    said: list[str] = []
    (r,) = await nodes.remove_agent(make_cfg(tmp_path), "10.0.0.21", say=said.append,
                                    progress=QuietProgress(said.append))
    assert r.ok, r.detail
    assert r.detail.startswith("2 task(s) moved elsewhere; removed /opt/dcos-py")
    assert cluster.calls == ["DEACTIVATE_AGENT agent-1", "scale /web 5",
                             "delete w1,w2 scale=True", "MARK_AGENT_GONE agent-1"]
    assert uninstalled == ["10.0.0.21"]
    assert {t["slaveId"] for t in cluster.task_list} == {"agent-2", "agent-3"}


async def test_remove_agent_without_room_changes_nothing_and_says_why(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, uninstalled: list[str]) -> None:
    cluster = FakeCluster(room=False)
    monkeypatch.setattr(nodes, "ClusterApi", cluster)
    monkeypatch.setattr(nodes, "wait_until", fast_wait)
    (r,) = await nodes.remove_agent(make_cfg(tmp_path), "10.0.0.21", say=lambda s: None,
                                    progress=QuietProgress(lambda s: None), drain_timeout=0.2)
    assert not r.ok
    assert "drain failed, nothing removed: app /web: 2 of 2 task(s) not running elsewhere" \
        in r.detail
    assert "insufficient mem on agent-2" in r.detail
    assert cluster.calls == ["DEACTIVATE_AGENT agent-1", "scale /web 5", "scale /web 3",
                             "REACTIVATE_AGENT agent-1"]
    assert uninstalled == []


async def test_remove_agent_unknown_or_master(tmp_path: Path) -> None:
    cfg = make_cfg(tmp_path)
    (r,) = await nodes.remove_agent(cfg, "10.0.0.99", say=lambda s: None)
    assert not r.ok and "unknown agent" in r.detail
    (r,) = await nodes.remove_agent(cfg, "10.0.0.11", say=lambda s: None)
    assert not r.ok and "is a master" in r.detail


async def fast_wait(probe: Any, timeout: float, *, interval: float = 1.0) -> str | None:
    """`cluster_api.wait_until` without the sleeps (tries a few times, then gives up)."""
    why: str | None = "never tried"
    for _ in range(3):
        try:
            why = await probe()
        except ApiError as exc:
            why = exc.message
        if why is None:
            return None
    return why
