"""Transformations of (key, value) RDDs, mixed into `RDD` (PySpark's pair functions).

Every wide operation is built, as in PySpark, from three pieces: a map-side
``mapPartitions`` (combine locally), one ``partitionBy`` (the shuffle) and a reduce-side
``mapPartitions`` that keeps the partitioner (so a following keyed operation with the same
partitioner does not shuffle again).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from frameworks.batch.partitioner import RangeBounds, portable_hash, range_bounds


class ResultIterable:
    """The values of one key after groupByKey / cogroup (PySpark's ResultIterable)."""

    __slots__ = ("data", "maxindex")

    def __init__(self, data: list[Any]) -> None:
        self.data = data
        self.maxindex = len(data)

    def __iter__(self) -> Iterator[Any]:
        return iter(self.data)

    def __len__(self) -> int:
        return len(self.data)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, ResultIterable):
            return self.data == other.data
        return NotImplemented

    def __repr__(self) -> str:
        return f"ResultIterable({self.data!r})"

    def __getstate__(self) -> list[Any]:
        return self.data

    def __setstate__(self, data: list[Any]) -> None:
        self.data = data
        self.maxindex = len(data)


def _combine_locally(
    create: Callable[[Any], Any], merge_value: Callable[[Any, Any], Any]
) -> Callable[[Iterator[Any]], Iterable[Any]]:
    def combine(it: Iterator[Any]) -> Iterable[Any]:
        combiners: dict[Any, Any] = {}
        get = combiners.get
        missing = object()
        for k, v in it:
            c = get(k, missing)
            combiners[k] = create(v) if c is missing else merge_value(c, v)
        return combiners.items()

    return combine


def _identity(c: Any) -> Any:
    return c


def _merge_combiners(merge: Callable[[Any, Any], Any]) -> Callable[[Iterator[Any]], Iterable[Any]]:
    return _combine_locally(_identity, merge)


