"""`JobTracker`: what the job page shows -- jobs, their stages, task counts, durations,
failures and executor losses -- built from what the backend sees (submitted tasks, launches,
results). Plain bookkeeping; `snapshot()` is the JSON behind the page and the CLI's progress
bars (``GET /api/jobs``).

Called by `ClusterBackend` on the driver loop for every task event, so each call is a couple
of dict operations. Only the latest `keep` jobs are kept.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from frameworks.batch.backend import Task, TaskResult
from frameworks.batch.listener import BatchListener, JobEnd, JobStart


@dataclass(slots=True)
class StageView:
    stage_id: int
    attempt: int
    total: int = 0
    running: int = 0
    succeeded: int = 0
    failed: int = 0  # attempts that failed (retried or not)
    fetch_failed: int = 0
    task_seconds: float = 0.0
    submitted_at: float = 0.0
    finished_at: float = 0.0
    errors: list[str] = field(default_factory=list)

    failed_final: int = 0  # tasks failed for good (the job fails)
    is_shuffle_map: bool = False

    @property
    def complete(self) -> bool:
        return self.succeeded + self.fetch_failed + self.failed_final >= self.total

    def to_json(self, now: float) -> dict[str, Any]:
        end = self.finished_at if self.complete else now
        return {
            "stage_id": self.stage_id,
            "attempt": self.attempt,
            "total": self.total,
            "shuffle_map": self.is_shuffle_map,
            "running": self.running,
            "succeeded": self.succeeded,
            "failed": self.failed,
            "fetch_failed": self.fetch_failed,
            "complete": self.complete,
            "duration": round(max(0.0, end - self.submitted_at), 4),
            "task_seconds": round(self.task_seconds, 4),
            "errors": self.errors[-3:],
        }


@dataclass(slots=True)
class JobView:
    job_id: int
    submitted_at: float
    stages: dict[tuple[int, int], StageView] = field(default_factory=dict)
    error: str = ""
    cancelled: bool = False
    last_event: float = 0.0
    description: str = ""
    ended: str = ""  # "succeeded" / "failed" once the engine said so (listener events)

    def status(self) -> str:
        if self.cancelled:
            return "cancelled"
        if self.ended:
            return self.ended
        if self.error:
            return "failed"
        return "done" if all(s.complete for s in self.stages.values()) else "running"


class JobTracker(BatchListener):
    """Jobs of one driver as the job page shows them. Also a `BatchListener`: when the
    SparkContext registers it (``sc.addListener(backend.listener)``), job descriptions and
    the engine's own job ends are shown too."""

    def __init__(self, app_name: str, keep: int = 100) -> None:
        self.app_name = app_name
        self.keep = keep
        self.jobs: OrderedDict[int, JobView] = OrderedDict()
        self.executor_events: list[dict[str, Any]] = []
        self.tasks_total = 0
        self.tasks_failed = 0

    def _job(self, job_id: int, now: float) -> JobView:
        job = self.jobs.get(job_id)
        if job is None:
            job = self.jobs[job_id] = JobView(job_id, now)
            while len(self.jobs) > self.keep:
                self.jobs.popitem(last=False)
        return job

    def on_job_start(self, event: JobStart) -> None:
        self._job(event.job_id, event.time).description = event.description

    def on_job_end(self, event: JobEnd) -> None:
        job = self._job(event.job_id, event.time)
        job.ended = "succeeded" if event.succeeded else "failed"
        job.error = job.error or event.error
        job.last_event = event.time

    def _stage(self, task: Task, now: float) -> StageView:
        job = self._job(task.job_id, now)
        key = (task.stage_id, task.stage_attempt)
        stage = job.stages.get(key)
        if stage is None:
            stage = job.stages[key] = StageView(task.stage_id, task.stage_attempt, submitted_at=now,
                                                is_shuffle_map=task.is_shuffle_map)
        job.last_event = now
        return stage

    def submitted(self, tasks: Any, now: float) -> None:
        for t in tasks:
            self._stage(t, now).total += 1

    def launched(self, task: Task) -> None:
        job = self.jobs.get(task.job_id)
        if job is not None:
            stage = job.stages.get((task.stage_id, task.stage_attempt))
            if stage is not None:
                stage.running += 1

    def attempt_failed(self, task: Task, error: str, executor_id: str) -> None:
        job = self.jobs.get(task.job_id)
        stage = job.stages.get((task.stage_id, task.stage_attempt)) if job else None
        if stage is not None:
            stage.running = max(0, stage.running - 1)
            stage.failed += 1
            stage.errors.append(f"partition {task.partition} on {executor_id}: {error}")
        self.tasks_failed += 1

    def finished(self, result: TaskResult, now: float) -> None:
        stage = self._stage(result.task, now)
        self.tasks_total += 1
        stage.task_seconds += result.duration
        if result.ok:
            stage.running = max(0, stage.running - 1)
            stage.succeeded += 1
        elif result.fetch_failed is not None:
            stage.running = max(0, stage.running - 1)
            stage.fetch_failed += 1
            stage.errors.append(str(result.fetch_failed))
        else:
            stage.failed_final += 1
            self.jobs[result.task.job_id].error = result.error
        if stage.complete:
            stage.finished_at = now

    def cancelled(self, job_id: int, now: float) -> None:
        job = self.jobs.get(job_id)
        if job is not None:
            job.cancelled = True
            job.last_event = now

    def executor_lost(self, executor_id: str, reason: str, released: bool) -> None:
        self.executor_events.append(
            {"executor_id": executor_id, "reason": reason, "released": released}
        )
        del self.executor_events[:-50]

    def snapshot(self, now: float) -> dict[str, Any]:
        """The JSON of ``GET /api/jobs``: newest job first."""
        jobs = []
        for job in reversed(self.jobs.values()):
            stages = [
                s.to_json(now)
                for s in sorted(job.stages.values(), key=lambda s: (s.stage_id, s.attempt))
            ]
            end = job.last_event if job.status() != "running" else now
            jobs.append(
                {
                    "job_id": job.job_id,
                    "status": job.status(),
                    "error": job.error,
                    "description": job.description,
                    "duration": round(max(0.0, end - job.submitted_at), 4),
                    "tasks": sum(s["total"] for s in stages),
                    "succeeded": sum(s["succeeded"] for s in stages),
                    "stages": stages,
                }
            )
        return {
            "app": self.app_name,
            "jobs": jobs,
            "tasks_finished": self.tasks_total,
            "task_attempts_failed": self.tasks_failed,
            "executor_events": self.executor_events[-20:],
        }
