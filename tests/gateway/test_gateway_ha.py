"""The gateway's ``/mesos/`` following a master failover: three real masters elected through a
real ZooKeeper (`dcos.testing.ProcessCluster`), one gateway given ``--zk`` and one given the
three ``--master`` URLs (it asks their ``/master/redirect``); both list the three masters in
``/gateway/health``. The leader is SIGKILLed; both
gateways answer from the new leader within the election's time."""

from __future__ import annotations

import json
import signal
import urllib.error
import urllib.request
from typing import Any

import pytest

from dcos.testing import ProcessCluster, free_port

pytestmark = pytest.mark.integration


def _state(url: str) -> Any:
    try:
        with urllib.request.urlopen(url + "/mesos/master/state", timeout=3) as r:
            return json.loads(r.read())
    except (OSError, ValueError):
        return None


def _health(url: str) -> Any:
    """The gateway's /gateway/health body; {} while it does not answer yet."""
    try:
        with urllib.request.urlopen(url + "/gateway/health", timeout=3) as r:
            return json.loads(r.read())
    except (OSError, ValueError):
        return {}


def test_mesos_follows_a_master_failover(tmp_path, zk_url: str) -> None:
    c = ProcessCluster(tmp_path, masters=3, zk=zk_url, agents=0)
    try:
        c.start()
        ports = [free_port(), free_port()]
        c._spawn("gateway-zk", ["-m", "dcos.gateway", "--port", str(ports[0]), "--zk", zk_url,
                                "--log-file", str(tmp_path / "gateway-zk.log")])  # fmt: skip
        masters = [a for i in range(3) for a in ("--master", c.master_url(i))]
        c._spawn("gateway-masters", ["-m", "dcos.gateway", "--port", str(ports[1]), *masters,
                                     "--log-file", str(tmp_path / "gateway-masters.log")])  # fmt: skip
        gateways = [f"http://127.0.0.1:{p}" for p in ports]
        first = c.leader_index()
        assert first is not None
        every = sorted(c.master_url(i) for i in range(3))
        for gw in gateways:  # both list the three masters (the UI's Nodes page shows them)
            c.wait_for(lambda gw=gw: sorted(_health(gw).get("master", {}).get("masters", [])) == every,
                       f"{gw} to know the three masters")  # fmt: skip
        leader_pid = f"master@127.0.0.1:{c.master_ports[first]}"
        for gw in gateways:
            c.wait_for(lambda gw=gw: (_state(gw) or {}).get("leader") == leader_pid,
                       f"{gw} to answer from the leader")  # fmt: skip
        c.kill_master(first, signal.SIGKILL)
        second = c.wait_leader(exclude={first})
        new_pid = f"master@127.0.0.1:{c.master_ports[second]}"
        for gw in gateways:
            c.wait_for(lambda gw=gw: (_state(gw) or {}).get("leader") == new_pid,
                       f"{gw} to follow the new leader", timeout=30)  # fmt: skip
            assert _health(gw)["master"]["leader"] == c.master_url(second)
    finally:
        c.stop()
