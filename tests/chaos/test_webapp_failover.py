"""Chaos: SIGKILL the leading webapp instance (of 2, elected in a real ZooKeeper) in the middle
of a rolling upgrade of a 20-instance app (``minimumHealthCapacity`` 1, ``maximumOverCapacity``
0.1: at most 22 tasks alive). The other instance takes over, resumes the deployment from the
state in ZooKeeper and completes it: exactly 20 tasks of the new version run (the webapp and
the master agree), the framework kept its id, and a monitor polling the master throughout
never saw more than 22 live tasks of the app.
"""

from __future__ import annotations

import json
import math
from collections import Counter

import pytest

from dcos.testing.processes import QUICK_MASTER_FLAGS, ProcessCluster
from dcos.testing.waiting import wait_until
from tests.chaos.monitor import TaskCountMonitor
from tests.chaos.webapp import WebappFleet

pytestmark = [pytest.mark.integration, pytest.mark.timeout(150)]

APP_ID = "/chaos/roll"
INSTANCES = 20
OVER = 0.1
LIMIT = math.floor(INSTANCES * (1 + OVER))  # 22: the planner's bound (target + surge)
APP = {"id": APP_ID, "cmd": "sleep 1000", "cpus": 0.01, "mem": 8, "instances": INSTANCES,
       "upgradeStrategy": {"minimumHealthCapacity": 1.0, "maximumOverCapacity": OVER}}  # fmt: skip


@pytest.fixture
def env(tmp_path, zk_url):
    c = ProcessCluster(tmp_path, agents=2, agent_resources="cpus:4;mem:4096;disk:4096",
                       master_flags=list(QUICK_MASTER_FLAGS))  # fmt: skip
    try:
        c.start()
        fleet = WebappFleet(c, instances=2, zk=f"{zk_url}/dcos-webapp").start()
        yield c, fleet
    finally:
        c.stop()


def running_versions(fleet: WebappFleet) -> dict[str, int]:
    out: dict[str, int] = {}
    for t in fleet.tasks(APP_ID):
        if t.get("state") == "TASK_RUNNING":
            out[t["version"]] = out.get(t["version"], 0) + 1
    return out


def settled(fleet: WebappFleet, version: str | None = None) -> bool:
    app = fleet.app(APP_ID)
    if app.get("deployments") != [] or app.get("tasksRunning") != INSTANCES:
        return False
    return running_versions(fleet) == {version or app["version"]: INSTANCES}


def diagnose(c: ProcessCluster, fleet: WebappFleet) -> str:
    """What the webapp and the master say when the deployment does not finish."""
    tasks = Counter((t.get("version"), t.get("state")) for t in fleet.tasks(APP_ID))
    master = Counter(t["state"] for t in c.tasks())
    stimuli = fleet.get("/debug/stimuli?limit=40")
    return "\n".join([
        f"leader: {fleet.leader()}; deployments: {fleet.get('/v2/deployments')}",
        f"queue: {fleet.get('/v2/queue')}",
        f"webapp tasks by (version, state): {dict(tasks)}; master tasks by state: {dict(master)}",
        f"webapp stimuli: {json.dumps(stimuli)[:6000]}",
        *(f"--- {fleet.name(i)}:\n{c.log_tail(fleet.name(i), 40)}" for i in range(2)),
    ])  # fmt: skip


def test_webapp_leader_sigkill_mid_rolling_upgrade(env, report):
    c, fleet = env
    code, body = fleet.call("POST", "/v2/apps", APP)
    assert code == 201, body
    fid = fleet.get("/v2/info")["frameworkId"]
    c.wait_for(lambda: settled(fleet), f"{INSTANCES} instances of the first version", 60)
    old_version = fleet.app(APP_ID)["version"]

    with TaskCountMonitor(c.url, fid) as monitor:
        code, body = fleet.call("PUT", f"/v2/apps{APP_ID}", {**APP, "cmd": "sleep 1001"})
        assert code == 200, body
        new_version = fleet.app(APP_ID)["version"]
        assert new_version != old_version
        c.wait_for(lambda: running_versions(fleet).get(new_version, 0) >= 4,
                   "the rolling upgrade under way", 60)  # fmt: skip
        leader = fleet.leader()
        assert leader is not None
        mid = running_versions(fleet)
        assert mid.get(old_version, 0) > 0, f"the upgrade ended before the kill: {mid}"
        fleet.kill(leader)
        report(f"killed webapp leader {leader} mid-upgrade (running by version: {mid})")
        c.wait_for(lambda: fleet.leader() not in (None, leader), "a new webapp leader", 30)
        wait_until(lambda: settled(fleet, new_version),
                   f"{INSTANCES} instances of the new version under the new leader", 60,
                   diag=lambda: diagnose(c, fleet))  # fmt: skip
        # The master agrees: exactly the webapp's 20 tasks run, all under the same framework.
        ids = {t["id"] for t in fleet.tasks(APP_ID)}
        c.wait_for(lambda: monitor.running_ids() == ids, "the master to run exactly those", 30)
    assert fleet.get("/v2/info")["frameworkId"] == fid
    report(
        f"most live tasks seen at once: {monitor.max_alive} (limit {LIMIT}); "
        f"{monitor.samples} samples"
    )
    assert monitor.max_alive <= LIMIT, monitor.report()
