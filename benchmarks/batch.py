"""Batch benchmark: the batch framework on a real local cluster vs dask, ray and pyspark.

Ours runs on a real cluster started here: a master and two agents as separate processes
(``python -m dcos.master`` / ``python -m dcos.agent``, via dcos.testing.ProcessCluster), and a
driver in this process (``SparkContext("mesos://...")``) with 2 executors of 1 core each (one
per agent, started by the agents as Mesos tasks). Peers run in the same run on the same
machine, one at a time (each is shut down before the next starts):

1. no-op tasks on 2 workers, tasks/s: ours ``sc.parallelize(range(N), N).map(noop).count()``
   (one job of N tasks) vs ``distributed.LocalCluster(n_workers=2, threads_per_worker=1)``
   with ``client.map`` + ``gather``, vs ray (``num_cpus=2``) with ``f.remote`` + ``ray.get``.
   Goal: ahead of both.
2. sequential single-task jobs, round trip: ours ``sc.parallelize([i], 1).map(noop)
   .collect()`` vs ``client.submit(noop, i).result()`` vs ``ray.get(f.remote(i))``.
   Goal: under 5 ms.
3. word count over a generated text corpus (200 MB, 8 files): ours
   (``textFile.flatMap(split).map((w, 1)).reduceByKey(add).collect()``) vs pyspark's RDD API
   on ``local[2]`` (same code) vs ``dask.bag`` (``read_text.str.split().flatten()
   .frequencies()``) on the same LocalCluster. Results are checked equal. Goal: ahead of both.

Peers come from the ``bench`` extra (``pip install -e '.[bench]'``, which ``make bench``
runs); a peer that cannot be imported or started is reported as such and skipped.

Usage: .venv/bin/python benchmarks/batch.py [--quick] [--tasks N] [--jobs N] [--mb N]
"""

from __future__ import annotations

import argparse
import gc
import logging
import operator
import os
import random
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import _common  # noqa: F401  (puts the repository on sys.path)

FILES = 8


def noop(x: Any) -> None:
    return None


def split_words(line: str) -> list[str]:
    return line.split()


def pair_one(w: str) -> tuple[str, int]:
    return (w, 1)


# -- corpus ---------------------------------------------------------------------------------


def make_corpus(root: Path, megabytes: int, seed: int = 7) -> tuple[Path, int]:
    """`megabytes` of text in FILES files (Zipf-ish words from a 20,000-word vocabulary);
    returns the directory and the number of words."""
    rng = random.Random(seed)
    vocab = ["".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(2, 10)))
             for _ in range(20000)]
    weights = [1.0 / (i + 1) for i in range(len(vocab))]
    block_words = rng.choices(vocab, weights, k=200_000)
    lines = [" ".join(block_words[i:i + 12]) for i in range(0, len(block_words), 12)]
    block = ("\n".join(lines) + "\n").encode()
    words_per_block = len(block_words)
    d = root / "corpus"
    d.mkdir()
    per_file = megabytes * 1024 * 1024 // FILES
    total_words = 0
    for f in range(FILES):
        with open(d / f"part-{f:02d}.txt", "wb") as out:
            written = 0
            while written < per_file:
                out.write(block)
                written += len(block)
                total_words += words_per_block
    return d, total_words


# -- ours -------------------------------------------------------------------------------------


