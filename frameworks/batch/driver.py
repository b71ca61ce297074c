"""The driver shell: one asyncio loop in a background thread that owns the backend and the
DAG scheduler core, and a blocking `run_job` for the user's (synchronous) program.

Created by `SparkContext`; the user's thread calls `run_job`, which hands the job to the loop
and waits. The backend calls `on_task_result` / `on_executor_*` on the loop; every core
decision comes back as actions that `_apply` carries out.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
import time
import traceback
from collections.abc import Callable, Coroutine, Iterator
from typing import Any, TypeVar

from frameworks.batch.backend import Backend, ExecutorInfo, TaskResult
from frameworks.batch.dag import (
    Action,
    CancelTasks,
    DAGScheduler,
    JobFailed,
    JobSucceeded,
    SubmitTasks,
)
from frameworks.batch.listener import BatchListener, StatusTracker, dispatch
from frameworks.batch.rdd import RDD

log = logging.getLogger(__name__)
T = TypeVar("T")


class JobFailedError(Exception):
    """A job failed: `error` is the failed task's ``"Type: message"`` and `task_traceback` the
    traceback it raised on the executor (both also in ``str(exc)``)."""

    def __init__(self, job_id: int, error: str, task_traceback: str, task_id: str = "") -> None:
        where = f" (task {task_id})" if task_id else ""
        text = f"Job {job_id} aborted{where}: {error}"
        if task_traceback:
            text += (
                f"\n\nTask traceback (most recent call last, on the executor):\n{task_traceback}"
            )
        super().__init__(text)
        self.job_id = job_id
        self.error = error
        self.task_traceback = task_traceback
        self.task_id = task_id

    @property
    def error_type(self) -> str:
        """The failed task's exception type name, e.g. ``"ValueError"``."""
        return self.error.split(":", 1)[0]


class Driver:
    """Implements `BackendEvents`; see the module docstring."""

    def __init__(self, backend: Backend, app_id: str, accumulators: dict[int, Any]) -> None:
        self.backend = backend
        self.core = DAGScheduler(app_id, accumulators)
        self.tracker = StatusTracker()
        self.listeners: list[BatchListener] = [self.tracker]
        self._futures: dict[int, concurrent.futures.Future[list[Any]]] = {}
        self._executors: dict[str, ExecutorInfo] = {}
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self.loop.run_forever, name="batch-driver", daemon=True
        )
        self._thread.start()
        self._stopped = False
        try:
            self.call(backend.start(self))
        except BaseException:
            self._stop_loop()
            raise

    def call(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run a coroutine on the driver loop from the user's thread and wait for it."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result()

    # -- user thread ------------------------------------------------------------------------
    def run_job(
        self,
        rdd: RDD,
        func: Callable[[Iterator[Any]], Any],
        partitions: list[int],
        description: str = "",
    ) -> list[Any]:
        """Run `func` on `partitions` of `rdd`; blocks; raises `JobFailedError`."""
        if self._stopped:
            raise RuntimeError("Cannot run a job: the SparkContext has been stopped")
        fut: concurrent.futures.Future[list[Any]] = concurrent.futures.Future()
        job_box: list[int] = []
        self.loop.call_soon_threadsafe(
            self._submit, rdd, func, partitions, description, fut, job_box
        )
        try:
            return fut.result()
        except KeyboardInterrupt:
            if job_box:
                self.loop.call_soon_threadsafe(self._cancel, job_box[0])
            raise

    # -- driver loop ------------------------------------------------------------------------
    def _submit(
        self,
        rdd: RDD,
        func: Any,
        partitions: list[int],
        description: str,
        fut: concurrent.futures.Future[list[Any]],
        job_box: list[int],
    ) -> None:
        try:
            job_id, actions = self.core.submit_job(rdd, func, partitions, time.time(), description)
        except Exception as e:  # noqa: BLE001 -- a scheduler bug must not hang the caller
            fut.set_exception(e)
            return
        job_box.append(job_id)
        self._futures[job_id] = fut
        self._apply(actions)

    def _cancel(self, job_id: int) -> None:
        self._apply(self.core.cancel_job(job_id, time.time()))

    def on_task_result(self, result: TaskResult) -> None:
        try:
            actions = self.core.task_ended(result, time.time())
        except Exception:  # noqa: BLE001
            self._internal_error(traceback.format_exc())
            return
        self._apply(actions)

    def on_executor_added(self, info: ExecutorInfo) -> None:
        self._executors[info.executor_id] = info
        self.core.executor_added(info.executor_id)

    def on_executor_lost(self, executor_id: str, reason: str) -> None:
        self._executors.pop(executor_id, None)
        log.warning("executor %s lost: %s", executor_id, reason)
        self._apply(self.core.executor_lost(executor_id, time.time()))

    def _internal_error(self, tb: str) -> None:
        log.error("DAG scheduler error:\n%s", tb)
        for job_id in list(self._futures):
            self._apply(self.core.cancel_job(job_id, time.time(), "internal scheduler error"))
            fut = self._futures.pop(job_id, None)
            if fut is not None and not fut.done():
                fut.set_exception(JobFailedError(job_id, "InternalError: scheduler failed", tb))

    def _apply(self, actions: list[Action]) -> None:
        for action in actions:
            if isinstance(action, SubmitTasks):
                self.backend.submit(action.tasks)
            elif isinstance(action, CancelTasks):
                self.backend.cancel(action.job_id)
            elif isinstance(action, JobSucceeded):
                fut = self._futures.pop(action.job_id, None)
                if fut is not None and not fut.done():
                    fut.set_result(action.results)
            elif isinstance(action, JobFailed):
                fut = self._futures.pop(action.job_id, None)
                if fut is not None and not fut.done():
                    fut.set_exception(
                        JobFailedError(
                            action.job_id, action.error, action.traceback, action.task_id
                        )
                    )
            else:
                for listener in list(self.listeners):
                    try:
                        dispatch(listener, action)
                    except Exception:  # noqa: BLE001 -- a listener must not break scheduling
                        log.exception("batch listener %r failed", listener)

    # -- shutdown ---------------------------------------------------------------------------
    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True

        async def shutdown() -> None:
            for job_id in list(self._futures):
                self._apply(self.core.cancel_job(job_id, time.time(), "SparkContext stopped"))
            await self.backend.stop()

        try:
            self.call(shutdown())
        finally:
            self._stop_loop()

    def _stop_loop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=10)
        if not self.loop.is_running():
            self.loop.close()
