"""Size-based rotation of task ``stdout`` / ``stderr`` (like Mesos' logrotate container logger).

A task writes its ``stdout`` and ``stderr`` in its sandbox through descriptors opened with
O_APPEND (by the containerizer), so the files may be truncated under it safely: its next
write lands at the new end. The agent shell runs one `LogRotator` loop for all tasks
(`Agent._log_loop`): every `interval` seconds it takes the sandboxes of the running tasks and
calls `rotate_sandboxes` in a worker thread, which costs one ``stat`` per file when nothing
is over the limit.

A file over `max_size` bytes is rotated with copytruncate semantics: ``stdout.<N-2>`` ..
``stdout.1`` shift up by one (the oldest, ``stdout.<N-1>``, is dropped), the file is copied to
``stdout.1`` (its size when checked: never more, so a task writing faster than the copy cannot
keep it going) and then truncated to zero. At most `max_files` files per stream are kept: the
live one and ``max_files - 1`` rotated ones (``max_files=1`` keeps no copy: the file is only
truncated). Known limit of copytruncate: what the task writes between the size check and the
truncation (while the copy runs: a few lines for a normal task) is lost. A file may exceed
`max_size` by what the task writes in one `interval`.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass

log = logging.getLogger(__name__)

DEFAULT_MAX_SIZE = 10 * 1024 * 1024
DEFAULT_MAX_FILES = 5
DEFAULT_INTERVAL = 1.0
STREAMS = ("stdout", "stderr")

_UNITS = {"": 1, "B": 1, "KB": 1024, "K": 1024, "MB": 1024**2, "M": 1024**2,
          "GB": 1024**3, "G": 1024**3}  # fmt: skip


def parse_size(text: str) -> int:
    """``10MB`` / ``512KB`` / ``1048576`` -> bytes (binary units); raises ValueError."""
    t = text.strip().upper().replace(" ", "")
    digits = t.rstrip("KMGB")
    unit = t[len(digits) :]
    if unit not in _UNITS or not digits:
        raise ValueError(f"bad size {text!r} (use e.g. 10MB, 512KB or a number of bytes)")
    value = float(digits) * _UNITS[unit]
    if value < 1:
        raise ValueError(f"bad size {text!r}: must be at least 1 byte")
    return int(value)


def copy_prefix(src: str, dest: str, size: int) -> None:
    """Copy the first `size` bytes of `src` to `dest`: never more, so a task that writes
    faster than the copy cannot keep it going (what it wrote past `size` stays in `src`)."""
    with open(src, "rb") as fin, open(dest, "wb") as fout:
        left = size
        while left > 0:
            try:
                n = os.copy_file_range(fin.fileno(), fout.fileno(), min(left, 1 << 24))
            except OSError:  # not supported here (other file systems): plain reads
                chunk = fin.read(min(left, 1 << 20))
                n = len(chunk)
                fout.write(chunk)
            if n == 0:
                break
            left -= n


@dataclass(frozen=True)
class LogRotator:
    max_size: int = DEFAULT_MAX_SIZE
    max_files: int = DEFAULT_MAX_FILES
    interval: float = DEFAULT_INTERVAL

    def rotate_file(self, path: str) -> bool:
        """Rotate `path` if it is over `max_size`; True when it did. Blocking."""
        try:
            size = os.stat(path).st_size
        except OSError:
            return False
        if size <= self.max_size:
            return False
        keep = self.max_files - 1
        if keep >= 1:
            oldest = f"{path}.{keep}"
            if os.path.exists(oldest):
                os.unlink(oldest)
            for i in range(keep - 1, 0, -1):
                src = f"{path}.{i}"
                if os.path.exists(src):
                    os.replace(src, f"{path}.{i + 1}")
            tmp = f"{path}.1.tmp"
            copy_prefix(path, tmp, size)
            os.replace(tmp, f"{path}.1")
        with open(path, "r+b") as f:
            f.truncate(0)
        return True

    def rotate_sandboxes(self, sandboxes: Iterable[str]) -> int:
        """Check ``stdout`` and ``stderr`` of each sandbox; returns how many were rotated.
        Called in a worker thread by the agent's log loop; never raises for a vanished file."""
        rotated = 0
        for sandbox in sandboxes:
            for stream in STREAMS:
                try:
                    rotated += self.rotate_file(os.path.join(sandbox, stream))
                except OSError as exc:
                    log.warning("cannot rotate %s/%s: %s", sandbox, stream, exc)
        return rotated