def bench_ours(args: argparse.Namespace, corpus: Path, work: Path) -> dict[str, Any]:
    from dcos.testing import ProcessCluster
    from frameworks.batch.context import SparkConf, SparkContext

    cluster = ProcessCluster(work / "cluster", agents=2,
                             agent_resources="cpus:2;mem:4096;disk:4096",
                             master_flags=["--allocation-interval", "0.2"]).start()
    out: dict[str, Any] = {}
    try:
        conf = (SparkConf().set("spark.executor.instances", 2).set("spark.executor.cores", 1)
                .set("spark.executor.memory", "1g"))
        sc = SparkContext(f"mesos://{cluster.master}", "bench", conf=conf)
        deadline = time.monotonic() + 30
        while len(sc._backend.conns) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        try:
            sc.parallelize(range(200), 200).map(noop).count()  # warm up
            t0 = time.perf_counter()
            n = sc.parallelize(range(args.tasks), args.tasks).map(noop).count()
            assert n == args.tasks
            out["tasks_per_s"] = args.tasks / (time.perf_counter() - t0)
            lat = []
            for i in range(args.jobs):
                t0 = time.perf_counter()
                sc.parallelize([i], 1).map(noop).collect()
                lat.append(time.perf_counter() - t0)
            out["job_rt"] = lat
            t0 = time.perf_counter()
            counts = (sc.textFile(str(corpus), FILES).flatMap(split_words).map(pair_one)
                      .reduceByKey(operator.add, 2 * FILES).collect())
            out["wc_s"] = time.perf_counter() - t0
            out["wc"] = dict(counts)
        finally:
            sc.stop()
    finally:
        cluster.stop()
    return out


# -- dask -------------------------------------------------------------------------------------


def bench_dask(args: argparse.Namespace, corpus: Path) -> dict[str, Any]:
    import dask.bag as db
    from distributed import Client, LocalCluster

    for name in ("distributed", "distributed.scheduler", "distributed.nanny", "distributed.core",
                 "distributed.http.proxy", "distributed.worker"):
        logging.getLogger(name).setLevel(logging.ERROR)

    out: dict[str, Any] = {}
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None, silence_logs=logging.ERROR) as cluster, \
            Client(cluster) as client:
        client.gather(client.map(noop, range(200), pure=False))
        t0 = time.perf_counter()
        client.gather(client.map(noop, range(args.tasks), pure=False))
        out["tasks_per_s"] = args.tasks / (time.perf_counter() - t0)
        lat = []
        for i in range(args.jobs):
            t0 = time.perf_counter()
            client.submit(noop, i, pure=False).result()
            lat.append(time.perf_counter() - t0)
        out["job_rt"] = lat
        t0 = time.perf_counter()
        bag = db.read_text(str(corpus / "*.txt"), blocksize=None)
        freqs = bag.str.split().flatten().frequencies().compute()
        out["wc_s"] = time.perf_counter() - t0
        out["wc"] = dict(freqs)
    return out


# -- ray --------------------------------------------------------------------------------------


def bench_ray(args: argparse.Namespace) -> dict[str, Any]:
    import ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             logging_level=logging.ERROR)
    out: dict[str, Any] = {}
    try:
        f = ray.remote(noop)
        ray.get([f.remote(i) for i in range(200)])
        t0 = time.perf_counter()
        ray.get([f.remote(i) for i in range(args.tasks)])
        out["tasks_per_s"] = args.tasks / (time.perf_counter() - t0)
        lat = []
        for i in range(args.jobs):
            t0 = time.perf_counter()
            ray.get(f.remote(i))
            lat.append(time.perf_counter() - t0)
        out["job_rt"] = lat
    finally:
        ray.shutdown()
    return out


# -- pyspark ----------------------------------------------------------------------------------


def bench_pyspark(corpus: Path) -> dict[str, Any]:
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    from pyspark import SparkConf as PSConf
    from pyspark import SparkContext as PSContext

    conf = (PSConf().setMaster("local[2]").setAppName("bench").set("spark.ui.enabled", "false")
            .set("spark.ui.showConsoleProgress", "false"))
    sc = PSContext(conf=conf)
    sc.setLogLevel("ERROR")
    try:
        sc.parallelize(range(10), 2).count()  # warm up the JVM and Python workers
        t0 = time.perf_counter()
        counts = (sc.textFile(str(corpus), FILES).flatMap(split_words).map(pair_one)
                  .reduceByKey(operator.add, 2 * FILES).collect())
        return {"wc_s": time.perf_counter() - t0, "wc": dict(counts)}
    finally:
        sc.stop()


# -- report -----------------------------------------------------------------------------------


