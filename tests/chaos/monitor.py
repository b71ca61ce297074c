"""`TaskCountMonitor`: polls the master's ``/master/tasks`` in a background thread while a fault
plays out and remembers the most live tasks (STAGING, STARTING, RUNNING, KILLING) one framework
had at once, so a chaos test can assert that an app never ran above its target plus surge.

Used as a context manager around the fault; `max_alive`, `samples` and `report()` afterwards.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from types import TracebackType

from dcos.testing.processes import get_json

ALIVE = frozenset({"TASK_STAGING", "TASK_STARTING", "TASK_RUNNING", "TASK_KILLING"})


class TaskCountMonitor:
    """Polls every `interval` s; `master_url` is the master's URL or a function giving the
    current leader's. `prefix` keeps only task ids starting with it (one app of many)."""

    def __init__(self, master_url: str | Callable[[], str], framework_id: str, *,
                 prefix: str = "", interval: float = 0.05) -> None:  # fmt: skip
        self._url = master_url if callable(master_url) else (lambda: master_url)
        self.framework_id = framework_id
        self.prefix = prefix
        self.interval = interval
        self.max_alive = 0
        self.max_at: list[tuple[str, str]] = []  # (task id, state) at the maximum
        self.samples = 0
        self.errors = 0
        self._last: list[dict] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="task-monitor", daemon=True)

    def _mine(self, tasks: list[dict]) -> list[dict]:
        return [t for t in tasks if t.get("framework_id") == self.framework_id
                and str(t.get("id", "")).startswith(self.prefix)]  # fmt: skip

    def sample(self) -> list[dict] | None:
        """One poll: this framework's tasks now (None when the master did not answer)."""
        try:
            tasks = self._mine(get_json(self._url() + "/master/tasks", timeout=2.0)["tasks"])
        except (OSError, ValueError, KeyError):
            self.errors += 1
            return None
        alive = [t for t in tasks if t.get("state") in ALIVE]
        self.samples += 1
        self._last = tasks
        if len(alive) > self.max_alive:
            self.max_alive = len(alive)
            self.max_at = [(t["id"], t["state"]) for t in alive]
        return tasks

    def running_ids(self) -> set[str]:
        """Task ids the master reports TASK_RUNNING now (a fresh sample)."""
        tasks = self.sample() or []
        return {t["id"] for t in tasks if t.get("state") == "TASK_RUNNING"}

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample()
            time.sleep(self.interval)

    def report(self) -> str:
        return (f"at most {self.max_alive} live tasks at once ({self.samples} samples, "
                f"{self.errors} failed polls): {sorted(self.max_at)}")  # fmt: skip

    def __enter__(self) -> TaskCountMonitor:
        self._thread.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:  # fmt: skip
        self._stop.set()
        self._thread.join(5)
