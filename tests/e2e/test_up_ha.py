"""End to end: the real `dcos-py up --ha` (its own ZooKeeper, three masters, two agents, on free
ports in a temp work dir): a leader is elected and exactly one master leads, every master
answers /health, the agents register through zk://; SIGKILL of the leading master -> `up`
restarts it and another master leads, the agents follow; Ctrl-C stops everything (the
ZooKeeper JVM included), `up --ha` starts again at once on the same work dir, and after a
``kill -9`` of `up` nothing of it is left either. And `dcos-py up --zk URL` on an existing
ZooKeeper (the session's test server): no ZooKeeper of its own, masters under the URL's path,
two webapp instances under ``<path>-webapp``, every znode gone after Ctrl-C."""

from __future__ import annotations

import os
import re
import signal
import urllib.error
import urllib.request
from pathlib import Path

import orjson
from kazoo.client import KazooClient
from up_process import UpProcess, quiet_ports

from dcos.cli.up import port_in_use
from dcos.cli.up_ha import MASTER_PORT_STEP, redirect_target
from dcos.testing import wait_until
from dcos.testing.zookeeper import ZooKeeperServer

SESSION_TIMEOUT_S = "3"  # the masters' ZooKeeper session: how long a dead leader's znode lasts
READY = re.compile(r"cluster ready: 3 masters at (zk://\S+), (master-\d) \((http://\S+)\) leads")
NOW_LEADS = re.compile(r"leading master is now (master-\d) \((http://\S+)\)")


def ha_ports(extra: int = 0) -> list[int]:
    """[zk, first master, first agent, `extra` more]: free, with the standby masters' ports
    and the second agent's free too (a webapp port given as extra has its +1 checked too)."""
    while True:
        ports = quiet_ports(3 + extra)
        master, agent = ports[1], ports[2]
        around = [master + MASTER_PORT_STEP, master + 2 * MASTER_PORT_STEP, agent + 1,
                  *(p + 1 for p in ports[3:])]
        if all(p < 65536 and p not in ports and not port_in_use(p) for p in around):
            return ports


def get_json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=10) as r:
        return dict(orjson.loads(r.read()))


def health(url: str) -> int | None:
    try:
        with urllib.request.urlopen(url + "/health", timeout=5) as r:
            return int(r.status)
    except (urllib.error.URLError, OSError):
        return None


def contenders(zk_port: int, path: str = "/dcos") -> list[dict]:
    """The election znodes under `path`, lowest sequence (the leader) first."""
    client = KazooClient(hosts=f"127.0.0.1:{zk_port}")
    client.start(timeout=10)
    try:
        if not client.exists(path):
            return []
        names = sorted(client.get_children(path))
        assert all(n.startswith("json.info_") for n in names), names  # nothing else there
        return [orjson.loads(client.get(f"{path}/{n}")[0]) for n in names]
    finally:
        client.stop()
        client.close()


def active_agents(leader: str) -> list[int]:
    return sorted(a["port"] for a in get_json(leader + "/master/slaves")["slaves"] if a["active"])


def zookeeper_jvms(work: Path) -> list[str]:
    """Command lines of ZooKeeper JVMs of this work dir still running (`pgrep -af zookeeper`)."""
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            line = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if "zookeeper" in line.lower() and str(work) in line and state != "Z":
            found.append(line)
    return found


