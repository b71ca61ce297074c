"""The agent core's task ledger (sans-IO): frameworks, their tasks, status updates, marks.

Owned by `dcos.agent.core.AgentCore` and shared with its executor supervisor and task groups:
it holds every framework and task record, makes and queues their status updates (in the
`StatusUpdateManager`), retires terminal acknowledged tasks and idle frameworks, and marks
what changed for the checkpoint (`take_checkpoint` hands the marks to the core, which returns
them as a `CheckpointChanges` action). It knows nothing of executors but one question,
`busy(framework_id)` (a live custom executor keeps its framework), given by the core.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any

from dcos.agent.core.actions import CheckpointChanges, Destroy
from dcos.agent.core.model import (
    MAX_COMPLETED_FRAMEWORKS,
    AgentInfo,
    FrameworkRecord,
    TaskRecord,
)
from dcos.agent.status_updates import StatusUpdateManager
from dcos.protocol.ids import AgentID, ContainerID, ExecutorID, FrameworkID, TaskID, wrap
from dcos.protocol.mesos import new_status_uuid, task_status
from dcos.protocol.resources import Resources
from dcos.protocol.states import Source, TaskState, is_terminal


class TaskLedger:
    def __init__(self, info: AgentInfo, status_update_retry: float = 10.0) -> None:
        self.info = info
        self.updates = StatusUpdateManager(status_update_retry)
        self.frameworks: dict[FrameworkID, FrameworkRecord] = {}
        self.completed_frameworks: deque[FrameworkRecord] = deque(maxlen=MAX_COMPLETED_FRAMEWORKS)
        self.by_container: dict[ContainerID, TaskRecord] = {}  # live command / group tasks
        self.counters: dict[str, int] = {"valid_status_updates": 0, "invalid_status_updates": 0}
        self.terminal_counts: dict[str, int] = {}
        self.busy: Callable[[FrameworkID], bool] = lambda fid: False
        self.updates_queued = False  # an update was queued since the core last looked
        # what changed since the core last handed out a `CheckpointChanges`
        self.checkpointing = True
        self._dirty_agent = False
        self._dirty_frameworks: set[FrameworkID] = set()
        self._dirty_tasks: set[tuple[FrameworkID, TaskID]] = set()
        self._dirty_executors: set[tuple[FrameworkID, ExecutorID]] = set()

    @property
    def agent_id(self) -> AgentID | None:
        return self.info.id

    # -- frameworks and tasks ----------------------------------------------------------------

    def framework(self, info: dict[str, Any], fid: FrameworkID) -> FrameworkRecord:
        """The framework's record, made or refreshed from its FrameworkInfo."""
        fw = self.frameworks.get(fid)
        if fw is None:
            fw = self.frameworks[fid] = FrameworkRecord(fid, info)
        else:
            fw.info = info
            fw.shutting_down = False
        self.mark_framework(fid)
        return fw

    def find(self, fid: FrameworkID, tid: TaskID) -> tuple[FrameworkRecord | None,
                                                           TaskRecord | None]:  # fmt: skip
        fw = self.frameworks.get(fid)
        return (None, None) if fw is None else (fw, fw.tasks.get(tid))

    def was_completed(self, fw: FrameworkRecord, tid: str) -> bool:
        return any(t.task_id == tid for t in fw.completed)

    def maybe_complete(self, fw: FrameworkRecord, rec: TaskRecord) -> None:
        """A terminal task whose updates are all acknowledged becomes a completed task."""
        if not is_terminal(rec.state) or self.updates.has_pending(fw.id, rec.task_id):
            return
        if fw.tasks.pop(rec.task_id, None) is not None:
            fw.completed.append(rec)
            self.mark(fw.id, rec.task_id)

    def maybe_complete_framework(self, fw: FrameworkRecord) -> None:
        """A framework with no task and no live executor left becomes a completed one."""
        if fw.tasks or self.frameworks.get(fw.id) is not fw or self.busy(fw.id):
            return
        del self.frameworks[fw.id]
        self.completed_frameworks.append(fw)
        self.mark_framework(fw.id)

    def kill_container(self, fw: FrameworkRecord, rec: TaskRecord, now: float,
                       grace: float) -> list[Destroy]:  # fmt: skip
        """Kill a command or task-group task: TASK_KILLING (if the framework takes it) and
        its container destroyed, or destroyed as soon as its launch completes."""
        if is_terminal(rec.state) or rec.kill_requested:
            return []
        rec.kill_requested = True
        rec.grace = grace
        self.mark(rec.framework_id, rec.task_id)
        if not rec.launched:
            return []  # `ContainerLaunched` destroys it as soon as the launch completes
        if "TASK_KILLING_STATE" in fw.capabilities() and not fw.shutting_down:
            self.status(rec, TaskState.TASK_KILLING, now)
        return [Destroy(rec.container_id, grace)]

    def live_tasks(self) -> list[TaskRecord]:
        return [
            rec for fw in self.frameworks.values() for rec in fw.tasks.values()
            if not is_terminal(rec.state)
        ]  # fmt: skip

    def used_resources(self) -> Resources:
        total = Resources.empty()
        for rec in self.live_tasks():
            total = total + rec.resources
        return total

    # -- status updates ----------------------------------------------------------------------

    def new_status(
        self, framework_id: FrameworkID, task_id: TaskID, state: TaskState, now: float,
        message: str | None, reason: str | None, source: Source,
        container_id: ContainerID | None = None, healthy: bool | None = None,
        executor_id: str | None = None,
    ) -> dict[str, Any]:  # fmt: skip
        status = task_status(
            task_id, str(state), agent_id=self.agent_id, source=str(source), timestamp=now,
            uuid=new_status_uuid(), message=message,
            reason=str(reason) if reason is not None else None,
            executor_id=executor_id or task_id,
            healthy=healthy,
        )  # fmt: skip
        if container_id is not None:
            status["container_status"] = {
                "container_id": wrap(container_id),
                "network_infos": [{"ip_addresses": [{"ip_address": self.info.ip}]}],
            }
        return status

    def status(
        self, rec: TaskRecord, state: TaskState, now: float, message: str | None = None,
        reason: str | None = None, source: Source = Source.SOURCE_EXECUTOR,
    ) -> None:  # fmt: skip
        """Move `rec` to `state` and queue the update (dropped for a shut-down framework).
        The agent speaks as the executor of command and group tasks, and as itself
        (SOURCE_AGENT) for the tasks of a custom executor."""
        status = self.new_status(rec.framework_id, rec.task_id, state, now, message, reason,
                                 source, rec.container_id, rec.healthy, rec.executor_id)  # fmt: skip
        rec.state = state
        rec.statuses.append(status)
        self.mark(rec.framework_id, rec.task_id)
        self.counters["valid_status_updates"] += 1
        if is_terminal(state):
            self.terminal_counts[state] = self.terminal_counts.get(state, 0) + 1
        fw = self.frameworks.get(rec.framework_id)
        if fw is not None and not fw.shutting_down:
            self.queue_update(rec.framework_id, status, now)

    def record_status(self, rec: TaskRecord | None, status: dict[str, Any], state: str) -> None:
        """An update an executor made: `rec` (if known) takes its state; counted."""
        if rec is not None:
            rec.state = TaskState(state)
            rec.statuses.append(status)
            if is_terminal(state):
                self.terminal_counts[state] = self.terminal_counts.get(state, 0) + 1
        self.counters["valid_status_updates"] += 1

    def queue_update(self, framework_id: FrameworkID, status: dict[str, Any], now: float) -> None:
        self.updates.add(framework_id, status, now)
        self.updates_queued = True

    # -- checkpoint marks --------------------------------------------------------------------

    def mark(self, framework_id: FrameworkID, task_id: TaskID) -> None:
        if self.checkpointing:
            self._dirty_tasks.add((framework_id, task_id))

    def mark_framework(self, framework_id: FrameworkID, all_tasks: bool = False) -> None:
        """The framework's file changed; `all_tasks`: every task file of it too."""
        if not self.checkpointing:
            return
        self._dirty_frameworks.add(framework_id)
        fw = self.frameworks.get(framework_id)
        if all_tasks and fw is not None:
            self._dirty_tasks.update((framework_id, tid) for tid in fw.tasks)

    def mark_agent(self) -> None:
        if self.checkpointing:
            self._dirty_agent = True

    def mark_executor(self, key: tuple[FrameworkID, ExecutorID]) -> None:
        """The executor's file changed (written, or removed once it is retired)."""
        if self.checkpointing:
            self._dirty_executors.add(key)

    def take_checkpoint(self) -> CheckpointChanges | None:
        """The marks made since the last call, as one action (None when nothing changed)."""
        if not (self._dirty_agent or self._dirty_frameworks or self._dirty_tasks
                or self._dirty_executors):  # fmt: skip
            return None
        out = CheckpointChanges(self._dirty_agent, self._dirty_frameworks, self._dirty_tasks,
                                self._dirty_executors)  # handed over, not copied
        self._dirty_agent = False
        self._dirty_frameworks = set()
        self._dirty_tasks = set()
        self._dirty_executors = set()
        return out
