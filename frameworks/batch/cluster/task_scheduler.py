"""The task scheduler: which pending task runs on which executor, and what happens when it
fails. (Named after Spark's TaskScheduler; the executors it fills come from
`frameworks.batch.cluster.executor_policy`.)

A sans-IO core (no I/O, no clock: every call takes `now`) owned by `ClusterBackend`'s event
loop. The backend feeds it executors (`add_executor` / `remove_executor`), tasks
(`submit`) and outcomes (`finished` / `failed`), and asks it for `schedule(now)`: a list of
`Assignment`s to send to executors. Unit tests drive it with plain numbers as time.

Rules (documented in docs/batch.md):

- **Slots.** An executor runs up to `cores` tasks at once; `queue_depth` more per core may be
  sent ahead so that a warm executor never waits a network round trip for its next task.
- **Locality, two levels.** A task may name preferred executors (where its input split,
  cached block or most of its shuffle input lives) and preferred hosts. It is *local* on an
  executor that is preferred or runs on a preferred host. Local launches happen at once.
- **Delay scheduling.** A task with preferences waits up to `locality_wait` seconds (default
  0.2 s: our tasks are short, Spark's 3 s would dominate them) for a local slot, then runs on
  any executor. A task whose preferred executors and hosts are all gone runs anywhere at once.
- **Retries.** A failed attempt is retried on another executor when there is one (the
  executors it failed on are avoided while others exist); after `max_failures` (4, like
  `spark.task.maxFailures`) failed attempts the task is *failed for good* and the backend
  fails its job with the last attempt's error and traceback. A task whose executor was lost is
  requeued without counting as a failure.
- **Idle executors.** `idle_executors(now, timeout)` names executors that ran nothing for
  `timeout` seconds (dynamic allocation releases them).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field
from typing import Any

DEFAULT_LOCALITY_WAIT = 0.2
DEFAULT_MAX_FAILURES = 4

PENDING, RUNNING, DONE = 0, 1, 2


@dataclass(slots=True)
class TaskEntry:
    """One task the backend was asked to run. `payload` is opaque here (the backend's task)."""

    key: Hashable
    payload: Any
    pref_executors: tuple[str, ...] = ()
    pref_hosts: tuple[str, ...] = ()
    attempts: int = 0  # attempts started
    failures: int = 0
    failed_on: set[str] = field(default_factory=set)
    pending_since: float = 0.0
    state: int = PENDING
    executor: str | None = None
    last_error: str = ""


@dataclass(slots=True)
class ExecutorSlot:
    """What the task scheduler knows of one registered executor."""

    executor_id: str
    host: str
    cores: int
    running: set[Hashable] = field(default_factory=set)
    idle_since: float = 0.0
    draining: bool = False  # being released: gets no new tasks


@dataclass(frozen=True, slots=True)
class Assignment:
    """Send `task` to `executor_id`; `local` says whether it ran where its data is."""

    executor_id: str
    task: TaskEntry
    local: bool


@dataclass(frozen=True, slots=True)
class Outcome:
    """What `failed` decided: `retry` (requeued) or not (failed for good, `error` is final)."""

    task: TaskEntry
    retry: bool
    error: str


class TaskScheduler:
    """The pending queues, the executors' slots, and the decisions which task runs where."""

    def __init__(
        self,
        locality_wait: float = DEFAULT_LOCALITY_WAIT,
        max_failures: int = DEFAULT_MAX_FAILURES,
        queue_depth: int = 1,
    ) -> None:
        self.locality_wait = locality_wait
        self.max_failures = max_failures
        self.queue_depth = max(0, queue_depth)
        self.executors: dict[str, ExecutorSlot] = {}
        self.tasks: dict[Hashable, TaskEntry] = {}
        self._anywhere: deque[TaskEntry] = deque()  # no usable preference
        self._preferring: deque[TaskEntry] = deque()  # has preferences, by pending_since
        self._by_executor: dict[str, deque[TaskEntry]] = {}
        self._by_host: dict[str, deque[TaskEntry]] = {}
        self._retries: list[TaskEntry] = []  # avoid the executors they failed on
        self.launched_local = 0
        self.launched_remote = 0
        self.pending = 0  # tasks in state PENDING

    # ---- executors -------------------------------------------------------------------

    def add_executor(self, executor_id: str, host: str, cores: int, now: float) -> None:
        """The backend calls this when an executor connected and said hello."""
        self.executors[executor_id] = ExecutorSlot(executor_id, host, max(1, cores), idle_since=now)

    def remove_executor(self, executor_id: str, now: float) -> list[TaskEntry]:
        """The executor is gone: its running tasks go back to pending (no failure counted) and
        are returned so the backend can tell the engine. Unknown ids return []."""
        slot = self.executors.pop(executor_id, None)
        if slot is None:
            return []
        lost = [self.tasks[k] for k in slot.running if k in self.tasks]
        for t in lost:
            t.state, t.executor = PENDING, None
            self._enqueue(t, now)
        # Tasks that preferred only this executor (and no live host) may now run anywhere.
        for t in self._by_executor.pop(executor_id, deque()):
            if t.state == PENDING and not self._has_live_pref(t):
                self._anywhere.append(t)
        return lost

    def drain(self, executor_id: str) -> None:
        """Give the executor no new tasks (it is being released)."""
        if executor_id in self.executors:
            self.executors[executor_id].draining = True

    def idle_executors(self, now: float, timeout: float) -> list[str]:
        """Executors with nothing running for at least `timeout` seconds, while no task is
        pending (dynamic allocation releases them)."""
        if self.has_pending():
            return []
        return [
            e.executor_id
            for e in self.executors.values()
            if not e.running and not e.draining and now - e.idle_since >= timeout
        ]

    # ---- tasks -------------------------------------------------------------------------

    def submit(self, entries: Iterable[TaskEntry], now: float) -> None:
        """Queue new tasks (the backend calls this from `Backend.submit`)."""
        for t in entries:
            self.tasks[t.key] = t
            self._enqueue(t, now)

    def cancel(self, keys: Iterable[Hashable]) -> list[TaskEntry]:
        """Forget these tasks; returns the ones that were running (to be killed)."""
        running = []
        for k in keys:
            t = self.tasks.pop(k, None)
            if t is None:
                continue
            if t.state == RUNNING and t.executor in self.executors:
                self.executors[t.executor].running.discard(k)
                running.append(t)
            elif t.state == PENDING:
                self.pending -= 1
            t.state = DONE
        return running

    def finished(self, key: Hashable, now: float) -> TaskEntry | None:
        """The task's attempt succeeded; None when it was not known (cancelled, duplicate)."""
        t = self.tasks.pop(key, None)
        if t is None:
            return None
        self._release(t, now)
        t.state = DONE
        return t

    def failed(self, key: Hashable, error: str, now: float) -> Outcome | None:
        """The task's attempt failed with `error` (the formatted traceback). Retries it or, after
        `max_failures` failures, drops it and says so. None when the task is unknown."""
        t = self.tasks.get(key)
        if t is None:
            return None
        self._release(t, now)
        t.failures += 1
        t.last_error = error
        if t.executor is not None:
            t.failed_on.add(t.executor)
        t.executor = None
        if t.failures >= self.max_failures:
            del self.tasks[key]
            t.state = DONE
            return Outcome(t, False, error)
        t.state = PENDING
        t.pending_since = now
        self.pending += 1
        self._retries.append(t)
        return Outcome(t, True, error)

    def forget(self, key: Hashable, now: float) -> TaskEntry | None:
        """Drop a task without retrying it (a fetch failure: the engine resubmits a stage)."""
        t = self.tasks.pop(key, None)
        if t is not None:
            self._release(t, now)
            t.state = DONE
        return t

    def has_pending(self) -> bool:
        return self.pending > 0

    def running_count(self) -> int:
        return sum(len(e.running) for e in self.executors.values())

    # ---- decisions ---------------------------------------------------------------------

    def schedule(self, now: float) -> list[Assignment]:
        """Fill free slots: local tasks first, then tasks without preferences, then tasks whose
        locality wait expired. Executors are filled round-robin, one task per turn."""
        out: list[Assignment] = []
        live = [e for e in self.executors.values() if not e.draining]
        if not live:
            return out
        room = {e.executor_id: e.cores * (1 + self.queue_depth) - len(e.running) for e in live}
        active = [e for e in live if room[e.executor_id] > 0]
        while active:
            still = []
            for e in active:
                t = self._pick(e, now, len(live))
                if t is None:
                    continue
                local = self._is_local(t, e)
                self._start(t, e)
                out.append(Assignment(e.executor_id, t, local))
                room[e.executor_id] -= 1
                if room[e.executor_id] > 0:
                    still.append(e)
            active = still
        return out

    def next_wakeup(self, now: float) -> float | None:
        """When a waiting task's locality wait ends (the backend sets a timer), or None."""
        q = self._preferring
        while q and q[0].state != PENDING:
            q.popleft()
        return q[0].pending_since + self.locality_wait if q else None

    # ---- internals ---------------------------------------------------------------------

    def _enqueue(self, t: TaskEntry, now: float) -> None:
        t.pending_since = now
        self.pending += 1
        if not self._has_live_pref(t) or self.locality_wait <= 0:
            self._anywhere.append(t)
            return
        self._preferring.append(t)
        for eid in t.pref_executors:
            self._by_executor.setdefault(eid, deque()).append(t)
        for host in t.pref_hosts:
            self._by_host.setdefault(host, deque()).append(t)

    def _has_live_pref(self, t: TaskEntry) -> bool:
        if not t.pref_executors and not t.pref_hosts:
            return False
        if any(eid in self.executors for eid in t.pref_executors):
            return True
        hosts = set(t.pref_hosts)
        return any(e.host in hosts for e in self.executors.values())

    def _is_local(self, t: TaskEntry, e: ExecutorSlot) -> bool:
        return e.executor_id in t.pref_executors or e.host in t.pref_hosts

    def _pick(self, e: ExecutorSlot, now: float, live: int) -> TaskEntry | None:
        if self._retries:
            t = self._pick_retry(e, live)
            if t is not None:
                return t
        for q in (self._by_executor.get(e.executor_id), self._by_host.get(e.host), self._anywhere):
            while q:
                t = q.popleft()
                if t.state == PENDING:
                    return t
        q = self._preferring
        while q and (q[0].state != PENDING):
            q.popleft()
        if q and now - q[0].pending_since >= self.locality_wait:
            return q.popleft()
        return None

    def _pick_retry(self, e: ExecutorSlot, live: int) -> TaskEntry | None:
        for i, t in enumerate(self._retries):
            if t.state != PENDING:
                continue
            # Another executor when one exists that this task has not failed on.
            others = live > len(t.failed_on & self.executors.keys())
            if e.executor_id not in t.failed_on or not others:
                del self._retries[i]
                return t
        self._retries = [t for t in self._retries if t.state == PENDING]
        return None

    def _start(self, t: TaskEntry, e: ExecutorSlot) -> None:
        self.pending -= 1
        t.state = RUNNING
        t.executor = e.executor_id
        t.attempts += 1
        e.running.add(t.key)
        if self._is_local(t, e):
            self.launched_local += 1
        else:
            self.launched_remote += 1

    def _release(self, t: TaskEntry, now: float) -> None:
        if t.executor is not None and t.executor in self.executors:
            slot = self.executors[t.executor]
            slot.running.discard(t.key)
            if not slot.running:
                slot.idle_since = now
