"""End to end: the gateway that `dcos-py up` starts. `up` prints its URL first ("Web UI and
API: ..."), before the table of components; it answers /metadata with the cluster id kept in
``<work>/cluster-id`` (the same after a restart) and proxies ``/mesos/`` to the master. With
``--ha`` its ``/mesos/master/state`` follows a failover: SIGKILL of the leading master, and
within seconds the gateway answers from the new leader (meanwhile 502/503 JSON, never a hang).
"""

from __future__ import annotations

import os
import re
import signal
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import orjson
import pytest
from up_process import UpProcess, quiet_ports

from dcos.cli.up import port_in_use
from dcos.cli.up_ha import MASTER_PORT_STEP

SESSION_TIMEOUT_S = "3"  # the masters' ZooKeeper session: how long a dead leader's znode lasts
READY = re.compile(r"cluster ready: 3 masters at (zk://\S+), (master-\d) \((http://\S+)\) leads")
FAILOVER_GOAL_S = 15.0  # session expiry (3 s) + election + the gateway's leader cache (~1 s)
MINIMAL = ["--no-webapp", "--no-dns", "--no-lb", "--no-batch", "--no-packages"]


def fetch(url: str, timeout: float = 5.0) -> tuple[int, Any]:
    """GET `url` without following redirects: (status, JSON body, or the text of another)."""
    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: Any, **kwargs: Any) -> None:
            return None

    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(url, timeout=timeout) as r:
            status, raw = int(r.status), r.read()
    except urllib.error.HTTPError as exc:
        status, raw = exc.code, exc.read()
    try:
        return status, orjson.loads(raw)
    except orjson.JSONDecodeError:
        return status, raw.decode(errors="replace")


def summary_lines(up: UpProcess) -> list[str]:
    return [line.strip() for line in up.seen if line.strip()]


def assert_url_printed_first(up: UpProcess, gateway: str) -> None:
    lines = summary_lines(up)
    assert lines[0].startswith("starting "), lines
    assert lines[1] == f"Web UI and API: {gateway}", up.output()
    assert lines.index("dcos-py local cluster") > 1  # the table comes after it


def stop(up: UpProcess) -> None:
    up.note_family()
    up.proc.send_signal(signal.SIGINT)
    assert up.proc.wait(timeout=60) == 0, up.output() + up.rest()
    assert up.alive() == []


def test_up_prints_the_gateway_first_and_keeps_the_cluster_id(tmp_path: Path) -> None:
    master, agent, gateway_port = quiet_ports(3)
    gateway = f"http://127.0.0.1:{gateway_port}"
    args = ["--agents", "1", "--master-port", str(master), "--agent-port", str(agent),
            "--gateway-port", str(gateway_port), *MINIMAL]
    work = tmp_path / "cluster"
    up = UpProcess(args, work)
    try:
        up.wait_for("cluster ready")
        assert_url_printed_first(up, gateway)
        assert "gateway" in up.pids()
        cluster_id = (work / "cluster-id").read_text().strip()
        status, meta = fetch(gateway + "/metadata")
        assert status == 200 and meta["CLUSTER_ID"] == cluster_id
        assert meta["PUBLIC_IPV4"] == "127.0.0.1"
        status, state = fetch(gateway + "/mesos/master/state")
        assert status == 200 and state["pid"] == f"master@127.0.0.1:{master}"
        assert [a["port"] for a in state["slaves"]] == [agent]
        stop(up)
    finally:
        up.cleanup()
    assert not port_in_use(gateway_port)

    again = UpProcess(args, work)
    try:
        again.wait_for("cluster ready")
        status, meta = fetch(gateway + "/metadata")
        assert status == 200 and meta["CLUSTER_ID"] == cluster_id  # the same cluster
        stop(again)
    finally:
        again.cleanup()


def ha_ports() -> tuple[int, int, int, int]:
    """zk, first master, first agent, gateway: free, with the standby masters' ports too."""
    while True:
        zk, master, agent, gateway = quiet_ports(4)
        standbys = [master + MASTER_PORT_STEP, master + 2 * MASTER_PORT_STEP]
        if all(p < 65536 and p not in (zk, agent, gateway) and not port_in_use(p)
               for p in standbys):
            return zk, master, agent, gateway


def test_ha_gateway_follows_the_leading_master(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    zk_port, master_port, agent_port, gateway_port = ha_ports()
    gateway = f"http://127.0.0.1:{gateway_port}"
    monkeypatch.setenv("DCOS_ZK_SESSION_TIMEOUT", SESSION_TIMEOUT_S)
    up = UpProcess(["--ha", "--agents", "1", "--zk-port", str(zk_port),
                    "--master-port", str(master_port), "--agent-port", str(agent_port),
                    "--gateway-port", str(gateway_port), *MINIMAL], tmp_path / "cluster")
    try:
        ready = READY.search(up.wait_for("cluster ready", timeout=90))
        assert ready, up.output()
        assert_url_printed_first(up, gateway)
        _, leader_name, leader = ready.groups()
        leader_pid = "master@" + leader.removeprefix("http://")
        status, state = fetch(gateway + "/mesos/master/state")
        assert status == 200 and state["pid"] == leader_pid, (status, state)

        os.kill(up.pids()[leader_name], signal.SIGKILL)
        killed_at = time.monotonic()
        answers: list[tuple[int, float]] = []
        while True:
            t0 = time.monotonic()
            status, state = fetch(gateway + "/mesos/master/state", timeout=10)
            answers.append((status, time.monotonic() - t0))
            if status == 200 and state["pid"] != leader_pid:
                break
            # until the dead leader's session expires, every master still names its address:
            # 502 while nothing listens there, then the restarted master (a standby now)
            # answers 503 or redirects (307), passed through; never a hang
            assert status in (200, 307, 502, 503), (status, state)
            if status == 502:  # the gateway's own answer: the dead leader is not answering
                assert state["code"] == 502 and "not answering" in state["message"], state
            assert time.monotonic() - killed_at < FAILOVER_GOAL_S, answers
            time.sleep(0.2)
        took = time.monotonic() - killed_at
        assert state["leader"] == state["pid"]  # it leads, by its own account
        assert max(t for _, t in answers) < 6.0, answers  # each answer came quickly
        assert took < FAILOVER_GOAL_S, (took, answers)
        up.wait_for("leading master is now", timeout=30)
        stop(up)
    finally:
        up.cleanup()
