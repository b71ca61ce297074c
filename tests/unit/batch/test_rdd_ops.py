"""Each RDD operation on local[2] against the same computation in plain Python."""

from __future__ import annotations

import operator
from collections import Counter, defaultdict
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from frameworks.batch import ResultIterable, SparkContext, StorageLevel

FAST = settings(max_examples=12, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])
keys = st.sampled_from(["a", "b", "c", "d", "é", "", "x y"]) | st.integers(-5, 5)
pair_lists = st.lists(st.tuples(keys, st.integers(-100, 100)), max_size=40)
slices = st.integers(1, 5)


def test_lazy_until_action(local_sc: SparkContext) -> None:
    acc = local_sc.accumulator(0)

    def touch(x: int) -> int:
        acc.add(1)
        return x

    rdd = local_sc.parallelize(range(10), 2).map(touch)
    assert acc.value == 0
    assert rdd.count() == 10
    assert acc.value == 10


def test_narrow_transformations(local_sc: SparkContext) -> None:
    data = list(range(20))
    rdd = local_sc.parallelize(data, 3)
    assert rdd.map(lambda x: x * 2).collect() == [x * 2 for x in data]
    assert rdd.flatMap(lambda x: [x] * (x % 3)).collect() == [x for x in data for _ in range(x % 3)]
    assert rdd.filter(lambda x: x % 2).collect() == [x for x in data if x % 2]
    assert rdd.mapPartitions(lambda it: [sum(it)]).collect() == [sum(range(0, 6)), sum(range(6, 13)), sum(range(13, 20))]
    assert rdd.mapPartitionsWithIndex(lambda i, it: [(i, len(list(it)))]).collect() == [(0, 6), (1, 7), (2, 7)]
    assert rdd.glom().collect() == [list(range(0, 6)), list(range(6, 13)), list(range(13, 20))]
    assert rdd.keyBy(lambda x: x % 3).take(2) == [(0, 0), (1, 1)]
    assert rdd.getNumPartitions() == 3
    assert local_sc.range(5).collect() == [0, 1, 2, 3, 4]
    assert local_sc.range(2, 10, 3, numSlices=2).collect() == [2, 5, 8]


def test_pair_narrow_transformations(local_sc: SparkContext) -> None:
    pairs = local_sc.parallelize([("a", 1), ("b", 2)], 2)
    assert pairs.keys().collect() == ["a", "b"]
    assert pairs.values().collect() == [1, 2]
    assert pairs.mapValues(lambda v: v * 10).collect() == [("a", 10), ("b", 20)]
    assert pairs.flatMapValues(lambda v: range(v)).collect() == [("a", 0), ("b", 0), ("b", 1)]


@FAST
@given(data=pair_lists, n=slices, m=slices)
def test_by_key_aggregations_match_python(local_sc: SparkContext, data: list[Any], n: int,
                                          m: int) -> None:
    rdd = local_sc.parallelize(data, n)
    sums: dict[Any, int] = defaultdict(int)
    groups: dict[Any, list[int]] = defaultdict(list)
    for k, v in data:
        sums[k] += v
        groups[k].append(v)
    assert dict(rdd.reduceByKey(operator.add, m).collect()) == sums
    assert dict(rdd.foldByKey(0, operator.add, m).collect()) == sums
    grouped = {k: sorted(vs) for k, vs in rdd.groupByKey(m).collect()}
    assert grouped == {k: sorted(vs) for k, vs in groups.items()}
    agg = rdd.aggregateByKey((0, 0), lambda a, v: (a[0] + v, a[1] + 1),
                             lambda a, b: (a[0] + b[0], a[1] + b[1]), m)
    assert dict(agg.collect()) == {k: (sum(vs), len(vs)) for k, vs in groups.items()}
    comb = rdd.combineByKey(lambda v: [v], lambda c, v: c + [v], lambda a, b: a + b, m)
    assert {k: sorted(v) for k, v in comb.collect()} == {k: sorted(v) for k, v in groups.items()}
    assert dict(rdd.countByKey()) == dict(Counter(k for k, _ in data))


def test_group_by_key_returns_result_iterables(local_sc: SparkContext) -> None:
    out = dict(local_sc.parallelize([("a", 1), ("a", 2), ("b", 3)], 2).groupByKey().collect())
    assert isinstance(out["a"], ResultIterable)
    assert sorted(out["a"]) == [1, 2] and len(out["b"]) == 1


@FAST
@given(data=pair_lists, n=slices, m=slices, ascending=st.booleans())
def test_sort_by_key_matches_sorted(local_sc: SparkContext, data: list[Any], n: int, m: int,
                                    ascending: bool) -> None:
    data = [(str(k), v) for k, v in data]
    got = local_sc.parallelize(data, n).sortByKey(ascending, m).collect()
    assert [k for k, _ in got] == sorted((k for k, _ in data), reverse=not ascending)
    assert sorted(got) == sorted(data)


