"""The driver <-> executor stream: length-prefixed msgpack frames over one TCP connection.

The executor connects to the driver (``--driver host:port``) and sends HELLO; the driver
answers with PEERS and then LAUNCH frames, each carrying a batch of tasks; the executor sends
RESULTS frames, each carrying every result finished since its last write. One frame per batch
keeps the per-task cost to a few microseconds of encoding.

Frames: 4-byte big-endian length, then a msgpack array whose first item is the kind.

driver -> executor
  ``["peers", {executor_id: "http://host:port"}]``       shuffle servers of every executor
  ``["launch", [task, ...]]``  task = `encode_task` (the stage payload rides along only the
      first time an executor sees its ``payload_key``; both sides keep the same LRU of keys)
  ``["cancel", [key, ...]]``   drop these tasks if not started; ignore their results
  ``["stop"]``                 exit now

executor -> driver
  ``["hello", executor_id, host, address, cores, pid]``
  ``["results", [[key, status, value|error, traceback, duration, fetch], ...]]``
      status `OK` (value = run_task's bytes), `FAILED` (error text + traceback), or
      `FETCH_FAILED` (fetch = [shuffle_id, map_partition, executor_id, message])
"""

from __future__ import annotations

import struct
from collections import OrderedDict
from typing import Any

import msgpack

from frameworks.batch.backend import Task

HEADER = struct.Struct(">I")
MAX_FRAME = 1 << 31

OK, FAILED, FETCH_FAILED = 0, 1, 2
PAYLOAD_CACHE = 128  # stage payloads remembered per executor (the executor keeps 2x)


def frame(msg: Any) -> bytes:
    """One frame: header + msgpack body."""
    body = msgpack.packb(msg, use_bin_type=True)
    return HEADER.pack(len(body)) + body


def unpack(body: bytes) -> Any:
    return msgpack.unpackb(body, raw=False, strict_map_key=False, use_list=True)


async def read_frame(reader: Any) -> Any | None:
    """Read one frame from an `asyncio.StreamReader`; None at a clean end of stream."""
    try:
        head = await reader.readexactly(4)
    except Exception:  # IncompleteReadError, ConnectionResetError
        return None
    (n,) = HEADER.unpack(head)
    if n > MAX_FRAME:
        raise ValueError(f"frame of {n} bytes is too large")
    try:
        body = await reader.readexactly(n)
    except Exception:
        return None
    return unpack(body)


def encode_task(key: int, task: Task, with_payload: bool) -> list[Any]:
    """A task as it travels to the executor (called by the driver for each launch)."""
    return [
        key,
        task.payload_key,
        task.payload if with_payload else None,
        task.job_id,
        task.stage_id,
        task.stage_attempt,
        task.partition,
        task.attempt,
        task.is_shuffle_map,
        task.split,
        {int(k): list(v) for k, v in task.shuffle_inputs.items()},
    ]


def decode_task(item: list[Any], payload: bytes) -> tuple[int, Task]:
    """The executor's side of `encode_task`; `payload` comes from its payload cache."""
    key, pkey, _p, job, stage, sattempt, part, attempt, is_map, split, inputs = item
    task = Task(
        job_id=job,
        stage_id=stage,
        stage_attempt=sattempt,
        partition=part,
        payload=payload,
        payload_key=pkey,
        attempt=attempt,
        is_shuffle_map=is_map,
        split=split,
        shuffle_inputs=inputs,
    )
    return key, task


class PayloadLRU:
    """Which stage payloads an executor holds. The driver keeps one per executor with
    ``size=PAYLOAD_CACHE``; the executor keeps the bytes with twice that size, so everything
    the driver believes is there really is (both see the same keys in the same order)."""

    def __init__(self, size: int = PAYLOAD_CACHE) -> None:
        self.size = size
        self.items: OrderedDict[str, Any] = OrderedDict()

    def touch(self, key: str, value: Any = True) -> bool:
        """Record a use of `key`; True when it was already present."""
        if key in self.items:
            self.items.move_to_end(key)
            return True
        self.items[key] = value
        if len(self.items) > self.size:
            self.items.popitem(last=False)
        return False

    def get(self, key: str) -> Any:
        v = self.items.get(key)
        if v is not None:
            self.items.move_to_end(key)
        return v
