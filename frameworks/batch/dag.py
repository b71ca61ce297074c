"""The DAG scheduler: a sans-IO core that runs jobs -- submits their stages' tasks in
dependency order, takes in task results, resubmits lost shuffle outputs, fails jobs.

How a job's lineage is cut into stages, and where a task's input lives, is
`frameworks.batch.stages.StageGraph` (stage building); this module is job submission.

The driver (`frameworks.batch.driver`) feeds events in -- `submit_job`, `task_ended`,
`executor_lost`, `cancel_job` -- on its loop and carries out the returned actions:
`SubmitTasks`, `CancelTasks`, `JobSucceeded`, `JobFailed` and listener events.
"""

from __future__ import annotations

import pickle
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from frameworks.batch.backend import Task, TaskResult
from frameworks.batch.listener import (
    Event,
    JobEnd,
    JobStart,
    StageCompleted,
    StageSubmitted,
    TaskEnd,
)
from frameworks.batch.rdd import RDD
from frameworks.batch.serde import dumps_closure
from frameworks.batch.stages import Stage, StageGraph
from frameworks.batch.worker import MapOutput, TaskOutput

PRUNE_EVERY = 64  # jobs between sweeps of dead RDDs out of the lineage graph
MAX_STAGE_ATTEMPTS = 4  # consecutive fetch-failure resubmissions before a job is failed


@dataclass(slots=True)
class SubmitTasks:
    tasks: list[Task]


@dataclass(slots=True)
class CancelTasks:
    job_id: int


@dataclass(slots=True)
class JobSucceeded:
    job_id: int
    results: list[Any]


@dataclass(slots=True)
class JobFailed:
    job_id: int
    error: str
    traceback: str
    task_id: str = ""


Action = SubmitTasks | CancelTasks | JobSucceeded | JobFailed | Event


@dataclass(eq=False)
class Job:
    id: int
    stage: Stage
    partitions: list[int]
    results: list[Any]
    done: list[bool]
    index: dict[int, int]
    num_done: int = 0


