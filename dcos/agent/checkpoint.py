"""The agent's checkpoint: what it needs to survive its own restart, under ``<work_dir>/meta``.

Layout (msgpack files, in the spirit of Mesos' ``meta/slaves/...``)::

    meta/agent.info                            {"version", "agent_id", "info": AgentInfo wire}
    meta/frameworks/<fid>/framework.info       {"info": FrameworkInfo JSON, "shutting_down"}
    meta/frameworks/<fid>/tasks/<tid>.task     {"task_id", "record": TaskRecord | None,
                                                "updates": [unacknowledged Update]}
    meta/frameworks/<fid>/executors/<eid>.executor
                                               {"executor_id", "record": ExecutorRecord}

An executor file (custom executors and the default executor of task groups) holds its
ExecutorInfo, container id, sandbox, state, queued tasks, task groups and the uuids of its
updates not yet acknowledged; it is removed when the executor is retired. One file per task
holds the task (TaskInfo, state, container id, sandbox, container config,
statuses) together with its unacknowledged status updates, so every change to one task is
one small file written. Every write is atomic and durable before `CheckpointStore.write`
returns, at the cost of one ``fdatasync`` per batch however many files it holds: the batch
is first appended to ``meta/checkpoint.journal`` (length, CRC32, msgpack of (path, content)
pairs) and synced, then each file is replaced (temp file ``*.tmp`` renamed over the old one)
without a sync of its own. `CheckpointStore.load` first replays the journal (a torn last
record was never synced, so never acted upon, and is dropped), so files a crash caught
before the kernel wrote them are rewritten; once the journal passes `JOURNAL_LIMIT` the
files are synced (``syncfs``) and the journal emptied. A torn temp file left by a crash is
ignored (and removed) by `CheckpointStore.load`. A file that cannot be decoded
raises `CheckpointError` naming it: the agent refuses to start rather than guess (moving
``<work_dir>/meta`` away starts it afresh).

Every framework is checkpointed, whatever its FrameworkInfo ``checkpoint`` says (the flag is
still shown in the agent's ``/state``): an agent restart never loses a running task.

Who calls what: the sans-IO core marks what changed (`AgentCore.dirty_tasks`,
`dirty_frameworks`, `dirty_agent`); `Checkpointer` (owned by the agent shell) turns those
marks into file writes (`snapshot`, pure) and carries them out (`kick`, batched: whatever
changed during one event-loop turn or while the previous batch was being written is written
once; the files on the loop, the journal's sync in a worker thread); the shell awaits `Checkpointer.sync()` before it sends status
updates to the master, so the master never learns a state the agent could forget. At start
the shell calls `CheckpointStore.load` and hands the result to `dcos.agent.recovery`.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import dataclasses
import logging
import os
import struct
import zlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import msgpack

from dcos.agent.containerizer import ContainerConfig
from dcos.protocol.ids import ExecutorID, FrameworkID, TaskID
from dcos.protocol.resources import Resources

if TYPE_CHECKING:
    from dcos.agent.core import AgentCore, TaskRecord
    from dcos.agent.executors import ExecutorRecord

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
_RECORD_HEAD = struct.Struct(">II")  # payload length, CRC32 of the payload

Write = tuple[str, bytes | None]  # (path, content); None deletes the file


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


def config_to_dict(config: ContainerConfig) -> dict[str, Any]:
    """A `ContainerConfig` without its environment (rebuilt from the TaskInfo if ever needed;
    a running container keeps its own); fields of types msgpack cannot hold are skipped."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(config):
        if f.name == "env":
            continue
        value = getattr(config, f.name)
        if isinstance(value, Resources):
            out[f.name] = {"__resources__": value.to_dict()}
        elif value is None or isinstance(value, (str, int, float, bool, list, dict)):
            out[f.name] = value
    return out


