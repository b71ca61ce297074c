"""Chaos: a network partition between one agent and the master, with a real cut link.

The agent runs inside a network namespace the test makes (veth pair on a private /30; the
master listens on the host end's address, which the host's own agents reach too). The webapp
runs a 2-instance app, one instance on that agent. The test brings the link down for longer
than the master's ping timeout: the master marks the agent unreachable, reports its task
TASK_UNREACHABLE (in /master/state and to the partition-aware webapp), and the webapp
replaces it on another agent once it is inactive. Then the link comes back: the agent
re-registers, the master reports its task running again, and the webapp kills that old copy.
A monitor polling the master throughout never sees more live tasks of the app than its target
plus its upgrade surge (2 + 1).
"""

from __future__ import annotations

import math
import subprocess
import sys
import threading
from dataclasses import dataclass

import pytest

from dcos.common.lifeline import die_with_parent
from dcos.testing.processes import QUICK_MASTER_FLAGS, ProcessCluster, free_port, get_json
from tests.chaos.checks import processes_under
from tests.chaos.monitor import TaskCountMonitor
from tests.chaos.netns import NetNamespace, require_netns
from tests.chaos.webapp import WebappFleet

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

APP_ID = "/chaos/part"
INSTANCES = 2
OVER = 0.5
LIMIT = math.floor(INSTANCES * (1 + OVER))  # 3: target + surge
SMALL = "cpus:0.1;mem:64;disk:64"  # room for exactly one task of the app
APP = {"id": APP_ID, "cmd": "sleep 1000", "cpus": 0.1, "mem": 16, "instances": INSTANCES,
       "upgradeStrategy": {"minimumHealthCapacity": 1.0, "maximumOverCapacity": OVER},
       "unreachableStrategy": {"inactiveAfterSeconds": 1, "expungeAfterSeconds": 120}}  # fmt: skip


@dataclass
class PartitionCluster(ProcessCluster):
    """A `ProcessCluster` whose master listens on `master_ip` (the host end of the veth pair)
    and whose agent `ns_agent` runs inside the namespace `ns`."""

    ns: NetNamespace | None = None
    master_ip: str = "127.0.0.1"

    @property
    def master(self) -> str:
        return f"{self.master_ip}:{self.master_port}"

    def master_url(self, i: int) -> str:
        return f"http://{self.master_ip}:{self.master_ports[i]}"

    def start_ns_agent(self, i: int) -> None:
        """Agent `i` inside the namespace, bound to its address, same flags as the others."""
        assert self.ns is not None
        while len(self.agent_ports) <= i:
            self.agent_ports.append(free_port())
        base = 31000 + i * 1000
        argv = self.ns.argv(
            sys.executable, "-m", "dcos.agent", "--master", self.master, "--ip", self.ns.ns_ip, "--hostname", self.ns.ns_ip,
            "--port", str(self.agent_ports[i]), "--work-dir", str(self.work_dir / f"agent-{i}"),
            "--resources", f"{self.agent_resources};ports:[{base}-{base + 999}]",
            "--status-update-retry", "1", "--log-file", str(self.work_dir / f"agent-{i}.log"),
        )  # fmt: skip
        log = open(self.work_dir / f"agent-{i}.out", "ab")
        main = threading.current_thread() is threading.main_thread()
        self.procs[f"agent-{i}"] = subprocess.Popen(
            argv,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=die_with_parent() if main else None,
        )
        log.close()


@pytest.fixture
def netns():
    require_netns()
    ns = NetNamespace.create()
    try:
        yield ns
    finally:
        ns.delete()


@pytest.fixture
def env(tmp_path, netns):
    # The master binds the veth pair's host end: the last --ip wins (ProcessCluster puts
    # master_flags after its own --ip 127.0.0.1); the host's agents reach that address too.
    c = PartitionCluster(tmp_path, agents=1, agent_resources=SMALL, ns=netns,
                         master_ip=netns.host_ip,
                         master_flags=[*QUICK_MASTER_FLAGS, "--ip", netns.host_ip])  # fmt: skip
    try:
        c.start()  # agent-0 on the host
        c.start_ns_agent(1)
        c.wait_for(lambda: len(c.active_agents()) == 2, "the namespace's agent registered")
        yield c, WebappFleet(c, instances=1).start()
    finally:
        c.stop()


