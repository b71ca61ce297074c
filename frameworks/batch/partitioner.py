"""Partitioning of keys: `portable_hash` (hash partitioner) and range bounds (sortByKey).

`portable_hash` follows PySpark's shape (None -> 0, tuples combined element-wise) but hashes
str and bytes with CRC-32, so the same key lands in the same partition in every process
whatever its PYTHONHASHSEED (PySpark needs PYTHONHASHSEED set on every worker for that).
"""

from __future__ import annotations

import bisect
import zlib
from collections.abc import Callable, Sequence
from typing import Any


def portable_hash(x: Any) -> int:
    """A hash of `x` that is the same in every Python process. Called by map tasks for every
    key they partition (through `Partitioner.__call__`) and by `lookup` on the driver."""
    t = type(x)
    if t is str:
        return zlib.crc32(x.encode("utf-8", "surrogatepass"))
    if t is int or t is bool or t is float:
        return hash(x)
    if x is None:
        return 0
    if t is bytes:
        return zlib.crc32(x)
    if isinstance(x, tuple):
        h = 0x345678
        for item in x:
            h ^= portable_hash(item)
            h *= 1000003
            h &= 0xFFFFFFFFFFFFFFFF
        h ^= len(x)
        if h == -1:
            h = -2
        return int(h)
    if isinstance(x, str):
        return zlib.crc32(str(x).encode("utf-8", "surrogatepass"))
    return hash(x)


class Partitioner:
    """Maps a key to a partition: ``partition_func(key) % num_partitions`` (PySpark's
    semantics). Two partitioners are equal when they would place every key the same way, which
    lets partitionBy / reduceByKey / join skip a shuffle of already partitioned data."""

    __slots__ = ("num_partitions", "partition_func")

    def __init__(self, num_partitions: int, partition_func: Callable[[Any], int]) -> None:
        self.num_partitions = num_partitions
        self.partition_func = partition_func

    def __call__(self, key: Any) -> int:
        return self.partition_func(key) % self.num_partitions

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Partitioner)
            and self.num_partitions == other.num_partitions
            and self.partition_func == other.partition_func
        )

    def __hash__(self) -> int:
        return hash((self.num_partitions, id(self.partition_func)))

    def __getstate__(self) -> tuple[int, Callable[[Any], int]]:
        return (self.num_partitions, self.partition_func)

    def __setstate__(self, state: tuple[int, Callable[[Any], int]]) -> None:
        self.num_partitions, self.partition_func = state


class RangeBounds:
    """The partition function of sortByKey: the index of the first bound >= key (or its mirror
    for a descending sort). Built on the driver from a sample of keys (`range_bounds`)."""

    __slots__ = ("bounds", "ascending", "keyfunc", "num_partitions")

    def __init__(
        self,
        bounds: Sequence[Any],
        ascending: bool,
        keyfunc: Callable[[Any], Any],
        num_partitions: int,
    ) -> None:
        self.bounds = list(bounds)
        self.ascending = ascending
        self.keyfunc = keyfunc
        self.num_partitions = num_partitions

    def __call__(self, key: Any) -> int:
        p = bisect.bisect_left(self.bounds, self.keyfunc(key))
        return p if self.ascending else self.num_partitions - 1 - p

    def __getstate__(self) -> tuple[Any, ...]:
        return (self.bounds, self.ascending, self.keyfunc, self.num_partitions)

    def __setstate__(self, state: tuple[Any, ...]) -> None:
        self.bounds, self.ascending, self.keyfunc, self.num_partitions = state


def range_bounds(samples: list[Any], num_partitions: int) -> list[Any]:
    """`num_partitions - 1` split points that cut the sorted samples into equal parts."""
    samples = sorted(samples)
    if not samples or num_partitions <= 1:
        return []
    return [
        samples[int(len(samples) * (i + 1) / num_partitions)]
        for i in range(num_partitions - 1)
        if int(len(samples) * (i + 1) / num_partitions) < len(samples)
    ]