def config_from_dict(data: dict[str, Any]) -> ContainerConfig:
    """The inverse of `config_to_dict` (unknown keys from a newer agent are ignored)."""
    names = {f.name for f in dataclasses.fields(ContainerConfig)}
    kwargs: dict[str, Any] = {"env": {}}
    for key, value in data.items():
        if key not in names or key == "env":
            continue
        if isinstance(value, dict) and "__resources__" in value:
            value = Resources.from_dict(value["__resources__"])
        kwargs[key] = value
    return ContainerConfig(**kwargs)


def record_to_dict(rec: TaskRecord) -> dict[str, Any]:
    """What is kept of a `TaskRecord` (its resources are re-read from the TaskInfo)."""
    return {
        "task": rec.task,
        "container_id": rec.container_id,
        "sandbox": rec.sandbox,
        "state": str(rec.state),
        "statuses": rec.statuses,
        "launched": rec.launched,
        "kill_requested": rec.kill_requested,
        "grace": rec.grace,
        "config": config_to_dict(rec.config) if rec.config is not None else None,
        "executor_id": rec.executor_id,
        "healthy": rec.healthy,
    }


def executor_to_dict(ex: ExecutorRecord) -> dict[str, Any]:
    """What is kept of an `ExecutorRecord` (its tasks are the task files naming it)."""
    return {
        "info": ex.info,
        "container_id": ex.container_id,
        "sandbox": ex.sandbox,
        "kind": ex.kind,
        "state": ex.state,
        "resources": ex.resources.to_dict(),
        "queued": [[group, list(ids)] for group, ids in ex.queued],
        "groups": [sorted(g) for g in ex.groups],
        "unacked": dict(ex.unacked),
        "grace": ex.grace,
        "launched": ex.launched,
        "adopted": ex.adopted,
    }


def _pack(obj: Any) -> bytes:
    return msgpack.packb(obj, use_bin_type=True)


def _unpack(path: str, data: bytes) -> Any:
    try:
        obj = msgpack.unpackb(data, raw=False, strict_map_key=False)
    except (ValueError, msgpack.ExtraData, msgpack.FormatError, msgpack.StackError) as exc:
        raise CheckpointError(f"corrupt checkpoint file {path}: {exc}") from None
    if not isinstance(obj, dict):
        raise CheckpointError(f"corrupt checkpoint file {path}: not a map")
    return obj


def _apply(writes: list[Write]) -> None:
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


def _fsync_dir(path: str) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


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


def _name(value: str) -> str:
    """A file-name-safe form of an id (the real id is stored inside the file)."""
    return "_" + quote(value, safe="")


# -- the files -----------------------------------------------------------------------------


