"""A warm worker process of the local[N] backend: ``python -m frameworks.batch.local_worker ROOT``.

Started once per SparkContext by `frameworks.batch.local.LocalBackend`; runs one task at a time
for its whole life. Frames both ways are a 4-byte big-endian length and a pickle:

- driver -> worker: ``(task, payload_or_None)``; the payload is sent only the first time the
  worker sees its ``payload_key`` (both sides keep the same LRU of `PAYLOAD_CACHE` keys);
- worker -> driver: ``(ok, value, error, traceback, fetch_failed, duration)``.

The worker's stdout (fd 1) is pointed at stderr, so prints in user code reach the console
without touching the protocol, which uses a private duplicate of the original stdout.

Shuffle output and cached blocks are files under ROOT shared by all workers of the context
(`LocalTaskContext`): ``shuffle/<shuffle>/<map>.data`` holds one block per reduce partition
behind an offset index; ``blocks/<block id>`` one cached partition each.
"""

from __future__ import annotations

import os
import pickle
import signal
import struct
import sys
import time
import traceback
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from typing import Any, BinaryIO

# dcos.common.files, not its dcos.sdk.util re-export: importing dcos.sdk pulls in aiohttp and
# the driver (~0.3 s), and worker processes must start quickly.
from dcos.common.files import atomic_write
from frameworks.batch.backend import FetchFailed, Task
from frameworks.batch.worker import run_task

PAYLOAD_CACHE = 64
EXECUTOR_ID = "driver"


class LocalTaskContext:
    """`TaskContext` over files under the context's scratch directory."""

    def __init__(self, task: Task, root: str) -> None:
        self._task = task
        self._root = root

    @property
    def task(self) -> Task:
        return self._task

    @property
    def executor_id(self) -> str:
        return EXECUTOR_ID

    def _shuffle_path(self, shuffle_id: int, map_partition: int) -> str:
        return os.path.join(self._root, "shuffle", str(shuffle_id), f"{map_partition}.data")

    def fetch_shuffle(self, shuffle_id: int, reduce_partition: int) -> Iterator[bytes]:
        where = self._task.shuffle_inputs.get(shuffle_id)
        if where is None:
            raise FetchFailed(shuffle_id, -1, None, "no map outputs known")
        blocks: list[bytes] = []
        for m, executor in enumerate(where):
            if executor is None:
                raise FetchFailed(shuffle_id, m, None, "map output missing")
            try:
                block = read_block(self._shuffle_path(shuffle_id, m), reduce_partition)
            except OSError as e:
                # the one executor is alive, only this file is gone: no executor id, so the
                # DAG scheduler recomputes just this map output
                raise FetchFailed(shuffle_id, m, None, str(e)) from None
            if block:
                blocks.append(block)
        return iter(blocks)

    def write_shuffle(
        self, shuffle_id: int, map_partition: int, blocks: Mapping[int, bytes]
    ) -> None:
        path = self._shuffle_path(shuffle_id, map_partition)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        n = max(blocks) + 1 if blocks else 0
        parts = [blocks.get(r, b"") for r in range(n)]
        offsets = [0]
        for part in parts:
            offsets.append(offsets[-1] + len(part))
        tmp = f"{path}.{os.getpid()}.tmp"
        with open(tmp, "wb") as f:
            f.write(struct.pack(f"<I{n + 1}Q", n, *offsets))
            for part in parts:
                f.write(part)
        os.replace(tmp, path)

    def get_block(self, block_id: str) -> bytes | None:
        try:
            with open(os.path.join(self._root, "blocks", block_id), "rb") as f:
                return f.read()
        except FileNotFoundError:
            return None

    def put_block(self, block_id: str, data: bytes) -> None:
        path = os.path.join(self._root, "blocks", block_id)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        atomic_write(path, data, fsync=False)  # scratch data: atomic for readers only


def read_block(path: str, reduce_partition: int) -> bytes:
    """Block `reduce_partition` of one map output file (b"" when the map wrote none)."""
    with open(path, "rb") as f:
        (n,) = struct.unpack("<I", f.read(4))
        if reduce_partition >= n:
            return b""
        f.seek(4 + 8 * reduce_partition)
        start, end = struct.unpack("<QQ", f.read(16))
        if end == start:
            return b""
        f.seek(4 + 8 * (n + 1) + start)
        return f.read(end - start)


def _read_frame(inp: BinaryIO) -> bytes | None:
    header = inp.read(4)
    if len(header) < 4:
        return None
    (n,) = struct.unpack(">I", header)
    return inp.read(n)


def serve(root: str, inp: BinaryIO, out: BinaryIO) -> None:
    """The worker loop: read a task, run it, write its result, until the driver closes."""
    payloads: OrderedDict[str, bytes] = OrderedDict()
    while True:
        frame = _read_frame(inp)
        if frame is None:
            return
        task, payload = pickle.loads(frame)
        if payload is not None:
            payloads[task.payload_key] = payload
            while len(payloads) > PAYLOAD_CACHE:
                payloads.popitem(last=False)
        else:
            payloads.move_to_end(task.payload_key)
        start = time.perf_counter()
        reply: tuple[Any, ...]
        try:
            value = run_task(payloads[task.payload_key], LocalTaskContext(task, root))
            reply = (True, value, "", "", None)
        except FetchFailed as e:
            reply = (False, None, str(e), traceback.format_exc(), e)
        except BaseException as e:  # noqa: BLE001 -- every failure goes back to the driver
            reply = (False, None, f"{type(e).__name__}: {e}", traceback.format_exc(), None)
        reply = (*reply[:5], time.perf_counter() - start)
        try:
            data = pickle.dumps(reply, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as e:  # noqa: BLE001 -- e.g. an unpicklable FetchFailed subclass
            data = pickle.dumps((False, None, f"{type(e).__name__}: {e}", "", None, 0.0))
        out.write(struct.pack(">I", len(data)) + data)
        out.flush()


def main() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    root = sys.argv[1]
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    inp = os.fdopen(os.dup(0), "rb")
    serve(root, inp, out)


if __name__ == "__main__":
    main()
