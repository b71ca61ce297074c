"""Job page data (`JobTracker`), its HTML (`render`), and the cluster settings (`ClusterConf`)."""

from __future__ import annotations

import pytest

from frameworks.batch.backend import FetchFailed, Task, TaskResult
from frameworks.batch.cluster.conf import ClusterConf, parse_duration
from frameworks.batch.cluster.jobs import JobTracker
from frameworks.batch.cluster.webui import render
from frameworks.batch.listener import JobEnd, JobStart


def task(job=1, stage=1, part=0, is_map=False) -> Task:
    return Task(job, stage, 0, part, b"", "k", is_shuffle_map=is_map)


def test_tracker_counts_tasks_per_stage_and_failures():
    t = JobTracker("app")
    maps = [task(stage=1, part=p, is_map=True) for p in range(2)]
    results = [task(stage=2, part=p) for p in range(2)]
    t.on_job_start(JobStart(1, [1, 2], 2, 0.0, "collect at wc.py:3"))
    t.submitted(maps, 0.0)
    for m in maps:
        t.launched(m)
    t.attempt_failed(maps[0], "OSError: disk", "e1")
    t.launched(maps[0])
    for m in maps:
        t.finished(TaskResult(m, True, b"", duration=0.5), 1.0)
    t.submitted(results, 1.0)
    t.launched(results[0])
    t.finished(TaskResult(results[0], False, fetch_failed=FetchFailed(3, 1, "e2")), 2.0)
    snap = t.snapshot(now=3.0)
    [job] = snap["jobs"]
    assert job["description"] == "collect at wc.py:3" and job["status"] == "running"
    s1, s2 = job["stages"]
    assert (s1["total"], s1["succeeded"], s1["failed"], s1["shuffle_map"]) == (2, 2, 1, True)
    assert s1["complete"] and s1["task_seconds"] == 1.0 and "OSError: disk" in s1["errors"][0]
    assert (s2["total"], s2["fetch_failed"], s2["succeeded"], s2["complete"]) == (2, 1, 0, False)
    t.on_job_end(JobEnd(1, False, 4.0, "ValueError: x"))
    assert t.snapshot(now=5.0)["jobs"][0]["status"] == "failed"


def test_tracker_keeps_only_the_latest_jobs():
    t = JobTracker("app", keep=3)
    for j in range(10):
        t.submitted([task(job=j)], float(j))
    assert [j["job_id"] for j in t.snapshot(10.0)["jobs"]] == [9, 8, 7]


def test_page_is_plain_html_with_escaped_text():
    t = JobTracker("<app>")
    t.submitted([task()], 0.0)
    t.finished(TaskResult(task(), False, error="Boom: <b>"), 1.0)
    snap = t.snapshot(2.0) | {"app_id": "a1", "framework_id": "f1", "pending_tasks": 0,
                               "executors": [{"executor_id": "e1", "host": "h", "cores": 1,
                                              "address": "http://h:1", "running_tasks": 0}]}
    page = render(snap)
    assert "&lt;app&gt;" in page and "Boom: &lt;b&gt;" in page
    assert "<script" not in page and "http://h:1" in page


def test_conf_from_spark_keys_and_environment():
    c = ClusterConf.parse({"spark.executor.cores": "2", "spark.cores.max": "6",
                           "spark.executor.memory": "1g", "spark.locality.wait": "3s",
                           "spark.executorEnv.FOO": "bar"},
                          environ={"DCOS_BATCH_CONF": '{"spark.executor.cores": "4", '
                                   '"spark.task.maxFailures": "2"}'})
    assert c.spec.cores == 2 and c.spec.max_executors == 3 and c.spec.mem_mb == 1024
    assert c.locality_wait == 3.0 and c.max_failures == 2 and c.executor_env == {"FOO": "bar"}
    d = ClusterConf.parse(None, environ={})
    assert (d.spec.max_executors, d.spec.cores, d.locality_wait, d.max_failures) == (2, 1, 0.2, 4)
    assert d.spec.idle_timeout == 60.0 and d.spec.dynamic


@pytest.mark.parametrize("text,seconds", [("200ms", 0.2), ("3s", 3), ("1min", 60), ("2", 2),
                                          (0.5, 0.5), ("1h", 3600)])
def test_parse_duration(text, seconds):
    assert parse_duration(text) == pytest.approx(seconds)


def test_parse_duration_rejects_garbage():
    with pytest.raises(ValueError):
        parse_duration("soon")
