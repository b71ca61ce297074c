"""The resilient distributed dataset: a lazy, partitioned collection defined by its lineage.

An RDD knows its dependencies (`deps`), its partition count, and how to `compute` one
partition in a task from its parents' partitions. Transformations build new RDDs; nothing
runs until an action (see `frameworks.batch.actions`) asks the SparkContext to run a job.
Method names and semantics follow PySpark's ``pyspark.RDD``.

RDDs are pickled into stage payloads: they travel without their SparkContext and without the
data of parallelized collections (each task gets its own slice in ``Task.split``).

An RDD sees its SparkContext only through `RDDContext` (ids, settings, running jobs), so this
module does not import `frameworks.batch.context`: imports run context -> driver -> dag ->
rdd, and sources -> rdd.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Protocol

from frameworks.batch.actions import ActionsMixin
from frameworks.batch.deps import (
    Dependency,
    MappedDependency,
    NarrowDependency,
    OneToOneDependency,
    RangeDependency,
    ShuffleDependency,
)
from frameworks.batch.pairs import PairMixin
from frameworks.batch.partitioner import Partitioner, portable_hash
from frameworks.batch.worker import TaskRuntime


class Settings(Protocol):
    """What an RDD reads of the context's configuration (`SparkConf`)."""

    def contains(self, key: str) -> bool: ...


class RDDContext(Protocol):
    """What RDDs need of their `SparkContext`: new ids when they are built, settings, and
    running jobs (actions). `frameworks.batch.context.SparkContext` implements it; unit tests
    pass a small fake."""

    @property
    def defaultParallelism(self) -> int: ...

    def getConf(self) -> Settings: ...

    def _new_rdd_id(self) -> int: ...

    def _new_shuffle_id(self) -> int: ...

    def _unpersist(self, rdd_id: int) -> None: ...

    def _run_job(
        self, rdd: RDD, func: Callable[[Iterator[Any]], Any], partitions: list[int] | None = None
    ) -> list[Any]: ...

    def runJob(
        self,
        rdd: RDD,
        partitionFunc: Callable[[Iterator[Any]], Iterable[Any]],
        partitions: list[int] | None = None,
        allowLocal: bool = False,
    ) -> list[Any]: ...


class StorageLevel:
    """PySpark's storage levels. Every level keeps encoded blocks on the executor that computed
    them (memory for the cluster, local files for local[N]); the flags are kept for API
    compatibility."""

    def __init__(
        self,
        useDisk: bool,
        useMemory: bool,
        useOffHeap: bool,
        deserialized: bool,
        replication: int = 1,
    ) -> None:
        self.useDisk = useDisk
        self.useMemory = useMemory
        self.useOffHeap = useOffHeap
        self.deserialized = deserialized
        self.replication = replication

    def __repr__(self) -> str:
        return (
            f"StorageLevel({self.useDisk}, {self.useMemory}, {self.useOffHeap}, "
            f"{self.deserialized}, {self.replication})"
        )

    def __eq__(self, other: object) -> bool:
        return isinstance(other, StorageLevel) and repr(self) == repr(other)

    def __hash__(self) -> int:
        return hash(repr(self))


StorageLevel.DISK_ONLY = StorageLevel(True, False, False, False)  # type: ignore[attr-defined]
StorageLevel.MEMORY_ONLY = StorageLevel(False, True, False, False)  # type: ignore[attr-defined]
StorageLevel.MEMORY_AND_DISK = StorageLevel(True, True, False, False)  # type: ignore[attr-defined]
StorageLevel.MEMORY_ONLY_2 = StorageLevel(False, True, False, False, 2)  # type: ignore[attr-defined]
StorageLevel.OFF_HEAP = StorageLevel(True, True, True, False)  # type: ignore[attr-defined]


