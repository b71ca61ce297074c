"""The agent core (sans-IO): frameworks, tasks and their status updates.

The shell (`dcos.agent.agent.Agent`) feeds it master events (`handle_event`), container
outcomes (`launched`, `exited`) and connection changes (`disconnected`, `refused`), always
with the current time, and carries out the actions it returns: `Launch` / `Destroy` a
container, send a `Call` to the master. Status updates wait in the `StatusUpdateManager`;
the shell batches the due ones with `update_call(now)`. Nothing here touches a socket, a
process or the disk.
"""

from __future__ import annotations

import base64
import logging
from collections import deque
from typing import Any

from dcos.agent.containerizer import LaunchResult, Termination
from dcos.agent.default_executor import TaskGroupsMixin
from dcos.agent.executor import (
    LaunchRefused,
    build_config,
    grace_period,
    task_resources,
    termination_outcome,
)
from dcos.agent.executors import (
    DEFAULT_REGISTRATION_TIMEOUT,
    CloseExecutor,
    ToExecutor,
    Wake,
)
from dcos.agent.model import (
    MAX_COMPLETED_FRAMEWORKS,
    AgentInfo,
    Call,
    Destroy,
    FrameworkRecord,
    Launch,
    Registered,
    TaskRecord,
    Watch,
)
from dcos.agent.status_updates import StatusUpdateManager
from dcos.protocol import internal
from dcos.protocol.ids import (
    AgentID,
    ContainerID,
    FrameworkID,
    MasterID,
    TaskID,
    new_container_id,
    unwrap,
    wrap,
)
from dcos.protocol.mesos import new_status_uuid, task_status
from dcos.protocol.resources import Resources
from dcos.protocol.states import Reason, Source, TaskState, is_terminal

__all__ = [
    "Action",
    "AgentCore",
    "AgentInfo",
    "Call",
    "Destroy",
    "FrameworkRecord",
    "Launch",
    "Registered",
    "TaskRecord",
    "Watch",
]

log = logging.getLogger(__name__)

# What the shell carries out: the core's own actions (dcos.agent.model) and the executors'.
Action = Launch | Destroy | Call | Registered | Watch | ToExecutor | CloseExecutor | Wake


def _uuid_text(value: Any) -> str:
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(value).decode("ascii")
    return str(value)


