"""The DAG scheduler core without any backend: stage cuts at shuffle boundaries, stage reuse,
fetch failures, lost executors and task failures, driven by hand-made task results."""

from __future__ import annotations

import itertools
import pickle
from typing import Any

from frameworks.batch.backend import FetchFailed, Task, TaskResult
from frameworks.batch.context import SparkConf
from frameworks.batch.dag import (
    CancelTasks,
    DAGScheduler,
    JobFailed,
    JobSucceeded,
    SubmitTasks,
)
from frameworks.batch.deps import OneToOneDependency, RangeDependency, ShuffleDependency
from frameworks.batch.listener import JobEnd, JobStart, StageCompleted, StageSubmitted
from frameworks.batch.serde import loads_closure
from frameworks.batch.sources import ParallelCollectionRDD, slice_collection
from frameworks.batch.worker import MapOutput, TaskOutput


class FakeContext:
    """Just what RDD construction needs: ids and settings."""

    def __init__(self) -> None:
        self._ids = itertools.count()
        self._shuffles = itertools.count()
        self.defaultParallelism = 2

    def _new_rdd_id(self) -> int:
        return next(self._ids)

    def _new_shuffle_id(self) -> int:
        return next(self._shuffles)

    def getConf(self) -> SparkConf:
        return SparkConf()

    def parallelize(self, data: list[Any], n: int) -> ParallelCollectionRDD:
        return ParallelCollectionRDD(self, slice_collection(data, n))  # type: ignore[arg-type]


def submitted(actions: list[Any]) -> list[Task]:
    return [t for a in actions if isinstance(a, SubmitTasks) for t in a.tasks]


def ok(task: Task, value: Any, executor: str = "e1", blocks: Any = ()) -> TaskResult:
    out = TaskOutput(value, {}, list(blocks))
    return TaskResult(task, True, pickle.dumps(out), executor_id=executor)


def map_ok(task: Task, executor: str = "e1", n_reduce: int = 2) -> TaskResult:
    return ok(task, MapOutput([10] * n_reduce), executor)


def test_narrow_chain_is_one_stage() -> None:
    ctx = FakeContext()
    rdd = ctx.parallelize(list(range(10)), 3).map(lambda x: x + 1).filter(bool).glom()
    assert all(isinstance(d, OneToOneDependency) for d in rdd.deps)
    dag = DAGScheduler("app")
    job, actions = dag.submit_job(rdd, list, [0, 1, 2], now=0.0)
    tasks = submitted(actions)
    assert {t.partition for t in tasks} == {0, 1, 2}
    assert all(not t.is_shuffle_map for t in tasks)
    assert [a for a in actions if isinstance(a, JobStart)][0].stage_ids == [tasks[0].stage_id]


def test_union_is_narrow_with_range_dependencies() -> None:
    ctx = FakeContext()
    a, b = ctx.parallelize([1, 2], 2), ctx.parallelize([3], 1)
    u = a.union(b)
    assert u.getNumPartitions() == 3
    assert all(isinstance(d, RangeDependency) for d in u.deps)
    dag = DAGScheduler("app")
    _, actions = dag.submit_job(u, list, [0, 1, 2], now=0.0)
    assert len(submitted(actions)) == 3