def test_up_ha_elects_one_leader_fails_over_and_leaves_nothing(tmp_path: Path,
                                                               monkeypatch) -> None:
    zk_port, master_port, agent_port = ha_ports()
    masters = [f"http://127.0.0.1:{master_port + i * MASTER_PORT_STEP}" for i in range(3)]
    monkeypatch.setenv("DCOS_ZK_SESSION_TIMEOUT", SESSION_TIMEOUT_S)
    args = ["--ha", "--agents", "2", "--zk-port", str(zk_port), "--master-port", str(master_port),
            "--agent-port", str(agent_port), "--no-webapp", "--no-dns", "--no-lb", "--no-batch",
            "--no-packages", "--no-gateway"]
    work = tmp_path / "cluster"
    up = UpProcess(args, work)
    try:
        ready = READY.search(up.wait_for("cluster ready", timeout=90))
        assert ready, up.output()
        zk_url, leader_name, leader = ready.groups()
        assert zk_url == f"zk://127.0.0.1:{zk_port}/dcos"
        assert f"DCOS_MASTER={zk_url} dcos-py node list" in up.output()
        assert set(up.pids()) == {"zookeeper", "master-0", "master-1", "master-2",
                                  "agent-0", "agent-1"}
        assert [health(m) for m in masters] == [200, 200, 200]
        # Exactly one leads: three contenders in ZooKeeper, the lowest is the one every
        # master names, and it names itself.
        published = contenders(zk_port)
        assert len(published) == 3
        assert f"http://127.0.0.1:{published[0]['port']}" == leader
        assert [redirect_target(m) for m in masters] == [leader] * 3
        assert active_agents(leader) == [agent_port, agent_port + 1]
        agent_argv = " ".join(Path(f"/proc/{up.pids()['agent-0']}/cmdline").read_bytes()
                              .decode().split("\0"))
        assert f"--master {zk_url}" in agent_argv

        # SIGKILL the leader: `up` restarts it, and another master leads once its session
        # expired; the agents re-register with the new leader.
        killed = up.pids()[leader_name]
        os.kill(killed, signal.SIGKILL)
        up.wait_for(f"{leader_name} exited with code -9; restarting in 1 s (restart 1)")
        new_name, new_leader = NOW_LEADS.search(up.wait_for("leading master is now",
                                                            timeout=60)).groups()
        assert new_name != leader_name and new_leader != leader
        wait_until(lambda: health(leader) == 200, "the killed master to be back", timeout=30)
        assert up.pids()[leader_name] != killed
        wait_until(lambda: [redirect_target(m) for m in masters] == [new_leader] * 3,
                   "every master to name the new leader", timeout=30)
        wait_until(lambda: active_agents(new_leader) == [agent_port, agent_port + 1],
                   "the agents to re-register with the new leader", timeout=60)
        assert len(contenders(zk_port)) == 3  # the restarted master stands by again

        up.note_family()
        up.proc.send_signal(signal.SIGINT)
        assert up.proc.wait(timeout=60) == 0, up.output() + up.rest()
        assert up.alive() == []
        assert zookeeper_jvms(work) == []
    finally:
        up.cleanup()

    # Again at once on the same work dir (ZooKeeper's data kept), then kill -9 of `up`.
    again = UpProcess(args, work)
    try:
        again.wait_for("cluster ready", timeout=90)
        assert zookeeper_jvms(work), "the ZooKeeper JVM runs"
        again.note_family()
        again.proc.kill()
        again.proc.wait()
        wait_until(lambda: again.alive() == [] and zookeeper_jvms(work) == [],
                   "every component and the ZooKeeper JVM to stop", timeout=20,
                   diag=lambda: "\n".join(again.alive() + zookeeper_jvms(work)))
    finally:
        again.cleanup()


def test_up_zk_runs_on_an_existing_ensemble(tmp_path: Path, zk_server: ZooKeeperServer,
                                            zk_url: str) -> None:
    _, master_port, agent_port, webapp_port = ha_ports(extra=1)
    path = zk_url.split(zk_server.hosts, 1)[1]  # /t<uuid>
    up = UpProcess(["--zk", zk_url, "--agents", "1", "--master-port", str(master_port),
                    "--agent-port", str(agent_port), "--webapp-port", str(webapp_port),
                    "--no-dns", "--no-lb", "--no-batch", "--no-packages", "--no-gateway"],
                   tmp_path / "cluster")
    try:
        ready = READY.search(up.wait_for("cluster ready", timeout=90))
        assert ready and ready.group(1) == zk_url, up.output()
        assert "starting 3 masters and 1 agent(s)" in up.output()
        assert set(up.pids()) == {"master-0", "master-1", "master-2", "agent-0",
                                  "webapp-0", "webapp-1"}
        assert not (tmp_path / "cluster" / "zookeeper").exists()
        leader = ready.group(3)
        assert f"http://127.0.0.1:{contenders(zk_server.port, path)[0]['port']}" == leader
        assert len(contenders(zk_server.port, path)) == 3
        assert active_agents(leader) == [agent_port]
        # The webapp instances elect theirs under <path>-webapp/leader; both name the leader.
        webapps = [f"http://127.0.0.1:{webapp_port + i}" for i in range(2)]
        wait_until(lambda: len(contenders(zk_server.port, path + "-webapp/leader")) == 2,
                   "both webapp instances to campaign", timeout=30)
        named = {get_json(w + "/v2/leader")["leader"] for w in webapps}
        assert len(named) == 1 and named <= {f"127.0.0.1:{webapp_port + i}" for i in range(2)}

        up.note_family()
        up.proc.send_signal(signal.SIGINT)
        assert up.proc.wait(timeout=60) == 0, up.output() + up.rest()
        assert up.alive() == []
        # Stopped cleanly, every master and webapp instance closed its session: no znode of
        # theirs is left, and the ensemble (not ours) still runs.
        assert contenders(zk_server.port, path) == []
        assert contenders(zk_server.port, path + "-webapp/leader") == []
        assert zk_server.running
    finally:
        up.cleanup()
