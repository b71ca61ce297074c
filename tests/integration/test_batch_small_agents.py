"""Integration: batch jobs on agents smaller than one cpu (as ``dcos-py up`` makes them on a
2-core machine). Without ``spark.executor.cores`` each executor takes the 0.5 cpu its agent
offers and runs one task at a time; a word count succeeds. An executor that fits nowhere
makes the driver say why (best offer, what it lacks) on its job page and when it gives up."""

from __future__ import annotations

import operator
from collections import Counter

import pytest

from dcos.testing import (
    QUICK_MASTER_FLAGS,
    ProcessCluster,
    get_json,
    wait_until,
)
from frameworks.batch.context import SparkConf, SparkContext

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    c = ProcessCluster(tmp_path_factory.mktemp("batch-small"), agents=2,
                       agent_resources="cpus:0.5;mem:1024;disk:1024",
                       master_flags=QUICK_MASTER_FLAGS)
    try:
        yield c.start()
    finally:
        c.stop()


LINES = [f"a small cluster {i % 5} runs a word count {i % 3}" for i in range(500)]


def test_word_count_on_half_cpu_agents(small):
    sc = SparkContext(f"mesos://{small.master}", "half-cpu")
    try:
        backend = sc._backend
        wait_until(lambda: len(backend.conns) == 2, "an executor on each agent")
        counts = (sc.parallelize(LINES, 4).flatMap(str.split).map(lambda w: (w, 1))
                  .reduceByKey(operator.add).collect())
        assert dict(counts) == Counter(w for line in LINES for w in line.split())
        page = get_json(backend.ui_url + "api/jobs")
        assert page["waiting"] is None
        assert sorted((e["cpus"], e["cores"]) for e in page["executors"]) == [(0.5, 1), (0.5, 1)]
        fid = backend.mesos.framework_id
        mine = [t for t in small.tasks() if t["framework_id"] == fid]
        assert [t["resources"]["cpus"] for t in mine] == [0.5, 0.5]
    finally:
        sc.stop()


def test_executor_that_fits_nowhere_is_explained(small):
    conf = (SparkConf().set("spark.executor.memory", "2g")
            .set("spark.dcos.executor.startTimeout", "1.5s"))
    with pytest.raises(RuntimeError) as err:
        SparkContext(f"mesos://{small.master}", "too-big", conf=conf)
    text = str(err.value)
    assert "no executor registered within 1.5s" in text
    assert "no offer fits 1 executor of 0.1-1 cpus / 2048 MB; best offer 0.5 cpus" in text
    assert "spark.executor.memory=2048m is more than any offer has" in text
