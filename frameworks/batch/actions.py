"""Actions, mixed into `RDD`: each runs one or more jobs through
``SparkContext._run_job(rdd, func, partitions)``, where ``func(iterator)`` runs in a task on
each partition and its (picklable) result comes back to the driver."""

from __future__ import annotations

import heapq
import itertools
import math
import operator
import os
import random
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from typing import Any


class StatCounter:
    """Count, mean, variance, min and max in one pass (PySpark's StatCounter)."""

    def __init__(self, values: Any = ()) -> None:
        self.n = 0
        self.mu = 0.0
        self.m2 = 0.0
        self.maxValue = float("-inf")
        self.minValue = float("inf")
        for v in values:
            self.merge(v)

    def merge(self, value: Any) -> StatCounter:
        delta = value - self.mu
        self.n += 1
        self.mu += delta / self.n
        self.m2 += delta * (value - self.mu)
        self.maxValue = max(self.maxValue, value)
        self.minValue = min(self.minValue, value)
        return self

    def mergeStats(self, other: StatCounter) -> StatCounter:
        if other.n == 0:
            return self
        if self.n == 0:
            self.n, self.mu, self.m2 = other.n, other.mu, other.m2
            self.maxValue, self.minValue = other.maxValue, other.minValue
            return self
        delta = other.mu - self.mu
        total = self.n + other.n
        self.mu += delta * other.n / total
        self.m2 += other.m2 + delta * delta * self.n * other.n / total
        self.n = total
        self.maxValue = max(self.maxValue, other.maxValue)
        self.minValue = min(self.minValue, other.minValue)
        return self

    def count(self) -> int:
        return self.n

    def mean(self) -> float:
        return self.mu if self.n else float("nan")

    def sum(self) -> float:
        return self.n * self.mu

    def min(self) -> Any:
        return self.minValue

    def max(self) -> Any:
        return self.maxValue

    def variance(self) -> float:
        return self.m2 / self.n if self.n else float("nan")

    def sampleVariance(self) -> float:
        return self.m2 / (self.n - 1) if self.n > 1 else float("nan")

    def stdev(self) -> float:
        return math.sqrt(self.variance())

    def sampleStdev(self) -> float:
        return math.sqrt(self.sampleVariance())

    def __repr__(self) -> str:
        return (
            f"(count: {self.count()}, mean: {self.mean()}, stdev: {self.stdev()}, "
            f"max: {self.max()}, min: {self.min()})"
        )


_EMPTY = object()


def _reduce_partition(f: Callable[[Any, Any], Any]) -> Callable[[Iterator[Any]], Any]:
    def reduce_it(it: Iterator[Any]) -> Any:
        acc = next(it, _EMPTY)
        if acc is _EMPTY:
            return (False, None)
        for x in it:
            acc = f(acc, x)
        return (True, acc)

    return reduce_it


