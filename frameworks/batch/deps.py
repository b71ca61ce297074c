"""Dependencies between RDDs: narrow (a child partition reads a few known parent partitions,
in the same task) and shuffle (a child partition reads a slice of every parent partition: a
stage boundary). The DAG scheduler cuts the lineage graph at `ShuffleDependency` edges.

A dependency is generic in the dataset type it points to (`RDD` uses ``Dependency[RDD]``), so
this module needs nothing of `frameworks.batch.rdd`: it sees a parent only through
`Partitioned`. Imports run one way: rdd -> deps."""

from __future__ import annotations

from typing import Any, Generic, Protocol, TypeVar

from frameworks.batch.partitioner import Partitioner


class Partitioned(Protocol):
    """What a dependency needs of its parent dataset."""

    def getNumPartitions(self) -> int: ...


R = TypeVar("R", bound=Partitioned)


class Dependency(Generic[R]):
    __slots__ = ("rdd",)

    def __init__(self, rdd: R) -> None:
        self.rdd = rdd


class NarrowDependency(Dependency[R]):
    """`parents(p)`: the parent partitions that child partition `p` reads."""

    __slots__ = ()

    def parents(self, p: int) -> list[int]:
        raise NotImplementedError


class OneToOneDependency(NarrowDependency[R]):
    __slots__ = ()

    def parents(self, p: int) -> list[int]:
        return [p]


class RangeDependency(NarrowDependency[R]):
    """Child partitions [out_start, out_start + length) read parent partitions from in_start
    (union)."""

    __slots__ = ("in_start", "out_start", "length")

    def __init__(self, rdd: R, in_start: int, out_start: int, length: int) -> None:
        super().__init__(rdd)
        self.in_start, self.out_start, self.length = in_start, out_start, length

    def parents(self, p: int) -> list[int]:
        if self.out_start <= p < self.out_start + self.length:
            return [p - self.out_start + self.in_start]
        return []


class MappedDependency(NarrowDependency[R]):
    """An explicit child -> parent partitions table (coalesce, cartesian, zip)."""

    __slots__ = ("table",)

    def __init__(self, rdd: R, table: list[list[int]]) -> None:
        super().__init__(rdd)
        self.table = table

    def parents(self, p: int) -> list[int]:
        return self.table[p]


class ShuffleDependency(Dependency[R]):
    """The child reads, for its partition r, bucket r of every map partition of `rdd`, where
    a (key, value) record goes to bucket ``partitioner(key)``. Pickled without its parent RDD
    (the map side is another stage): only the id and the partitioner travel."""

    __slots__ = ("shuffle_id", "partitioner", "num_maps")

    def __init__(self, rdd: R, shuffle_id: int, partitioner: Partitioner) -> None:
        super().__init__(rdd)
        self.shuffle_id = shuffle_id
        self.partitioner = partitioner
        self.num_maps = rdd.getNumPartitions()

    def __getstate__(self) -> tuple[Any, ...]:
        return (self.shuffle_id, self.partitioner, self.num_maps)

    def __setstate__(self, state: tuple[Any, ...]) -> None:
        self.rdd = None  # type: ignore[assignment]
        self.shuffle_id, self.partitioner, self.num_maps = state
