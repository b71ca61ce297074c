"""The agent's checkpoint files under ``<work_dir>/meta``: layout, journal, load.

Layout (msgpack files, in the spirit of Mesos' ``meta/slaves/...``)::

    meta/agent.info                            {"version", "agent_id", "info": AgentInfo wire}
    meta/frameworks/<fid>/framework.info       {"info": FrameworkInfo JSON, "shutting_down"}
    meta/frameworks/<fid>/tasks/<tid>.task     {"task_id", "record": TaskRecord | None,
                                                "updates": [unacknowledged Update]}
    meta/frameworks/<fid>/executors/<eid>.executor
                                               {"executor_id", "record": ExecutorRecord}

Every write is atomic and durable before `CheckpointStore.write` returns, at the cost of one
``fdatasync`` per batch however many files it holds: the batch is appended to
``meta/checkpoint.journal`` (length, CRC32, msgpack of (path, content) pairs) and synced; the
files themselves are not touched then. The store keeps the newest content of each path the
journal holds (`CheckpointStore.pending`), and writes those files only when it compacts: once
the journal passes `JOURNAL_LIMIT`, and at `flush` / stop. Compacting replaces each file (temp
file ``*.tmp`` renamed over the old one), syncs them (``syncfs``) and only then empties the
journal. So a running agent does one append and one ``fdatasync`` per batch and no file
renames (a task changes its file about five times in its life, most of them before the file
would ever be read). `CheckpointStore.load` first replays the journal (a torn last record was
never synced, so never acted upon, and is dropped): the files are then exactly what they
would have been had every batch been written to them, as the agents before this one did (their
work dirs, files and journal, load the same way). A torn temp file left by a crash is ignored
(and removed) by `load`. A file that cannot be decoded raises `CheckpointError` naming it: the
agent refuses to start rather than guess (moving ``<work_dir>/meta`` away starts it afresh).

What goes into the files (and when) is `dcos.agent.checkpoint`; this module only knows
paths, bytes and the journal. Used by `dcos.agent.checkpoint.Checkpointer` (writes) and by
the agent shell at start (`load`, handed to `dcos.agent.recovery`).
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import logging
import os
import re
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import msgpack

from dcos.common.files import fsync_dir
from dcos.protocol.ids import ExecutorID, FrameworkID, TaskID

log = logging.getLogger(__name__)

VERSION = 1
META = "meta"
AGENT_FILE = "agent.info"
FRAMEWORK_FILE = "framework.info"
TASK_SUFFIX = ".task"
EXECUTOR_SUFFIX = ".executor"
TMP_SUFFIX = ".tmp"
JOURNAL = "checkpoint.journal"
JOURNAL_LIMIT = 16 * 1024 * 1024  # bytes of journal after which the files are synced
JOURNAL_CHUNK = 1024 * 1024  # bytes of zeros the journal is extended by at a time
_RECORD_HEAD = struct.Struct(">II")  # payload length, CRC32 of the payload

Write = tuple[str, bytes | None]  # (path, content); None deletes the file


def _records(data: bytes) -> Iterator[tuple[Any, int]]:
    """The journal's complete records in order, each decoded with the offset just past it;
    the first torn or corrupt one, or the zeros after the last, ends them."""
    pos = 0
    while pos + _RECORD_HEAD.size <= len(data):
        size, crc = _RECORD_HEAD.unpack_from(data, pos)
        if size == 0:  # the zeros the journal is filled with: no more records
            return
        payload = data[pos + _RECORD_HEAD.size : pos + _RECORD_HEAD.size + size]
        if len(payload) < size or zlib.crc32(payload) != crc:
            return
        try:
            batch = msgpack.unpackb(payload, raw=False)
        except (ValueError, msgpack.UnpackException):
            return
        pos += _RECORD_HEAD.size + size
        yield batch, pos


def _records_end(data: bytes) -> int:
    """The offset just past the journal's last complete record."""
    return max((end for _, end in _records(data)), default=0)