class CheckpointStore:
    """Reads and writes the files under ``<work_dir>/meta`` (blocking I/O: `apply` on the
    agent's loop, `commit` in a worker thread, `load` once at start)."""

    def __init__(self, work_dir: str, fsync: bool = True) -> None:
        """`fsync` False: no journal and no syncs (tests that never crash)."""
        self.root = os.path.join(os.path.abspath(work_dir), META)
        self.fsync = fsync
        self._journal_fd: int | None = None
        self._journal_size = 0

    def agent_path(self) -> str:
        return os.path.join(self.root, AGENT_FILE)

    def framework_dir(self, framework_id: str) -> str:
        return os.path.join(self.root, "frameworks", _name(framework_id))

    def framework_path(self, framework_id: str) -> str:
        return os.path.join(self.framework_dir(framework_id), FRAMEWORK_FILE)

    def task_path(self, framework_id: str, task_id: str) -> str:
        return os.path.join(self.framework_dir(framework_id), "tasks", _name(task_id) + TASK_SUFFIX)

    def executor_path(self, framework_id: str, executor_id: str) -> str:
        return os.path.join(self.framework_dir(framework_id), "executors",
                            _name(executor_id) + EXECUTOR_SUFFIX)  # fmt: skip

    # -- writing ---------------------------------------------------------------------------

    def write(self, writes: list[Write]) -> None:
        """Carry out a batch durably (`apply` then `commit`), on this thread; raises OSError."""
        if writes:
            self.commit(self.apply(writes))

    def apply(self, writes: list[Write]) -> bytes | None:
        """Replace (or delete) each file of a batch, with no sync (cheap enough for the event
        loop), and return the batch's journal record for `commit` (None without fsync)."""
        _apply(writes)
        if not self.fsync or not writes:
            return None
        payload = _pack([[os.path.relpath(path, self.root), data] for path, data in writes])
        return _RECORD_HEAD.pack(len(payload), zlib.crc32(payload)) + payload

    def commit(self, record: bytes | None) -> None:
        """Append a batch's journal record and sync it: the batch is durable once this
        returns. Two system calls; the `Checkpointer` runs it in a worker thread."""
        if record is None:
            return
        if self._journal_fd is None:
            os.makedirs(self.root, exist_ok=True)
            path = os.path.join(self.root, JOURNAL)
            created = not os.path.exists(path)
            self._journal_fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            self._journal_size = os.fstat(self._journal_fd).st_size
            if created:
                _fsync_dir(self.root)
        view = memoryview(record)
        while view:
            view = view[os.write(self._journal_fd, view) :]
        os.fdatasync(self._journal_fd)
        self._journal_size += len(record)
        if self._journal_size > JOURNAL_LIMIT:
            self.compact()

    def compact(self) -> None:
        """Make every file written so far durable (``syncfs``), then empty the journal."""
        if self._journal_size == 0:
            return
        _sync_filesystem(self.root)
        if self._journal_fd is not None:
            os.ftruncate(self._journal_fd, 0)
            os.fdatasync(self._journal_fd)
        self._journal_size = 0

    def close(self) -> None:
        if self._journal_fd is not None:
            os.close(self._journal_fd)
            self._journal_fd = None

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
        while pos + _RECORD_HEAD.size <= len(data):
            size, crc = _RECORD_HEAD.unpack_from(data, pos)
            payload = data[pos + _RECORD_HEAD.size : pos + _RECORD_HEAD.size + size]
            if len(payload) < size or zlib.crc32(payload) != crc:
                break
            try:
                batch = msgpack.unpackb(payload, raw=False)
            except (ValueError, msgpack.UnpackException):
                break
            _apply([(os.path.join(self.root, rel), content) for rel, content in batch])
            pos += _RECORD_HEAD.size + size
            records += 1
        if pos < len(data):
            log.info("dropping the torn tail of checkpoint journal %s (%d bytes)", path,
                     len(data) - pos)  # fmt: skip
        if records:
            log.info("replayed %d checkpoint journal record(s)", records)
        _sync_filesystem(self.root)
        os.truncate(path, 0)

    def prune(self, framework_id: str) -> None:
        """Remove a forgotten framework's directories if nothing is left in them."""
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


# -- from the core's marks to files ------------------------------------------------------------


