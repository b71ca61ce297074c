"""The agent's status update manager (sans-IO), in the shape of Mesos' own.

Updates of one task form a stream: only its head is in flight; the next one is sent only
after the scheduler acknowledged the head (an ``ACKNOWLEDGE`` event with the head's uuid).
The head is resent with exponential backoff (``retry_interval`` doubling up to
``max_retry_interval``) until acknowledged. The agent core calls `add` when a task changes
state, `acknowledge` on ``ACKNOWLEDGE``, `flush` after (re-)registering; the shell calls `due`
to batch whatever is ready into one ``UPDATE`` call and sleeps until `next_deadline`.
"""

from __future__ import annotations

import heapq
import itertools
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from dcos.protocol.ids import FrameworkID, TaskID, unwrap

Update = dict[str, Any]  # {"framework_id": str, "status": TaskStatus JSON}
StreamKey = tuple[FrameworkID, TaskID]


@dataclass
class _Stream:
    queue: deque[Update] = field(default_factory=deque)
    deadline: float = 0.0
    interval: float = 0.0


class StatusUpdateManager:
    def __init__(self, retry_interval: float = 10.0, max_retry_interval: float = 600.0) -> None:
        self.retry_interval = max(retry_interval, 0.001)
        self.max_retry_interval = max(max_retry_interval, self.retry_interval)
        self._streams: dict[StreamKey, _Stream] = {}
        self._heap: list[tuple[float, int, StreamKey]] = []
        self._seq = itertools.count()

    def _arm(self, key: StreamKey, stream: _Stream, deadline: float) -> None:
        stream.deadline = deadline
        heapq.heappush(self._heap, (deadline, next(self._seq), key))

    def add(self, framework_id: FrameworkID, status: dict[str, Any], now: float) -> None:
        """Queue `status` behind the task's earlier updates (ready now if it is the head)."""
        key = (framework_id, TaskID(unwrap(status.get("task_id")) or ""))
        stream = self._streams.get(key)
        if stream is None:
            stream = self._streams[key] = _Stream()
        stream.queue.append({"framework_id": framework_id, "status": status})
        if len(stream.queue) == 1:
            stream.interval = self.retry_interval
            self._arm(key, stream, now)

    def due(self, now: float) -> list[Update]:
        """Heads whose (re)send time has come, each re-armed with a doubled interval."""
        out: list[Update] = []
        while self._heap and self._heap[0][0] <= now:
            deadline, _, key = heapq.heappop(self._heap)
            stream = self._streams.get(key)
            if stream is None or not stream.queue or stream.deadline != deadline:
                continue  # stale heap entry
            out.append(stream.queue[0])
            interval = stream.interval
            stream.interval = min(interval * 2, self.max_retry_interval)
            self._arm(key, stream, now + interval)
        return out

    def acknowledge(
        self, framework_id: FrameworkID, task_id: TaskID, uuid: str, now: float
    ) -> Update | None:
        """Retire the head of the task's stream if `uuid` is its uuid; returns it (else None).

        The next queued update, if any, becomes ready at once.
        """
        key = (framework_id, task_id)
        stream = self._streams.get(key)
        if stream is None or not stream.queue or stream.queue[0]["status"].get("uuid") != uuid:
            return None
        acked = stream.queue.popleft()
        if stream.queue:
            stream.interval = self.retry_interval
            self._arm(key, stream, now)
        else:
            del self._streams[key]
        return acked

    def flush(self, now: float) -> None:
        """Make every head ready now with a fresh backoff (after (re-)registering)."""
        for key, stream in self._streams.items():
            stream.interval = self.retry_interval
            self._arm(key, stream, now)

    def next_deadline(self) -> float | None:
        while self._heap:
            deadline, _, key = self._heap[0]
            stream = self._streams.get(key)
            if stream is not None and stream.deadline == deadline:
                return deadline
            heapq.heappop(self._heap)
        return None

    def pending(self) -> list[Update]:
        """Every unacknowledged update, in order within each task."""
        return [u for s in self._streams.values() for u in s.queue]

    def pending_for(self, framework_id: FrameworkID, task_id: TaskID) -> list[Update]:
        """The task's unacknowledged updates, oldest first (the checkpoint writes them)."""
        stream = self._streams.get((framework_id, task_id))
        return list(stream.queue) if stream is not None else []

    def restore(self, framework_id: FrameworkID, updates: list[Update], now: float) -> None:
        """Queue updates recovered from the checkpoint (the agent resends them, each once,
        when it has re-registered: `flush`)."""
        for u in updates:
            status = u.get("status") if isinstance(u, dict) else None
            if isinstance(status, dict):
                self.add(framework_id, status, now)

    def has_pending(self, framework_id: FrameworkID, task_id: TaskID) -> bool:
        return (framework_id, task_id) in self._streams

    def drop_framework(self, framework_id: FrameworkID) -> None:
        """Forget every update of a framework the master shut down (nobody will ack them)."""
        for key in [k for k in self._streams if k[0] == framework_id]:
            del self._streams[key]

    def set_agent_id(self, agent_id: str) -> None:
        """Rewrite ``agent_id`` in queued updates (the master gave the agent a new id)."""
        for s in self._streams.values():
            for u in s.queue:
                u["status"]["agent_id"] = {"value": agent_id}

    def __len__(self) -> int:
        return sum(len(s.queue) for s in self._streams.values())
