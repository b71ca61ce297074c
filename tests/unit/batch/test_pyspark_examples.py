"""Programs in the style of PySpark's own RDD examples (pi, word count, sort), written as a
PySpark user would with only the import changed, checked against plain Python.

One of them runs as a real script in a fresh interpreter: its functions live in ``__main__``
(pickled by value) and it has no ``if __name__ == "__main__"`` guard, as such scripts often do.
"""

from __future__ import annotations

import random
import subprocess
import sys
import textwrap
from collections import Counter
from operator import add
from pathlib import Path

from frameworks.batch import SparkContext  # was: from pyspark import SparkContext

CORPUS = """\
It was the best of times, it was the worst of times,
it was the age of wisdom, it was the age of foolishness,
it was the epoch of belief, it was the epoch of incredulity,

it was the season of Light, it was the season of Darkness
"""


def test_pi_estimation(local_sc: SparkContext) -> None:
    sc = local_sc
    partitions = 4
    n = 20000 * partitions

    def f(_: int) -> int:
        x = random.random() * 2 - 1
        y = random.random() * 2 - 1
        return 1 if x**2 + y**2 <= 1 else 0

    count = sc.parallelize(range(1, n + 1), partitions).map(f).reduce(add)
    pi = 4.0 * count / n
    assert 3.05 < pi < 3.23
    assert sc.parallelize(range(1, n + 1), partitions).map(lambda _: 1).reduce(add) == n


def test_word_count(local_sc: SparkContext, tmp_path: Path) -> None:
    path = tmp_path / "corpus.txt"
    path.write_text(CORPUS)
    sc = local_sc
    lines = sc.textFile(str(path), 1)
    counts = lines.flatMap(lambda x: x.split(" ")).map(lambda x: (x, 1)).reduceByKey(add)
    output = counts.collect()
    assert dict(output) == Counter(w for line in CORPUS.splitlines() for w in line.split(" "))
    assert sum(c for _, c in output) == sum(len(line.split(" ")) for line in CORPUS.splitlines())


def test_sort(local_sc: SparkContext, tmp_path: Path) -> None:
    rng = random.Random(5)
    numbers = [rng.randint(-10**6, 10**6) for _ in range(3000)]
    path = tmp_path / "numbers.txt"
    path.write_text("\n".join(str(x) for x in numbers) + "\n")
    sc = local_sc
    lines = sc.textFile(str(path), 4)
    sorted_count = lines.flatMap(lambda x: x.split(" ")).map(lambda x: (int(x), 1)).sortByKey()
    output = sorted_count.collect()
    assert [num for num, _ in output] == sorted(numbers)


def test_transitive_closure_style_join_loop(local_sc: SparkContext) -> None:
    edges = [(1, 2), (2, 3), (3, 4), (4, 1), (2, 5)]
    tc = local_sc.parallelize(edges, 2).cache()
    reversed_edges = tc.map(lambda x_y: (x_y[1], x_y[0]))
    old_count, next_count = 0, tc.count()
    while next_count != old_count:
        old_count = next_count
        new_edges = tc.join(reversed_edges).map(lambda __a_b: (__a_b[1][1], __a_b[1][0]))
        tc = tc.union(new_edges).distinct().cache()
        next_count = tc.count()
    closure = set(edges)
    while True:
        extra = {(a, d) for a, b in closure for c, d in closure if b == c} - closure
        if not extra:
            break
        closure |= extra
    assert set(tc.collect()) == closure


def test_example_script_runs_as_main(tmp_path: Path) -> None:
    script = tmp_path / "wordcount.py"
    data = tmp_path / "in.txt"
    data.write_text(CORPUS)
    script.write_text(textwrap.dedent("""
        import sys
        from operator import add
        from frameworks.batch import SparkContext

        def split_words(line):
            return line.split()

        sc = SparkContext("local[2]", "PythonWordCount")
        counts = (sc.textFile(sys.argv[1]).flatMap(split_words)
                  .map(lambda w: (w.lower(), 1)).reduceByKey(add))
        for word, count in sorted(counts.collect()):
            print("%s: %i" % (word, count))
        sc.stop()
    """))
    root = Path(__file__).resolve().parents[3]
    out = subprocess.run([sys.executable, str(script), str(data)], capture_output=True,
                         text=True, timeout=60, cwd=root, env={"PYTHONPATH": str(root)})
    assert out.returncode == 0, out.stderr
    expected = Counter(w.lower() for w in CORPUS.split())
    assert out.stdout.splitlines() == [f"{w}: {c}" for w, c in sorted(expected.items())]
