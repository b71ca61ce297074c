"""Spark-like batch framework: a PySpark-compatible RDD API over a DAG scheduler.

``from frameworks.batch import SparkContext`` then ``SparkContext("local[2]", "app")`` or
``SparkContext("mesos://host:5050", "app")``. See `frameworks.batch.backend` for the
engine/backend contract.

Names are imported lazily so that worker processes, which import only
``frameworks.batch.worker``, stay quick to start.
"""

from __future__ import annotations

from typing import Any

_EXPORTS = {
    "SparkContext": "frameworks.batch.context",
    "SparkConf": "frameworks.batch.context",
    "RDD": "frameworks.batch.rdd",
    "StorageLevel": "frameworks.batch.rdd",
    "Broadcast": "frameworks.batch.shared_vars",
    "Accumulator": "frameworks.batch.shared_vars",
    "AccumulatorParam": "frameworks.batch.shared_vars",
    "ResultIterable": "frameworks.batch.pairs",
    "StatCounter": "frameworks.batch.actions",
    "JobFailedError": "frameworks.batch.driver",
    "BatchListener": "frameworks.batch.listener",
    "StatusTracker": "frameworks.batch.listener",
    "portable_hash": "frameworks.batch.partitioner",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'frameworks.batch' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