class ActionsMixin:
    """Methods of `RDD` that run jobs."""

    def collect(self: Any) -> list[Any]:
        parts = self.context._run_job(self, list)
        return list(itertools.chain.from_iterable(parts))

    def count(self: Any) -> int:
        return sum(self.context._run_job(self, _count))

    def foreach(self: Any, f: Callable[[Any], Any]) -> None:
        def run(it: Iterator[Any]) -> None:
            for x in it:
                f(x)

        self.context._run_job(self, run)

    def foreachPartition(self: Any, f: Callable[[Iterator[Any]], Any]) -> None:
        def run(it: Iterator[Any]) -> None:
            f(it)

        self.context._run_job(self, run)

    def reduce(self: Any, f: Callable[[Any, Any], Any]) -> Any:
        vals = [v for ok, v in self.context._run_job(self, _reduce_partition(f)) if ok]
        if not vals:
            raise ValueError("Can not reduce() empty RDD")
        acc = vals[0]
        for v in vals[1:]:
            acc = f(acc, v)
        return acc

    def treeReduce(self: Any, f: Callable[[Any, Any], Any], depth: int = 2) -> Any:
        return self.reduce(f)

    def fold(self: Any, zeroValue: Any, op: Callable[[Any, Any], Any]) -> Any:
        return self.aggregate(zeroValue, op, op)

    def aggregate(
        self: Any,
        zeroValue: Any,
        seqOp: Callable[[Any, Any], Any],
        combOp: Callable[[Any, Any], Any],
    ) -> Any:
        def agg_it(it: Iterator[Any]) -> Any:
            acc = zeroValue
            for x in it:
                acc = seqOp(acc, x)
            return acc

        acc = zeroValue
        for v in self.context._run_job(self, agg_it):
            acc = combOp(acc, v)
        return acc

    def treeAggregate(self: Any, zeroValue: Any, seqOp: Any, combOp: Any, depth: int = 2) -> Any:
        return self.aggregate(zeroValue, seqOp, combOp)

    def sum(self: Any) -> Any:
        return self.fold(0, operator.add)

    def max(self: Any, key: Callable[[Any], Any] | None = None) -> Any:
        if key is None:
            return self.reduce(max)
        return self.reduce(lambda a, b: max(a, b, key=key))

    def min(self: Any, key: Callable[[Any], Any] | None = None) -> Any:
        if key is None:
            return self.reduce(min)
        return self.reduce(lambda a, b: min(a, b, key=key))

    def stats(self: Any) -> StatCounter:
        parts = self.context._run_job(self, StatCounter)
        total = StatCounter()
        for s in parts:
            total.mergeStats(s)
        return total

    def mean(self: Any) -> float:
        return self.stats().mean()

    def variance(self: Any) -> float:
        return self.stats().variance()

    def stdev(self: Any) -> float:
        return self.stats().stdev()

    def sampleStdev(self: Any) -> float:
        return self.stats().sampleStdev()

    def sampleVariance(self: Any) -> float:
        return self.stats().sampleVariance()

    def countByValue(self: Any) -> dict[Any, int]:
        counts: defaultdict[Any, int] = defaultdict(int)
        for c in self.context._run_job(self, Counter):
            for k, v in c.items():
                counts[k] += v
        return counts

    def isEmpty(self: Any) -> bool:
        return self.getNumPartitions() == 0 or len(self.take(1)) == 0

    def take(self: Any, num: int) -> list[Any]:
        """The first `num` records, scanning 1 partition, then up to 4x more each round."""
        items: list[Any] = []
        total = self.getNumPartitions()
        scanned = 0
        while len(items) < num and scanned < total:
            try_parts = 1
            if scanned > 0:
                if not items:
                    try_parts = scanned * 4
                else:
                    try_parts = max(
                        1, min(int(1.5 * num * scanned / len(items)) - scanned, scanned * 4)
                    )
            left = num - len(items)
            parts = list(range(scanned, min(scanned + try_parts, total)))

            def take_up_to(it: Iterator[Any], left: int = left) -> list[Any]:
                return list(itertools.islice(it, left))

            for chunk in self.context._run_job(self, take_up_to, parts):
                items.extend(chunk)
            scanned += len(parts)
        return items[:num]

    def first(self: Any) -> Any:
        rs = self.take(1)
        if rs:
            return rs[0]
        raise ValueError("RDD is empty")

    def takeOrdered(self: Any, num: int, key: Callable[[Any], Any] | None = None) -> list[Any]:
        parts = self.context._run_job(self, lambda it: heapq.nsmallest(num, it, key=key))
        return heapq.nsmallest(num, itertools.chain.from_iterable(parts), key=key)

    def top(self: Any, num: int, key: Callable[[Any], Any] | None = None) -> list[Any]:
        parts = self.context._run_job(self, lambda it: heapq.nlargest(num, it, key=key))
        return heapq.nlargest(num, itertools.chain.from_iterable(parts), key=key)

    def takeSample(
        self: Any, withReplacement: bool, num: int, seed: int | None = None
    ) -> list[Any]:
        data = self.collect()
        rng = random.Random(seed)
        if withReplacement:
            return [rng.choice(data) for _ in range(num)] if data else []
        return rng.sample(data, min(num, len(data)))

    def zipWithIndex(self: Any) -> Any:
        starts = [0]
        if self.getNumPartitions() > 1:
            counts = self.context._run_job(self, _count, list(range(self.getNumPartitions() - 1)))
            for c in counts:
                starts.append(starts[-1] + c)

        def index(split: int, it: Iterator[Any]) -> Iterator[tuple[Any, int]]:
            for i, x in enumerate(it, starts[split]):
                yield (x, i)

        return self.mapPartitionsWithIndex(index)

    def zipWithUniqueId(self: Any) -> Any:
        n = self.getNumPartitions()

        def index(split: int, it: Iterator[Any]) -> Iterator[tuple[Any, int]]:
            for i, x in enumerate(it):
                yield (x, i * n + split)

        return self.mapPartitionsWithIndex(index)

    def saveAsTextFile(self: Any, path: str, compressionCodecClass: str | None = None) -> None:
        """One ``part-NNNNN`` file per partition under the directory `path` (which must not
        exist), then ``_SUCCESS``; each record is written as ``str(x)`` (bytes as they are)."""
        if path.startswith("file://"):
            path = path[len("file://") :]
        if os.path.exists(path):
            raise FileExistsError(f"Output directory {path} already exists")
        os.makedirs(path)

        def write(split: int, it: Iterator[Any]) -> list[int]:
            final = os.path.join(path, f"part-{split:05d}")
            tmp = os.path.join(path, f".part-{split:05d}.tmp")
            with open(tmp, "wb") as f:
                for x in it:
                    f.write(x if isinstance(x, bytes) else str(x).encode("utf-8"))
                    f.write(b"\n")
            os.replace(tmp, final)
            return []

        self.mapPartitionsWithIndex(write).count()
        with open(os.path.join(path, "_SUCCESS"), "wb"):
            pass


def _count(it: Iterator[Any]) -> int:
    n = 0
    for _ in it:
        n += 1
    return n
