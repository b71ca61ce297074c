"""An executor's local storage: shuffle map outputs in files, cached blocks in memory.

Called by the executor's task contexts (`write_shuffle`, `put_block`, local reads) from task
threads, and by its shuffle server (`read_blocks`) from the event loop thread; a lock guards
the indexes.

Shuffle output of one map partition is one data file holding every reduce partition's block
back to back, plus an in-memory index of offsets (Spark's sort-shuffle layout): a reduce task
reads its slice of each file with one `pread`. Files are written to a temporary name and
renamed, so a retried map attempt replaces the earlier one atomically.

Cached blocks live in memory up to `block_memory` bytes; beyond that the least recently used
ones are dropped (the engine recomputes a missing block from lineage).
"""

from __future__ import annotations

import os
import shutil
import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from pathlib import Path


class ExecutorStorage:
    """Shuffle files under `root` and an LRU of cached blocks."""

    def __init__(self, root: Path, block_memory: int = 256 << 20) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.block_memory = block_memory
        self._lock = threading.Lock()
        # (shuffle, map) -> (path, offsets): block r is data[offsets[r]:offsets[r + 1]]
        self._index: dict[tuple[int, int], tuple[str, list[int]]] = {}
        self._blocks: OrderedDict[str, bytes] = OrderedDict()
        self._block_bytes = 0

    # ---- shuffle -----------------------------------------------------------------------

    def write_shuffle(
        self, shuffle_id: int, map_partition: int, blocks: Mapping[int, bytes]
    ) -> None:
        """Store one map partition's output (called by a map task's context)."""
        n = max(blocks) + 1 if blocks else 0
        offsets = [0] * (n + 1)
        d = self.root / f"shuffle_{shuffle_id}"
        d.mkdir(exist_ok=True)
        path = d / f"{map_partition}.data"
        tmp = d / f"{map_partition}.data.{threading.get_ident()}.tmp"
        with open(tmp, "wb") as f:
            pos = 0
            for r in range(n):
                b = blocks.get(r)
                if b:
                    f.write(b)
                    pos += len(b)
                offsets[r + 1] = pos
        os.replace(tmp, path)
        with self._lock:
            self._index[(shuffle_id, map_partition)] = (str(path), offsets)

    def read_block(
        self, shuffle_id: int, map_partition: int, reduce_partition: int
    ) -> bytes | None:
        """One map output's block for `reduce_partition`: b"" when empty, None when this
        executor does not hold that map output."""
        with self._lock:
            entry = self._index.get((shuffle_id, map_partition))
        if entry is None:
            return None
        path, offsets = entry
        if reduce_partition + 1 >= len(offsets):
            return b""
        start, end = offsets[reduce_partition], offsets[reduce_partition + 1]
        if end == start:
            return b""
        try:
            fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            return None
        try:
            return os.pread(fd, end - start, start)
        finally:
            os.close(fd)

    def read_blocks(
        self, shuffle_id: int, maps: Iterable[int], reduce_partition: int
    ) -> list[bytes | None]:
        """Several map outputs' blocks at once (one shuffle-server request)."""
        return [self.read_block(shuffle_id, m, reduce_partition) for m in maps]

    def remove_shuffle(self, shuffle_id: int) -> None:
        with self._lock:
            for key in [k for k in self._index if k[0] == shuffle_id]:
                del self._index[key]
        shutil.rmtree(self.root / f"shuffle_{shuffle_id}", ignore_errors=True)

    def shuffle_outputs(self) -> int:
        with self._lock:
            return len(self._index)

    # ---- cached blocks -----------------------------------------------------------------

    def put_block(self, block_id: str, data: bytes) -> None:
        with self._lock:
            old = self._blocks.pop(block_id, None)
            if old is not None:
                self._block_bytes -= len(old)
            self._blocks[block_id] = data
            self._block_bytes += len(data)
            while self._block_bytes > self.block_memory and len(self._blocks) > 1:
                _, dropped = self._blocks.popitem(last=False)
                self._block_bytes -= len(dropped)

    def get_block(self, block_id: str) -> bytes | None:
        with self._lock:
            data = self._blocks.get(block_id)
            if data is not None:
                self._blocks.move_to_end(block_id)
            return data

    def remove_block(self, block_id: str) -> None:
        with self._lock:
            data = self._blocks.pop(block_id, None)
            if data is not None:
                self._block_bytes -= len(data)

    def block_ids(self) -> list[str]:
        with self._lock:
            return list(self._blocks)
