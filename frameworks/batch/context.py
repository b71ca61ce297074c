"""`SparkContext` and `SparkConf`: the entry point of a batch program (PySpark's names).

``SparkContext(master, appName, conf=None)`` picks the backend from the master URL:
``local``, ``local[N]``, ``local[*]`` -> `LocalBackend` (warm worker processes here);
``mesos://host:port`` or ``zk://host:port,.../path`` -> ``frameworks.batch.cluster.ClusterBackend``
(imported only then).
"""

from __future__ import annotations

import itertools
import logging
import os
import re
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from frameworks.batch.driver import Driver
from frameworks.batch.listener import BatchListener, StatusTracker
from frameworks.batch.local import LocalBackend
from frameworks.batch.rdd import RDD, UnionRDD
from frameworks.batch.shared_vars import (
    COMPLEX_ACCUMULATOR_PARAM,
    FLOAT_ACCUMULATOR_PARAM,
    INT_ACCUMULATOR_PARAM,
    Accumulator,
    AccumulatorParam,
    Broadcast,
)
from frameworks.batch.sources import (
    ParallelCollectionRDD,
    TextFileRDD,
    expand_paths,
    read_split,
    slice_collection,
    text_splits,
)

VERSION = "3.5.0"  # the PySpark API level this follows
_LOCAL_RE = re.compile(r"^local(?:\[(\*|\d+)(?:,\s*(\d+))?\])?$")


class SparkConf:
    """Key/value settings (strings), as in PySpark."""

    def __init__(self, loadDefaults: bool = True, _settings: dict[str, str] | None = None) -> None:
        self._settings: dict[str, str] = dict(_settings or {})

    def set(self, key: str, value: Any) -> SparkConf:
        self._settings[key] = str(value)
        return self

    def setIfMissing(self, key: str, value: Any) -> SparkConf:
        self._settings.setdefault(key, str(value))
        return self

    def setMaster(self, value: str) -> SparkConf:
        return self.set("spark.master", value)

    def setAppName(self, value: str) -> SparkConf:
        return self.set("spark.app.name", value)

    def setAll(self, pairs: Iterable[tuple[str, Any]]) -> SparkConf:
        for k, v in pairs:
            self.set(k, v)
        return self

    def setExecutorEnv(self, key: str, value: str) -> SparkConf:
        return self.set(f"spark.executorEnv.{key}", value)

    def get(self, key: str, defaultValue: str | None = None) -> str | None:
        return self._settings.get(key, defaultValue)

    def getAll(self) -> list[tuple[str, str]]:
        return list(self._settings.items())

    def contains(self, key: str) -> bool:
        return key in self._settings

    def toDebugString(self) -> str:
        return "\n".join(f"{k}={v}" for k, v in sorted(self._settings.items()))

    def copy(self) -> SparkConf:
        return SparkConf(_settings=self._settings)


def parse_local_master(master: str) -> tuple[int, int] | None:
    """(workers, max task failures) for a local master URL, None for anything else."""
    m = _LOCAL_RE.match(master.strip())
    if m is None:
        return None
    n = m.group(1)
    workers = 1 if n is None else (os.cpu_count() or 1) if n == "*" else int(n)
    return max(1, workers), int(m.group(2) or 1)