def test_sort_by(local_sc: SparkContext) -> None:
    data = [5, 3, 9, 1, 7, 2, 8]
    assert local_sc.parallelize(data, 3).sortBy(lambda x: -x).collect() == sorted(data, reverse=True)
    assert local_sc.parallelize(data, 3).sortBy(lambda x: x, numPartitions=1).collect() == sorted(data)


@FAST
@given(left=pair_lists, right=pair_lists, n=slices)
def test_joins_match_python(local_sc: SparkContext, left: list[Any], right: list[Any],
                            n: int) -> None:
    a, b = local_sc.parallelize(left, n), local_sc.parallelize(right, 2)
    rk = defaultdict(list)
    for k, w in right:
        rk[k].append(w)
    lk = defaultdict(list)
    for k, v in left:
        lk[k].append(v)
    inner = sorted(((k, (v, w)) for k, v in left for w in rk.get(k, [])), key=repr)
    assert sorted(a.join(b).collect(), key=repr) == inner
    louter = [(k, (v, w)) for k, v in left for w in (rk.get(k) or [None])]
    assert sorted(a.leftOuterJoin(b).collect(), key=repr) == sorted(louter, key=repr)
    router = [(k, (v, w)) for k, w in right for v in (lk.get(k) or [None])]
    assert sorted(a.rightOuterJoin(b).collect(), key=repr) == sorted(router, key=repr)
    cg = {k: (sorted(x), sorted(y)) for k, (x, y) in a.cogroup(b).collect()}
    assert cg == {k: (sorted(lk.get(k, [])), sorted(rk.get(k, []))) for k in set(lk) | set(rk)}


@FAST
@given(data=st.lists(st.integers(-20, 20), max_size=50), n=slices)
def test_set_like_operations(local_sc: SparkContext, data: list[int], n: int) -> None:
    rdd = local_sc.parallelize(data, n)
    other = local_sc.parallelize([x for x in range(-5, 5)], 2)
    assert sorted(rdd.distinct().collect()) == sorted(set(data))
    assert sorted(rdd.subtract(other).collect()) == sorted(x for x in data if not -5 <= x < 5)
    assert sorted(rdd.intersection(other).collect()) == sorted(set(data) & set(range(-5, 5)))
    assert sorted(rdd.union(other).collect()) == sorted(data + list(range(-5, 5)))
    assert dict(rdd.countByValue()) == dict(Counter(data))


@FAST
@given(data=st.lists(st.integers(-1000, 1000), min_size=1, max_size=60), n=slices)
def test_numeric_actions(local_sc: SparkContext, data: list[int], n: int) -> None:
    rdd = local_sc.parallelize(data, n)
    assert rdd.count() == len(data)
    assert rdd.sum() == sum(data)
    assert rdd.max() == max(data) and rdd.min() == min(data)
    assert rdd.reduce(operator.add) == sum(data)
    assert rdd.fold(0, operator.add) == sum(data)
    assert rdd.aggregate((0, 0), lambda a, x: (a[0] + x, a[1] + 1),
                         lambda a, b: (a[0] + b[0], a[1] + b[1])) == (sum(data), len(data))
    assert rdd.mean() == pytest.approx(sum(data) / len(data))
    stats = rdd.stats()
    assert stats.count() == len(data) and stats.max() == max(data)
    mu = sum(data) / len(data)
    assert stats.variance() == pytest.approx(sum((x - mu) ** 2 for x in data) / len(data))
    assert rdd.take(5) == data[:5]
    assert rdd.first() == data[0]
    assert rdd.takeOrdered(3) == sorted(data)[:3]
    assert rdd.takeOrdered(3, key=lambda x: -x) == sorted(data, reverse=True)[:3]
    assert rdd.top(3) == sorted(data, reverse=True)[:3]
    assert rdd.collect() == data


def test_empty_rdd_actions(local_sc: SparkContext) -> None:
    empty = local_sc.parallelize([], 2)
    assert empty.count() == 0 and empty.collect() == [] and empty.take(3) == []
    assert empty.isEmpty() and empty.sum() == 0
    with pytest.raises(ValueError, match="empty"):
        empty.reduce(operator.add)
    with pytest.raises(ValueError, match="empty"):
        empty.first()


