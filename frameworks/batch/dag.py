"""The DAG scheduler: a sans-IO core that turns jobs into stages and stages into tasks.

The lineage of every RDD a job touches is kept in a networkx graph (nodes: RDD ids; edges:
parent -> child, ``shuffle=True`` at shuffle dependencies). A stage is an RDD plus everything
it reaches through narrow edges; shuffle edges are stage boundaries. Map stages are keyed by
shuffle id and live as long as the context, so finished shuffle outputs (and cached
partitions, tracked per executor) are reused by later jobs.

The driver (`frameworks.batch.driver`) feeds events in -- `submit_job`, `task_ended`,
`executor_lost`, `cancel_job` -- on its loop and carries out the returned actions:
`SubmitTasks`, `CancelTasks`, `JobSucceeded`, `JobFailed` and listener events.
"""

from __future__ import annotations

import pickle
import traceback
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import networkx as nx

from frameworks.batch.backend import Task, TaskResult
from frameworks.batch.deps import ShuffleDependency
from frameworks.batch.listener import (
    Event,
    JobEnd,
    JobStart,
    StageCompleted,
    StageSubmitted,
    TaskEnd,
)
from frameworks.batch.rdd import RDD, narrow_parents
from frameworks.batch.serde import dumps_closure, dumps_value
from frameworks.batch.sources import ParallelCollectionRDD
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
class Stage:
    id: int
    rdd: RDD
    shuffle_dep: ShuffleDependency | None  # set for map stages
    func: Callable[[Iterator[Any]], Any] | None = None  # set for result stages
    job_ids: set[int] = field(default_factory=set)
    attempt: int = -1
    pending: set[int] = field(default_factory=set)
    outputs: list[str | None] = field(default_factory=list)  # map stages: executor per map
    sizes: list[list[int] | None] = field(default_factory=list)
    payload: bytes | None = None
    fetch_failures: int = 0
    reads: dict[int, ShuffleDependency] = field(default_factory=dict)  # shuffles it reads
    has_parallel: bool = False

    @property
    def num_partitions(self) -> int:
        return self.rdd.getNumPartitions()

    @property
    def is_map(self) -> bool:
        return self.shuffle_dep is not None

    @property
    def available(self) -> bool:
        return all(o is not None for o in self.outputs)

    @property
    def name(self) -> str:
        kind = "shuffle map" if self.is_map else "result"
        return f"{kind} stage {self.id} ({self.rdd!r})"


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
        self.graph: nx.DiGraph = nx.DiGraph()
        self.stages: dict[int, Stage] = {}
        self.shuffle_stages: dict[int, Stage] = {}
        self.jobs: dict[int, Job] = {}
        self.waiting: set[Stage] = set()
        self.running: set[Stage] = set()
        self.cache_locs: dict[tuple[int, int], set[str]] = {}
        self.lost_executors: set[str] = set()
        self._next_stage = 0
        self._next_job = 0

    # -- lineage ----------------------------------------------------------------------------
    def add_lineage(self, rdd: RDD) -> None:
        """Add `rdd` and its ancestors to the lineage graph. Nodes hold weak references, and
        nodes of RDDs that no one uses any more are dropped every `PRUNE_EVERY` jobs (a live
        stage holds its RDD, and so its whole chain, strongly)."""
        if self._next_job % PRUNE_EVERY == 0:
            dead = [n for n, ref in self.graph.nodes(data="rdd") if ref() is None]
            self.graph.remove_nodes_from(dead)
        stack = [rdd]
        while stack:
            r = stack.pop()
            if r.rid in self.graph and self.graph.nodes[r.rid].get("complete"):
                continue
            self.graph.add_node(r.rid, rdd=weakref.ref(r), complete=True)
            for dep in r.deps:
                shuffle = isinstance(dep, ShuffleDependency)
                self.graph.add_edge(dep.rdd.rid, r.rid, shuffle=shuffle, dep=dep)
                stack.append(dep.rdd)

    def _closure(self, rdd: RDD, stop_at_cached: bool) -> tuple[list[RDD], list[ShuffleDependency]]:
        """The RDDs one task of `rdd`'s stage computes (narrow ancestors) and the shuffle
        dependencies at the stage's edge. With `stop_at_cached`, do not look below RDDs whose
        every partition is cached."""
        seen: set[int] = set()
        rdds: list[RDD] = []
        shuffles: list[ShuffleDependency] = []
        stack = [rdd.rid]
        while stack:
            rid = stack.pop()
            if rid in seen:
                continue
            seen.add(rid)
            node = self.graph.nodes[rid]["rdd"]()
            assert node is not None, "an RDD of a live stage was collected"
            rdds.append(node)
            if stop_at_cached and self._fully_cached(node):
                continue
            for parent in self.graph.predecessors(rid):
                edge = self.graph.edges[parent, rid]
                if edge["shuffle"]:
                    shuffles.append(edge["dep"])
                else:
                    stack.append(parent)
        return rdds, shuffles

    def _fully_cached(self, rdd: RDD) -> bool:
        return rdd.storage_level is not None and all(
            self.cache_locs.get((rdd.rid, p)) for p in range(rdd.getNumPartitions())
        )

    def _map_stage(self, dep: ShuffleDependency) -> Stage:
        stage = self.shuffle_stages.get(dep.shuffle_id)
        if stage is None:
            self.add_lineage(dep.rdd)
            stage = self._new_stage(dep.rdd, dep, None)
            stage.outputs = [None] * dep.rdd.getNumPartitions()
            stage.sizes = [None] * dep.rdd.getNumPartitions()
            self.shuffle_stages[dep.shuffle_id] = stage
        return stage

    def _new_stage(self, rdd: RDD, dep: ShuffleDependency | None, func: Any) -> Stage:
        stage = Stage(self._next_stage, rdd, dep, func)
        self._next_stage += 1
        rdds, shuffles = self._closure(rdd, stop_at_cached=False)
        stage.reads = {d.shuffle_id: d for d in shuffles}
        stage.has_parallel = any(isinstance(r, ParallelCollectionRDD) for r in rdds)
        self.stages[stage.id] = stage
        return stage

    def missing_parents(self, stage: Stage) -> list[Stage]:
        """Map stages whose outputs `stage` needs and that are not all available."""
        _, shuffles = self._closure(stage.rdd, stop_at_cached=True)
        out: list[Stage] = []
        for dep in shuffles:
            parent = self._map_stage(dep)
            if not parent.available and parent not in out:
                out.append(parent)
        return out

    def parent_stages(self, stage: Stage) -> list[Stage]:
        return [self._map_stage(d) for d in stage.reads.values()]

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
        actions: list[Action] = []
        self.add_lineage(rdd)
        stage = self._new_stage(rdd, None, func)
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
        stage_ids = [stage.id] + [s.id for s in self._ancestors(stage)]
        actions.append(JobStart(job_id, stage_ids, len(partitions), now, description))
        if not partitions:
            self._finish_job(job, now, actions)
            return job_id, actions
        self._submit_stage(stage, job_id, now, actions)
        return job_id, actions

    def _ancestors(self, stage: Stage) -> list[Stage]:
        out: list[Stage] = []
        stack = self.missing_parents(stage)
        while stack:
            s = stack.pop()
            if s not in out:
                out.append(s)
                stack.extend(self.missing_parents(s))
        return out

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
        stage = self.stages.get(task.stage_id)
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
        for stage in self.shuffle_stages.values():
            for m, where in enumerate(stage.outputs):
                if where == executor_id:
                    stage.outputs[m] = None
                    stage.sizes[m] = None
        for key in [k for k, v in self.cache_locs.items() if executor_id in v]:
            self.cache_locs[key].discard(executor_id)
            if not self.cache_locs[key]:
                del self.cache_locs[key]
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
        for key in [k for k in self.cache_locs if k[0] == rdd_id]:
            del self.cache_locs[key]

    # -- stage submission -------------------------------------------------------------------
    def _submit_stage(self, stage: Stage, job_id: int, now: float, actions: list[Action]) -> None:
        stage.job_ids.add(job_id)
        if stage in self.running or stage in self.waiting:
            return
        missing = self.missing_parents(stage)
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
        if stage.payload is None:
            try:
                kind = (
                    ("map", stage.rdd, stage.shuffle_dep)
                    if stage.is_map
                    else ("result", stage.rdd, stage.func)
                )
                stage.payload = dumps_closure(kind)
            except Exception as e:  # noqa: BLE001 -- unpicklable closures fail the job
                self._fail_stage(
                    stage,
                    f"{type(e).__name__}: could not serialize the stage: {e}",
                    traceback.format_exc(),
                    "",
                    now,
                    actions,
                )
                return
        stage.attempt += 1
        stage.pending = set(parts)
        self.running.add(stage)
        inputs = {sid: list(self._map_stage(d).outputs) for sid, d in stage.reads.items()}
        job_id = min(stage.job_ids)
        key = f"{self.app_id}-{stage.id}"
        tasks = [
            Task(
                job_id,
                stage.id,
                stage.attempt,
                p,
                stage.payload,
                key,
                is_shuffle_map=stage.is_map,
                split=self._split(stage, p),
                shuffle_inputs=inputs,
                preferred_executors=tuple(self.preferred(stage.rdd, p)),
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
                [s.id for s in self.parent_stages(stage)],
                now,
            )
        )
        actions.append(SubmitTasks(tasks))

    def _split(self, stage: Stage, p: int) -> bytes | None:
        """Pickled slices of parallelized collections that partition `p` reads."""
        if not stage.has_parallel:
            return None
        found: dict[tuple[int, int], Any] = {}
        stack = [(stage.rdd, p)]
        while stack:
            rdd, q = stack.pop()
            if isinstance(rdd, ParallelCollectionRDD):
                found[(rdd.rid, q)] = rdd.split_for(q)
            stack.extend(narrow_parents(rdd, q))
        return dumps_value(found) if found else None

    def preferred(self, rdd: RDD, p: int, depth: int = 0) -> list[str]:
        """Executors where partition `p` of `rdd` would read its input locally: where it is
        cached, or executors holding at least 20% of its shuffle input bytes."""
        if rdd.storage_level is not None:
            locs = self.cache_locs.get((rdd.rid, p))
            if locs:
                return sorted(locs)
        for dep in rdd.deps:
            if isinstance(dep, ShuffleDependency):
                stage = self.shuffle_stages.get(dep.shuffle_id)
                if stage is None:
                    continue
                per_exec: dict[str, int] = {}
                for where, sizes in zip(stage.outputs, stage.sizes, strict=True):
                    if where is not None and sizes is not None and p < len(sizes):
                        per_exec[where] = per_exec.get(where, 0) + sizes[p]
                total = sum(per_exec.values())
                if total:
                    best = sorted(per_exec.items(), key=lambda kv: -kv[1])
                    return [e for e, b in best if b >= 0.2 * total]
        if depth < 8:
            for parent, q in narrow_parents(rdd, p):
                found = self.preferred(parent, q, depth + 1)
                if found:
                    return found
        return []

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
        for rid_p in output.blocks:
            if executor not in self.lost_executors:
                self.cache_locs.setdefault(tuple(rid_p), set()).add(executor)  # type: ignore[arg-type]
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

    def _stage_done(self, stage: Stage, now: float, actions: list[Action]) -> None:
        """A map stage has all its outputs: start the waiting stages that can run now."""
        actions.append(StageCompleted(stage.id, stage.attempt, True, now))
        self._resume_waiting(now, actions)

    def _resume_waiting(self, now: float, actions: list[Action]) -> None:
        for waiting in sorted(self.waiting, key=lambda s: s.id):
            if waiting not in self.waiting:
                continue
            missing = self.missing_parents(waiting)
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
            parent = self._map_stage(dep)
            if 0 <= ff.map_partition < len(parent.outputs):
                where = parent.outputs[ff.map_partition]
                if ff.executor_id is None or where == ff.executor_id:
                    parent.outputs[ff.map_partition] = None
                    parent.sizes[ff.map_partition] = None
            if ff.executor_id is not None:
                for m, where in enumerate(parent.outputs):
                    if where == ff.executor_id:
                        parent.outputs[m] = None
                        parent.sizes[m] = None
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
        for stage in list(self.stages.values()):
            stage.job_ids.discard(job_id)
            if stage.job_ids:
                continue
            self.running.discard(stage)
            self.waiting.discard(stage)
            if not stage.is_map:
                del self.stages[stage.id]
