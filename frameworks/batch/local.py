"""The local[N] backend: N warm worker processes on this machine (see `local_worker`).

Started once per SparkContext (a fresh interpreter costs milliseconds; a task on a warm worker
costs a pipe round trip). All workers share one scratch directory for shuffle files and cached
blocks, so they form one executor, ``"driver"``, as in Spark's local mode. Tasks are not
retried (Spark's local mode default): the first failure fails the job. A worker that dies
fails its task and is replaced.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import pickle
import shutil
import socket
import struct
import sys
import tempfile
from collections import OrderedDict, deque
from collections.abc import Sequence
from dataclasses import replace

from frameworks.batch.backend import BackendEvents, ExecutorInfo, Task, TaskResult
from frameworks.batch.local_worker import EXECUTOR_ID, PAYLOAD_CACHE


def _scratch_parent() -> str | None:
    shm = "/dev/shm"
    return shm if os.path.isdir(shm) and os.access(shm, os.W_OK) else None


class _Worker:
    def __init__(self, index: int, proc: asyncio.subprocess.Process) -> None:
        self.index = index
        self.proc = proc
        self.task: Task | None = None
        self.sent: OrderedDict[str, None] = OrderedDict()
        self.reader: asyncio.Task[None] | None = None


class LocalBackend:
    """`Backend` for ``local``, ``local[N]`` and ``local[*]``."""

    def __init__(self, num_workers: int) -> None:
        self.num_workers = max(1, num_workers)
        self.root = tempfile.mkdtemp(prefix="dcos-batch-", dir=_scratch_parent())
        self._events: BackendEvents | None = None
        self._workers: list[_Worker] = []
        self._idle: deque[_Worker] = deque()
        self._queue: deque[Task] = deque()
        self._stopping = False

    async def start(self, events: BackendEvents) -> None:
        self._events = events
        self._workers = list(
            await asyncio.gather(*(self._spawn(i) for i in range(self.num_workers)))
        )
        self._idle.extend(self._workers)
        events.on_executor_added(self.executors()[0])

    async def _spawn(self, index: int) -> _Worker:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p or os.getcwd() for p in sys.path)
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "frameworks.batch.local_worker",
            self.root,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            env=env,
        )
        worker = _Worker(index, proc)
        worker.reader = asyncio.get_running_loop().create_task(self._read(worker))
        return worker

    async def stop(self) -> None:
        self._stopping = True
        self._queue.clear()
        for w in self._workers:
            if w.proc.stdin is not None:
                w.proc.stdin.close()
        for w in self._workers:
            try:
                await asyncio.wait_for(w.proc.wait(), 2.0)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    w.proc.kill()
                await w.proc.wait()
            if w.reader is not None:
                w.reader.cancel()
        shutil.rmtree(self.root, ignore_errors=True)

    def default_parallelism(self) -> int:
        return self.num_workers

    def executors(self) -> list[ExecutorInfo]:
        busy = sum(1 for w in self._workers if w.task is not None)
        return [ExecutorInfo(EXECUTOR_ID, socket.gethostname(), self.num_workers, "", busy)]

    def submit(self, tasks: Sequence[Task]) -> None:
        self._queue.extend(tasks)
        self._dispatch()

    def cancel(self, job_id: int) -> None:
        self._queue = deque(t for t in self._queue if t.job_id != job_id)

    def _dispatch(self) -> None:
        while self._idle and self._queue:
            worker = self._idle.popleft()
            task = self._queue.popleft()
            worker.task = task
            key = task.payload_key
            if key in worker.sent:
                worker.sent.move_to_end(key)
                payload = None
            else:
                worker.sent[key] = None
                while len(worker.sent) > PAYLOAD_CACHE:
                    worker.sent.popitem(last=False)
                payload = task.payload
            frame = pickle.dumps((replace(task, payload=b""), payload), pickle.HIGHEST_PROTOCOL)
            assert worker.proc.stdin is not None
            worker.proc.stdin.write(struct.pack(">I", len(frame)) + frame)

    async def _read(self, worker: _Worker) -> None:
        stdout = worker.proc.stdout
        assert stdout is not None
        try:
            while True:
                (n,) = struct.unpack(">I", await stdout.readexactly(4))
                ok, value, error, tb, fetch_failed, duration = pickle.loads(
                    await stdout.readexactly(n)
                )
                task, worker.task = worker.task, None
                self._idle.append(worker)
                if task is not None and self._events is not None:
                    self._events.on_task_result(
                        TaskResult(task, ok, value, error, tb, EXECUTOR_ID, fetch_failed, duration)
                    )
                self._dispatch()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        if not self._stopping:
            await self._replace(worker)

    async def _replace(self, dead: _Worker) -> None:
        """A worker died (e.g. os._exit or a crash in user code): fail its task, start
        another in its place."""
        code = await dead.proc.wait()
        task, dead.task = dead.task, None
        if task is not None and self._events is not None:
            self._events.on_task_result(
                TaskResult(
                    task,
                    False,
                    None,
                    f"WorkerLost: worker process exited with code {code}",
                    "",
                    EXECUTOR_ID,
                )
            )
        if self._stopping:
            return
        fresh = await self._spawn(dead.index)
        self._workers[self._workers.index(dead)] = fresh
        self._idle.append(fresh)
        self._dispatch()
