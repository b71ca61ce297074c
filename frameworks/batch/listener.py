"""Job and stage progress for observers (the job page, the CLI progress bar, tests).

The DAG scheduler emits the events below; the driver delivers them, on the driver loop, to
every `BatchListener` added with ``sc.addListener(listener)``. `StatusTracker` is a listener
that keeps the current picture (PySpark's ``sc.statusTracker()`` shape, plus plain dicts for
JSON pages). Listeners must return quickly and must not run jobs.
"""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(slots=True)
class JobStart:
    job_id: int
    stage_ids: list[int]
    num_tasks: int  # tasks of the final stage
    time: float
    description: str = ""


@dataclass(slots=True)
class JobEnd:
    job_id: int
    succeeded: bool
    time: float
    error: str = ""


@dataclass(slots=True)
class StageSubmitted:
    stage_id: int
    attempt: int
    name: str
    num_tasks: int  # tasks submitted in this attempt
    total_partitions: int
    is_shuffle_map: bool
    job_ids: list[int]
    parent_ids: list[int]
    time: float


@dataclass(slots=True)
class StageCompleted:
    stage_id: int
    attempt: int
    succeeded: bool
    time: float
    error: str = ""


@dataclass(slots=True)
class TaskEnd:
    stage_id: int
    stage_attempt: int
    job_id: int
    partition: int
    task_id: str
    succeeded: bool
    duration: float
    executor_id: str
    time: float
    error: str = ""
    fetch_failed: bool = False


Event = JobStart | JobEnd | StageSubmitted | StageCompleted | TaskEnd


class BatchListener:
    """Override what you need; every method is called on the driver loop."""

    def on_job_start(self, event: JobStart) -> None: ...

    def on_job_end(self, event: JobEnd) -> None: ...

    def on_stage_submitted(self, event: StageSubmitted) -> None: ...

    def on_stage_completed(self, event: StageCompleted) -> None: ...

    def on_task_end(self, event: TaskEnd) -> None: ...


def dispatch(listener: BatchListener, event: Event) -> None:
    """Deliver one event to the matching method of `listener`."""
    if isinstance(event, TaskEnd):
        listener.on_task_end(event)
    elif isinstance(event, StageSubmitted):
        listener.on_stage_submitted(event)
    elif isinstance(event, StageCompleted):
        listener.on_stage_completed(event)
    elif isinstance(event, JobStart):
        listener.on_job_start(event)
    else:
        listener.on_job_end(event)


@dataclass(slots=True)
class JobInfo:
    jobId: int
    stageIds: list[int]
    status: str  # RUNNING, SUCCEEDED, FAILED
    submitted: float
    completed: float | None = None
    description: str = ""
    error: str = ""


@dataclass(slots=True)
class StageInfo:
    stageId: int
    currentAttemptId: int
    name: str
    numTasks: int
    numActiveTasks: int = 0
    numCompletedTasks: int = 0
    numFailedTasks: int = 0
    status: str = "ACTIVE"  # ACTIVE, COMPLETE, FAILED
    submitted: float = 0.0
    completed: float | None = None
    isShuffleMap: bool = False
    jobIds: list[int] = field(default_factory=list)
    taskDurationTotal: float = 0.0
    error: str = ""


class StatusTracker(BatchListener):
    """Jobs and stages of one SparkContext, kept up to date from events (thread-safe reads).

    Keeps the last `retain` finished jobs."""

    def __init__(self, retain: int = 1000) -> None:
        self._lock = threading.Lock()
        self._jobs: dict[int, JobInfo] = {}
        self._stages: dict[int, StageInfo] = {}
        self._retain = retain

    def on_job_start(self, event: JobStart) -> None:
        with self._lock:
            self._jobs[event.job_id] = JobInfo(
                event.job_id, list(event.stage_ids), "RUNNING", event.time, None, event.description
            )
            while len(self._jobs) > self._retain:
                oldest = next(iter(self._jobs))
                for sid in self._jobs.pop(oldest).stageIds:
                    if not any(sid in j.stageIds for j in self._jobs.values()):
                        self._stages.pop(sid, None)

    def on_job_end(self, event: JobEnd) -> None:
        with self._lock:
            job = self._jobs.get(event.job_id)
            if job is not None:
                job.status = "SUCCEEDED" if event.succeeded else "FAILED"
                job.completed = event.time
                job.error = event.error

    def on_stage_submitted(self, event: StageSubmitted) -> None:
        with self._lock:
            info = self._stages.get(event.stage_id)
            if info is None:
                info = self._stages[event.stage_id] = StageInfo(
                    event.stage_id, event.attempt, event.name, event.total_partitions
                )
            info.currentAttemptId = event.attempt
            info.status = "ACTIVE"
            info.submitted = event.time
            info.isShuffleMap = event.is_shuffle_map
            info.numActiveTasks += event.num_tasks
            for jid in event.job_ids:
                if jid not in info.jobIds:
                    info.jobIds.append(jid)
                job = self._jobs.get(jid)
                if job is not None and event.stage_id not in job.stageIds:
                    job.stageIds.append(event.stage_id)

    def on_stage_completed(self, event: StageCompleted) -> None:
        with self._lock:
            info = self._stages.get(event.stage_id)
            if info is not None:
                info.status = "COMPLETE" if event.succeeded else "FAILED"
                info.completed = event.time
                info.error = event.error

    def on_task_end(self, event: TaskEnd) -> None:
        with self._lock:
            info = self._stages.get(event.stage_id)
            if info is None:
                return
            info.numActiveTasks = max(0, info.numActiveTasks - 1)
            info.taskDurationTotal += event.duration
            if event.succeeded:
                info.numCompletedTasks += 1
            else:
                info.numFailedTasks += 1

    # -- PySpark's StatusTracker ------------------------------------------------------------
    def getActiveJobsIds(self) -> list[int]:
        with self._lock:
            return [j.jobId for j in self._jobs.values() if j.status == "RUNNING"]

    def getActiveStageIds(self) -> list[int]:
        with self._lock:
            return [s.stageId for s in self._stages.values() if s.status == "ACTIVE"]

    def getJobInfo(self, jobId: int) -> JobInfo | None:
        with self._lock:
            return self._jobs.get(jobId)

    def getStageInfo(self, stageId: int) -> StageInfo | None:
        with self._lock:
            return self._stages.get(stageId)

    def snapshot(self) -> dict[str, Any]:
        """Jobs and stages as plain dicts (for JSON pages), newest job first."""
        with self._lock:
            return {
                "jobs": [asdict(j) for j in reversed(self._jobs.values())],
                "stages": [asdict(s) for s in self._stages.values()],
            }
