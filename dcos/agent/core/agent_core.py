"""The agent core (sans-IO): frameworks, tasks, executors and their status updates.

One way in, one way out: the shell (`dcos.agent.shell.AgentShell`) feeds every event
(`dcos.agent.core.events`: the master's, the executors' calls, container outcomes, timers,
connection changes), always with the current time, to `handle`, and carries out the actions it
returns (`dcos.agent.core.actions`): `Launch` / `Destroy` a container, `SendToMaster`,
`ToExecutor`, `Wake` for a `Tick`, `UpdatesDue` for a `SendDueUpdates`, `CheckpointChanges` what
changed. Nothing here touches a socket, a process or the disk, and nothing is left for the
shell to poll.

The core is made of parts with narrow jobs, each in its own module:

- `TaskLedger` (`ledger.py`): frameworks, task records, status updates, checkpoint marks;
- `ExecutorSupervisor` (`supervisor.py`): custom executors' lives and timers;
- `ExecutorCalls` (`executor_calls.py`): the executors' SUBSCRIBE / UPDATE / MESSAGE;
- `TaskGroups` (`task_groups.py`): task groups under the built-in default executor;
- `Recovery` (`reattach.py`): what recovered containers become after an agent restart.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from typing import Any

from dcos.agent.command_executor import (
    LaunchRefused,
    build_config,
    grace_period,
    task_resources,
    termination_outcome,
)
from dcos.agent.core import events as ev
from dcos.agent.core.actions import (
    Action,
    Destroy,
    Launch,
    Registered,
    SendToMaster,
    SendUpdates,
    UpdatesDue,
)
from dcos.agent.core.custom_executor import DEFAULT_REGISTRATION_TIMEOUT
from dcos.agent.core.executor_calls import ExecutorCalls
from dcos.agent.core.ledger import TaskLedger
from dcos.agent.core.model import (
    AgentInfo,
    ExecutorKey,
    ExecutorRecord,
    FrameworkRecord,
    LaunchSite,
    TaskRecord,
)
from dcos.agent.core.reattach import Recovery
from dcos.agent.core.supervisor import ExecutorSupervisor
from dcos.agent.core.task_groups import TaskGroups
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
)
from dcos.protocol.resources import Resources
from dcos.protocol.states import Reason, Source, TaskState, is_terminal

log = logging.getLogger(__name__)

Handler = Callable[[Any, Any, float], list[Action]]


class AgentCore:
    def __init__(
        self,
        info: AgentInfo,
        work_dir: str,
        status_update_retry: float = 10.0,
        base_env: dict[str, str] | None = None,
        executor_registration_timeout: float = DEFAULT_REGISTRATION_TIMEOUT,
    ) -> None:
        self.info = info
        self.site = LaunchSite(info, work_dir, base_env)
        self.ledger = TaskLedger(info, status_update_retry)
        self.supervisor = ExecutorSupervisor(self.ledger, self.site, executor_registration_timeout)
        self.ledger.busy = self.supervisor.busy
        self.calls = ExecutorCalls(self.supervisor, self.ledger)
        self.groups = TaskGroups(self.ledger, self.supervisor, self.site)
        self.recovery = Recovery(self.ledger, self.supervisor, self._launched, self._exited)
        self.master_id: MasterID | None = None
        self.registered = False

    # -- the one way in --------------------------------------------------------------------

    def handle(self, event: ev.Event, now: float) -> list[Action]:
        """Apply one event; the actions to carry out, the last ones saying when status
        updates are due (`UpdatesDue`) and what to checkpoint (`CheckpointChanges`)."""
        actions = self._handlers[type(event)](self, event, now)
        ledger = self.ledger
        if ledger.updates_queued:
            ledger.updates_queued = False
            deadline = ledger.updates.next_deadline() if self.registered else None
            if deadline is not None:
                actions.append(UpdatesDue(deadline))
        marks = ledger.take_checkpoint()
        if marks is not None:
            actions.append(marks)
        return actions

    # -- views (read by the shell, the HTTP endpoints, the checkpoint) -----------------------

    @property
    def agent_id(self) -> AgentID | None:
        return self.info.id

    @property
    def work_dir(self) -> str:
        return self.site.work_dir

    @property
    def frameworks(self) -> dict[FrameworkID, FrameworkRecord]:
        return self.ledger.frameworks

    @property
    def completed_frameworks(self) -> deque[FrameworkRecord]:
        return self.ledger.completed_frameworks

    @property
    def executors(self) -> dict[ExecutorKey, ExecutorRecord]:
        """Live executors (custom, and default ones of task groups)."""
        return self.supervisor.executors

    @property
    def completed_executors(self) -> deque[ExecutorRecord]:
        return self.supervisor.completed_executors

    @property
    def updates(self) -> StatusUpdateManager:
        """The unacknowledged status updates (read-only use: counts, checkpoint)."""
        return self.ledger.updates

    @property
    def counters(self) -> dict[str, int]:
        return self.ledger.counters

    @property
    def terminal_counts(self) -> dict[str, int]:
        return self.ledger.terminal_counts

    def task_record(self, container_id: ContainerID) -> TaskRecord | None:
        """The live command or task-group task running in `container_id` (None once ended)."""
        return self.ledger.by_container.get(container_id)

    def live_tasks(self) -> list[TaskRecord]:
        return self.ledger.live_tasks()

    def used_resources(self) -> Resources:
        return self.ledger.used_resources() + self.supervisor.used_resources()

    def subscribe_call(self) -> dict[str, Any]:
        """The SUBSCRIBE body: who we are, what we run and what is still unacknowledged."""
        tasks = []
        frameworks = []
        for fw in self.ledger.frameworks.values():
            if fw.tasks:
                frameworks.append(fw.info)
            for rec in fw.tasks.values():
                tasks.append({
                    "framework_id": fw.id, "task": rec.task, "state": str(rec.state),
                    "status": rec.statuses[-1] if rec.statuses else None,
                })  # fmt: skip
        return {
            "type": internal.SUBSCRIBE,
            "agent": self.info.to_wire(),
            "tasks": tasks,
            "frameworks": frameworks,
            "unacked": self.ledger.updates.pending(),
        }

    # -- status updates and connection changes ---------------------------------------------

    def _send_due_updates(self, event: ev.SendDueUpdates, now: float) -> list[Action]:
        """One UPDATE call with every status update due now, and when the next ones are."""
        if not self.registered or self.agent_id is None:
            return []
        updates = self.ledger.updates
        due = updates.due(now)
        out: list[Action] = []
        if due:
            out.append(SendUpdates({"type": internal.UPDATE, "agent_id": self.agent_id,
                                    "updates": due}))  # fmt: skip
        deadline = updates.next_deadline()
        if deadline is not None:
            out.append(UpdatesDue(deadline))
        return out

    def _disconnected(self, event: ev.Disconnected, now: float) -> list[Action]:
        self.registered = False
        return []

    def _refused(self, event: ev.MasterRefused, now: float) -> list[Action]:
        """The master refused us (removed agent): kill everything and register afresh."""
        self.registered = False
        self.info.id = None
        ledger = self.ledger
        actions: list[Action] = []
        ledger.mark_agent()
        for fw in list(ledger.frameworks.values()):
            fw.shutting_down = True
            ledger.mark_framework(fw.id, all_tasks=True)
            ledger.updates.drop_framework(fw.id)
            actions += self._shutdown_tasks(fw, now)
        return actions

    def _kill_all(self, event: ev.KillAll, now: float) -> list[Action]:
        """Destroy actions for every container (the agent is stopping)."""
        out: list[Action] = list(self.supervisor.destroy_all(event.grace_cap))
        for rec in self.ledger.by_container.values():
            if is_terminal(rec.state):
                continue
            rec.kill_requested = True
            rec.grace = min(rec.grace, event.grace_cap)
            if rec.launched:
                out.append(Destroy(rec.container_id, rec.grace))
        return out

    def _tick(self, event: ev.Tick, now: float) -> list[Action]:
        return self.supervisor.tick(now)

    # -- master events ---------------------------------------------------------------------

    def _on_registered(self, event: ev.MasterRegistered, now: float) -> list[Action]:
        ledger = self.ledger
        if self.info.id is not None and self.info.id != event.agent_id:
            ledger.updates.set_agent_id(event.agent_id)
            for fid in ledger.frameworks:
                ledger.mark_framework(fid, all_tasks=True)
        self.info.id = event.agent_id
        ledger.mark_agent()
        self.master_id = event.master_id
        self.registered = True
        ledger.updates.flush(now)
        ledger.updates_queued = True  # every pending update is due now
        return [Registered(event.agent_id, event.master_id, event.ping_interval)]

    def _on_ping(self, event: ev.Ping, now: float) -> list[Action]:
        return [SendToMaster({"type": internal.PONG, "agent_id": self.agent_id})]

    def _on_run_tasks(self, event: ev.RunTasks, now: float) -> list[Action]:
        fw = self.ledger.framework(event.framework, event.framework_id)
        actions: list[Action] = []
        for task in event.tasks:
            actions += self._run_task(fw, task, now)
        return actions

    def _run_task(self, fw: FrameworkRecord, task: dict[str, Any], now: float) -> list[Action]:
        task_id = unwrap(task.get("task_id")) or ""
        if task_id in fw.tasks:
            log.warning("task %s of %s is already known; RUN_TASKS ignored", task_id, fw.id)
            return []
        if isinstance(task.get("executor"), dict):
            return self.supervisor.run(fw, task["executor"], [task], False, now)
        rec = TaskRecord(fw.id, TaskID(task_id), task, new_container_id(), task_resources(task))
        rec.grace = grace_period(task)
        fw.tasks[rec.task_id] = rec
        site = self.site
        try:
            config = build_config(
                task, framework_id=fw.id, agent_id=site.agent_id,
                container_id=rec.container_id, work_dir=site.work_dir,
                agent_endpoint=site.endpoint, hostname=self.info.hostname,
                base_env=site.base_env,
                # parsed above; empty (perhaps unparseable) ones are parsed again, so that
                # build_config refuses bad resources with their error
                resources=rec.resources or None,
            )  # fmt: skip
        except LaunchRefused as exc:
            self.ledger.status(rec, TaskState.TASK_FAILED, now, str(exc),
                               Reason.REASON_CONTAINER_LAUNCH_FAILED)  # fmt: skip
            return []
        rec.sandbox = config.sandbox
        rec.config = config
        self.ledger.by_container[rec.container_id] = rec
        self.ledger.status(rec, TaskState.TASK_STARTING, now)
        return [Launch(rec.container_id, config)]

    def _on_run_task_group(self, event: ev.RunTaskGroup, now: float) -> list[Action]:
        fw = self.ledger.framework(event.framework, event.framework_id)
        return self.groups.run(fw, event.executor, event.tasks, now)

    def _on_kill_task(self, event: ev.KillTask, now: float) -> list[Action]:
        ledger = self.ledger
        fid, tid = event.framework_id, event.task_id
        fw, rec = ledger.find(fid, tid)
        if rec is None:
            if fw is not None and ledger.was_completed(fw, tid):
                return []
            if not tid or not fid:
                return []
            # the master thinks we run it; we do not: tell it the task is gone
            status = ledger.new_status(fid, tid, TaskState.TASK_LOST, now,
                                       "Task unknown to the agent", Reason.REASON_TASK_UNKNOWN,
                                       Source.SOURCE_AGENT)  # fmt: skip
            ledger.queue_update(fid, status, now)
            ledger.mark(fid, tid)
            return []
        assert fw is not None
        custom = self.supervisor.custom_of(rec)
        if custom is not None:
            return self.supervisor.kill_task(custom, rec, now, event.kill_policy)
        return self.groups.kill(fw, rec, now, grace_period(rec.task, event.kill_policy))

    def _kill(self, fw: FrameworkRecord, rec: TaskRecord, now: float) -> list[Action]:
        """Kill one task with its own grace period, whatever runs it."""
        if is_terminal(rec.state) or rec.kill_requested:
            return []
        custom = self.supervisor.custom_of(rec)
        if custom is not None:
            return self.supervisor.kill_task(custom, rec, now, None)
        return list(self.ledger.kill_container(fw, rec, now, rec.grace))

    def _shutdown_tasks(self, fw: FrameworkRecord, now: float) -> list[Action]:
        actions: list[Action] = []
        for rec in list(fw.tasks.values()):
            actions += self._kill(fw, rec, now)
            self.ledger.maybe_complete(fw, rec)
        self.ledger.maybe_complete_framework(fw)
        return actions

    def _on_shutdown_framework(self, event: ev.ShutdownFramework, now: float) -> list[Action]:
        ledger = self.ledger
        fw = ledger.frameworks.get(event.framework_id)
        if fw is None:
            return []
        fw.shutting_down = True
        ledger.mark_framework(fw.id, all_tasks=True)
        ledger.updates.drop_framework(fw.id)
        return self.supervisor.shutdown_framework(fw.id, now) + self._shutdown_tasks(fw, now)

    def _on_shutdown_executor(self, event: ev.ShutdownExecutor, now: float) -> list[Action]:
        """SHUTDOWN_EXECUTOR from the master (the scheduler's SHUTDOWN call)."""
        fid, eid = event.framework_id, event.executor_id
        ex = self.supervisor.executors.get((fid, eid))
        if ex is not None and ex.kind == "custom":
            return self.supervisor.shutdown(ex, now)
        fw = self.ledger.frameworks.get(fid)
        if fw is None:
            return []
        out: list[Action] = []
        for rec in list(fw.tasks.values()):
            if rec.executor_id == eid or (rec.executor_id is None and rec.task_id == eid):
                out += self._kill(fw, rec, now)
        return out

    def _on_acknowledge(self, event: ev.Acknowledge, now: float) -> list[Action]:
        ledger = self.ledger
        fid, tid = event.framework_id, event.task_id
        fw, rec = ledger.find(fid, tid)
        if ledger.updates.acknowledge(fid, tid, event.uuid, now) is None:
            log.debug("ignoring acknowledgement of %s/%s: not the pending update", fid, tid)
            return []
        ledger.mark(fid, tid)
        ledger.updates_queued = True  # the task's next update, if any, is due now
        actions = self.supervisor.acknowledged(rec, event.uuid)
        if fw is not None and rec is not None:
            ledger.maybe_complete(fw, rec)
            ledger.maybe_complete_framework(fw)
        return actions

    def _on_update_framework(self, event: ev.UpdateFramework, now: float) -> list[Action]:
        fw = self.ledger.frameworks.get(event.framework_id)
        if fw is not None:
            fw.info = event.framework
            self.ledger.mark_framework(fw.id)
        return []

    def _on_framework_message(self, event: ev.FrameworkMessage, now: float) -> list[Action]:
        return self.supervisor.framework_message(event.framework_id, event.executor_id,
                                                 event.data)  # fmt: skip

    # -- container outcomes and health -----------------------------------------------------

    def _launched(self, event: ev.ContainerLaunched, now: float) -> list[Action]:
        """The containerizer finished launching: RUNNING, or FAILED with the cause."""
        cid, result = event.container_id, event.result
        ex = self.supervisor.by_container.get(cid)
        if ex is not None:
            return self.supervisor.launched(ex, result, now)
        ledger = self.ledger
        rec = ledger.by_container.get(cid)
        if rec is None:
            return []
        fw = ledger.frameworks[rec.framework_id]
        if not result.ok:
            ledger.by_container.pop(cid, None)
            ledger.status(rec, TaskState.TASK_FAILED, now, result.error,
                          Reason.REASON_CONTAINER_LAUNCH_FAILED)  # fmt: skip
            actions = self.groups.task_ended(rec, now)
            ledger.maybe_complete(fw, rec)
            ledger.maybe_complete_framework(fw)
            return actions
        rec.launched = True
        ledger.mark(rec.framework_id, rec.task_id)
        if rec.kill_requested:
            return [Destroy(cid, rec.grace)]
        ledger.status(rec, TaskState.TASK_RUNNING, now)
        return []

    def _exited(self, event: ev.ContainerExited, now: float) -> list[Action]:
        """The container ended: the task's terminal update."""
        cid, term = event.container_id, event.termination
        ex = self.supervisor.by_container.get(cid)
        if ex is not None:
            return self.supervisor.exited(ex, term, now)
        ledger = self.ledger
        rec = ledger.by_container.pop(cid, None)
        if rec is None or is_terminal(rec.state):
            return []
        fw = ledger.frameworks[rec.framework_id]
        state, reason, message = termination_outcome(term, rec.kill_requested)
        if state == TaskState.TASK_KILLED and rec.state == TaskState.TASK_STARTING:
            reason = Reason.REASON_TASK_KILLED_DURING_LAUNCH
        if rec.health_failure is not None and term.reason is None:
            state, reason = TaskState.TASK_KILLED, Reason.REASON_TASK_HEALTH_CHECK_STATUS_UPDATED
            message = rec.health_failure
        ledger.status(rec, state, now, message, reason)
        actions = self.groups.task_ended(rec, now)
        ledger.maybe_complete(fw, rec)
        ledger.maybe_complete_framework(fw)
        return actions

    def _health_changed(self, event: ev.HealthChanged, now: float) -> list[Action]:
        """The task's health changed: a TASK_RUNNING update with `healthy` set."""
        rec = self.ledger.by_container.get(event.container_id)
        if rec is None or rec.state != TaskState.TASK_RUNNING or rec.kill_requested:
            return []
        rec.healthy = event.healthy
        self.ledger.status(rec, TaskState.TASK_RUNNING, now, None,
                           Reason.REASON_TASK_HEALTH_CHECK_STATUS_UPDATED)  # fmt: skip
        return []

    def _health_failed(self, event: ev.HealthFailed, now: float) -> list[Action]:
        """Too many consecutive failed checks: kill the task; its terminal update says why."""
        rec = self.ledger.by_container.get(event.container_id)
        if rec is None or is_terminal(rec.state) or rec.kill_requested:
            return []
        rec.healthy = False
        rec.health_failure = event.message
        return self._kill(self.ledger.frameworks[rec.framework_id], rec, now)

    # -- executor calls and recovery -------------------------------------------------------

    def _executor_subscribe(self, event: ev.ExecutorSubscribe, now: float) -> list[Action]:
        return self.calls.subscribe(event, now)

    def _executor_update(self, event: ev.ExecutorUpdate, now: float) -> list[Action]:
        return self.calls.update(event, now)

    def _executor_message(self, event: ev.ExecutorMessage, now: float) -> list[Action]:
        return self.calls.message(event)

    def _executor_disconnected(self, event: ev.ExecutorDisconnected, now: float) -> list[Action]:
        return self.calls.disconnected(event)

    def _reattach(self, event: ev.Reattach, now: float) -> list[Action]:
        return self.recovery.reattach(event.expected, event.outcomes, now)

    _handlers: dict[type, Handler] = {
        ev.MasterRegistered: _on_registered,
        ev.Ping: _on_ping,
        ev.RunTasks: _on_run_tasks,
        ev.RunTaskGroup: _on_run_task_group,
        ev.KillTask: _on_kill_task,
        ev.ShutdownFramework: _on_shutdown_framework,
        ev.Acknowledge: _on_acknowledge,
        ev.UpdateFramework: _on_update_framework,
        ev.FrameworkMessage: _on_framework_message,
        ev.ShutdownExecutor: _on_shutdown_executor,
        ev.ExecutorSubscribe: _executor_subscribe,
        ev.ExecutorUpdate: _executor_update,
        ev.ExecutorMessage: _executor_message,
        ev.ExecutorDisconnected: _executor_disconnected,
        ev.ContainerLaunched: _launched,
        ev.ContainerExited: _exited,
        ev.HealthChanged: _health_changed,
        ev.HealthFailed: _health_failed,
        ev.Disconnected: _disconnected,
        ev.MasterRefused: _refused,
        ev.Tick: _tick,
        ev.SendDueUpdates: _send_due_updates,
        ev.KillAll: _kill_all,
        ev.Reattach: _reattach,
    }