class CheckpointError(Exception):
    """A checkpoint file exists but cannot be read; the message names it."""


# -- what is stored ------------------------------------------------------------------------


@dataclass
class TaskCheckpoint:
    """One task file: the task record (None for an update of a task the agent never ran)
    and the task's unacknowledged updates, oldest first."""

    framework_id: FrameworkID
    task_id: TaskID
    record: dict[str, Any] | None
    updates: list[dict[str, Any]]


@dataclass
class ExecutorCheckpoint:
    """One executor file: the executor's record (`executor_to_dict`)."""

    framework_id: FrameworkID
    executor_id: ExecutorID
    record: dict[str, Any]


@dataclass
class FrameworkCheckpoint:
    id: FrameworkID
    info: dict[str, Any]
    shutting_down: bool = False


@dataclass
class Checkpoint:
    """Everything `CheckpointStore.load` found."""

    agent_id: str | None
    agent_info: dict[str, Any]
    frameworks: dict[FrameworkID, FrameworkCheckpoint] = field(default_factory=dict)
    tasks: list[TaskCheckpoint] = field(default_factory=list)
    executors: list[ExecutorCheckpoint] = field(default_factory=list)


def pack(obj: Any) -> bytes:
    return msgpack.packb(obj, use_bin_type=True)


def _unpack(path: str, data: bytes) -> Any:
    try:
        obj = msgpack.unpackb(data, raw=False, strict_map_key=False)
    except (ValueError, msgpack.ExtraData, msgpack.FormatError, msgpack.StackError) as exc:
        raise CheckpointError(f"corrupt checkpoint file {path}: {exc}") from None
    if not isinstance(obj, dict):
        raise CheckpointError(f"corrupt checkpoint file {path}: not a map")
    return obj


def apply_writes(writes: list[Write]) -> None:
    """Replace each file (temp file renamed over it) or delete it; no syncs."""
    for path, data in writes:
        if data is None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
            continue
        tmp = path + TMP_SUFFIX
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        except FileNotFoundError:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, data)
        finally:
            os.close(fd)
        os.replace(tmp, path)


def _sync_filesystem(path: str) -> None:
    """Flush every dirty file of the filesystem holding `path` (Linux ``syncfs``; else
    ``sync``)."""
    try:
        syncfs = ctypes.CDLL(None, use_errno=True).syncfs
    except (OSError, AttributeError):
        os.sync()
        return
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        if syncfs(fd) != 0:
            os.sync()
    finally:
        os.close(fd)


NAME_MAX = 255  # bytes in a file name
_PLAIN = re.compile(r"[A-Za-z0-9_.~-]*")  # the characters quote(safe="") never encodes


def _name(value: str, suffix: str = "", temporary: bool = True) -> str:
    """A file-name-safe form of an id (the real id is stored inside the file), followed by
    `suffix`: ``_`` and the id percent-encoded (no ``/``, never ``.`` or ``..``), or, when
    that name (and its temporary ``.tmp`` form) would be too long for a file name, ``=`` and
    the id's SHA-256 (the same id always gives the same name; every name an older agent could
    write is kept as it was). `temporary` False: a directory, never written as ``.tmp``."""
    plain = _PLAIN.fullmatch(value) is not None  # what quote() leaves as it is: skip it
    quoted = "_" + (value if plain else quote(value, safe="", errors="surrogatepass")) + suffix
    if len(quoted) + (len(TMP_SUFFIX) if temporary else 0) <= NAME_MAX:
        return quoted
    return "=" + hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest() + suffix


# -- the files -----------------------------------------------------------------------------