def test_shuffle_cuts_a_stage_and_the_reduce_stage_waits() -> None:
    ctx = FakeContext()
    pairs = ctx.parallelize([("a", 1), ("b", 2), ("a", 3)], 3)
    reduced = pairs.reduceByKey(lambda x, y: x + y, 2)
    shuffles = [d for r in (reduced, reduced.deps[0].rdd) for d in r.deps
                if isinstance(d, ShuffleDependency)]
    assert len(shuffles) == 1
    dag = DAGScheduler("app")
    job, actions = dag.submit_job(reduced, list, [0, 1], now=0.0)
    map_tasks = submitted(actions)
    assert len(map_tasks) == 3 and all(t.is_shuffle_map for t in map_tasks)
    assert len(dag.waiting) == 1  # the result stage waits for its parent
    actions = []
    for t in map_tasks[:-1]:
        actions += dag.task_ended(map_ok(t), now=1.0)
    assert submitted(actions) == []
    actions = dag.task_ended(map_ok(map_tasks[-1]), now=1.0)
    reduce_tasks = submitted(actions)
    assert [t.partition for t in reduce_tasks] == [0, 1]
    assert not any(t.is_shuffle_map for t in reduce_tasks)
    assert reduce_tasks[0].shuffle_inputs == {0: ["e1", "e1", "e1"]}
    assert reduce_tasks[0].preferred_executors == ("e1",)
    actions = dag.task_ended(ok(reduce_tasks[0], ["x"]), 2.0)
    actions += dag.task_ended(ok(reduce_tasks[1], ["y"]), 2.0)
    done = [a for a in actions if isinstance(a, JobSucceeded)]
    assert done == [JobSucceeded(job, [["x"], ["y"]])]
    assert any(isinstance(a, JobEnd) and a.succeeded for a in actions)


def test_two_shuffles_make_three_stages() -> None:
    ctx = FakeContext()
    rdd = (ctx.parallelize([(1, 1)], 2).reduceByKey(max, 2)
           .map(lambda kv: (kv[1], kv[0])).groupByKey(2))
    dag = DAGScheduler("app")
    _, actions = dag.submit_job(rdd, list, [0, 1], now=0.0)
    start = [a for a in actions if isinstance(a, JobStart)][0]
    assert len(start.stage_ids) == 3
    first = submitted(actions)
    assert len(first) == 2 and all(t.is_shuffle_map for t in first)
    actions = [a for t in first for a in dag.task_ended(map_ok(t), 1.0)]
    second = submitted(actions)
    assert len(second) == 2 and all(t.is_shuffle_map for t in second)
    assert second[0].stage_id != first[0].stage_id


def run_map_stage(dag: DAGScheduler, actions: list[Any], executor: str = "e1") -> list[Any]:
    out: list[Any] = []
    for t in submitted(actions):
        assert t.is_shuffle_map
        out += dag.task_ended(map_ok(t, executor), 1.0)
    return out


def test_finished_shuffle_outputs_are_reused_by_the_next_job() -> None:
    ctx = FakeContext()
    reduced = ctx.parallelize([("a", 1)] * 4, 2).reduceByKey(lambda x, y: x + y, 2)
    dag = DAGScheduler("app")
    _, actions = dag.submit_job(reduced, list, [0, 1], 0.0)
    reduce_tasks = submitted(run_map_stage(dag, actions))
    for t in reduce_tasks:
        dag.task_ended(ok(t, []), 2.0)
    _, actions = dag.submit_job(reduced.map(str), len, [0, 1], 3.0)
    tasks = submitted(actions)
    assert len(tasks) == 2 and not any(t.is_shuffle_map for t in tasks)


def test_fully_cached_rdd_skips_its_parent_shuffle() -> None:
    ctx = FakeContext()
    reduced = ctx.parallelize([("a", 1)] * 4, 2).reduceByKey(lambda x, y: x + y, 2).cache()
    dag = DAGScheduler("app")
    dag.stage_graph.cache_locs = {(reduced.rid, 0): {"e2"}, (reduced.rid, 1): {"e2"}}
    _, actions = dag.submit_job(reduced, list, [0, 1], 0.0)
    tasks = submitted(actions)
    assert len(tasks) == 2 and not any(t.is_shuffle_map for t in tasks)
    assert tasks[0].preferred_executors == ("e2",)