class Checkpointer:
    """Writes what the core marked dirty; owned by the agent shell.

    `kick` (called by the shell after every batch of core actions) schedules a write of
    everything marked so far for the end of the current event-loop turn; only one batch is
    written at a time (files on the loop, the journal sync in a worker thread). `sync`
    returns once everything marked before the call is on disk; `flush` writes synchronously
    (start-up, stop, tests)."""

    def __init__(self, core: AgentCore, store: CheckpointStore) -> None:
        self.core = core
        self.store = store
        self._marked = 0  # generation of the latest batch taken
        self._written = 0  # generation on disk
        self._scheduled = False
        self._writing: asyncio.Future[None] | None = None
        self._done = asyncio.Event()
        self.batches = 0
        self.files = 0

    def snapshot(self) -> tuple[list[Write], list[FrameworkID]]:
        """The files to write for everything the core marked dirty (clears the marks), and
        the frameworks whose directories may now be pruned."""
        core, store = self.core, self.store
        writes: list[Write] = []
        gone: list[FrameworkID] = []
        if core.dirty_agent:
            core.dirty_agent = False
            writes.append((store.agent_path(), _pack({
                "version": VERSION, "agent_id": core.agent_id, "info": core.info.to_wire(),
            })))  # fmt: skip
        for fid in core.dirty_frameworks:
            fw = core.frameworks.get(fid)
            if fw is None:
                writes.append((store.framework_path(fid), None))
                gone.append(fid)
            else:
                writes.append((store.framework_path(fid), _pack({
                    "framework_id": fid, "info": fw.info, "shutting_down": fw.shutting_down,
                })))  # fmt: skip
        core.dirty_frameworks.clear()
        for fid, tid in core.dirty_tasks:
            fw = core.frameworks.get(fid)
            rec = fw.tasks.get(tid) if fw is not None else None
            updates = core.updates.pending_for(fid, tid)
            path = store.task_path(fid, tid)
            if rec is None and not updates:
                writes.append((path, None))
                continue
            writes.append((path, _pack({
                "framework_id": fid, "task_id": tid,
                "record": record_to_dict(rec) if rec is not None else None, "updates": updates,
            })))  # fmt: skip
        core.dirty_tasks.clear()
        for key in core.dirty_executors:
            fid, eid = key
            path = store.executor_path(fid, eid)
            ex = core.executors.get(key)
            if ex is None or fid not in core.frameworks:
                writes.append((path, None))
                continue
            writes.append((path, _pack({
                "framework_id": fid, "executor_id": eid, "record": executor_to_dict(ex),
            })))  # fmt: skip
        core.dirty_executors.clear()
        return writes, gone

    def _has_marks(self) -> bool:
        c = self.core
        return bool(c.dirty_agent or c.dirty_frameworks or c.dirty_tasks or c.dirty_executors)

    def flush(self) -> None:
        """Write everything marked, now, on this thread, and empty the journal (stop, tests:
        the files alone then hold the checkpoint)."""
        writes, gone = self.snapshot()
        if writes:
            self.store.write(writes)
            for fid in gone:
                self.store.prune(fid)
        if self.store.fsync:
            self.store.compact()

    def kick(self) -> None:
        """Schedule a batch write at the end of this loop turn (no-op if nothing changed)."""
        if self._scheduled or not self._has_marks():
            return
        self._scheduled = True
        asyncio.get_running_loop().call_soon(self._start_batch)

    def _start_batch(self) -> None:
        """Write the files of everything marked now, on the loop (no syncs: a few system
        calls per file), and sync the batch's journal record in a worker thread (only that:
        a thread doing many system calls waits for the GIL after each while the loop is busy)."""
        self._scheduled = False
        if self._writing is not None or not self._has_marks():
            return  # the running batch starts the next one when it ends
        writes, gone = self.snapshot()
        self._marked += 1
        gen = self._marked
        loop = asyncio.get_running_loop()
        try:
            record = self.store.apply(writes)
            for fid in gone:
                self.store.prune(fid)
        except OSError as exc:
            record = None
            self._writing = loop.create_future()
            self._writing.set_exception(exc)
        else:
            if record is None:  # nothing to sync
                self._writing = loop.create_future()
                self._writing.set_result(None)
            else:
                self._writing = loop.run_in_executor(None, self.store.commit, record)
        self._writing.add_done_callback(lambda fut: self._batch_done(fut, gen))

    def _batch_done(self, fut: asyncio.Future[None], gen: int) -> None:
        self._writing = None
        exc = fut.exception() if not fut.cancelled() else None
        if exc is not None:
            log.error("checkpoint write failed: %s", exc)
        self.batches += 1
        self._written = gen
        self._done.set()
        self._done = asyncio.Event()
        if self._has_marks():
            self._start_batch()

    async def sync(self) -> None:
        """Return once everything marked before this call is on disk."""
        if self._has_marks():
            if self._writing is None:
                self._scheduled = False
                self._start_batch()
            target = self._marked + (1 if self._writing is not None and self._has_marks() else 0)
        else:
            target = self._marked
        while self._written < target:
            await self._done.wait()

    async def close(self) -> None:
        """Wait for the batch in flight, then write whatever is left synchronously."""
        if self._writing is not None:
            with contextlib.suppress(Exception):
                await self._writing
        self.flush()
        self.store.close()
