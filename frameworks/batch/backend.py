"""The contract between the batch engine (DAG scheduler, driver) and a task backend.

Two backends implement it: `frameworks.batch.local.LocalBackend` (``local[N]``: warm worker
processes on this machine) and `frameworks.batch.cluster.ClusterBackend` (``mesos://`` /
``zk://``: the driver is a Mesos framework, executors run on agents).

Threading and call order
------------------------
The driver runs one asyncio event loop in a background thread ("the driver loop"). Every
method below is called on that loop, and a backend calls its `BackendEvents` back on that same
loop (never from another thread; use ``loop.call_soon_threadsafe`` if work finishes elsewhere).

1. ``await backend.start(events)`` once, before anything else.
2. ``backend.submit(tasks)`` any number of times; it returns at once (callback style). Each
   submitted task ends with exactly one ``events.on_task_result(TaskResult)`` -- after the
   backend's own retries (the cluster backend retries a failed task up to 4 attempts on other
   executors; the local backend does not retry). A `FetchFailed` is never retried by the
   backend: it is reported at once with ``fetch_failed`` set, and the DAG scheduler resubmits
   the lost map outputs.
3. ``backend.cancel(job_id)`` drops the job's queued tasks and kills its running ones
   (their results are then reported with ``ok=False, error="cancelled"`` or not at all).
4. ``events.on_executor_lost(executor_id, reason)`` whenever an executor (and with it its
   shuffle outputs and cached blocks) is gone; ``events.on_executor_added(info)`` when one
   registers.
5. ``await backend.stop()`` once at the end.

What runs on an executor
------------------------
An executor runs ``frameworks.batch.worker.run_task(task.payload, context) -> bytes`` for each
task, where ``context`` implements `TaskContext` for that task (``context.task`` is the `Task`). The returned bytes are opaque to the
backend: it hands them back unchanged in ``TaskResult.value``. ``run_task`` raises `FetchFailed`
when a shuffle block cannot be fetched (the executor reports it in ``TaskResult.fetch_failed``);
any other exception means the task failed (report ``error`` as ``"Type: message"`` and the
formatted ``traceback``).

Shuffle and cache blocks are opaque bytes to the backend as well: the worker encodes records
(msgpack where plain, pickle otherwise, see ``frameworks.batch.serde``) before
``write_shuffle`` / ``put_block`` and decodes what ``fetch_shuffle`` / ``get_block`` return.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol


class FetchFailed(Exception):
    """A reduce task could not read the output of map partition `map_partition` of shuffle
    `shuffle_id`, which lived on `executor_id` (None: no executor was known to hold it).

    Raised by `TaskContext.fetch_shuffle`; carried in `TaskResult.fetch_failed`. Picklable.
    """

    def __init__(
        self, shuffle_id: int, map_partition: int, executor_id: str | None, message: str = ""
    ) -> None:
        super().__init__(shuffle_id, map_partition, executor_id, message)
        self.shuffle_id = shuffle_id
        self.map_partition = map_partition
        self.executor_id = executor_id
        self.message = message

    def __str__(self) -> str:
        where = self.executor_id or "nowhere"
        return f"FetchFailed(shuffle {self.shuffle_id}, map {self.map_partition}, on {where})" + (
            f": {self.message}" if self.message else ""
        )


@dataclass(slots=True)
class Task:
    """One unit of work: compute partition `partition` of the stage `stage_id`.

    Built by the DAG scheduler; plain data. `payload` is the cloudpickled stage (its RDD chain
    and closure); it is the *same bytes object* for every task of one stage attempt, and
    `payload_key` names it, so executors can cache the unpickled stage and a backend may ship it
    once per executor rather than once per task. `split` is this task's own input (e.g. its
    slice of a parallelized collection), pickled, or None.

    `shuffle_inputs` maps each shuffle this task reads to the executor id that holds each map
    partition's output (index = map partition; None = output missing, reading it raises
    FetchFailed). `preferred_executors` / `preferred_hosts` are where its input is (cached
    blocks, most shuffle bytes, file split hosts), best first; empty means anywhere.
    """

    job_id: int
    stage_id: int
    stage_attempt: int
    partition: int
    payload: bytes
    payload_key: str
    attempt: int = 0
    is_shuffle_map: bool = False
    split: bytes | None = None
    shuffle_inputs: Mapping[int, Sequence[str | None]] = field(default_factory=dict)
    preferred_executors: tuple[str, ...] = ()
    preferred_hosts: tuple[str, ...] = ()

    @property
    def task_id(self) -> str:
        """A readable unique id: ``<job>.<stage>.<stage attempt>.<partition>.<attempt>``."""
        return f"{self.job_id}.{self.stage_id}.{self.stage_attempt}.{self.partition}.{self.attempt}"


@dataclass(slots=True)
class TaskResult:
    """How one submitted task ended (after the backend's retries). `value` is what
    ``run_task`` returned when ``ok``; `error` is ``"ExceptionType: message"`` and `traceback`
    the formatted traceback from the executor when not. `duration` is seconds of run time."""

    task: Task
    ok: bool
    value: bytes | None = None
    error: str = ""
    traceback: str = ""
    executor_id: str = ""
    fetch_failed: FetchFailed | None = None
    duration: float = 0.0


@dataclass(slots=True)
class ExecutorInfo:
    """A live executor: `executor_id` is what `Task.shuffle_inputs` and `TaskResult.executor_id`
    use; `host` its host name; `cores` how many tasks it runs at once."""

    executor_id: str
    host: str
    cores: int
    address: str = ""  # e.g. "http://10.0.0.5:40123" for shuffle/block fetches (cluster)
    running_tasks: int = 0


class TaskContext(Protocol):
    """What ``run_task`` may ask of the executor that runs it (one object per task).

    Called only from the task's own thread/process, synchronously."""

    @property
    def task(self) -> Task: ...

    @property
    def executor_id(self) -> str: ...

    def fetch_shuffle(self, shuffle_id: int, reduce_partition: int) -> Iterator[bytes]:
        """Yield the encoded blocks of `reduce_partition` written by every map partition of
        `shuffle_id`, locating them through ``task.shuffle_inputs[shuffle_id]``; raise
        `FetchFailed` for the first one that cannot be read. Empty blocks may be skipped."""
        ...

    def write_shuffle(
        self, shuffle_id: int, map_partition: int, blocks: Mapping[int, bytes]
    ) -> None:
        """Store this map partition's output: one encoded block per reduce partition (absent
        reduce partitions are empty). Replaces any earlier attempt's output atomically."""
        ...

    def get_block(self, block_id: str) -> bytes | None:
        """An encoded cached block (e.g. ``"rdd_3_7"``) held by this executor, or None."""
        ...

    def put_block(self, block_id: str, data: bytes) -> None:
        """Keep an encoded block on this executor (in memory or on local disk)."""
        ...


class BackendEvents(Protocol):
    """Implemented by the driver; a backend calls these on the driver loop."""

    def on_task_result(self, result: TaskResult) -> None: ...

    def on_executor_added(self, info: ExecutorInfo) -> None: ...

    def on_executor_lost(self, executor_id: str, reason: str) -> None: ...


class Backend(Protocol):
    """Runs tasks. See the module docstring for the call order and threading rules."""

    async def start(self, events: BackendEvents) -> None:
        """Start (and, for the cluster, register and wait for the first executor)."""
        ...

    async def stop(self) -> None: ...

    def default_parallelism(self) -> int:
        """Total cores across executors (at least 2 for the cluster), used for default
        partition counts."""
        ...

    def submit(self, tasks: Sequence[Task]) -> None:
        """Queue `tasks`; each later ends with one ``events.on_task_result``."""
        ...

    def cancel(self, job_id: int) -> None: ...

    def executors(self) -> list[ExecutorInfo]: ...