def test_partitioning_operations(local_sc: SparkContext) -> None:
    rdd = local_sc.parallelize(range(100), 10)
    co = rdd.coalesce(3)
    assert co.getNumPartitions() == 3 and co.collect() == list(range(100))
    rep = rdd.repartition(4)
    sizes = rep.glom().map(len).collect()
    assert len(sizes) == 4 and sum(sizes) == 100 and max(sizes) - min(sizes) <= 4
    assert sorted(rep.collect()) == list(range(100))
    pairs = rdd.map(lambda x: (x % 7, x)).partitionBy(3)
    for i, part in enumerate(pairs.glom().collect()):
        assert all(pairs.partitioner(k) == i for k, _ in part)
    assert pairs.partitionBy(3) is pairs
    # reduceByKey on a co-partitioned RDD needs no new shuffle
    reduced = pairs.reduceByKey(operator.add, 3)
    assert reduced.deps[0].rdd.deps[0].rdd is pairs
    assert sorted(pairs.lookup(3)) == [x for x in range(100) if x % 7 == 3]


def test_cartesian_zip_and_indices(local_sc: SparkContext) -> None:
    a = local_sc.parallelize([1, 2, 3], 2)
    b = local_sc.parallelize(["x", "y"], 2)
    assert sorted(a.cartesian(b).collect()) == sorted((x, y) for x in [1, 2, 3] for y in "xy")
    c = local_sc.parallelize([10, 20, 30], 2)
    assert a.zip(c).collect() == [(1, 10), (2, 20), (3, 30)]
    assert local_sc.parallelize("abcde", 3).zipWithIndex().collect() == [
        ("a", 0), ("b", 1), ("c", 2), ("d", 3), ("e", 4)]
    ids = local_sc.parallelize("abcde", 3).zipWithUniqueId().collect()
    assert len({i for _, i in ids}) == 5


def test_sample(local_sc: SparkContext) -> None:
    rdd = local_sc.parallelize(range(1000), 4)
    s1 = rdd.sample(False, 0.1, seed=7).collect()
    assert s1 == rdd.sample(False, 0.1, seed=7).collect()
    assert 40 < len(s1) < 200 and set(s1) <= set(range(1000))
    with_rep = rdd.sample(True, 2.0, seed=3).count()
    assert 1500 < with_rep < 2500


def test_cache_computes_once(local_sc: SparkContext) -> None:
    computed = local_sc.accumulator(0)

    def count_it(x: int) -> int:
        computed.add(1)
        return x * x

    rdd = local_sc.parallelize(range(50), 3).map(count_it).cache()
    assert rdd.is_cached and rdd.getStorageLevel() == StorageLevel.MEMORY_ONLY
    assert rdd.sum() == sum(x * x for x in range(50))
    assert computed.value == 50
    assert rdd.count() == 50 and rdd.map(lambda x: x + 1).sum() == sum(x * x + 1 for x in range(50))
    assert computed.value == 50
    rdd.unpersist()
    assert rdd.count() == 50
    assert computed.value == 100


def test_cached_shuffle_output_reused(local_sc: SparkContext) -> None:
    computed = local_sc.accumulator(0)

    def pair(x: int) -> tuple[int, int]:
        computed.add(1)
        return (x % 3, x)

    reduced = local_sc.parallelize(range(30), 3).map(pair).reduceByKey(operator.add)
    assert dict(reduced.collect()) == {0: 135, 1: 145, 2: 155}
    assert dict(reduced.mapValues(str).collect()) == {0: "135", 1: "145", 2: "155"}
    assert computed.value == 30  # the second job reused the map outputs


def test_broadcast_and_accumulators(local_sc: SparkContext) -> None:
    table = local_sc.broadcast({i: chr(97 + i) for i in range(26)})
    assert local_sc.parallelize(range(5), 2).map(lambda x: table.value[x]).collect() == list("abcde")
    total = local_sc.accumulator(0.0)
    local_sc.parallelize([0.5, 1.5, 2.0], 3).foreach(lambda x: total.add(x))
    assert total.value == 4.0
    seen = local_sc.accumulator(0)
    local_sc.parallelize(range(10), 2).foreachPartition(lambda it: seen.add(sum(1 for _ in it)))
    assert seen.value == 10


def test_records_keep_their_types_through_a_shuffle(local_sc: SparkContext) -> None:
    data = [((1, "a"), [1, 2]), ("k", {"x": (1, 2)}), (None, b"\x00"), (2.5, {1, 2}),
            ("t", (3, [4])), (10**30, "big")]
    got = dict(local_sc.parallelize(data, 3).partitionBy(2).collect())
    assert got == dict(data)
    assert type(got[(1, "a")]) is list and type(got["t"]) is tuple


def test_text_save_and_read_back(local_sc: SparkContext, tmp_path: Any) -> None:
    out = str(tmp_path / "out")
    local_sc.parallelize(["one", "two", 3, b"four"], 2).saveAsTextFile(out)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["_SUCCESS", "part-00000",
                                                                   "part-00001"]
    assert local_sc.textFile(out).collect() == ["one", "two", "3", "four"]
    with pytest.raises(FileExistsError):
        local_sc.parallelize([1]).saveAsTextFile(out)
