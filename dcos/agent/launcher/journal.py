"""The launcher's journal: every launch and exit, appended, synced per batch, compacted.

Owned by the launcher process (`dcos.agent.launcher.server`); nothing else writes it. Records
(msgpack arrays, back to back in ``<meta dir>/launcher.journal``):

- ``["L", cid, pid, start, record]``: a task was spawned (`record`: the agent's data, kept
  for it; `start` 0: not known yet),
- ``["S", cid, start]``: its process start time as psutil gives it (to tell it from a
  recycled pid), noted once it has run for a moment,
- ``["E", cid, code, signal]``: it ended (exactly one of code / signal is not None),
- ``["A", cid]``: the agent acknowledged its end: forgotten.

`replay` reads them back (a torn last record, from a crash mid-write, is ignored): what is
left is every task still running or ended and unacknowledged. `compact` rewrites the file
with only that (temp file, fsync, rename) once most of it is forgotten.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from dataclasses import dataclass, field
from typing import Any

import msgpack

log = logging.getLogger(__name__)

COMPACT_MIN = 2000  # records written since the last compaction before one is considered


@dataclass
class Entry:
    """One task the journal holds. `child`: spawned by this launcher process (so its exit
    will be seen); False for tasks inherited from a launcher that died."""

    pid: int
    start: float
    record: Any = None
    code: int | None = None
    signal: int | None = None
    ended: bool = False
    child: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def wire(self, cid: str) -> list[Any]:
        """As `dcos.agent.launcher.wire` lists a container in its HELLO answer."""
        return [cid, self.pid, self.start, self.code, self.signal, self.ended, self.child,
                self.record]  # fmt: skip


def replay(path: str) -> dict[str, Entry]:
    """The tasks the journal at `path` still holds (none when there is no file)."""
    out: dict[str, Entry] = {}
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        return out
    unpacker = msgpack.Unpacker(raw=False, strict_map_key=False)
    unpacker.feed(data)
    try:
        for rec in unpacker:
            _apply(out, rec)
    except (ValueError, msgpack.UnpackException) as exc:  # a torn or damaged tail
        log.warning("journal %s: stopped reading at a damaged record: %s", path, exc)
    return out


def _apply(out: dict[str, Entry], rec: Any) -> None:
    if not isinstance(rec, list) or not rec:
        return
    kind = rec[0]
    if kind == "L" and len(rec) >= 5:
        out[str(rec[1])] = Entry(int(rec[2]), float(rec[3]), rec[4])
    elif kind == "E" and len(rec) >= 4:
        entry = out.get(str(rec[1]))
        if entry is not None:
            entry.code, entry.signal, entry.ended = rec[2], rec[3], True
    elif kind == "S" and len(rec) >= 3:
        entry = out.get(str(rec[1]))
        if entry is not None:
            entry.start = float(rec[2])
    elif kind == "A" and len(rec) >= 2:
        out.pop(str(rec[1]), None)


class Syncer:
    """Group commit: ``fdatasync`` of the journal in a thread of its own, so the launcher's
    loop never waits for the disk. `request` asks for a sync of everything written so far and
    returns its generation; when a sync ends, `done` is that generation and `wake_fd` becomes
    readable (the loop then sends the exits it covers)."""

    def __init__(self, journal: Journal) -> None:
        self.journal = journal
        self.requested = 0
        self.done = 0
        self._cond = threading.Condition()
        self.wake_fd, self._wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self._thread = threading.Thread(target=self._run, name="journal-sync", daemon=True)
        self._thread.start()

    def request(self) -> int:
        with self._cond:
            self.requested += 1
            self._cond.notify()
            return self.requested

    def idle(self) -> bool:
        return self.done == self.requested

    def _run(self) -> None:
        while True:
            with self._cond:
                while self.done == self.requested:
                    self._cond.wait()
                target = self.requested
            try:
                os.fdatasync(self.journal.fd)
                self.journal.syncs += 1
            except OSError as exc:
                log.error("cannot sync the journal: %s", exc)
            self.done = target
            with contextlib.suppress(OSError):
                os.write(self._wake_w, b"s")

    def drain(self) -> None:
        """Read the wake-ups (called by the loop when `wake_fd` is readable)."""
        with contextlib.suppress(OSError):
            os.read(self.wake_fd, 4096)


class Journal:
    """The open journal: `append` queues records, `flush` writes them (and syncs)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
        self._pending: list[bytes] = []
        self._packer = msgpack.Packer(use_bin_type=True)
        self.written = 0  # records since the last compaction
        self.syncs = 0

    def append(self, record: list[Any]) -> None:
        self._pending.append(self._packer.pack(record))

    def flush(self, sync: bool = False) -> None:
        """Write the queued records in one ``write`` (a process crash then loses nothing);
        ``fdatasync`` here when `sync` (the launcher's `Syncer` does it in its thread instead).
        Raises OSError."""
        if self._pending:
            data = b"".join(self._pending)
            self.written += len(self._pending)
            self._pending.clear()
            while data:
                n = os.write(self.fd, data)
                data = data[n:]
        if sync:
            os.fdatasync(self.fd)
            self.syncs += 1

    def should_compact(self, live: int) -> bool:
        return self.written > COMPACT_MIN and self.written > 4 * live

    def compact(self, entries: dict[str, Entry]) -> None:
        """Rewrite the journal with only `entries` (after a flush). Raises OSError."""
        tmp = self.path + ".tmp"
        parts = []
        for cid, e in entries.items():
            parts.append(self._packer.pack(["L", cid, e.pid, e.start, e.record]))
            if e.ended:
                parts.append(self._packer.pack(["E", cid, e.code, e.signal]))
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
        try:
            os.write(fd, b"".join(parts))
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, self.path)
        old, self.fd = self.fd, os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CLOEXEC)
        os.close(old)
        self.written = len(parts)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self.fd)
