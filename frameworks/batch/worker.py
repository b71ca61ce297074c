"""What an executor runs for each task: ``run_task(payload, context) -> bytes``.

Called by the local backend's worker processes and by the cluster executors (B2), one task
per thread at a time. The payload is a cloudpickled stage:

- ``("map", rdd, shuffle_dep)``: compute partition p of `rdd`, split its (key, value) records
  into buckets with the dependency's partitioner, encode each bucket and hand them to
  ``context.write_shuffle``; returns a `MapOutput` (bytes per reduce partition).
- ``("result", rdd, func)``: compute partition p and return ``func(iterator)``.

The bytes returned are ``dumps_value(TaskOutput)``: the result or map output, the
accumulator updates the task made, and the ids of the blocks it cached (so the driver knows
where cached partitions live).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from frameworks.batch.backend import FetchFailed, TaskContext
from frameworks.batch.serde import (
    decode_records,
    dumps_value,
    encode_pairs,
    encode_records,
    iter_decoded,
    loads_closure,
)
from frameworks.batch.shared_vars import begin_task_updates, end_task_updates

_STAGE_CACHE_SIZE = 32
_stage_cache: OrderedDict[str, Any] = OrderedDict()
_stage_lock = threading.Lock()


@dataclass(slots=True)
class MapOutput:
    """Encoded bytes written per reduce partition (the DAG scheduler's MapStatus)."""

    sizes: list[int]


@dataclass(slots=True)
class TaskOutput:
    """What ``run_task`` returns, pickled: `value` is the result-stage value or a
    `MapOutput`; `accumulators` maps accumulator id to this task's update; `blocks` lists
    (rdd id, partition) of the blocks this task cached."""

    value: Any
    accumulators: dict[int, Any] = field(default_factory=dict)
    blocks: list[tuple[int, int]] = field(default_factory=list)


def block_id(rdd_id: int, partition: int) -> str:
    return f"rdd_{rdd_id}_{partition}"


class TaskRuntime:
    """What RDD.compute sees while a task runs: its split data, shuffle reads and the
    cache, all through the backend's `TaskContext`."""

    def __init__(self, context: TaskContext, split: dict[tuple[int, int], Any]) -> None:
        self.context = context
        self._split = split
        self.stored_blocks: list[tuple[int, int]] = []
        self.fetch_failure: FetchFailed | None = None

    def split_data(self, rdd_id: int, p: int) -> Any:
        return self._split[(rdd_id, p)]

    def fetch(self, shuffle_id: int, p: int) -> Iterator[Any]:
        try:
            blocks = list(self.context.fetch_shuffle(shuffle_id, p))
        except FetchFailed as e:
            self.fetch_failure = e
            raise
        return iter(iter_decoded(blocks))

    def cached(self, rdd: Any, p: int) -> Iterator[Any]:
        bid = block_id(rdd.rid, p)
        data = self.context.get_block(bid)
        if data is not None:
            return iter(decode_records(data))
        records = list(rdd.compute(p, self))
        self.context.put_block(bid, encode_records(records))
        self.stored_blocks.append((rdd.rid, p))
        return iter(records)


def _load_stage(key: str, payload: bytes) -> Any:
    with _stage_lock:
        stage = _stage_cache.get(key)
        if stage is not None:
            _stage_cache.move_to_end(key)
            return stage
    stage = loads_closure(payload)
    with _stage_lock:
        _stage_cache[key] = stage
        while len(_stage_cache) > _STAGE_CACHE_SIZE:
            _stage_cache.popitem(last=False)
    return stage


def run_task(payload: bytes, context: TaskContext) -> bytes:
    """Run one task (see the module docstring). Raises `FetchFailed` when a shuffle input is
    missing, whatever the user's code did with that exception; any other exception is the
    task's failure."""
    task = context.task
    stage = _load_stage(task.payload_key, payload)
    split = loads_closure(task.split) if task.split is not None else {}
    tc = TaskRuntime(context, split)
    updates = begin_task_updates()
    try:
        kind, rdd, extra = stage
        if kind == "map":
            value: Any = _write_map_output(rdd, extra, task.partition, tc)
        else:
            value = extra(rdd.iterator(task.partition, tc))
    except BaseException:
        if tc.fetch_failure is not None:
            raise tc.fetch_failure from None
        raise
    finally:
        end_task_updates()
    return dumps_value(TaskOutput(value, updates, tc.stored_blocks))


def _write_map_output(rdd: Any, dep: Any, p: int, tc: TaskRuntime) -> MapOutput:
    partitioner = dep.partitioner
    func, n = partitioner.partition_func, partitioner.num_partitions
    buckets: dict[int, list[Any]] = {}
    for kv in rdd.iterator(p, tc):
        b = func(kv[0]) % n
        bucket = buckets.get(b)
        if bucket is None:
            buckets[b] = [kv]
        else:
            bucket.append(kv)
    blocks = {b: encode_pairs(records) for b, records in buckets.items()}
    tc.context.write_shuffle(dep.shuffle_id, p, blocks)
    sizes = [0] * n
    for b, data in blocks.items():
        sizes[b] = len(data)
    return MapOutput(sizes)