class RDD(PairMixin, ActionsMixin):
    """Base class. Subclasses set `deps` and implement `compute(p, tc)`."""

    def __init__(
        self,
        ctx: RDDContext,
        deps: list[Dependency[RDD]],
        num_partitions: int,
        partitioner: Partitioner | None = None,
    ) -> None:
        self.ctx: RDDContext | None = ctx
        self.rid = ctx._new_rdd_id()
        self.deps = deps
        self._num_partitions = num_partitions
        self.partitioner = partitioner
        self.storage_level: StorageLevel | None = None
        self._name: str | None = None

    # -- plumbing ---------------------------------------------------------------------------
    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["ctx"] = None
        return state

    def __repr__(self) -> str:
        return f"{self._name or type(self).__name__}[{self.rid}]"

    @property
    def context(self) -> RDDContext:
        assert self.ctx is not None, "RDD used inside a task: nest RDD operations on the driver"
        return self.ctx

    def compute(self, p: int, tc: TaskRuntime) -> Iterator[Any]:
        raise NotImplementedError

    def iterator(self, p: int, tc: TaskRuntime) -> Iterator[Any]:
        """Partition `p`'s records; from the cache when this RDD is persisted. Called in
        tasks by the child RDD (or the stage's root)."""
        if self.storage_level is not None:
            return tc.cached(self, p)
        return self.compute(p, tc)

    def getNumPartitions(self) -> int:
        return self._num_partitions

    def id(self) -> int:
        """This RDD's unique id within its SparkContext."""
        return self.rid

    def name(self) -> str | None:
        return self._name

    def setName(self, name: str) -> RDD:
        self._name = name
        return self

    def toDebugString(self) -> bytes:
        lines: list[str] = []

        def walk(rdd: RDD, depth: int) -> None:
            lines.append("  " * depth + f"({rdd.getNumPartitions()}) {rdd!r}")
            for dep in rdd.deps:
                walk(dep.rdd, depth + (1 if isinstance(dep, ShuffleDependency) else 0))

        walk(self, 0)
        return "\n".join(lines).encode()

    # -- persistence ------------------------------------------------------------------------
    def persist(self, storageLevel: StorageLevel | None = None) -> RDD:
        self.storage_level = storageLevel or StorageLevel.MEMORY_ONLY  # type: ignore[attr-defined]
        return self

    def cache(self) -> RDD:
        return self.persist()

    def unpersist(self, blocking: bool = False) -> RDD:
        self.storage_level = None
        if self.ctx is not None:
            self.ctx._unpersist(self.rid)
        return self

    @property
    def is_cached(self) -> bool:
        return self.storage_level is not None

    def getStorageLevel(self) -> StorageLevel | None:
        return self.storage_level

    # -- narrow transformations -------------------------------------------------------------
    def mapPartitionsWithIndex(
        self, f: Callable[[int, Iterator[Any]], Iterable[Any]], preservesPartitioning: bool = False
    ) -> RDD:
        return MapPartitionsRDD(self, f, preservesPartitioning)

    def mapPartitions(
        self, f: Callable[[Iterator[Any]], Iterable[Any]], preservesPartitioning: bool = False
    ) -> RDD:
        return MapPartitionsRDD(self, lambda _, it: f(it), preservesPartitioning)

    def map(self, f: Callable[[Any], Any], preservesPartitioning: bool = False) -> RDD:
        return MapPartitionsRDD(self, lambda _, it: map(f, it), preservesPartitioning)

    def flatMap(
        self, f: Callable[[Any], Iterable[Any]], preservesPartitioning: bool = False
    ) -> RDD:
        return MapPartitionsRDD(
            self, lambda _, it: itertools.chain.from_iterable(map(f, it)), preservesPartitioning
        )

    def filter(self, f: Callable[[Any], bool]) -> RDD:
        return MapPartitionsRDD(self, lambda _, it: filter(f, it), True)

    def glom(self) -> RDD:
        return MapPartitionsRDD(self, lambda _, it: [list(it)], False)

    def keyBy(self, f: Callable[[Any], Any]) -> RDD:
        return self.map(lambda x: (f(x), x))

    def sample(self, withReplacement: bool, fraction: float, seed: int | None = None) -> RDD:
        if fraction < 0:
            raise ValueError("Fraction must be nonnegative.")
        base = random.randrange(1 << 31) if seed is None else seed

        def sampler(split: int, it: Iterator[Any]) -> Iterator[Any]:
            rng = random.Random(base ^ (split * 0x9E3779B1))
            for x in it:
                if withReplacement:
                    for _ in range(_poisson(rng, fraction)):
                        yield x
                elif rng.random() < fraction:
                    yield x

        return MapPartitionsRDD(self, sampler, True)

    def union(self, other: RDD) -> RDD:
        return UnionRDD(self.context, [self, other])

    def __add__(self, other: RDD) -> RDD:
        return self.union(other)

    def cartesian(self, other: RDD) -> RDD:
        return CartesianRDD(self, other)

    def zip(self, other: RDD) -> RDD:
        if self.getNumPartitions() != other.getNumPartitions():
            raise ValueError("Can only zip RDDs with same number of partitions")
        return ZippedRDD(self, other)

    def coalesce(self, numPartitions: int, shuffle: bool = False) -> RDD:
        if numPartitions < 1:
            raise ValueError(f"Number of partitions ({numPartitions}) must be positive.")
        if shuffle:
            return self.repartition(numPartitions)
        return CoalescedRDD(self, numPartitions)

    def repartition(self, numPartitions: int) -> RDD:
        """Spread records round-robin over `numPartitions` partitions (a shuffle)."""
        n = numPartitions

        def key_round_robin(split: int, it: Iterator[Any]) -> Iterator[tuple[int, Any]]:
            start = random.Random(split).randrange(n)
            for i, x in enumerate(it):
                yield ((start + i) % n, x)

        keyed = MapPartitionsRDD(self, key_round_robin, False)
        return keyed.partitionBy(n, _identity_partition).values()

    def partitionBy(
        self, numPartitions: int | None, partitionFunc: Callable[[Any], int] = portable_hash
    ) -> RDD:
        """Shuffle (key, value) records so that key k lands in partition
        ``partitionFunc(k) % numPartitions``; no shuffle when already partitioned that way."""
        if numPartitions is None:
            numPartitions = self._default_reduce_partitions()
        partitioner = Partitioner(numPartitions, partitionFunc)
        if self.partitioner == partitioner:
            return self
        return ShuffledRDD(self, partitioner)

    def _default_reduce_partitions(self) -> int:
        conf = self.context.getConf()
        if conf.contains("spark.default.parallelism"):
            return self.context.defaultParallelism
        return self.getNumPartitions()