def test_fetch_failure_resubmits_the_lost_map_partition_then_the_reduce_stage() -> None:
    ctx = FakeContext()
    reduced = ctx.parallelize([("a", 1)] * 4, 2).reduceByKey(lambda x, y: x + y, 2)
    dag = DAGScheduler("app")
    job, actions = dag.submit_job(reduced, list, [0, 1], 0.0)
    map_tasks = submitted(actions)
    dag.task_ended(map_ok(map_tasks[0], "e1"), 1.0)
    reduce_tasks = submitted(dag.task_ended(map_ok(map_tasks[1], "e2"), 1.0))
    ff = FetchFailed(0, 1, "e2", "connection refused")
    actions = dag.task_ended(TaskResult(reduce_tasks[0], False, fetch_failed=ff,
                                        error=str(ff), executor_id="e1"), 2.0)
    redo = submitted(actions)
    assert [(t.is_shuffle_map, t.partition) for t in redo] == [(True, 1)]
    assert redo[0].stage_attempt == 1
    assert any(isinstance(a, StageCompleted) and not a.succeeded for a in actions)
    # the other reduce task of the old attempt succeeds meanwhile: its result is kept
    dag.task_ended(ok(reduce_tasks[1], ["b"]), 2.5)
    actions = dag.task_ended(map_ok(redo[0], "e3"), 3.0)
    again = submitted(actions)
    assert [t.partition for t in again] == [0]
    assert again[0].shuffle_inputs == {0: ["e1", "e3"]}
    actions = dag.task_ended(ok(again[0], ["a"]), 4.0)
    assert JobSucceeded(job, [["a"], ["b"]]) in actions


def test_lost_executor_outputs_are_recomputed_by_the_next_job() -> None:
    ctx = FakeContext()
    reduced = ctx.parallelize([("a", 1)] * 4, 2).reduceByKey(lambda x, y: x + y, 2)
    dag = DAGScheduler("app")
    _, actions = dag.submit_job(reduced, list, [0, 1], 0.0)
    map_tasks = submitted(actions)
    dag.task_ended(map_ok(map_tasks[0], "e1"), 1.0)
    for t in submitted(dag.task_ended(map_ok(map_tasks[1], "e2"), 1.0)):
        dag.task_ended(ok(t, []), 2.0)
    dag.executor_lost("e2", 3.0)
    _, actions = dag.submit_job(reduced, list, [0, 1], 4.0)
    redo = submitted(actions)
    assert [(t.is_shuffle_map, t.partition) for t in redo] == [(True, 1)]


def test_task_failure_fails_the_job_with_its_error_and_traceback() -> None:
    ctx = FakeContext()
    rdd = ctx.parallelize([1, 2], 2).map(lambda x: x)
    dag = DAGScheduler("app")
    job, actions = dag.submit_job(rdd, list, [0, 1], 0.0)
    t = submitted(actions)[0]
    actions = dag.task_ended(TaskResult(t, False, error="ValueError: boom",
                                        traceback="Traceback ...\nValueError: boom"), 1.0)
    failed = [a for a in actions if isinstance(a, JobFailed)]
    assert failed == [JobFailed(job, "ValueError: boom", "Traceback ...\nValueError: boom",
                                t.task_id)]
    assert CancelTasks(job) in actions
    assert dag.jobs == {} and not dag.running and not dag.waiting


def test_parallelized_slices_travel_per_task_not_in_the_payload() -> None:
    ctx = FakeContext()
    rdd = ctx.parallelize(list(range(100)), 4).map(lambda x: x)
    dag = DAGScheduler("app")
    _, actions = dag.submit_job(rdd, list, [0, 1, 2, 3], 0.0)
    tasks = submitted(actions)
    assert len({id(t.payload) for t in tasks}) == 1
    assert loads_closure(tasks[2].split) == {(0, 2): list(range(50, 75))}
    kind, payload_rdd, _ = loads_closure(tasks[0].payload)
    assert kind == "result" and payload_rdd.prev._slices is None


def test_stage_events_carry_counts() -> None:
    ctx = FakeContext()
    rdd = ctx.parallelize([("a", 1)] * 4, 3).groupByKey(2)
    dag = DAGScheduler("app")
    _, actions = dag.submit_job(rdd, list, [0, 1], 0.0)
    sub = [a for a in actions if isinstance(a, StageSubmitted)]
    assert len(sub) == 1 and sub[0].num_tasks == 3 and sub[0].is_shuffle_map
