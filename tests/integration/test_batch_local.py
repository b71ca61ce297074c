"""End to end on local[2]: word count over a generated multi-file corpus, join, sortByKey,
saveAsTextFile, and two threads running jobs on one context at the same time."""

from __future__ import annotations

import random
import threading
from collections import Counter
from collections.abc import Iterator
from operator import add
from pathlib import Path

import pytest

from frameworks.batch import SparkContext

pytestmark = pytest.mark.integration

WORDS = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "ιώτα", "kappa"]


@pytest.fixture(scope="module")
def sc() -> Iterator[SparkContext]:
    context = SparkContext("local[2]", "batch-local-integration")
    yield context
    context.stop()


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Counter[str]]:
    root = tmp_path_factory.mktemp("corpus")
    rng = random.Random(1)
    counts: Counter[str] = Counter()
    for f in range(4):
        lines = []
        for _ in range(3000):
            words = [rng.choice(WORDS) for _ in range(rng.randint(0, 12))]
            counts.update(words)
            lines.append(" ".join(words))
        (root / f"part-{f}.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return root, counts


def test_word_count_over_a_directory(sc: SparkContext, corpus: tuple[Path, Counter[str]],
                                     tmp_path: Path) -> None:
    root, expected = corpus
    counts = (sc.textFile(str(root), 8).flatMap(str.split).map(lambda w: (w, 1))
              .reduceByKey(add, 3))
    assert dict(counts.collect()) == expected
    top = counts.sortBy(lambda wc: (-wc[1], wc[0])).take(3)
    assert top == sorted(expected.items(), key=lambda wc: (-wc[1], wc[0]))[:3]
    out = tmp_path / "counts"
    counts.map(lambda wc: f"{wc[0]}\t{wc[1]}").saveAsTextFile(str(out))
    back = dict(line.split("\t") for line in sc.textFile(str(out)).collect())
    assert {w: int(c) for w, c in back.items()} == expected


def test_join_and_sort(sc: SparkContext) -> None:
    rng = random.Random(2)
    users = [(i, f"user{i}") for i in range(500)]
    orders = [(rng.randrange(600), rng.randint(1, 100)) for _ in range(3000)]
    joined = sc.parallelize(orders, 6).join(sc.parallelize(users, 3))
    totals = joined.map(lambda kv: (kv[1][1], kv[1][0])).reduceByKey(add).sortByKey(False, 4)
    names = dict(users)
    expected: Counter[str] = Counter()
    for uid, amount in orders:
        if uid in names:
            expected[names[uid]] += amount
    assert totals.collect() == sorted(expected.items(), reverse=True)


def test_concurrent_jobs_on_one_context(sc: SparkContext) -> None:
    results: dict[int, int] = {}
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            rdd = sc.parallelize(range(2000), 7).map(lambda x, i=i: (x % 13, x * i))
            results[i] = sum(v for _, v in rdd.reduceByKey(add).collect())
        except BaseException as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(1, 5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    assert results == {i: i * sum(range(2000)) for i in range(1, 5)}