class DAGScheduler:
    """See the module docstring. `app_id` prefixes payload keys; `accumulators` is the
    context's registry (id -> Accumulator) that successful tasks' updates are merged into."""

    def __init__(self, app_id: str, accumulators: dict[int, Any] | None = None) -> None:
        self.app_id = app_id
        self.accumulators = accumulators if accumulators is not None else {}
        self.stage_graph = StageGraph()
        self.jobs: dict[int, Job] = {}
        self.waiting: set[Stage] = set()
        self.running: set[Stage] = set()
        self.lost_executors: set[str] = set()
        self._next_job = 0

    # -- events in --------------------------------------------------------------------------
    def submit_job(
        self,
        rdd: RDD,
        func: Callable[[Iterator[Any]], Any],
        partitions: list[int],
        now: float,
        description: str = "",
    ) -> tuple[int, list[Action]]:
        """A new job: run `func` over `partitions` of `rdd`. Returns its id and the actions."""
        job_id = self._next_job
        self._next_job += 1
        if self._next_job % PRUNE_EVERY == 0:
            self.stage_graph.prune()
        actions: list[Action] = []
        stage = self.stage_graph.result_stage(rdd, func)
        job = Job(
            job_id,
            stage,
            list(partitions),
            [None] * len(partitions),
            [False] * len(partitions),
            {p: i for i, p in enumerate(partitions)},
        )
        self.jobs[job_id] = job
        stage.job_ids.add(job_id)
        stage_ids = [stage.id] + [s.id for s in self.stage_graph.ancestors(stage)]
        actions.append(JobStart(job_id, stage_ids, len(partitions), now, description))
        if not partitions:
            self._finish_job(job, now, actions)
            return job_id, actions
        self._submit_stage(stage, job_id, now, actions)
        return job_id, actions

    def task_ended(self, result: TaskResult, now: float) -> list[Action]:
        """A task finished (from the backend, after its retries)."""
        actions: list[Action] = []
        task = result.task
        actions.append(
            TaskEnd(
                task.stage_id,
                task.stage_attempt,
                task.job_id,
                task.partition,
                task.task_id,
                result.ok,
                result.duration,
                result.executor_id,
                now,
                result.error,
                result.fetch_failed is not None,
            )
        )
        stage = self.stage_graph.stages.get(task.stage_id)
        if stage is None:
            return actions
        if result.ok:
            try:
                output: TaskOutput = pickle.loads(result.value or b"")
            except Exception as e:  # noqa: BLE001 -- a result the driver cannot read fails the job
                self._fail_stage(
                    stage,
                    f"{type(e).__name__}: could not read task result: {e}",
                    traceback.format_exc(),
                    task.task_id,
                    now,
                    actions,
                )
                return actions
            self._task_succeeded(stage, result, output, now, actions)
        elif result.fetch_failed is not None:
            self._fetch_failed(stage, result, now, actions)
        else:
            self._fail_stage(stage, result.error, result.traceback, task.task_id, now, actions)
        return actions

    def executor_lost(self, executor_id: str, now: float) -> list[Action]:
        """An executor is gone with its shuffle outputs and cached blocks."""
        self.lost_executors.add(executor_id)
        self.stage_graph.executor_lost(executor_id)
        return []

    def executor_added(self, executor_id: str) -> None:
        self.lost_executors.discard(executor_id)

    def cancel_job(self, job_id: int, now: float, reason: str = "Job cancelled") -> list[Action]:
        actions: list[Action] = []
        job = self.jobs.get(job_id)
        if job is not None:
            self._end_job_failed(job, reason, "", "", now, actions)
        return actions

    def unpersist(self, rdd_id: int) -> None:
        """The user unpersisted an RDD: its cached blocks no longer count as input."""
        self.stage_graph.unpersist(rdd_id)

    # -- stage submission -------------------------------------------------------------------
    def _submit_stage(self, stage: Stage, job_id: int, now: float, actions: list[Action]) -> None:
        stage.job_ids.add(job_id)
        if stage in self.running or stage in self.waiting:
            return
        missing = self.stage_graph.missing_parents(stage)
        if not missing:
            self._submit_tasks(stage, now, actions)
            return
        for parent in missing:
            self._submit_stage(parent, job_id, now, actions)
        self.waiting.add(stage)

    def _submit_tasks(self, stage: Stage, now: float, actions: list[Action]) -> None:
        if stage.is_map:
            parts = [m for m, o in enumerate(stage.outputs) if o is None]
        else:
            job = self.jobs[next(iter(stage.job_ids))]
            parts = [p for p, done in zip(job.partitions, job.done, strict=True) if not done]
        if not parts:
            self._stage_done(stage, now, actions)
            return
        payload = stage.payload or self._serialize(stage, now, actions)
        if payload is None:
            return
        stage.attempt += 1
        stage.pending = set(parts)
        self.running.add(stage)
        graph = self.stage_graph
        inputs = graph.shuffle_inputs(stage)
        job_id = min(stage.job_ids)
        key = f"{self.app_id}-{stage.id}"
        tasks = [
            Task(
                job_id,
                stage.id,
                stage.attempt,
                p,
                payload,
                key,
                is_shuffle_map=stage.is_map,
                split=graph.split(stage, p),
                shuffle_inputs=inputs,
                preferred_executors=tuple(graph.preferred(stage.rdd, p)),
            )
            for p in parts
        ]
        actions.append(
            StageSubmitted(
                stage.id,
                stage.attempt,
                stage.name,
                len(tasks),
                stage.num_partitions,
                stage.is_map,
                sorted(stage.job_ids),
                [s.id for s in graph.parent_stages(stage)],
                now,
            )
        )
        actions.append(SubmitTasks(tasks))

    # -- results ----------------------------------------------------------------------------
    def _task_succeeded(
        self,
        stage: Stage,
        result: TaskResult,
        output: TaskOutput,
        now: float,
        actions: list[Action],
    ) -> None:
        task, executor = result.task, result.executor_id
        p = task.partition
        if output.blocks and executor not in self.lost_executors:
            self.stage_graph.cached(output.blocks, executor)
        if stage.is_map:
            new = stage.outputs[p] is None
            if executor not in self.lost_executors:
                assert isinstance(output.value, MapOutput)
                stage.outputs[p] = executor
                stage.sizes[p] = output.value.sizes
            if new:
                self._merge_accumulators(output)
            stage.pending.discard(p)
            if stage in self.running and not stage.pending:
                self.running.discard(stage)
                if stage.available:
                    self._stage_done(stage, now, actions)
                else:
                    self._submit_tasks(stage, now, actions)
            return
        job = self.jobs.get(task.job_id)
        if job is None or job.stage is not stage or p not in job.index:
            return
        i = job.index[p]
        stage.pending.discard(p)
        if job.done[i]:
            return
        self._merge_accumulators(output)
        job.done[i] = True
        job.results[i] = output.value
        job.num_done += 1
        if job.num_done == len(job.partitions):
            self.running.discard(stage)
            actions.append(StageCompleted(stage.id, stage.attempt, True, now))
            self._finish_job(job, now, actions)

    def _merge_accumulators(self, output: TaskOutput) -> None:
        for aid, update in output.accumulators.items():
            acc = self.accumulators.get(aid)
            if acc is not None:
                acc.merge_update(update)

    def _serialize(self, stage: Stage, now: float, actions: list[Action]) -> bytes | None:
        """Pickle the stage's RDD chain and function once (its tasks' payload); an
        unpicklable closure fails the stage's jobs (None)."""
        kind = (
            ("map", stage.rdd, stage.shuffle_dep)
            if stage.is_map
            else ("result", stage.rdd, stage.func)
        )
        try:
            stage.payload = dumps_closure(kind)
        except Exception as e:  # noqa: BLE001 -- unpicklable closures fail the job
            error = f"{type(e).__name__}: could not serialize the stage: {e}"
            self._fail_stage(stage, error, traceback.format_exc(), "", now, actions)
            return None
        return stage.payload

    def _stage_done(self, stage: Stage, now: float, actions: list[Action]) -> None:
        """A map stage has all its outputs: start the waiting stages that can run now."""
        actions.append(StageCompleted(stage.id, stage.attempt, True, now))
        self._resume_waiting(now, actions)

    def _resume_waiting(self, now: float, actions: list[Action]) -> None:
        for waiting in sorted(self.waiting, key=lambda s: s.id):
            if waiting not in self.waiting:
                continue
            missing = self.stage_graph.missing_parents(waiting)
            if not missing:
                self.waiting.discard(waiting)
                self._submit_tasks(waiting, now, actions)
                continue
            for parent in missing:
                if parent not in self.running and parent not in self.waiting:
                    for jid in waiting.job_ids:
                        self._submit_stage(parent, jid, now, actions)

    def _finish_job(self, job: Job, now: float, actions: list[Action]) -> None:
        del self.jobs[job.id]
        self._forget_job(job.id)
        actions.append(JobSucceeded(job.id, job.results))
        actions.append(JobEnd(job.id, True, now))

    def _fetch_failed(
        self, stage: Stage, result: TaskResult, now: float, actions: list[Action]
    ) -> None:
        ff = result.fetch_failed
        assert ff is not None
        dep = stage.reads.get(ff.shuffle_id)
        if dep is not None:
            parent = self.stage_graph.map_stage(dep)
            if 0 <= ff.map_partition < len(parent.outputs):
                where = parent.outputs[ff.map_partition]
                if ff.executor_id is None or where == ff.executor_id:
                    parent.drop_output(ff.map_partition)
            if ff.executor_id is not None:
                for m, where in enumerate(parent.outputs):
                    if where == ff.executor_id:
                        parent.drop_output(m)
        if stage in self.running and result.task.stage_attempt == stage.attempt:
            self.running.discard(stage)
            stage.pending.clear()
            stage.fetch_failures += 1
            actions.append(StageCompleted(stage.id, stage.attempt, False, now, str(ff)))
            if stage.fetch_failures > MAX_STAGE_ATTEMPTS:
                self._fail_stage(
                    stage,
                    f"FetchFailed: {ff} (stage {stage.id} failed {stage.fetch_failures} times)",
                    "",
                    result.task.task_id,
                    now,
                    actions,
                )
                return
            for jid in sorted(stage.job_ids):
                self._submit_stage(stage, jid, now, actions)
        self._resume_waiting(now, actions)

    def _fail_stage(
        self, stage: Stage, error: str, tb: str, task_id: str, now: float, actions: list[Action]
    ) -> None:
        """A task failed for good: fail every job that needs `stage`."""
        self.running.discard(stage)
        self.waiting.discard(stage)
        actions.append(StageCompleted(stage.id, max(stage.attempt, 0), False, now, error))
        for jid in sorted(stage.job_ids):
            job = self.jobs.get(jid)
            if job is not None:
                self._end_job_failed(job, error, tb, task_id, now, actions)

    def _end_job_failed(
        self, job: Job, error: str, tb: str, task_id: str, now: float, actions: list[Action]
    ) -> None:
        del self.jobs[job.id]
        self._forget_job(job.id)
        actions.append(CancelTasks(job.id))
        actions.append(JobFailed(job.id, error, tb, task_id))
        actions.append(JobEnd(job.id, False, now, error))

    def _forget_job(self, job_id: int) -> None:
        """Drop the job from its stages; stages no job needs stop running (map stages stay
        registered so their finished outputs can be reused)."""
        for stage in self.stage_graph.forget_job(job_id):
            self.running.discard(stage)
            self.waiting.discard(stage)
