"""Integration: the batch framework's cluster backend on real master and agent processes.

One cluster and one SparkContext (``mesos://``) serve the module's read-only jobs: word count,
join, sortByKey, a failing task's real traceback after 4 attempts, the job page linked as the
framework's webui_url. Tests that kill executors or need other settings make their own."""

from __future__ import annotations

import operator
import os
import signal
import threading
import time
import urllib.request
from collections import Counter

import orjson
import pytest

from dcos.testing import (
    QUICK_MASTER_FLAGS,
    ProcessCluster,
    get_json,
    wait_until,
)
from frameworks.batch.context import SparkContext

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    c = ProcessCluster(tmp_path_factory.mktemp("batch"), agents=2, master_flags=QUICK_MASTER_FLAGS)
    try:
        yield c.start()
    finally:
        c.stop()


@pytest.fixture(scope="module")
def sc(cluster):
    ctx = SparkContext(f"mesos://{cluster.master}", "itest-batch")
    try:
        wait_until(lambda: len(ctx._backend.conns) == 2, "two executors")
        yield ctx
    finally:
        ctx.stop()


LINES = [f"the quick brown fox {i % 7} jumps over the lazy dog {i % 3}" for i in range(2000)]


def test_word_count(sc):
    counts = (sc.parallelize(LINES, 8).flatMap(str.split).map(lambda w: (w, 1))
              .reduceByKey(operator.add).collect())
    assert dict(counts) == Counter(w for line in LINES for w in line.split())
    # Both executors ran tasks (one per agent).
    executors = sc._backend.executors()
    assert len(executors) == 2 and len({e.executor_id for e in executors}) == 2


def test_join(sc):
    left = sc.parallelize([(i % 50, i) for i in range(500)], 5)
    right = sc.parallelize([(k, f"v{k}") for k in range(0, 100, 2)], 3)
    got = sorted(left.join(right).collect())
    want = sorted((i % 50, (i, f"v{i % 50}")) for i in range(500) if (i % 50) % 2 == 0)
    assert got == want


def test_sort_by_key(sc):
    data = [((i * 7919) % 1000, i) for i in range(1000)]
    got = sc.parallelize(data, 6).sortByKey(numPartitions=4).collect()
    assert [k for k, _ in got] == sorted(k for k, _ in data)


def test_failing_task_fails_the_job_with_its_real_traceback_after_4_attempts(sc):
    def explode(x):
        if x == 3:
            raise ValueError(f"bad record {x}")
        return x

    with pytest.raises(Exception) as err:
        sc.parallelize(range(8), 4).map(explode).collect()
    text = str(err.value)
    assert "ValueError: bad record 3" in text
    assert "failed 4 times" in text
    assert "Traceback" in text and "in explode" in text


def test_job_page_is_the_frameworks_webui_url(sc, cluster):
    backend = sc._backend
    sc.parallelize(range(10), 2).count()
    frameworks = get_json(cluster.url + "/master/frameworks")["frameworks"]
    mine = [f for f in frameworks if f["id"] == backend.mesos.framework_id]
    assert mine and mine[0]["webui_url"] == backend.ui_url
    with urllib.request.urlopen(backend.ui_url, timeout=5) as resp:
        page = resp.read().decode()
    assert "<h2>Jobs</h2>" in page and "Executors" in page and "<script" not in page
    with urllib.request.urlopen(backend.ui_url + "api/jobs", timeout=5) as resp:
        body = orjson.loads(resp.read())
    assert body["jobs"] and body["jobs"][0]["status"] in ("succeeded", "done")
    stage = body["jobs"][0]["stages"][0]
    assert stage["total"] == 2 and stage["succeeded"] == 2
    assert len(body["executors"]) == 2


def test_executor_killed_mid_shuffle_still_gives_the_right_answer(tmp_path):
    cluster = ProcessCluster(tmp_path, agents=2, master_flags=QUICK_MASTER_FLAGS).start()
    sc = SparkContext(f"mesos://{cluster.master}", "itest-kill")
    try:
        backend = sc._backend
        wait_until(lambda: len(backend.conns) == 2, "two executors")

        def slow_sum(values):
            time.sleep(0.2)
            return sum(values)

        pairs = sc.parallelize(range(4000), 8).map(lambda x: (x % 16, x))
        grouped = pairs.groupByKey(numPartitions=8).mapValues(slow_sum)
        result: dict = {}

        def run() -> None:
            try:
                result["value"] = dict(grouped.collect())
            except Exception as exc:  # noqa: BLE001 - reported below
                result["error"] = exc

        job = threading.Thread(target=run)
        job.start()
        # Wait until the reduce stage has started (the shuffle is written on both executors),
        # then SIGKILL one executor process.
        wait_until(lambda: any(
            not s["shuffle_map"] and s["running"] > 0
            for j in backend.jobs.snapshot(time.time())["jobs"] for s in j["stages"]),
            "the reduce stage to run")
        victim = next(iter(backend.conns.values()))
        os.kill(victim.pid, signal.SIGKILL)
        job.join(timeout=120)
        assert "error" not in result, result.get("error")
        want: dict[int, int] = {}
        for x in range(4000):
            want[x % 16] = want.get(x % 16, 0) + x
        assert result["value"] == want
        # A replacement executor was started.
        wait_until(lambda: len(backend.conns) == 2 and victim.info.executor_id not in backend.conns,
                   "a replacement executor")
        lost = [e for e in backend.jobs.executor_events if not e["released"]]
        assert lost and lost[0]["executor_id"] == victim.info.executor_id
    finally:
        sc.stop()
        cluster.stop()