def run_peer(name: str, fn: Callable[[], dict[str, Any]]) -> dict[str, Any] | None:
    try:
        result = fn()
    except ImportError as exc:
        print(f"  {name}: not installed ({exc}); install the bench extra: "
              f"pip install -e '.[bench]'")
        return None
    except Exception as exc:  # noqa: BLE001 - a broken peer must not stop the benchmark
        print(f"  {name}: failed: {type(exc).__name__}: {exc}")
        return None
    gc.collect()
    return result


def median(xs: list[float]) -> float:
    s = sorted(xs)
    return s[len(s) // 2] if s else float("nan")


def report(ours: dict[str, Any], peers: dict[str, dict[str, Any] | None], words: int) -> None:
    print("\n1. no-op tasks on 2 workers (tasks/s, higher is better)")
    print(f"  ours (real cluster, 2 executors): {ours['tasks_per_s']:9.0f}")
    for name in ("dask", "ray"):
        p = peers.get(name)
        if p and "tasks_per_s" in p:
            print(f"  {name:32s}: {p['tasks_per_s']:9.0f}   ours/{name} = "
                  f"{ours['tasks_per_s'] / p['tasks_per_s']:.2f}x")
    print("\n2. sequential single-task jobs (round trip, median / p99; goal < 5 ms)")
    p50, p99 = _common.percentiles(ours["job_rt"])
    print(f"  ours (real cluster)             : {p50 * 1000:7.2f} ms / {p99 * 1000:7.2f} ms")
    for name in ("dask", "ray"):
        p = peers.get(name)
        if p and "job_rt" in p:
            q50, q99 = _common.percentiles(p["job_rt"])
            print(f"  {name:32s}: {q50 * 1000:7.2f} ms / {q99 * 1000:7.2f} ms   "
                  f"{name}/ours = {q50 / p50:.2f}x")
    print(f"\n3. word count, {words:,} words (seconds, lower is better)")
    print(f"  ours (real cluster, 2 executors): {ours['wc_s']:7.2f} s")
    for name in ("pyspark", "dask"):
        p = peers.get(name)
        if p and "wc_s" in p:
            same = "same counts" if p["wc"] == ours["wc"] else "COUNTS DIFFER"
            print(f"  {name + (' local[2]' if name == 'pyspark' else '.bag'):32s}: "
                  f"{p['wc_s']:7.2f} s   {name}/ours = {p['wc_s'] / ours['wc_s']:.2f}x ({same})")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="2,000 tasks, 200 jobs, 20 MB")
    ap.add_argument("--tasks", type=int, default=None)
    ap.add_argument("--jobs", type=int, default=None)
    ap.add_argument("--mb", type=int, default=None)
    ap.add_argument("--skip", default="", help="comma-separated peers to skip")
    args = ap.parse_args(argv)
    args.tasks = args.tasks or (2000 if args.quick else 20000)
    args.jobs = args.jobs or (200 if args.quick else 1000)
    mb = args.mb or (20 if args.quick else 200)
    skip = set(filter(None, args.skip.split(",")))
    logging.basicConfig(level=logging.ERROR)
    work = Path(tempfile.mkdtemp(prefix="dcos-bench-batch-"))
    try:
        t0 = time.perf_counter()
        corpus, words = make_corpus(work, mb)
        print(f"corpus: {mb} MB in {FILES} files, {words:,} words "
              f"(generated in {time.perf_counter() - t0:.1f} s); {args.tasks} tasks, "
              f"{args.jobs} sequential jobs; {os.cpu_count()} cpus")
        print("  ours: master + 2 agents as processes, driver here, 2 executors x 1 core")
        ours = bench_ours(args, corpus, work)
        peers: dict[str, dict[str, Any] | None] = {}
        if "dask" not in skip:
            peers["dask"] = run_peer("dask", lambda: bench_dask(args, corpus))
        if "ray" not in skip:
            peers["ray"] = run_peer("ray", lambda: bench_ray(args))
        if "pyspark" not in skip:
            peers["pyspark"] = run_peer("pyspark", lambda: bench_pyspark(corpus))
        report(ours, peers, words)
        assert sum(ours["wc"].values()) == words, "our word count is wrong"
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