def agent_ids(c: PartitionCluster) -> dict[str, str]:
    """Agent id -> the agent's address."""
    return {a["id"]: a["hostname"] for a in get_json(c.url + "/master/slaves")["slaves"]}


def unreachable_in_master(c: PartitionCluster, fid: str) -> set[str]:
    state = get_json(c.url + "/master/state", timeout=5)
    return {t["id"] for f in state["frameworks"] if f["id"] == fid for t in f["unreachable_tasks"]}


def master_state_of(c: PartitionCluster, fid: str, task_id: str) -> str | None:
    """The state the master's /master/state gives `task_id` (running, unreachable or
    completed), None when it does not list it."""
    state = get_json(c.url + "/master/state", timeout=5)
    for f in state["frameworks"]:
        if f["id"] == fid:
            for key in ("tasks", "unreachable_tasks", "completed_tasks"):
                for t in f.get(key, []):
                    if t["id"] == task_id:
                        return str(t["state"])
    return None


def test_agent_partition_unreachable_replaced_and_old_copy_killed(env, netns, report):
    c, fleet = env
    code, body = fleet.call("POST", "/v2/apps", APP)
    assert code == 201, body
    fid = fleet.get("/v2/info")["frameworkId"]

    def running() -> list[dict]:
        return [t for t in fleet.tasks(APP_ID) if t["state"] == "TASK_RUNNING"]

    c.wait_for(lambda: len(running()) == INSTANCES, "both instances running", 30)
    hosts = {t["host"] for t in running()}
    assert hosts == {"127.0.0.1", netns.ns_ip}, f"one instance per small agent: {hosts}"
    [victim] = [t["id"] for t in running() if t["host"] == netns.ns_ip]
    # A roomy agent on the host for the replacement.
    c.agent_resources = "cpus:2;mem:1024;disk:1024"
    c.start_agent(2)
    c.wait_for(lambda: len(c.active_agents()) == 3, "the third agent registered")

    with TaskCountMonitor(c.url, fid) as monitor:
        netns.link_down()
        try:
            c.wait_for(lambda: victim in unreachable_in_master(c, fid),
                       "the master to report the task unreachable", 30)  # fmt: skip
            c.wait_for(lambda: any(t["id"] == victim and t["state"] == "TASK_UNREACHABLE"
                                   for t in fleet.tasks(APP_ID)),
                       "the webapp to hear TASK_UNREACHABLE", 15)  # fmt: skip
            c.wait_for(lambda: len(running()) == INSTANCES
                       and victim not in {t["id"] for t in running()},
                       "a replacement running on another agent", 30)  # fmt: skip
            assert victim in processes_of(c, 1), "the partitioned copy still runs (cut off)"
        finally:
            netns.link_up()
        c.wait_for(lambda: len(c.active_agents()) == 3, "the agent back after the heal", 30)
        c.wait_for(lambda: victim not in processes_of(c, 1), "the old copy killed", 30)
        c.wait_for(lambda: fleet.app(APP_ID).get("deployments") == []
                   and len(running()) == INSTANCES == len(fleet.tasks(APP_ID)),
                   "the app back to exactly 2 running instances", 30)  # fmt: skip
        c.wait_for(lambda: master_state_of(c, fid, victim) == "TASK_KILLED",
                   "the master to report the old copy killed", 15)  # fmt: skip
        final = {t["id"] for t in running()}
        c.wait_for(lambda: monitor.running_ids() == final, "the master to agree", 15)
    assert victim not in final
    report(f"most live tasks of the app at once: {monitor.max_alive} (limit {LIMIT})")
    assert monitor.max_alive <= LIMIT, monitor.report()


def processes_of(c: PartitionCluster, i: int) -> str:
    """The command lines of the task processes of agent `i` (joined), with their sandbox
    paths (the task id is in them)."""
    return "\n".join(processes_under(c.work_dir / f"agent-{i}"))