class SparkContext:
    """The driver-side handle of one application; see the module docstring."""

    _active: SparkContext | None = None
    _lock = threading.Lock()

    def __init__(
        self,
        master: str | None = None,
        appName: str | None = None,
        sparkHome: str | None = None,
        pyFiles: list[str] | None = None,
        environment: dict[str, str] | None = None,
        batchSize: int = 0,
        serializer: Any = None,
        conf: SparkConf | None = None,
        **_ignored: Any,
    ) -> None:
        self._conf = conf.copy() if conf is not None else SparkConf()
        if master:
            self._conf.setMaster(master)
        if appName:
            self._conf.setAppName(appName)
        # Cluster-mode drivers (dcos-py batch submit) get their master from the environment.
        self.master = (
            self._conf.get("spark.master")
            or os.environ.get("DCOS_BATCH_MASTER")
            or os.environ.get("MASTER")
            or "local[*]"
        )
        self.appName = self._conf.get("spark.app.name") or "dcos-py batch"
        self._conf.setMaster(self.master).setAppName(self.appName)
        self.applicationId = f"app-{uuid.uuid4().hex[:12]}"
        self._ids = itertools.count()
        self._shuffle_ids = itertools.count()
        self._accumulators: dict[int, Accumulator] = {}
        self._job_description = ""
        self._stopped = False
        local = parse_local_master(self.master)
        if local is not None:
            backend: Any = LocalBackend(local[0])
        elif self.master.startswith(("mesos://", "zk://")):
            # Imported here, not at the top: the cluster backend pulls in aiohttp and the
            # SDK (~0.3 s), which local programs never need. (No cycle: it imports nothing
            # of this module.)
            from frameworks.batch.cluster import ClusterBackend

            backend = ClusterBackend(self.master, self.appName, self._conf)
        else:
            raise ValueError(f"Could not parse Master URL: '{self.master}'")
        self._backend = backend
        self._driver = Driver(backend, self.applicationId, self._accumulators)
        with SparkContext._lock:
            SparkContext._active = self

    # -- lifecycle --------------------------------------------------------------------------
    @classmethod
    def getOrCreate(cls, conf: SparkConf | None = None) -> SparkContext:
        with cls._lock:
            active = cls._active
        return active if active is not None and not active._stopped else cls(conf=conf)

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        self._driver.stop()
        with SparkContext._lock:
            if SparkContext._active is self:
                SparkContext._active = None

    def __enter__(self) -> SparkContext:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def __getstate__(self) -> None:
        raise RuntimeError(
            "It appears that you are attempting to reference SparkContext from a broadcast "
            "variable, action, or transformation. SparkContext can only be used on the driver, "
            "not in code that it runs on workers."
        )

    # -- settings and status ----------------------------------------------------------------
    def sparkUser(self) -> str:
        return os.environ.get("USER", "")

    @property
    def version(self) -> str:
        return VERSION

    @property
    def defaultParallelism(self) -> int:
        value = self._conf.get("spark.default.parallelism")
        return int(value) if value else max(1, self._backend.default_parallelism())

    @property
    def defaultMinPartitions(self) -> int:
        return min(self.defaultParallelism, 2)

    @property
    def uiWebUrl(self) -> str | None:
        url = getattr(self._backend, "ui_url", None) or getattr(self._backend, "ui_web_url", None)
        return url or None

    def getConf(self) -> SparkConf:
        return self._conf.copy()

    def setLogLevel(self, logLevel: str) -> None:
        level = {
            "ALL": "NOTSET",
            "TRACE": "DEBUG",
            "FATAL": "CRITICAL",
            "OFF": "CRITICAL",
            "WARN": "WARNING",
        }.get(logLevel.upper(), logLevel.upper())
        logging.getLogger("frameworks.batch").setLevel(level)

    def setJobDescription(self, value: str) -> None:
        self._job_description = value

    def setLocalProperty(self, key: str, value: str) -> None:
        if key == "spark.job.description":
            self._job_description = value

    def statusTracker(self) -> StatusTracker:
        return self._driver.tracker

    status_tracker = statusTracker

    def addListener(self, listener: BatchListener) -> None:
        """Receive job/stage/task events (on the driver loop thread)."""
        self._driver.loop.call_soon_threadsafe(self._driver.listeners.append, listener)

    def executors(self) -> list[Any]:
        return self._backend.executors()

    # -- creating RDDs ----------------------------------------------------------------------
    def _new_rdd_id(self) -> int:
        return next(self._ids)

    def _new_shuffle_id(self) -> int:
        return next(self._shuffle_ids)

    def parallelize(self, c: Iterable[Any], numSlices: int | None = None) -> RDD:
        n = numSlices if numSlices is not None else self.defaultParallelism
        return ParallelCollectionRDD(self, slice_collection(c, n))

    def range(
        self, start: int, end: int | None = None, step: int = 1, numSlices: int | None = None
    ) -> RDD:
        if end is None:
            start, end = 0, start
        return self.parallelize(range(start, end, step), numSlices)

    def emptyRDD(self) -> RDD:
        return ParallelCollectionRDD(self, [])

    def textFile(
        self, name: str, minPartitions: int | None = None, use_unicode: bool = True
    ) -> RDD:
        """Lines of text files: local paths, globs, directories, comma-separated lists,
        file:// and http(s):// URIs."""
        n = minPartitions if minPartitions is not None else self.defaultMinPartitions
        return TextFileRDD(self, text_splits(expand_paths(name), n))

    def wholeTextFiles(
        self, path: str, minPartitions: int | None = None, use_unicode: bool = True
    ) -> RDD:
        """(path, whole content) records, one per file."""
        files = expand_paths(path)

        def read(it: Iterator[str]) -> Iterator[tuple[str, str]]:
            for f in it:
                yield (f, "\n".join(read_split((f, 0, -1))))

        return self.parallelize(
            files, max(1, min(len(files), minPartitions or len(files)))
        ).mapPartitions(read)

    def union(self, rdds: list[RDD]) -> RDD:
        return UnionRDD(self, list(rdds))

    def broadcast(self, value: Any) -> Broadcast:
        return Broadcast(self._new_rdd_id(), value)

    def accumulator(self, value: Any, accum_param: AccumulatorParam | None = None) -> Accumulator:
        if accum_param is None:
            if isinstance(value, bool) or not isinstance(value, int | float | complex):
                raise TypeError(f"No default accumulator param for type {type(value)}")
            accum_param = (
                INT_ACCUMULATOR_PARAM
                if isinstance(value, int)
                else FLOAT_ACCUMULATOR_PARAM
                if isinstance(value, float)
                else COMPLEX_ACCUMULATOR_PARAM
            )
        acc = Accumulator(self._new_rdd_id(), value, accum_param)
        self._accumulators[acc.aid] = acc
        return acc

    # -- running jobs -----------------------------------------------------------------------
    def _run_job(
        self, rdd: RDD, func: Callable[[Iterator[Any]], Any], partitions: list[int] | None = None
    ) -> list[Any]:
        """Run `func` on each of `partitions` (default all) of `rdd`; one result per
        partition, in order. Called by actions."""
        if partitions is None:
            partitions = list(range(rdd.getNumPartitions()))
        return self._driver.run_job(rdd, func, partitions, self._job_description)

    def runJob(
        self,
        rdd: RDD,
        partitionFunc: Callable[[Iterator[Any]], Iterable[Any]],
        partitions: list[int] | None = None,
        allowLocal: bool = False,
    ) -> list[Any]:
        """PySpark's runJob: the records `partitionFunc` yields on each partition, flattened."""
        parts = self._run_job(rdd, lambda it: list(partitionFunc(it)), partitions)
        return [x for part in parts for x in part]

    def _unpersist(self, rdd_id: int) -> None:
        self._driver.loop.call_soon_threadsafe(self._driver.core.unpersist, rdd_id)