def _identity_partition(k: int) -> int:
    return k


def _poisson(rng: random.Random, mean: float) -> int:
    """Knuth's Poisson sampler (fine for the small means that sampling uses)."""
    if mean <= 0:
        return 0
    if mean > 30:
        return max(0, int(round(rng.gauss(mean, mean**0.5))))
    limit, k, p = pow(2.718281828459045, -mean), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


class MapPartitionsRDD(RDD):
    """``f(split_index, parent_iterator)`` over each partition of one parent."""

    def __init__(
        self, prev: RDD, f: Callable[[int, Iterator[Any]], Iterable[Any]], preserves: bool
    ) -> None:
        super().__init__(
            prev.context,
            [OneToOneDependency(prev)],
            prev.getNumPartitions(),
            prev.partitioner if preserves else None,
        )
        self.prev = prev
        self.f = f

    def compute(self, p: int, tc: TaskRuntime) -> Iterator[Any]:
        return iter(self.f(p, self.prev.iterator(p, tc)))


class UnionRDD(RDD):
    def __init__(self, ctx: RDDContext, rdds: list[RDD]) -> None:
        deps: list[Dependency[RDD]] = []
        self.table: list[tuple[RDD, int]] = []
        for rdd in rdds:
            n = rdd.getNumPartitions()
            deps.append(RangeDependency(rdd, 0, len(self.table), n))
            self.table.extend((rdd, i) for i in range(n))
        super().__init__(ctx, deps, len(self.table))

    def compute(self, p: int, tc: TaskRuntime) -> Iterator[Any]:
        rdd, i = self.table[p]
        return rdd.iterator(i, tc)


class CoalescedRDD(RDD):
    """Merges contiguous runs of parent partitions without a shuffle."""

    def __init__(self, prev: RDD, n: int) -> None:
        total = prev.getNumPartitions()
        n = max(1, min(n, total)) if total else 1
        groups = [list(range(i * total // n, (i + 1) * total // n)) for i in range(n)]
        super().__init__(prev.context, [MappedDependency(prev, groups)], n)
        self.prev = prev
        self.groups = groups

    def compute(self, p: int, tc: TaskRuntime) -> Iterator[Any]:
        return itertools.chain.from_iterable(self.prev.iterator(i, tc) for i in self.groups[p])


class CartesianRDD(RDD):
    def __init__(self, a: RDD, b: RDD) -> None:
        na, nb = a.getNumPartitions(), b.getNumPartitions()
        deps: list[Dependency[RDD]] = [
            MappedDependency(a, [[p // nb] for p in range(na * nb)]),
            MappedDependency(b, [[p % nb] for p in range(na * nb)]),
        ]
        super().__init__(a.context, deps, na * nb)
        self.a, self.b, self.nb = a, b, nb

    def compute(self, p: int, tc: TaskRuntime) -> Iterator[Any]:
        right = list(self.b.iterator(p % self.nb, tc))
        for x in self.a.iterator(p // self.nb, tc):
            for y in right:
                yield (x, y)


class ZippedRDD(RDD):
    def __init__(self, a: RDD, b: RDD) -> None:
        super().__init__(
            a.context, [OneToOneDependency(a), OneToOneDependency(b)], a.getNumPartitions()
        )
        self.a, self.b = a, b

    def compute(self, p: int, tc: TaskRuntime) -> Iterator[Any]:
        left, right = list(self.a.iterator(p, tc)), list(self.b.iterator(p, tc))
        if len(left) != len(right):
            raise ValueError("Can only zip RDDs with same number of elements in each partition")
        return iter(zip(left, right, strict=True))


class ShuffledRDD(RDD):
    """The reduce side of a shuffle of (key, value) records: partition r holds every record
    whose key the partitioner sends to r."""

    def __init__(self, prev: RDD, partitioner: Partitioner) -> None:
        ctx = prev.context
        dep = ShuffleDependency(prev, ctx._new_shuffle_id(), partitioner)
        super().__init__(ctx, [dep], partitioner.num_partitions, partitioner)
        self.dep = dep

    def compute(self, p: int, tc: TaskRuntime) -> Iterator[Any]:
        return tc.fetch(self.dep.shuffle_id, p)


def narrow_parents(rdd: RDD, p: int) -> Iterator[tuple[RDD, int]]:
    """(parent, parent partition) pairs that partition `p` of `rdd` reads in the same task."""
    for dep in rdd.deps:
        if isinstance(dep, NarrowDependency):
            for q in dep.parents(p):
                yield dep.rdd, q
