"""Integration: batch drivers sharing a real cluster -- two concurrent jobs both progress,
idle executors are released and work revives them -- and cluster mode: ``dcos-py batch
submit`` runs a driver as a task (status, log, list, kill)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
import time
import urllib.error
import urllib.request

import orjson
import psutil
import pytest

from dcos.cli.errors import REJECTED
from dcos.testing import (
    QUICK_MASTER_FLAGS,
    ProcessCluster,
    get_json,
    wait_until,
)
from frameworks.batch.context import SparkConf, SparkContext

pytestmark = pytest.mark.integration


@pytest.fixture
def small_cluster(tmp_path):
    c = ProcessCluster(tmp_path, agents=2, agent_resources="cpus:2;mem:2048;disk:1024",
                       master_flags=QUICK_MASTER_FLAGS)
    try:
        yield c.start()
    finally:
        c.stop()


def timed_task(x):
    start = time.time()
    time.sleep(0.05)
    return (start, time.time())


def test_two_concurrent_jobs_share_the_cluster(small_cluster):
    # 2 agents x 2 cpus; each driver wants 2 executors of 1 core: both fit, neither starves.
    contexts = [SparkContext(f"mesos://{small_cluster.master}", f"fair-{i}") for i in range(2)]
    try:
        for sc in contexts:
            wait_until(lambda sc=sc: len(sc._backend.conns) == 2, "two executors each")
        spans: dict[int, list] = {}

        def run(i: int) -> None:
            spans[i] = contexts[i].parallelize(range(60), 30).map(timed_task).collect()

        threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        assert len(spans[0]) == len(spans[1]) == 60
        first = {i: min(s for s, _ in spans[i]) for i in spans}
        last = {i: max(e for _, e in spans[i]) for i in spans}
        # Each job ran tasks while the other was running: their run times overlap.
        assert first[0] < last[1] and first[1] < last[0]
        tasks = small_cluster.tasks()
        for sc in contexts:
            fid = sc._backend.mesos.framework_id
            mine = [t for t in tasks if t["framework_id"] == fid and t["state"] == "TASK_RUNNING"]
            assert len(mine) == 2  # both executors of both drivers ran side by side
    finally:
        for sc in contexts:
            sc.stop()


def test_idle_executors_are_released_and_work_revives_offers(small_cluster):
    conf = SparkConf().set("spark.dynamicAllocation.executorIdleTimeout", "0.5s")
    sc = SparkContext(f"mesos://{small_cluster.master}", "idle", conf=conf)
    try:
        backend = sc._backend
        assert sc.parallelize(range(100), 4).sum() == 4950
        wait_until(lambda: not backend.conns, "idle executors released")
        fid = backend.mesos.framework_id
        wait_until(lambda: not [t for t in small_cluster.tasks() if t["framework_id"] == fid
                                and t["state"] == "TASK_RUNNING"], "executor tasks ended")
        released = [e for e in backend.jobs.executor_events if e["released"]]
        assert len(released) == 2
        assert backend.mesos.suppression.suppressed and backend.executor_policy.failures == 0
        # New work: the driver revives offers and gets executors again.
        assert sc.parallelize(range(10), 2).count() == 10
        assert backend.conns
    finally:
        sc.stop()


DRIVER = textwrap.dedent("""
    import sys
    from operator import add
    from frameworks.batch import SparkContext

    sc = SparkContext(appName="submitted-wc")   # the master comes from the dispatcher
    words = " ".join(sys.argv[1:]).split()
    counts = sc.parallelize(words, 4).map(lambda w: (w, 1)).reduceByKey(add).collect()
    for word, n in sorted(counts):
        print(f"{word}={n}")
    print("executors", len(sc._backend.executors()) >= 1, sc.master)
    sc.stop()
""")


def cli(cluster, *args: str, timeout: float = 90) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dcos.cli", "--master", cluster.master, "batch", *args],
        capture_output=True, text=True, timeout=timeout,
        env={**os.environ, "DCOS_BATCH_DISPATCHER": ""},
    )


def test_batch_submit_status_log_list_and_kill(small_cluster, tmp_path):
    script = tmp_path / "wc.py"
    script.write_text(DRIVER)
    ddir = small_cluster.work_dir / "dispatcher"  # under the cluster: stopped with it
    out = cli(small_cluster, "submit", str(script), "b", "a", "b", "--executors", "2",
              "--executor-cores", "1", "--executor-memory", "256m",
              "--dispatcher-dir", str(ddir), "--wait")
    assert out.returncode == 0, out.stdout + out.stderr
    sid = out.stdout.split()[0]
    assert sid.startswith("driver-") and f"{sid} FINISHED" in out.stdout
    status = cli(small_cluster, "status", sid, "--json")
    assert status.returncode == 0, status.stderr
    body = orjson.loads(status.stdout)
    assert body["state"] == "FINISHED" and body["driver_ui"].startswith("http://")
    log = cli(small_cluster, "log", sid)
    assert log.returncode == 0, log.stderr
    assert "a=1" in log.stdout and "b=2" in log.stdout
    assert f"executors True mesos://{small_cluster.master}" in log.stdout
    listed = orjson.loads(cli(small_cluster, "list", "--json").stdout)
    assert [s["id"] for s in listed] == [sid]
    # The driver ran as a task of the batch-dispatcher framework.
    frameworks = get_json(small_cluster.url + "/master/frameworks")["frameworks"]
    assert any(f["name"] == "batch-dispatcher" and f["active"] for f in frameworks)

    # The dispatcher runs only the scripts submissions ship (as `batch submit` does): a host
    # path is refused and nothing runs. It listens on loopback only (the master is local).
    url = next(f["webui_url"] for f in frameworks if f["name"] == "batch-dispatcher")
    assert url.startswith("http://127.0.0.1:")
    forged = urllib.request.Request(
        url.rstrip("/") + "/v1/submissions", method="POST",
        data=orjson.dumps({"script": "/etc/passwd", "args": []}),
        headers={"Content-Type": "application/json"})
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(forged, timeout=10)
    assert refused.value.code == 403
    assert [s["id"] for s in orjson.loads(cli(small_cluster, "list", "--json").stdout)] == [sid]
    pid = get_json(url.rstrip("/") + "/health")["pid"]
    listening = [c.laddr for c in psutil.Process(pid).net_connections("tcp")
                 if c.status == psutil.CONN_LISTEN]
    assert listening and {a.ip for a in listening} == {"127.0.0.1"}

    # A long driver, killed while it runs.
    sleeper = tmp_path / "sleeper.py"
    sleeper.write_text("import time\nprint('sleeping', flush=True)\ntime.sleep(600)\n")
    sid2 = cli(small_cluster, "submit", str(sleeper)).stdout.split()[0]

    def state() -> str:
        return orjson.loads(cli(small_cluster, "status", sid2, "--json").stdout)["state"]

    wait_until(lambda: state() == "RUNNING", "the second driver to run")
    assert cli(small_cluster, "kill", sid2).returncode == 0
    wait_until(lambda: state() == "KILLED", "the second driver to be killed")
    # Unknown ids are one clear line and the CLI's "rejected" exit code (4xx answers).
    bad = cli(small_cluster, "status", "driver-nope")
    assert bad.returncode == REJECTED and "404" in bad.stderr and "Traceback" not in bad.stderr
