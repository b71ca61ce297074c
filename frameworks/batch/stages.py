"""Stage building: the lineage graph of a context's RDDs and the stages cut out of it.

The lineage of every RDD a job touches is kept in a networkx graph (nodes: RDD ids; edges:
parent -> child, ``shuffle=True`` at shuffle dependencies). A stage is an RDD plus everything
it reaches through narrow edges; shuffle edges are stage boundaries. Map stages are keyed by
shuffle id and live as long as the context, so finished shuffle outputs (and cached
partitions, tracked per executor in `cache_locs`) are reused by later jobs.

`StageGraph` is owned by the DAG scheduler core (`frameworks.batch.dag.DAGScheduler`), which
calls it on the driver loop while it submits jobs and takes in task results. No I/O, no
clock: it answers questions about the graph (which parent stages are missing, which data a
task reads, where it would read it locally) and records where outputs live.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import networkx as nx

from frameworks.batch.deps import ShuffleDependency
from frameworks.batch.rdd import RDD, narrow_parents
from frameworks.batch.serde import dumps_value
from frameworks.batch.sources import ParallelCollectionRDD

MAX_PREFERENCE_DEPTH = 8  # narrow ancestors searched for a preferred location


@dataclass(eq=False)
class Stage:
    """One stage: `rdd` and its narrow ancestors, computed by one task per partition. A map
    stage (`shuffle_dep` set) writes shuffle output; a result stage runs `func`."""

    id: int
    rdd: RDD
    shuffle_dep: ShuffleDependency[RDD] | None  # set for map stages
    func: Callable[[Iterator[Any]], Any] | None = None  # set for result stages
    job_ids: set[int] = field(default_factory=set)
    attempt: int = -1
    pending: set[int] = field(default_factory=set)
    outputs: list[str | None] = field(default_factory=list)  # map stages: executor per map
    sizes: list[list[int] | None] = field(default_factory=list)
    payload: bytes | None = None
    fetch_failures: int = 0
    reads: dict[int, ShuffleDependency[RDD]] = field(default_factory=dict)  # shuffles it reads
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

    def drop_output(self, m: int) -> None:
        """Map partition `m`'s output is gone (its executor was lost, a fetch failed)."""
        self.outputs[m] = None
        self.sizes[m] = None


class StageGraph:
    """The lineage graph, the stages of one context and where their outputs live."""

    def __init__(self) -> None:
        self.graph: nx.DiGraph = nx.DiGraph()
        self.stages: dict[int, Stage] = {}
        self.shuffle_stages: dict[int, Stage] = {}  # map stages by shuffle id
        self.cache_locs: dict[tuple[int, int], set[str]] = {}  # (rdd id, partition) -> executors
        self._next_stage = 0

    # -- lineage ----------------------------------------------------------------------------
    def add_lineage(self, rdd: RDD) -> None:
        """Add `rdd` and its ancestors to the lineage graph. Nodes hold weak references (a
        live stage holds its RDD, and so its whole chain, strongly)."""
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

    def prune(self) -> None:
        """Drop the nodes of RDDs no one uses any more (the DAG scheduler calls this every
        few jobs)."""
        dead = [n for n, ref in self.graph.nodes(data="rdd") if ref() is None]
        self.graph.remove_nodes_from(dead)

    def _closure(
        self, rdd: RDD, stop_at_cached: bool
    ) -> tuple[list[RDD], list[ShuffleDependency[RDD]]]:
        """The RDDs one task of `rdd`'s stage computes (narrow ancestors) and the shuffle
        dependencies at the stage's edge. With `stop_at_cached`, do not look below RDDs whose
        every partition is cached."""
        seen: set[int] = set()
        rdds: list[RDD] = []
        shuffles: list[ShuffleDependency[RDD]] = []
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

    # -- stages -----------------------------------------------------------------------------
    def result_stage(self, rdd: RDD, func: Callable[[Iterator[Any]], Any]) -> Stage:
        """A new result stage running `func` over partitions of `rdd` (one per job)."""
        self.add_lineage(rdd)
        return self._new_stage(rdd, None, func)

    def map_stage(self, dep: ShuffleDependency[RDD]) -> Stage:
        """The map stage that writes shuffle `dep` (made on first use, then kept)."""
        stage = self.shuffle_stages.get(dep.shuffle_id)
        if stage is None:
            self.add_lineage(dep.rdd)
            stage = self._new_stage(dep.rdd, dep, None)
            stage.outputs = [None] * dep.rdd.getNumPartitions()
            stage.sizes = [None] * dep.rdd.getNumPartitions()
            self.shuffle_stages[dep.shuffle_id] = stage
        return stage

    def _new_stage(
        self,
        rdd: RDD,
        dep: ShuffleDependency[RDD] | None,
        func: Callable[[Iterator[Any]], Any] | None,
    ) -> Stage:
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
            parent = self.map_stage(dep)
            if not parent.available and parent not in out:
                out.append(parent)
        return out

    def parent_stages(self, stage: Stage) -> list[Stage]:
        return [self.map_stage(d) for d in stage.reads.values()]

    def ancestors(self, stage: Stage) -> list[Stage]:
        """Every missing map stage `stage` waits for, directly or not."""
        out: list[Stage] = []
        stack = self.missing_parents(stage)
        while stack:
            s = stack.pop()
            if s not in out:
                out.append(s)
                stack.extend(self.missing_parents(s))
        return out

    def shuffle_inputs(self, stage: Stage) -> dict[int, list[str | None]]:
        """For each shuffle `stage` reads: the executor holding each map output."""
        return {sid: list(self.map_stage(d).outputs) for sid, d in stage.reads.items()}

    # -- what a task reads and where --------------------------------------------------------
    def split(self, stage: Stage, p: int) -> bytes | None:
        """Pickled slices of parallelized collections that partition `p` reads."""
        if not stage.has_parallel:
            return None
        found: dict[tuple[int, int], Any] = {}
        stack: list[tuple[RDD, int]] = [(stage.rdd, p)]
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
        if depth < MAX_PREFERENCE_DEPTH:
            for parent, q in narrow_parents(rdd, p):
                found = self.preferred(parent, q, depth + 1)
                if found:
                    return found
        return []

    # -- where outputs live -----------------------------------------------------------------
    def cached(self, blocks: list[tuple[int, int]], executor: str) -> None:
        """A task on `executor` stored these (rdd id, partition) blocks."""
        for rid, p in blocks:
            self.cache_locs.setdefault((rid, p), set()).add(executor)

    def executor_lost(self, executor_id: str) -> None:
        """Forget the shuffle outputs and cached blocks that lived on `executor_id`."""
        for stage in self.shuffle_stages.values():
            for m, where in enumerate(stage.outputs):
                if where == executor_id:
                    stage.drop_output(m)
        for key in [k for k, v in self.cache_locs.items() if executor_id in v]:
            self.cache_locs[key].discard(executor_id)
            if not self.cache_locs[key]:
                del self.cache_locs[key]

    def unpersist(self, rdd_id: int) -> None:
        for key in [k for k in self.cache_locs if k[0] == rdd_id]:
            del self.cache_locs[key]

    def forget_job(self, job_id: int) -> list[Stage]:
        """Drop `job_id` from every stage; returns the stages no job needs any more. Result
        stages among them are removed (map stages stay registered so their finished outputs
        can be reused)."""
        idle: list[Stage] = []
        for stage in list(self.stages.values()):
            stage.job_ids.discard(job_id)
            if stage.job_ids:
                continue
            idle.append(stage)
            if not stage.is_map:
                del self.stages[stage.id]
        return idle
