"""A failing task fails its job with the task's real error and traceback; the context stays
usable; a worker process that dies is replaced."""

from __future__ import annotations

import os

import pytest

from frameworks.batch import JobFailedError, SparkContext


def explode(x: int) -> int:
    if x == 3:
        raise ValueError(f"bad record {x}")
    return x


def test_value_error_fails_the_job_with_error_and_traceback(local_sc: SparkContext) -> None:
    with pytest.raises(JobFailedError) as info:
        local_sc.parallelize(range(6), 2).map(explode).collect()
    err = info.value
    assert err.error_type == "ValueError"
    assert err.error == "ValueError: bad record 3"
    assert "in explode" in err.task_traceback
    assert 'raise ValueError(f"bad record {x}")' in err.task_traceback
    assert "ValueError: bad record 3" in str(err) and "in explode" in str(err)
    assert local_sc.parallelize(range(6), 2).map(lambda x: x + 1).sum() == 21


def test_failure_in_a_map_stage_fails_the_job(local_sc: SparkContext) -> None:
    rdd = local_sc.parallelize(range(6), 3).map(lambda x: (explode(x), 1)).reduceByKey(max)
    with pytest.raises(JobFailedError, match="ValueError: bad record 3"):
        rdd.collect()
    tracker = local_sc.statusTracker()
    failed = [j for j in (tracker.getJobInfo(i) for i in range(1000)) if j and j.status == "FAILED"]
    assert failed and "bad record 3" in failed[-1].error


def test_unpicklable_closure_fails_the_job_clearly(local_sc: SparkContext) -> None:
    with pytest.raises(JobFailedError, match="SparkContext can only be used on the driver"):
        local_sc.parallelize([1]).map(lambda x: local_sc.defaultParallelism).collect()


def test_worker_crash_fails_the_task_and_the_worker_is_replaced(local_sc: SparkContext) -> None:
    def die(x: int) -> int:
        os._exit(13)

    with pytest.raises(JobFailedError, match="WorkerLost: worker process exited with code 13"):
        local_sc.parallelize([1], 1).map(die).collect()
    assert local_sc.parallelize(range(10), 4).count() == 10


def test_actions_after_stop_are_refused() -> None:
    sc = SparkContext("local", "stopped")
    assert sc.parallelize([1, 2]).count() == 2
    sc.stop()
    with pytest.raises(RuntimeError, match="stopped"):
        sc.parallelize([1]).count()


def test_master_urls() -> None:
    from frameworks.batch.context import parse_local_master

    assert parse_local_master("local") == (1, 1)
    assert parse_local_master("local[3]") == (3, 1)
    assert parse_local_master("local[*]") == (os.cpu_count() or 1, 1)
    assert parse_local_master("local[2,4]") == (2, 4)
    assert parse_local_master("mesos://m:5050") is None
    with pytest.raises(ValueError, match="Could not parse Master URL"):
        SparkContext("yarn", "x")


def test_lost_shuffle_files_are_recomputed_from_lineage(local_sc: SparkContext) -> None:
    import glob
    import shutil

    computed = local_sc.accumulator(0)

    def pair(x: int) -> tuple[int, int]:
        computed.add(1)
        return (x % 4, x)

    reduced = local_sc.parallelize(range(40), 4).map(pair).reduceByKey(lambda a, b: a + b, 2)
    expected = {k: sum(x for x in range(40) if x % 4 == k) for k in range(4)}
    assert dict(reduced.collect()) == expected
    assert computed.value == 40
    shuffle_dir = os.path.join(local_sc._backend.root, "shuffle")
    for path in glob.glob(os.path.join(shuffle_dir, "*", "1.data")):
        os.remove(path)  # map output 1 of every shuffle is lost
    assert dict(reduced.mapValues(lambda v: v).collect()) == expected
    assert computed.value == 50  # only the lost map partition ran again
    shutil.rmtree(shuffle_dir)
    assert dict(reduced.collect()) == expected
