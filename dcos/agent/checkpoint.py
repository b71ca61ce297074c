"""What the agent checkpoints and when: the core's records as checkpoint files.

Every framework is checkpointed, whatever its FrameworkInfo ``checkpoint`` says (the flag is
still shown in the agent's ``/state``): an agent restart never loses a running task. An
executor file (custom executors and the default executor of task groups) holds its
ExecutorInfo, container id, sandbox, state, queued tasks, task groups and the uuids of its
updates not yet acknowledged; it is removed when the executor is retired. One file per task
holds the task (TaskInfo, state, container id, sandbox, container config, statuses) together
with its unacknowledged status updates, so every change to one task is one small file
written. The layout, the journal and the reading back are `dcos.agent.checkpoint_store`.

Who calls what: the sans-IO core returns a `CheckpointChanges` action naming the records an
event changed; the shell hands it to `Checkpointer.note` (owned by the agent shell), which
turns the records into file writes (`snapshot`, pure) and carries them out (`kick`, batched:
whatever changed during one event-loop turn or while the previous batch was being written is
written once, as one journal record: synced on the loop while the disk syncs fast, else in a
worker thread; the files themselves are written when the journal is compacted, see
`dcos.agent.checkpoint_store`); the shell awaits
`Checkpointer.sync()` before it sends status updates to the master, so the master never
learns a state the agent could forget.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from typing import Any

from dcos.agent.checkpoint_store import VERSION, CheckpointStore, Write, pack
from dcos.agent.containerizer import ContainerConfig
from dcos.agent.core import AgentCore, CheckpointChanges, ExecutorRecord, TaskRecord
from dcos.protocol.ids import ExecutorID, FrameworkID, TaskID
from dcos.protocol.resources import Resources

log = logging.getLogger(__name__)

# A batch's journal record is synced on the event loop while the syncs cost at most this on
# average (a disk that syncs in well under a millisecond: the hand-off to a worker thread and
# back costs more than the sync, often much more on a busy loop); else in a worker thread,
# tried on the loop again every INLINE_PROBE_INTERVAL seconds.
INLINE_SYNC_MAX = 0.001
INLINE_PROBE_INTERVAL = 1.0
SYNC_COST_WEIGHT = 0.2  # of the newest sync in the moving average


def config_to_dict(config: ContainerConfig) -> dict[str, Any]:
    """A `ContainerConfig` without its environment (rebuilt from the TaskInfo if ever needed;
    a running container keeps its own); fields of types msgpack cannot hold are skipped."""
    out: dict[str, Any] = {}
    for name in _CONFIG_FIELDS:
        value = getattr(config, name)
        if isinstance(value, Resources):
            out[name] = {"__resources__": value.to_dict()}
        elif value is None or isinstance(value, (str, int, float, bool, list, dict)):
            out[name] = value
    return out


_CONFIG_FIELDS = tuple(f.name for f in dataclasses.fields(ContainerConfig) if f.name != "env")


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
    """What is kept of an `ExecutorRecord` (its tasks are the task files naming it); ``auth``
    only for an executor started with a token (its token is derived again, never kept), so
    the file of one started by an older agent is written as that agent wrote it."""
    out = {
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
    if ex.token_auth:
        out["auth"] = "token"
    return out


# -- from the core's marks to files ------------------------------------------------------------


class Checkpointer:
    """Writes what the core said changed; owned by the agent shell.

    `note` (called by the shell for each `CheckpointChanges` action) records what to write
    and schedules a write of everything noted so far for the end of the current event-loop
    turn; only one batch is written at a time (one journal record, synced on the loop or in
    a worker thread: `_start_batch`). `sync` returns once everything noted before the call is
    on disk; `flush` writes synchronously (start-up, stop, tests)."""

    def __init__(self, core: AgentCore, store: CheckpointStore) -> None:
        self.core = core
        self.store = store
        self._agent = False
        self._frameworks: set[FrameworkID] = set()
        self._tasks: set[tuple[FrameworkID, TaskID]] = set()
        self._executors: set[tuple[FrameworkID, ExecutorID]] = set()
        self._marked = 0  # generation of the latest batch taken
        self._written = 0  # generation on disk
        self._scheduled = False
        self._writing: asyncio.Future[None] | None = None
        self._done = asyncio.Event()
        self.batches = 0
        self.files = 0
        self.sync_cost = 0.0  # seconds, a moving average of the journal syncs on the loop
        self._probed = float("-inf")  # when a sync was last tried on the loop after slow ones

    def note(self, changes: CheckpointChanges) -> None:
        """Remember the records an event changed (written by the next batch)."""
        self._agent = self._agent or changes.agent
        self._frameworks.update(changes.frameworks)
        self._tasks.update(changes.tasks)
        self._executors.update(changes.executors)

    def snapshot(self) -> tuple[list[Write], list[FrameworkID]]:
        """The files to write for everything noted (forgets the notes), and the frameworks
        whose directories may now be pruned."""
        core, store = self.core, self.store
        writes: list[Write] = []
        gone: list[FrameworkID] = []
        if self._agent:
            self._agent = False
            writes.append((store.agent_path(), pack({
                "version": VERSION, "agent_id": core.agent_id, "info": core.info.to_wire(),
            })))  # fmt: skip
        for fid in self._frameworks:
            fw = core.frameworks.get(fid)
            if fw is None:
                writes.append((store.framework_path(fid), None))
                gone.append(fid)
            else:
                writes.append((store.framework_path(fid), pack({
                    "framework_id": fid, "info": fw.info, "shutting_down": fw.shutting_down,
                })))  # fmt: skip
        self._frameworks.clear()
        for fid, tid in self._tasks:
            fw = core.frameworks.get(fid)
            rec = fw.tasks.get(tid) if fw is not None else None
            updates = core.updates.pending_for(fid, tid)
            path = store.task_path(fid, tid)
            if rec is None and not updates:
                writes.append((path, None))
                continue
            writes.append((path, pack({
                "framework_id": fid, "task_id": tid,
                "record": record_to_dict(rec) if rec is not None else None, "updates": updates,
            })))  # fmt: skip
        self._tasks.clear()
        for key in self._executors:
            fid, eid = key
            path = store.executor_path(fid, eid)
            ex = core.executors.get(key)
            if ex is None or fid not in core.frameworks:
                writes.append((path, None))
                continue
            writes.append((path, pack({
                "framework_id": fid, "executor_id": eid, "record": executor_to_dict(ex),
            })))  # fmt: skip
        self._executors.clear()
        return writes, gone

    def _has_marks(self) -> bool:
        return bool(self._agent or self._frameworks or self._tasks or self._executors)

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
        """Write everything marked now as one journal record and sync it: on the loop while
        the disk syncs faster than a hand-off to a worker thread costs (`_sync_inline`), else
        in a worker thread (only the sync: a thread doing many system calls waits for the
        GIL after each while the loop is busy). Compacting or extending the journal always runs
        in the thread."""
        self._scheduled = False
        if self._writing is not None or not self._has_marks():
            return  # the running batch starts the next one when it ends
        writes, gone = self.snapshot()
        self._marked += 1
        gen = self._marked
        loop = asyncio.get_running_loop()
        store = self.store
        try:
            record = store.apply(writes)
            for fid in gone:
                store.prune(fid)
            if record is not None and self._sync_inline(loop.time()):
                t0 = time.perf_counter()
                store.append(record)
                self._sync_cost(time.perf_counter() - t0)
                record = None
                if store.over_limit():
                    self._writing = loop.run_in_executor(None, store.compact)
                elif store.needs_space():
                    self._writing = loop.run_in_executor(None, store.extend)
                else:
                    self._batch_done(None, gen)  # on disk now: no loop turn to wait
                    return
        except OSError as exc:
            self._writing = loop.create_future()
            self._writing.set_exception(exc)
        else:
            if record is not None:
                self._writing = loop.run_in_executor(None, store.commit, record)
            elif self._writing is None:  # nothing to sync
                self._batch_done(None, gen)
                return
        self._writing.add_done_callback(lambda fut: self._batch_done(fut, gen))

    def _sync_inline(self, now: float) -> bool:
        """Whether to sync the next journal record on the loop: while the syncs measured
        there cost at most `INLINE_SYNC_MAX` on average; after a slow one, in the worker
        thread, trying the loop again every `INLINE_PROBE_INTERVAL` (the disk may be fast
        again; a sync timed in the thread would count the wait for the GIL)."""
        if self.sync_cost <= INLINE_SYNC_MAX:
            return True
        if now - self._probed >= INLINE_PROBE_INTERVAL:
            self._probed = now
            return True
        return False

    def _sync_cost(self, seconds: float) -> None:
        self.sync_cost += (seconds - self.sync_cost) * SYNC_COST_WEIGHT

    def _batch_done(self, fut: asyncio.Future[None] | None, gen: int) -> None:
        self._writing = None
        exc = fut.exception() if fut is not None and not fut.cancelled() else None
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