class PairMixin:
    """Methods of `RDD` that work on (key, value) records."""

    def keys(self: Any) -> Any:
        return self.map(lambda kv: kv[0])

    def values(self: Any) -> Any:
        return self.map(lambda kv: kv[1])

    def mapValues(self: Any, f: Callable[[Any], Any]) -> Any:
        return self.map(lambda kv: (kv[0], f(kv[1])), preservesPartitioning=True)

    def flatMapValues(self: Any, f: Callable[[Any], Iterable[Any]]) -> Any:
        return self.flatMap(lambda kv: ((kv[0], x) for x in f(kv[1])), preservesPartitioning=True)

    def combineByKey(
        self: Any,
        createCombiner: Callable[[Any], Any],
        mergeValue: Callable[[Any, Any], Any],
        mergeCombiners: Callable[[Any, Any], Any],
        numPartitions: int | None = None,
        partitionFunc: Callable[[Any], int] = portable_hash,
    ) -> Any:
        if numPartitions is None:
            numPartitions = self._default_reduce_partitions()
        local = self.mapPartitions(_combine_locally(createCombiner, mergeValue), True)
        shuffled = local.partitionBy(numPartitions, partitionFunc)
        return shuffled.mapPartitions(_merge_combiners(mergeCombiners), True)

    def reduceByKey(
        self: Any,
        func: Callable[[Any, Any], Any],
        numPartitions: int | None = None,
        partitionFunc: Callable[[Any], int] = portable_hash,
    ) -> Any:
        return self.combineByKey(lambda x: x, func, func, numPartitions, partitionFunc)

    def reduceByKeyLocally(self: Any, func: Callable[[Any, Any], Any]) -> dict[Any, Any]:
        return dict(self.reduceByKey(func).collect())

    def foldByKey(
        self: Any,
        zeroValue: Any,
        func: Callable[[Any, Any], Any],
        numPartitions: int | None = None,
        partitionFunc: Callable[[Any], int] = portable_hash,
    ) -> Any:
        return self.combineByKey(
            lambda v: func(copy.deepcopy(zeroValue), v), func, func, numPartitions, partitionFunc
        )

    def aggregateByKey(
        self: Any,
        zeroValue: Any,
        seqFunc: Callable[[Any, Any], Any],
        combFunc: Callable[[Any, Any], Any],
        numPartitions: int | None = None,
        partitionFunc: Callable[[Any], int] = portable_hash,
    ) -> Any:
        return self.combineByKey(
            lambda v: seqFunc(copy.deepcopy(zeroValue), v),
            seqFunc,
            combFunc,
            numPartitions,
            partitionFunc,
        )

    def groupByKey(
        self: Any,
        numPartitions: int | None = None,
        partitionFunc: Callable[[Any], int] = portable_hash,
    ) -> Any:
        def create(v: Any) -> list[Any]:
            return [v]

        def append(c: list[Any], v: Any) -> list[Any]:
            c.append(v)
            return c

        def extend(a: list[Any], b: list[Any]) -> list[Any]:
            a.extend(b)
            return a

        grouped = self.combineByKey(create, append, extend, numPartitions, partitionFunc)
        return grouped.mapValues(ResultIterable)

    def countByKey(self: Any) -> Any:
        return self.map(lambda kv: kv[0]).countByValue()

    def collectAsMap(self: Any) -> dict[Any, Any]:
        return dict(self.collect())

    def sortByKey(
        self: Any,
        ascending: bool = True,
        numPartitions: int | None = None,
        keyfunc: Callable[[Any], Any] = lambda x: x,
    ) -> Any:
        """Sort by key: sample the keys to pick range bounds, shuffle by range, sort each
        partition (PySpark's algorithm: runs a count and a sample job first)."""
        if numPartitions is None:
            numPartitions = self._default_reduce_partitions()

        def sort_partition(it: Iterator[Any]) -> list[Any]:
            return sorted(it, key=lambda kv: keyfunc(kv[0]), reverse=not ascending)

        if numPartitions == 1:
            if self.getNumPartitions() > 1:
                self = self.coalesce(1)
            return self.mapPartitions(sort_partition, True)
        size = self.count()
        if not size:
            return self
        fraction = min(numPartitions * 20.0 / size, 1.0)
        samples = self.sample(False, fraction, 1).map(lambda kv: keyfunc(kv[0])).collect()
        bounds = range_bounds(samples, numPartitions)
        func = RangeBounds(bounds, ascending, keyfunc, numPartitions)
        return self.partitionBy(numPartitions, func).mapPartitions(sort_partition, True)

    def sortBy(
        self: Any,
        keyfunc: Callable[[Any], Any],
        ascending: bool = True,
        numPartitions: int | None = None,
    ) -> Any:
        return self.keyBy(keyfunc).sortByKey(ascending, numPartitions).values()

    # -- joins ------------------------------------------------------------------------------
    def cogroup(self: Any, other: Any, numPartitions: int | None = None) -> Any:
        return self.groupWith(other, numPartitions=numPartitions)

    def groupWith(self: Any, other: Any, *others: Any, numPartitions: int | None = None) -> Any:
        rdds = [self, other, *others]
        n = len(rdds)
        tagged = [
            rdd.map(lambda kv, i=i: (kv[0], (i, kv[1])), preservesPartitioning=True)
            for i, rdd in enumerate(rdds)
        ]
        union = tagged[0]
        for t in tagged[1:]:
            union = union.union(t)
        if numPartitions is None:
            numPartitions = max(rdd._default_reduce_partitions() for rdd in rdds)

        def dispatch(values: Iterable[tuple[int, Any]]) -> tuple[ResultIterable, ...]:
            bufs: list[list[Any]] = [[] for _ in range(n)]
            for i, v in values:
                bufs[i].append(v)
            return tuple(ResultIterable(b) for b in bufs)

        return union.groupByKey(numPartitions).mapValues(dispatch)

    def join(self: Any, other: Any, numPartitions: int | None = None) -> Any:
        return self.cogroup(other, numPartitions).flatMapValues(
            lambda vw: [(v, w) for v in vw[0] for w in vw[1]]
        )

    def leftOuterJoin(self: Any, other: Any, numPartitions: int | None = None) -> Any:
        return self.cogroup(other, numPartitions).flatMapValues(
            lambda vw: [(v, w) for v in vw[0] for w in (vw[1].data or [None])]
        )

    def rightOuterJoin(self: Any, other: Any, numPartitions: int | None = None) -> Any:
        return self.cogroup(other, numPartitions).flatMapValues(
            lambda vw: [(v, w) for v in (vw[0].data or [None]) for w in vw[1]]
        )

    def fullOuterJoin(self: Any, other: Any, numPartitions: int | None = None) -> Any:
        return self.cogroup(other, numPartitions).flatMapValues(
            lambda vw: [(v, w) for v in (vw[0].data or [None]) for w in (vw[1].data or [None])]
        )

    def subtractByKey(self: Any, other: Any, numPartitions: int | None = None) -> Any:
        return (
            self.cogroup(other, numPartitions)
            .filter(lambda kv: len(kv[1][0]) > 0 and len(kv[1][1]) == 0)
            .flatMapValues(lambda vw: vw[0])
        )

    def subtract(self: Any, other: Any, numPartitions: int | None = None) -> Any:
        rdd = other.map(lambda x: (x, True))
        return self.map(lambda x: (x, True)).subtractByKey(rdd, numPartitions).keys()

    def intersection(self: Any, other: Any) -> Any:
        return (
            self.map(lambda v: (v, None))
            .cogroup(other.map(lambda v: (v, None)))
            .filter(lambda kv: len(kv[1][0]) > 0 and len(kv[1][1]) > 0)
            .keys()
        )

    def distinct(self: Any, numPartitions: int | None = None) -> Any:
        return (
            self.map(lambda x: (x, None))
            .reduceByKey(lambda a, _: a, numPartitions)
            .map(lambda kv: kv[0])
        )

    def lookup(self: Any, key: Any) -> list[Any]:
        values = self.filter(lambda kv: kv[0] == key).values()
        if self.partitioner is not None:
            p = self.partitioner(key)
            return self.context.runJob(values, lambda it: it, [p])
        return values.collect()
