"""Chaos: the masters on a three-server ZooKeeper ensemble.

1. One ZooKeeper server stopped (the ensemble's leader, the worst one to lose): the cluster
   (3 masters, an agent, an SDK framework) keeps working: a master leads and a launch succeeds.
2. The leading master loses its ZooKeeper session: each master reaches the ensemble through its
   own TCP proxies, and the test black-holes the leader's (packets vanish, as in a partition;
   the other masters, the agent and the framework still reach ZooKeeper). The leader must step
   down (``master/elected`` 0, no more offers) before its session can expire for the others,
   i.e. before another master is elected: a sampler polling every master throughout never sees
   two leaders, and sees the old one stop leading before the new one starts. The agent and the
   framework follow the new leader: the task launched before still runs there, a new launch
   succeeds. Healed, the old leader comes back as a standby that redirects to the new one.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Callable

import pytest

from dcos.sdk import SchedulerDriver
from dcos.testing import RecordingScheduler
from dcos.testing.processes import get_json
from dcos.testing.zookeeper import ZooKeeperEnsemble
from tests.chaos.harness import HACluster
from tests.chaos.proxy import BlackholeProxy

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

SESSION_TIMEOUT = 3.0  # the masters' ZooKeeper session timeout (s)


class LeaderSampler:
    """Polls every master's ``master/elected`` in a thread. Each sample is (time, {master:
    1 or 0}); a master that did not answer is left out of it (no evidence either way)."""

    def __init__(self, cluster: HACluster, interval: float = 0.05) -> None:
        self.cluster = cluster
        self.interval = interval
        self.samples: list[tuple[float, dict[int, int]]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="leader-sampler", daemon=True)

    def _poll(self) -> dict[int, int]:
        out = {}
        for i in range(self.cluster.masters):
            try:
                snap = get_json(self.cluster.master_url(i) + "/metrics/snapshot", timeout=1.0)
            except (OSError, ValueError):
                continue
            out[i] = int(snap.get("master/elected", 0))
        return out

    def _run(self) -> None:
        while not self._stop.is_set():
            self.samples.append((time.monotonic(), self._poll()))
            time.sleep(self.interval)

    def leaders(self, sample: dict[int, int]) -> list[int]:
        return sorted(i for i, e in sample.items() if e)

    def first(self, pred: Callable[[dict[int, int]], bool], after: float) -> float | None:
        """Time of the first sample after `after` that satisfies `pred`."""
        return next((t for t, sample in self.samples if t >= after and pred(sample)), None)

    def __enter__(self) -> LeaderSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)


@pytest.fixture
def env(tmp_path):
    ensemble = ZooKeeperEnsemble(tmp_path / "zk", size=3)
    proxies: list[list[BlackholeProxy]] = []
    cluster: HACluster | None = None
    try:
        ensemble.start()
        path = f"/chaos{uuid.uuid4().hex[:8]}"
        proxies = [[BlackholeProxy(s.port) for s in ensemble.servers] for _ in range(3)]
        master_zk = [f"zk://{','.join(p.hosts for p in ps)}{path}" for ps in proxies]
        cluster = HACluster(tmp_path, masters=3, agents=1, zk=ensemble.url(path),
                            master_zk=master_zk, zk_session_timeout=SESSION_TIMEOUT)  # fmt: skip
        cluster.start()
        yield ensemble, cluster, proxies
    finally:
        if cluster is not None:
            cluster.stop()
        for ps in proxies:
            for p in ps:
                p.close()
        ensemble.stop()


async def launch(sched: RecordingScheduler, driver: SchedulerDriver, what: str) -> str:
    """Queue one long task, wake the offers (REVIVE) and wait until it runs."""
    [tid] = sched.submit("sleep 1000", prefix=what)
    await driver.revive()
    await sched.wait_states([tid], "TASK_RUNNING", timeout=40)
    return tid


async def test_one_server_down_keeps_working_and_a_cut_off_leader_steps_down(env, report):
    ensemble, cluster, proxies = env
    # 1. One ZooKeeper server down: the ensemble's own leader.
    zk_leader = ensemble.leader_index()
    assert zk_leader is not None
    ensemble.stop_server(zk_leader)
    sched = RecordingScheduler(launch_refuse=0.0, decline_refuse=1.0)
    driver = SchedulerDriver(sched, {"name": "chaos-zk"}, cluster.master, failover_timeout=600)
    sched.driver = driver
    await driver.start()
    try:
        await sched.wait(lambda: sched.registrations == 1, timeout=40, what="registration")
        first = await launch(sched, driver, "one-zk-down")
        old = await asyncio.to_thread(cluster.wait_leader)
        report(f"ZooKeeper server {zk_leader} stopped: master {old} leads, a launch succeeded")

        # 2. Cut the leading master off ZooKeeper (the others still reach it).
        with LeaderSampler(cluster) as sampler:
            await asyncio.sleep(0.3)
            cut_at = time.monotonic()
            for p in proxies[old]:
                p.set_cut(True)
            new = await asyncio.to_thread(cluster.wait_new_leader, old, SESSION_TIMEOUT * 5)
            await asyncio.sleep(0.3)
        both = [(t - cut_at, s) for t, s in sampler.samples if len(sampler.leaders(s)) > 1]
        assert not both, f"two masters led at once (split brain): {both[:5]}"
        # Stepped down: the old leader itself answers master/elected 0 (not just silence).
        stepped_down = sampler.first(lambda s: s.get(old) == 0, cut_at)
        elected = sampler.first(lambda s: s.get(new) == 1, cut_at)
        assert cluster.master_status(old, "/health") == 200, "the cut-off master still serves"
        assert stepped_down is not None and elected is not None
        report(f"leader {old} cut off ZooKeeper: it stepped down after "
              f"{stepped_down - cut_at:.2f} s, master {new} leads after {elected - cut_at:.2f} s "
              f"(session timeout {SESSION_TIMEOUT:g} s)")  # fmt: skip
        assert stepped_down < elected, "the old leader still led when the new one was elected"

        # The agent and the framework follow the new leader: the old task runs, a new one too.
        await sched.wait(lambda: sched.reregistrations >= 1, timeout=40, what="re-subscription")
        mark = len(sched.statuses[first])
        await driver.reconcile([(first, sched.statuses[first][-1].agent_id)])
        await sched.wait(lambda: len(sched.statuses[first]) > mark, timeout=20,
                         what="reconciliation on the new leader")  # fmt: skip
        assert sched.state(first) == "TASK_RUNNING"
        await launch(sched, driver, "after-cut")

        # Healed: the old leader is a standby that sends clients to the new one.
        for p in proxies[old]:
            p.set_cut(False)
        cluster.wait_for(lambda: cluster.master_status(old, "/master/redirect") == 307,
                         "master the old leader to redirect again", 30)  # fmt: skip
        assert cluster.elected() == [new]
    finally:
        await driver.stop()