class CheckpointStore:
    """Reads and writes the files under ``<work_dir>/meta`` (blocking I/O: `apply` on the
    agent's loop, `commit` in a worker thread, `load` once at start)."""

    def __init__(self, work_dir: str, fsync: bool = True) -> None:
        """`fsync` False: no journal and no syncs (tests that never crash)."""
        self.root = os.path.join(os.path.abspath(work_dir), META)
        self.fsync = fsync
        self._journal_fd: int | None = None
        self._journal_size = 0  # bytes of records in the journal
        self._journal_alloc = 0  # bytes in the file (records, then zeros)
        # with fsync: the newest content (None: deleted) of every path the journal holds and
        # the files do not yet, written to the files when the journal is compacted; and the
        # frameworks whose directories may be removed then
        self.pending: dict[str, bytes | None] = {}
        self._prune: set[str] = set()
        self._framework_dirs: dict[str, str] = {}  # framework id -> its directory (a cache)

    def agent_path(self) -> str:
        return os.path.join(self.root, AGENT_FILE)

    def framework_dir(self, framework_id: str) -> str:
        fdir = self._framework_dirs.get(framework_id)
        if fdir is None:
            if len(self._framework_dirs) >= 1024:
                self._framework_dirs.clear()
            fdir = os.path.join(self.root, "frameworks", _name(framework_id, temporary=False))
            self._framework_dirs[framework_id] = fdir
        return fdir

    def framework_path(self, framework_id: str) -> str:
        return os.path.join(self.framework_dir(framework_id), FRAMEWORK_FILE)

    def task_path(self, framework_id: str, task_id: str) -> str:
        name = _name(task_id, TASK_SUFFIX)
        return f"{self.framework_dir(framework_id)}{os.sep}tasks{os.sep}{name}"

    def executor_path(self, framework_id: str, executor_id: str) -> str:
        return os.path.join(self.framework_dir(framework_id), "executors",
                            _name(executor_id, EXECUTOR_SUFFIX))  # fmt: skip

    # -- writing ---------------------------------------------------------------------------

    def write(self, writes: list[Write]) -> None:
        """Carry out a batch durably (`apply` then `commit`), on this thread; raises OSError."""
        if writes:
            self.commit(self.apply(writes))

    def apply(self, writes: list[Write]) -> bytes | None:
        """Take a batch (cheap enough for the event loop) and return its journal record for
        `commit`. With fsync the files are left alone (the journal holds the batch once
        committed; `compact` writes the files); without, each file is replaced or deleted now
        and None is returned."""
        if not self.fsync:
            apply_writes(writes)
            return None
        if not writes:
            return None
        root = self.root
        cut = len(root) + 1
        rel = []
        for path, data in writes:
            # every path comes from this store's own *_path methods: under root
            if not path.startswith(root + os.sep):
                raise ValueError(f"checkpoint path {path!r} is not under {root!r}")
            rel.append([path[cut:], data])
            self.pending[path] = data
        payload = pack(rel)
        return _RECORD_HEAD.pack(len(payload), zlib.crc32(payload)) + payload

    def commit(self, record: bytes | None) -> None:
        """Append a batch's journal record and sync it (`append`), then compact if the
        journal has grown past its limit: the batch is durable once this returns."""
        if record is None:
            return
        self.append(record)
        if self.over_limit():
            self.compact()
        elif self.needs_space():
            self.extend()

    def over_limit(self) -> bool:
        """Whether the journal has grown past `JOURNAL_LIMIT` (time to `compact`)."""
        return self._journal_size > JOURNAL_LIMIT

    def append(self, record: bytes) -> None:
        """Append a batch's journal record and sync it: the batch is durable once this
        returns. Two system calls (the journal is opened, once, by the first).

        The record is written over zeros that the journal already holds (`_allocate`): the
        file's size and blocks do not change, so the sync writes the record alone, without a
        filesystem journal commit (which would carry every other process's pending metadata
        changes, such as the sandboxes being made). The zeros after the last record end the
        replay, as the end of the file did."""
        fd = self._journal_fd
        if fd is None:
            fd = self._open_journal()
        end = self._journal_size + len(record)
        if end > self._journal_alloc:
            self._allocate(end)  # synced with the record below
        view = memoryview(record)
        offset = self._journal_size
        while view:
            written = os.pwrite(fd, view, offset)
            view, offset = view[written:], offset + written
        os.fdatasync(fd)
        self._journal_size = end

    def _open_journal(self) -> int:
        os.makedirs(self.root, exist_ok=True)
        path = os.path.join(self.root, JOURNAL)
        created = not os.path.exists(path)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            size = os.fstat(fd).st_size
            if size:  # records not replayed (`load` empties it): keep them, drop the rest
                with open(path, "rb") as f:
                    end = _records_end(f.read())
                if end < size:
                    os.ftruncate(fd, end)
                size = end
        except BaseException:
            os.close(fd)
            raise
        self._journal_fd = fd
        self._journal_size = self._journal_alloc = size
        if created:
            fsync_dir(self.root)
        return fd

    def _allocate(self, end: int) -> None:
        """Fill the journal with zeros up to `JOURNAL_CHUNK` past `end` (not synced here)."""
        assert self._journal_fd is not None
        target = end + JOURNAL_CHUNK
        zeros = bytes(min(JOURNAL_CHUNK, target - self._journal_alloc))
        while self._journal_alloc < target:
            chunk = zeros[: target - self._journal_alloc]
            self._journal_alloc += os.pwrite(self._journal_fd, chunk, self._journal_alloc)

    def needs_space(self) -> bool:
        """Whether the zeros left after the last record are running out (time to `extend`,
        in a worker thread, before an `append` on the loop has to)."""
        return (
            self._journal_fd is not None
            and self._journal_alloc - self._journal_size < JOURNAL_CHUNK // 4
        )

    def extend(self) -> None:
        """Add `JOURNAL_CHUNK` of zeros after the last record, synced."""
        if self._journal_fd is None:
            self._open_journal()
        assert self._journal_fd is not None
        self._allocate(self._journal_size)
        os.fdatasync(self._journal_fd)

    def compact(self) -> None:
        """Write the files the journal holds newer contents of, make them durable
        (``syncfs``), then empty the journal. Run after the last `commit` (never alongside
        an `apply`); a crash in between leaves the journal, whose replay writes the same."""
        if self.pending:
            pending, self.pending = self.pending, {}
            apply_writes(list(pending.items()))
        for fid in self._prune:
            self._remove_framework_dirs(fid)
        self._prune.clear()
        if self._journal_size == 0:
            return
        _sync_filesystem(self.root)
        if self._journal_fd is not None:
            os.ftruncate(self._journal_fd, 0)  # no record left: nothing stale to reuse
            os.fdatasync(self._journal_fd)
        self._journal_size = self._journal_alloc = 0
        if self._journal_fd is not None:
            self.extend()

    def close(self) -> None:
        if self._journal_fd is not None:
            os.close(self._journal_fd)
            self._journal_fd = None
            self._journal_size = self._journal_alloc = 0

    def _replay(self) -> None:
        """Apply the journal's complete records in order (start-up, before reading the
        files); a torn or corrupt tail is dropped. Then sync the files and empty it."""
        path = os.path.join(self.root, JOURNAL)
        try:
            with open(path, "rb") as f:
                data = f.read()
        except FileNotFoundError:
            return
        except OSError as exc:
            raise CheckpointError(f"cannot read checkpoint journal {path}: {exc}") from None
        pos = records = 0
        for batch, end in _records(data):
            apply_writes([(os.path.join(self.root, rel), content) for rel, content in batch])
            pos = end
            records += 1
        if data.count(0, pos) < len(data) - pos:  # more than the zeros after the last record
            log.info("dropping the torn tail of checkpoint journal %s (%d bytes)", path,
                     len(data) - pos)  # fmt: skip
        if records:
            log.info("replayed %d checkpoint journal record(s)", records)
        _sync_filesystem(self.root)
        os.truncate(path, 0)
        self.pending.clear()  # all in the files now
        self.close()

    def prune(self, framework_id: str) -> None:
        """Remove a forgotten framework's directories if nothing is left in them (with
        fsync: when the journal is compacted, once its files are gone)."""
        if self.fsync:
            self._prune.add(framework_id)
            return
        self._remove_framework_dirs(framework_id)

    def _remove_framework_dirs(self, framework_id: str) -> None:
        fdir = self.framework_dir(framework_id)
        for d in (os.path.join(fdir, "tasks"), os.path.join(fdir, "executors"), fdir):
            with contextlib.suppress(OSError):
                os.rmdir(d)

    # -- reading ---------------------------------------------------------------------------

    def _read(self, path: str) -> dict[str, Any]:
        try:
            with open(path, "rb") as f:
                data = f.read()
        except OSError as exc:
            raise CheckpointError(f"cannot read checkpoint file {path}: {exc}") from None
        return _unpack(path, data)

    def load(self) -> Checkpoint | None:
        """The checkpoint of a previous run; None when there is none (first start).

        Torn temp files are removed; raises `CheckpointError` for an unreadable file."""
        if not os.path.isdir(self.root):
            return None
        self._replay()
        agent_tmp = self.agent_path() + TMP_SUFFIX
        if os.path.exists(agent_tmp):
            log.info("removing torn checkpoint file %s", agent_tmp)
            os.unlink(agent_tmp)
        for dirpath, _, files in os.walk(os.path.join(self.root, "frameworks")):
            for name in files:
                if name.endswith(TMP_SUFFIX):
                    log.info("removing torn checkpoint file %s", os.path.join(dirpath, name))
                    with contextlib.suppress(OSError):
                        os.unlink(os.path.join(dirpath, name))
        if not os.path.exists(self.agent_path()):
            return None
        agent = self._read(self.agent_path())
        version = agent.get("version")
        if version != VERSION:
            raise CheckpointError(
                f"checkpoint {self.agent_path()} has version {version!r}; this agent reads {VERSION}"
            )
        info = agent.get("info")
        cp = Checkpoint(agent.get("agent_id"), info if isinstance(info, dict) else {})
        fw_root = os.path.join(self.root, "frameworks")
        for entry in sorted(os.listdir(fw_root)) if os.path.isdir(fw_root) else []:
            self._load_framework(cp, os.path.join(fw_root, entry))
        return cp

    def _load_framework(self, cp: Checkpoint, fdir: str) -> None:
        fpath = os.path.join(fdir, FRAMEWORK_FILE)
        if os.path.exists(fpath):
            data = self._read(fpath)
            info = data.get("info")
            fid = data.get("framework_id")
            if not isinstance(info, dict) or not isinstance(fid, str):
                raise CheckpointError(f"corrupt checkpoint file {fpath}: no framework")
            cp.frameworks[FrameworkID(fid)] = FrameworkCheckpoint(
                FrameworkID(fid), info, bool(data.get("shutting_down"))
            )
        tdir = os.path.join(fdir, "tasks")
        for name in sorted(os.listdir(tdir)) if os.path.isdir(tdir) else []:
            if not name.endswith(TASK_SUFFIX):
                continue
            tpath = os.path.join(tdir, name)
            data = self._read(tpath)
            fid, tid = data.get("framework_id"), data.get("task_id")
            record, updates = data.get("record"), data.get("updates")
            if (
                not isinstance(fid, str)
                or not isinstance(tid, str)
                or not isinstance(updates, list)
                or not (record is None or isinstance(record, dict))
            ):
                raise CheckpointError(f"corrupt checkpoint file {tpath}: missing fields")
            cp.tasks.append(TaskCheckpoint(FrameworkID(fid), TaskID(tid), record, updates))
        edir = os.path.join(fdir, "executors")
        for name in sorted(os.listdir(edir)) if os.path.isdir(edir) else []:
            if not name.endswith(EXECUTOR_SUFFIX):
                continue
            epath = os.path.join(edir, name)
            data = self._read(epath)
            fid, eid, record = data.get("framework_id"), data.get("executor_id"), data.get("record")
            if not isinstance(fid, str) or not isinstance(eid, str) or not isinstance(record, dict):
                raise CheckpointError(f"corrupt checkpoint file {epath}: missing fields")
            cp.executors.append(ExecutorCheckpoint(FrameworkID(fid), ExecutorID(eid), record))