class AgentCore(TaskGroupsMixin):
    def __init__(
        self,
        info: AgentInfo,
        work_dir: str,
        status_update_retry: float = 10.0,
        base_env: dict[str, str] | None = None,
        executor_registration_timeout: float = DEFAULT_REGISTRATION_TIMEOUT,
    ) -> None:
        self.info = info
        self.work_dir = work_dir
        self.base_env = base_env
        self.updates = StatusUpdateManager(status_update_retry)
        self.master_id: MasterID | None = None
        self.registered = False
        self.frameworks: dict[FrameworkID, FrameworkRecord] = {}
        self.completed_frameworks: deque[FrameworkRecord] = deque(maxlen=MAX_COMPLETED_FRAMEWORKS)
        self._by_container: dict[ContainerID, TaskRecord] = {}
        self.counters: dict[str, int] = {"valid_status_updates": 0, "invalid_status_updates": 0}
        self.terminal_counts: dict[str, int] = {}
        self._init_executors(executor_registration_timeout)
        # what changed since the shell last checkpointed (`dcos.agent.checkpoint`)
        self.checkpointing = True
        self.dirty_agent = False
        self.dirty_frameworks: set[FrameworkID] = set()
        self.dirty_tasks: set[tuple[FrameworkID, TaskID]] = set()

    @property
    def agent_id(self) -> AgentID | None:
        return self.info.id

    @property
    def endpoint(self) -> str:
        return f"{self.info.ip}:{self.info.port}"

    # -- calls to the master ---------------------------------------------------------------

    def subscribe_call(self) -> dict[str, Any]:
        """The SUBSCRIBE body: who we are, what we run and what is still unacknowledged."""
        tasks = []
        frameworks = []
        for fw in self.frameworks.values():
            if fw.tasks:
                frameworks.append(fw.info)
            for rec in fw.tasks.values():
                tasks.append(
                    {
                        "framework_id": fw.id,
                        "task": rec.task,
                        "state": str(rec.state),
                        "status": rec.statuses[-1] if rec.statuses else None,
                    }
                )
        return {
            "type": internal.SUBSCRIBE,
            "agent": self.info.to_wire(),
            "tasks": tasks,
            "frameworks": frameworks,
            "unacked": self.updates.pending(),
        }

    def update_call(self, now: float) -> dict[str, Any] | None:
        """One UPDATE call with every status update due now, or None (also when unregistered)."""
        if not self.registered or self.agent_id is None:
            return None
        due = self.updates.due(now)
        if not due:
            return None
        return {"type": internal.UPDATE, "agent_id": self.agent_id, "updates": due}

    def next_update_deadline(self) -> float | None:
        return self.updates.next_deadline() if self.registered else None

    # -- connection changes ----------------------------------------------------------------

    def disconnected(self) -> None:
        """The stream ended; updates wait until the agent is registered again."""
        self.registered = False

    def refused(self, now: float) -> list[Action]:
        """The master refused us (removed agent): kill everything and register afresh."""
        self.registered = False
        self.info.id = None
        actions: list[Action] = []
        self._mark_agent()
        for fw in list(self.frameworks.values()):
            fw.shutting_down = True
            self._mark_framework(fw.id, all_tasks=True)
            self.updates.drop_framework(fw.id)
            actions += self._shutdown_framework(fw, now)
        return actions

    def kill_all(self, grace_cap: float) -> list[Destroy]:
        """Destroy actions for every container (the agent is stopping)."""
        out: list[Destroy] = [a for a in self._executor_destroys(grace_cap)
                              if isinstance(a, Destroy)]  # fmt: skip
        for rec in self._by_container.values():
            if is_terminal(rec.state):
                continue
            rec.kill_requested = True
            rec.grace = min(rec.grace, grace_cap)
            if rec.launched:
                out.append(Destroy(rec.container_id, rec.grace))
        return out

    # -- master events ---------------------------------------------------------------------

    def handle_event(self, event: dict[str, Any], now: float) -> list[Action]:
        """Apply one event from the master's stream; unknown types are logged and ignored."""
        kind = event.get("type")
        handler = self._handlers.get(kind) if isinstance(kind, str) else None
        if handler is None:
            log.warning("ignoring unknown master event %r", kind)
            return []
        return handler(self, event, now)

    def _on_registered(self, event: dict[str, Any], now: float) -> list[Action]:
        agent_id = AgentID(str(event.get("agent_id")))
        if self.info.id is not None and self.info.id != agent_id:
            self.updates.set_agent_id(agent_id)
            for fid in self.frameworks:
                self._mark_framework(fid, all_tasks=True)
        self.info.id = agent_id
        self._mark_agent()
        self.master_id = MasterID(str(event.get("master_id") or ""))
        self.registered = True
        self.updates.flush(now)
        interval = event.get("ping_interval")
        ping = float(interval) if isinstance(interval, (int, float)) else None
        return [Registered(agent_id, self.master_id, ping)]

    def _on_ping(self, event: dict[str, Any], now: float) -> list[Action]:
        return [Call({"type": internal.PONG, "agent_id": self.agent_id})]

    def _framework(self, info: dict[str, Any]) -> FrameworkRecord | None:
        fid = unwrap(info.get("id")) if isinstance(info, dict) else None
        if fid is None:
            return None
        fw = self.frameworks.get(FrameworkID(fid))
        if fw is None:
            fw = self.frameworks[FrameworkID(fid)] = FrameworkRecord(FrameworkID(fid), info)
        else:
            fw.info = info
            fw.shutting_down = False
        self._mark_framework(fw.id)
        return fw

    def _on_run_tasks(self, event: dict[str, Any], now: float) -> list[Action]:
        fw = self._framework(event.get("framework") or {})
        if fw is None:
            log.warning("RUN_TASKS without a framework id; dropped")
            return []
        actions: list[Action] = []
        for task in event.get("tasks") or []:
            if isinstance(task, dict):
                actions += self._run_task(fw, task, now)
        return actions

    def _run_task(self, fw: FrameworkRecord, task: dict[str, Any], now: float) -> list[Action]:
        task_id = TaskID(unwrap(task.get("task_id")) or "")
        if task_id in fw.tasks:
            log.warning("task %s of %s is already known; RUN_TASKS ignored", task_id, fw.id)
            return []
        if isinstance(task.get("executor"), dict):
            return self._run_on_executor(fw, task["executor"], [task], False, now)
        resources = task_resources(task)
        rec = TaskRecord(fw.id, task_id, task, new_container_id(), resources)
        rec.grace = grace_period(task)
        fw.tasks[task_id] = rec
        try:
            config = build_config(
                task,
                framework_id=fw.id,
                agent_id=self.agent_id or AgentID(""),
                container_id=rec.container_id,
                work_dir=self.work_dir,
                agent_endpoint=self.endpoint,
                hostname=self.info.hostname,
                base_env=self.base_env,
                # parsed above; empty (perhaps unparseable) ones are parsed again, so that
                # build_config refuses bad resources with their error
                resources=rec.resources or None,
            )
        except LaunchRefused as exc:
            self._status(rec, TaskState.TASK_FAILED, now, str(exc),
                         Reason.REASON_CONTAINER_LAUNCH_FAILED)  # fmt: skip
            return []
        rec.sandbox = config.sandbox
        rec.config = config
        self._by_container[rec.container_id] = rec
        self._status(rec, TaskState.TASK_STARTING, now)
        return [Launch(rec.container_id, config)]

    def _find(self, event: dict[str, Any]) -> tuple[FrameworkRecord | None, TaskRecord | None]:
        fid = event.get("framework_id")
        tid = event.get("task_id")
        fid = unwrap(fid) if isinstance(fid, dict) else fid
        tid = unwrap(tid) if isinstance(tid, dict) else tid
        fw = self.frameworks.get(FrameworkID(str(fid)))
        if fw is None:
            return None, None
        return fw, fw.tasks.get(TaskID(str(tid)))

    def _on_kill_task(self, event: dict[str, Any], now: float) -> list[Action]:
        fw, rec = self._find(event)
        if rec is None:
            tid = event.get("task_id")
            tid = unwrap(tid) if isinstance(tid, dict) else tid
            if fw is not None and any(t.task_id == tid for t in fw.completed):
                return []
            fid = event.get("framework_id")
            fid = unwrap(fid) if isinstance(fid, dict) else fid
            if not tid or not fid:
                return []
            # the master thinks we run it; we do not: tell it the task is gone
            status = self._new_status(FrameworkID(str(fid)), TaskID(str(tid)),
                                      TaskState.TASK_LOST, now, "Task unknown to the agent",
                                      Reason.REASON_TASK_UNKNOWN, Source.SOURCE_AGENT)  # fmt: skip
            self.updates.add(FrameworkID(str(fid)), status, now)
            self._mark(FrameworkID(str(fid)), TaskID(str(tid)))
            return []
        assert fw is not None
        grace = grace_period(rec.task, event.get("kill_policy"))
        ex = self.executors.get((fw.id, rec.executor_id)) if rec.executor_id else None
        if ex is not None and ex.kind == "custom":
            return self._kill_executor_task(ex, rec, now, event.get("kill_policy"))
        if ex is not None:
            return self._kill_group(fw, rec, now, grace)
        return self._kill(fw, rec, now, grace)

    def _kill(self, fw: FrameworkRecord, rec: TaskRecord, now: float, grace: float) -> list[Action]:
        if is_terminal(rec.state) or rec.kill_requested:
            return []
        ex = self.executors.get((fw.id, rec.executor_id)) if rec.executor_id else None
        if ex is not None and ex.kind == "custom":
            return self._kill_executor_task(ex, rec, now, None)
        rec.kill_requested = True
        rec.grace = grace
        self._mark(rec.framework_id, rec.task_id)
        if not rec.launched:
            return []  # `launched` destroys it as soon as the launch completes
        if "TASK_KILLING_STATE" in fw.capabilities() and not fw.shutting_down:
            self._status(rec, TaskState.TASK_KILLING, now)
        return [Destroy(rec.container_id, grace)]

    def _shutdown_framework(self, fw: FrameworkRecord, now: float) -> list[Action]:
        actions: list[Action] = []
        for rec in list(fw.tasks.values()):
            actions += self._kill(fw, rec, now, rec.grace)
            self._maybe_complete(fw, rec)
        self._maybe_complete_framework(fw)
        return actions

    def _on_shutdown_framework(self, event: dict[str, Any], now: float) -> list[Action]:
        fid = event.get("framework_id")
        fid = unwrap(fid) if isinstance(fid, dict) else fid
        fw = self.frameworks.get(FrameworkID(str(fid)))
        if fw is None:
            return []
        fw.shutting_down = True
        self._mark_framework(fw.id, all_tasks=True)
        self.updates.drop_framework(fw.id)
        return self._shutdown_framework_executors(fw, now) + self._shutdown_framework(fw, now)

    def _on_acknowledge(self, event: dict[str, Any], now: float) -> list[Action]:
        fw, rec = self._find(event)
        fid = event.get("framework_id")
        fid = unwrap(fid) if isinstance(fid, dict) else fid
        tid = event.get("task_id")
        tid = unwrap(tid) if isinstance(tid, dict) else tid
        acked = self.updates.acknowledge(
            FrameworkID(str(fid)), TaskID(str(tid)), _uuid_text(event.get("uuid")), now
        )
        if acked is None:
            log.debug("ignoring acknowledgement of %s/%s: not the pending update", fid, tid)
            return []
        self._mark(FrameworkID(str(fid)), TaskID(str(tid)))
        actions = self._executor_acknowledged(rec, _uuid_text(event.get("uuid")))
        if fw is not None and rec is not None:
            self._maybe_complete(fw, rec)
            self._maybe_complete_framework(fw)
        return actions

    def _on_update_framework(self, event: dict[str, Any], now: float) -> list[Action]:
        info = event.get("framework") or {}
        fid = unwrap(info.get("id")) if isinstance(info, dict) else None
        if fid and fid in self.frameworks:
            self.frameworks[FrameworkID(fid)].info = info
            self._mark_framework(FrameworkID(fid))
        return []

    def _on_framework_message(self, event: dict[str, Any], now: float) -> list[Action]:
        return self._executor_framework_message(event)

    _handlers = {
        internal.REGISTERED: _on_registered,
        internal.PING: _on_ping,
        internal.RUN_TASKS: _on_run_tasks,
        internal.RUN_TASK_GROUP: TaskGroupsMixin._on_run_task_group,
        internal.KILL_TASK: _on_kill_task,
        internal.SHUTDOWN_FRAMEWORK: _on_shutdown_framework,
        internal.ACKNOWLEDGE: _on_acknowledge,
        internal.UPDATE_FRAMEWORK: _on_update_framework,
        internal.FRAMEWORK_MESSAGE: _on_framework_message,
        internal.SHUTDOWN_EXECUTOR: TaskGroupsMixin._on_shutdown_executor,
    }

    # -- container outcomes ----------------------------------------------------------------

    def launched(self, container_id: ContainerID, result: LaunchResult, now: float) -> list[Action]:
        """The containerizer finished launching: RUNNING, or FAILED with the cause."""
        ex = self._executor_by_container.get(container_id)
        if ex is not None:
            return self._executor_launched(ex, result, now)
        rec = self._by_container.get(container_id)
        if rec is None:
            return []
        fw = self.frameworks[rec.framework_id]
        if not result.ok:
            self._by_container.pop(container_id, None)
            self._status(rec, TaskState.TASK_FAILED, now, result.error,
                         Reason.REASON_CONTAINER_LAUNCH_FAILED)  # fmt: skip
            actions = self._group_task_ended(rec, now)
            self._maybe_complete(fw, rec)
            self._maybe_complete_framework(fw)
            return actions
        rec.launched = True
        self._mark(rec.framework_id, rec.task_id)
        if rec.kill_requested:
            return [Destroy(container_id, rec.grace)]
        self._status(rec, TaskState.TASK_RUNNING, now)
        return []

    def exited(self, container_id: ContainerID, term: Termination, now: float) -> list[Action]:
        """The container ended: the task's terminal update."""
        ex = self._executor_by_container.get(container_id)
        if ex is not None:
            return self._executor_exited(ex, term, now)
        rec = self._by_container.pop(container_id, None)
        if rec is None or is_terminal(rec.state):
            return []
        fw = self.frameworks[rec.framework_id]
        state, reason, message = termination_outcome(term, rec.kill_requested)
        if state == TaskState.TASK_KILLED and rec.state == TaskState.TASK_STARTING:
            reason = Reason.REASON_TASK_KILLED_DURING_LAUNCH
        if rec.health_failure is not None and term.reason is None:
            state, reason = TaskState.TASK_KILLED, Reason.REASON_TASK_HEALTH_CHECK_STATUS_UPDATED
            message = rec.health_failure
        self._status(rec, state, now, message, reason)
        actions = self._group_task_ended(rec, now)
        self._maybe_complete(fw, rec)
        self._maybe_complete_framework(fw)
        return actions

    # -- health checks (fed by `dcos.agent.health_runner.HealthRunner` via the shell) --------

    def task_record(self, container_id: ContainerID) -> TaskRecord | None:
        """The live task running in `container_id` (None once it ended)."""
        return self._by_container.get(container_id)

    def health_changed(self, container_id: ContainerID, healthy: bool, now: float) -> list[Action]:
        """The task's health changed: a TASK_RUNNING update with `healthy` set."""
        rec = self._by_container.get(container_id)
        if rec is None or rec.state != TaskState.TASK_RUNNING or rec.kill_requested:
            return []
        rec.healthy = healthy
        self._status(rec, TaskState.TASK_RUNNING, now, None,
                     Reason.REASON_TASK_HEALTH_CHECK_STATUS_UPDATED)  # fmt: skip
        return []

    def health_failed(self, container_id: ContainerID, message: str, now: float) -> list[Action]:
        """Too many consecutive failed checks: kill the task; its terminal update says why."""
        rec = self._by_container.get(container_id)
        if rec is None or is_terminal(rec.state) or rec.kill_requested:
            return []
        rec.healthy = False
        rec.health_failure = message
        return self._kill(self.frameworks[rec.framework_id], rec, now, rec.grace)

    # -- helpers ---------------------------------------------------------------------------

    def _new_status(
        self,
        framework_id: FrameworkID,
        task_id: TaskID,
        state: TaskState,
        now: float,
        message: str | None,
        reason: str | None,
        source: Source,
        container_id: ContainerID | None = None,
        healthy: bool | None = None,
        executor_id: str | None = None,
    ) -> dict[str, Any]:
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

    def _status(
        self,
        rec: TaskRecord,
        state: TaskState,
        now: float,
        message: str | None = None,
        reason: str | None = None,
    ) -> None:
        """Move `rec` to `state` and queue the update (dropped for a shut-down framework)."""
        status = self._new_status(rec.framework_id, rec.task_id, state, now, message, reason,
                                  self._status_source(rec), rec.container_id,
                                  rec.healthy, rec.executor_id)  # fmt: skip
        rec.state = state
        rec.statuses.append(status)
        self._mark(rec.framework_id, rec.task_id)
        self.counters["valid_status_updates"] += 1
        if is_terminal(state):
            self.terminal_counts[state] = self.terminal_counts.get(state, 0) + 1
        fw = self.frameworks.get(rec.framework_id)
        if fw is not None and not fw.shutting_down:
            self.updates.add(rec.framework_id, status, now)

    def _maybe_complete(self, fw: FrameworkRecord, rec: TaskRecord) -> None:
        """A terminal task whose updates are all acknowledged becomes a completed task."""
        if not is_terminal(rec.state) or self.updates.has_pending(fw.id, rec.task_id):
            return
        if fw.tasks.pop(rec.task_id, None) is not None:
            fw.completed.append(rec)
            self._mark(fw.id, rec.task_id)

    def _maybe_complete_framework(self, fw: FrameworkRecord) -> None:
        if fw.tasks or self.frameworks.get(fw.id) is not fw or self._has_executors(fw.id):
            return
        del self.frameworks[fw.id]
        self.completed_frameworks.append(fw)
        self._mark_framework(fw.id)

    # -- checkpoint marks (written by `dcos.agent.checkpoint.Checkpointer`) ---------------

    def _mark(self, framework_id: FrameworkID, task_id: TaskID) -> None:
        if self.checkpointing:
            self.dirty_tasks.add((framework_id, task_id))

    def _mark_framework(self, framework_id: FrameworkID, all_tasks: bool = False) -> None:
        """The framework's file changed; `all_tasks`: every task file of it too."""
        if not self.checkpointing:
            return
        self.dirty_frameworks.add(framework_id)
        fw = self.frameworks.get(framework_id)
        if all_tasks and fw is not None:
            self.dirty_tasks.update((framework_id, tid) for tid in fw.tasks)

    def _mark_agent(self) -> None:
        if self.checkpointing:
            self.dirty_agent = True

    # -- views -----------------------------------------------------------------------------

    def live_tasks(self) -> list[TaskRecord]:
        return [
            rec for fw in self.frameworks.values() for rec in fw.tasks.values()
            if not is_terminal(rec.state)
        ]  # fmt: skip

    def used_resources(self) -> Resources:
        total = Resources.empty()
        for rec in self.live_tasks():
            total = total + rec.resources
        return total + self._executor_resources()
