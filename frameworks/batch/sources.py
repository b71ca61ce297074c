"""Input RDDs: parallelized collections and text files (local paths, globs, directories,
comma-separated lists, file:// and http(s):// URIs)."""

from __future__ import annotations

import glob
import gzip
import os
import urllib.request
from collections.abc import Iterator, Sequence
from typing import Any

from frameworks.batch.rdd import RDD, RDDContext
from frameworks.batch.worker import TaskRuntime

BLOCK_SIZE = 32 * 1024 * 1024  # largest split of a local file (Hadoop's local block size)


def slice_collection(c: Any, num_slices: int) -> list[Any]:
    """Cut `c` into `num_slices` contiguous slices (ranges stay ranges)."""
    num_slices = max(1, num_slices)
    if isinstance(c, range):
        n = len(c)
        return [c[i * n // num_slices : (i + 1) * n // num_slices] for i in range(num_slices)]
    data = c if isinstance(c, list) else list(c)
    n = len(data)
    return [data[i * n // num_slices : (i + 1) * n // num_slices] for i in range(num_slices)]


class ParallelCollectionRDD(RDD):
    """A driver-side collection cut into slices. Each slice travels only with the task that
    reads it (``Task.split``), not in the stage payload."""

    def __init__(self, ctx: RDDContext, slices: list[Any]) -> None:
        super().__init__(ctx, [], len(slices))
        self._slices: list[Any] | None = slices

    def __getstate__(self) -> dict[str, Any]:
        state = super().__getstate__()
        state["_slices"] = None
        return state

    def split_for(self, p: int) -> Any:
        """Called by the DAG scheduler when it builds the task that reads slice `p`."""
        assert self._slices is not None
        return self._slices[p]

    def compute(self, p: int, tc: TaskRuntime) -> Iterator[Any]:
        return iter(tc.split_data(self.rid, p))


# A text split: (location, start, end) where location is a local path or an http(s) URL;
# end == -1 means "to the end, not splittable" (gzip files, URLs).
TextSplit = tuple[str, int, int]


def expand_paths(spec: str) -> list[str]:
    """Resolve a textFile path spec into files and URLs, in order. Raises FileNotFoundError
    (on the driver, when textFile is called) for a path that matches nothing."""
    out: list[str] = []
    for part in (p.strip() for p in spec.split(",")):
        if not part:
            continue
        if part.startswith(("http://", "https://")):
            out.append(part)
            continue
        if part.startswith("file://"):
            part = part[len("file://") :]
        matches = sorted(glob.glob(part)) if glob.has_magic(part) else [part]
        if not matches or not all(os.path.exists(m) for m in matches):
            raise FileNotFoundError(f"Input path does not exist: {part}")
        for m in matches:
            if os.path.isdir(m):
                out.extend(
                    os.path.join(m, name)
                    for name in sorted(os.listdir(m))
                    if not name.startswith((".", "_")) and os.path.isfile(os.path.join(m, name))
                )
            else:
                out.append(m)
    return out


def text_splits(locations: Sequence[str], min_partitions: int) -> list[TextSplit]:
    """Hadoop-style splits: each local file cut into pieces of about total/min_partitions
    bytes (at most BLOCK_SIZE); gzip files and URLs are one split each."""
    sizes = {loc: os.path.getsize(loc) for loc in locations if not _unsplittable(loc)}
    total = sum(sizes.values())
    goal = max(1, total // max(1, min_partitions))
    split_size = max(1, min(goal, BLOCK_SIZE))
    splits: list[TextSplit] = []
    for loc in locations:
        if loc not in sizes:
            splits.append((loc, 0, -1))
            continue
        size, start = sizes[loc], 0
        while size - start > split_size * 1.1:
            splits.append((loc, start, start + split_size))
            start += split_size
        splits.append((loc, start, size))
    return splits


def _unsplittable(loc: str) -> bool:
    return loc.startswith(("http://", "https://")) or loc.endswith(".gz")


def _strip(line: bytes) -> str:
    if line.endswith(b"\n"):
        line = line[:-2] if line.endswith(b"\r\n") else line[:-1]
    return line.decode("utf-8", "replace")


def read_split(split: TextSplit) -> Iterator[str]:
    """The lines of one split, without line terminators. A line belongs to the split where
    it starts (the first split of a file also takes the line at offset 0)."""
    loc, start, end = split
    if loc.startswith(("http://", "https://")):
        with urllib.request.urlopen(loc, timeout=60) as resp:  # noqa: S310 (user's URI)
            stream = gzip.GzipFile(fileobj=resp) if loc.endswith(".gz") else resp
            for line in stream:
                yield _strip(line)
        return
    if end == -1:
        opener = gzip.open if loc.endswith(".gz") else open
        with opener(loc, "rb") as f:
            for line in f:
                yield _strip(line)
        return
    with open(loc, "rb") as f:
        f.seek(start)
        buf = f.read(end - start)
        # finish the last line: up to the first newline at or after `end`
        tail = []
        while True:
            chunk = f.read(1 << 16)
            if not chunk:
                break
            nl = chunk.find(b"\n")
            if nl >= 0:
                tail.append(chunk[: nl + 1])
                break
            tail.append(chunk)
    if tail:
        buf += b"".join(tail)
    if start > 0:
        nl = buf.find(b"\n")
        buf = buf[nl + 1 :] if nl >= 0 else b""
    yield from _lines(buf)


def _lines(buf: bytes) -> list[str]:
    """Decode a run of whole lines at once and split it (much cheaper than per line)."""
    if not buf:
        return []
    text = buf.decode("utf-8", "replace")
    lines = text.split("\n")
    if text.endswith("\n"):
        lines.pop()
    if "\r" in text:
        lines = [line[:-1] if line.endswith("\r") else line for line in lines]
    return lines


class TextFileRDD(RDD):
    """One partition per split; records are lines (str)."""

    def __init__(self, ctx: RDDContext, splits: list[TextSplit]) -> None:
        super().__init__(ctx, [], len(splits))
        self.splits = splits

    def compute(self, p: int, tc: TaskRuntime) -> Iterator[Any]:
        return read_split(self.splits[p])
