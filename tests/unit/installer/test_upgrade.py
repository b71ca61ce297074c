"""`dcos.installer.upgrade`: the rolling order (standby masters first, the leader -- asked again
before each pick -- last, then agents one at a time), the first failure stopping the roll, and
the health verdicts (a master healthy again; an agent back with the SAME id)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from dcos.installer import config, upgrade
from dcos.installer.bundle import Manifest
from dcos.installer.cluster_api import AgentEntry, ClusterApi
from dcos.installer.config import ClusterConfig, HostSpec
from dcos.installer.progress import QuietProgress
from dcos.installer.runner import HostLog
from dcos.installer.ssh import HostError
from dcos.protocol.ids import AgentID


def make_cfg(tmp: Path, **raw: Any) -> ClusterConfig:
    body: dict[str, Any] = {
        "cluster_name": "prod", "master_list": ["10.0.0.11", "10.0.0.12", "10.0.0.13"],
        "agent_list": ["10.0.0.21", "10.0.0.22"], "public_agent_list": ["10.0.0.31"],
        "ssh_key_path": str(tmp / "key"), "security": {"enabled": False},
    }
    body.update(raw)
    return config.parse(body, tmp / "cluster.yaml", check_key_file=False)


MANIFEST = Manifest(version="0.2.0", build_id="b2", python="cp311", cluster_name="prod",
                    cluster_id="c1", dcos_wheel="dcos_py-0.2.0-py3-none-any.whl", repo=False)


def m(address: str) -> HostSpec:
    return HostSpec(address, "master", 0)


def test_next_master_standbys_first_leader_last() -> None:
    pending = [m("a"), m("b"), m("c")]
    assert upgrade.next_master(pending, "a").address == "b"
    assert upgrade.next_master(pending, None).address == "a"
    assert upgrade.next_master([m("a")], "a").address == "a"


def entry(agent_id: str, rereg: float | None, active: bool = True) -> AgentEntry:
    return AgentEntry(AgentID(agent_id), "10.0.0.21", "h", active, 1.0, rereg)


def test_agent_back_needs_same_id_and_a_newer_registration() -> None:
    before = entry("a1", 5.0)
    assert upgrade.agent_back(before, None) == "not registered at the leading master yet"
    assert "not active" in (upgrade.agent_back(before, entry("a1", 9.0, active=False)) or "")
    assert "has not re-registered" in (upgrade.agent_back(before, entry("a1", 5.0)) or "")
    assert "NEW agent id" in (upgrade.agent_back(before, entry("a2", 9.0)) or "")
    assert upgrade.agent_back(before, entry("a1", 9.0)) is None
    assert upgrade.agent_back(None, entry("a9", None)) is None  # was not registered before


def test_master_problem() -> None:
    mp = upgrade.master_problem
    assert mp("m", True, "follower", True, "x") is None
    assert mp("m", True, None, False, "x") is None  # external ZooKeeper: not ours to check
    assert "does not answer /health" in (mp("m", False, "leader", True, "m") or "")
    assert "not serving" in (mp("m", True, None, True, "x") or "")
    assert mp("m", True, "leader", True, None) == "no master leads"


class Roll:
    """Fakes for a roll: who leads (changes when the leader is upgraded), which host fails."""

    def __init__(self, leader: str, fail: str | None = None) -> None:
        self.leader = leader
        self.fail = fail
        self.order: list[str] = []

    async def work(self, up: Any, session: Any, host: HostSpec, log: HostLog) -> str:
        self.order.append(host.address)
        if host.address == self.fail:
            raise HostError("not healthy 180 s after its restart: ZooKeeper not serving")
        if host.address == self.leader:
            self.leader = "10.0.0.12"  # leadership moves to an upgraded standby
        up.timings[host.address] = 1.5
        return "upgraded"


class Session:
    async def __aenter__(self) -> Session:
        return self

    async def __aexit__(self, *exc: object) -> None:
        pass


async def fake_connect(cfg: ClusterConfig, address: str, timeout: float = 10) -> Session:
    return Session()


def patch(monkeypatch: pytest.MonkeyPatch, roll: Roll) -> None:
    async def leading_master(api: ClusterApi, masters: Any = None) -> str:
        return roll.leader

    async def work(up: Any, session: Any, host: HostSpec, log: HostLog) -> str:
        return await roll.work(up, session, host, log)

    monkeypatch.setattr(ClusterApi, "leading_master", leading_master)
    monkeypatch.setattr(upgrade._Upgrader, "work", work)


async def test_upgrade_order_and_timings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = make_cfg(tmp_path)
    roll = Roll(leader="10.0.0.11")
    patch(monkeypatch, roll)
    timings: dict[str, float] = {}
    results = await upgrade.upgrade(cfg, cfg.hosts(), MANIFEST, QuietProgress(lambda s: None),
                                    connect=fake_connect, timings=timings)
    assert roll.order == ["10.0.0.12", "10.0.0.13", "10.0.0.11",
                          "10.0.0.21", "10.0.0.22", "10.0.0.31"]
    assert all(r.ok for r in results)
    assert [r.address for r in results] == [h.address for h in cfg.hosts()]
    assert set(timings) == {h.address for h in cfg.hosts()}


async def test_upgrade_stops_at_the_first_failure(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = make_cfg(tmp_path)
    roll = Roll(leader="10.0.0.13", fail="10.0.0.12")
    patch(monkeypatch, roll)
    results = await upgrade.upgrade(cfg, cfg.hosts(), MANIFEST, QuietProgress(lambda s: None),
                                    connect=fake_connect)
    assert roll.order == ["10.0.0.11", "10.0.0.12"]
    by = {r.address: r for r in results}
    assert by["10.0.0.11"].ok and not by["10.0.0.12"].ok
    assert "ZooKeeper not serving" in by["10.0.0.12"].detail
    for a in ("10.0.0.13", "10.0.0.21", "10.0.0.22", "10.0.0.31"):
        assert not by[a].ok and "stopped after 10.0.0.12 failed" in by[a].detail


async def test_upgrade_limited_to_agents(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = make_cfg(tmp_path)
    roll = Roll(leader="10.0.0.11")
    patch(monkeypatch, roll)
    agents = [h for h in cfg.hosts() if h.role != "master"]
    results = await upgrade.upgrade(cfg, agents, MANIFEST, QuietProgress(lambda s: None),
                                    connect=fake_connect)
    assert roll.order == ["10.0.0.21", "10.0.0.22", "10.0.0.31"] and all(r.ok for r in results)


async def test_upgrade_without_installer_identity_fails_every_host(tmp_path: Path) -> None:
    cfg = make_cfg(tmp_path, security={"enabled": True})
    results = await upgrade.upgrade(cfg, cfg.hosts()[:2], MANIFEST,
                                    QuietProgress(lambda s: None), connect=fake_connect)
    assert [r.ok for r in results] == [False, False]
    assert "installer certificate" in results[0].detail
