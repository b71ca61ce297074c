"""The executor supervisor (sans-IO): custom executors started, tracked, told and shut down.

A TaskInfo with an ``executor`` (ExecutorInfo with a ``command``) runs under that executor:
the first task for an executor id starts the executor's container (a `Launch` action with the
Mesos executor environment, `dcos.agent.core.custom_executor`); tasks wait in the executor's queue
until it SUBSCRIBEs on ``/api/v1/executor`` and then go to it as LAUNCH (or LAUNCH_GROUP)
events; later tasks go straight to it. An executor that does not subscribe within the
registration timeout is killed and its tasks fail; when its process exits, its unfinished
tasks fail (or are killed when a kill or shutdown was asked for) and the master hears
EXITED_EXECUTOR. The executor's own calls are `dcos.agent.core.executor_calls`; the default
executor of task groups (kept here too, as a record) is `dcos.agent.core.task_groups`.

Owned by `dcos.agent.core.AgentCore`, which calls it for the events that concern executors;
it changes tasks only through the `TaskLedger`. Events for an executor leave as `ToExecutor`
actions; `CloseExecutor` ends its stream; `Wake` asks for a `Tick` at a deadline.
"""

from __future__ import annotations

import logging
from collections import deque
from typing import Any

from dcos.agent.command_executor import (
    EXECUTOR_SHUTDOWN_GRACE,
    LaunchRefused,
    signal_name,
    task_resources,
)
from dcos.agent.containerizer import LaunchResult, Termination
from dcos.agent.core.actions import (
    Action,
    CloseExecutor,
    Destroy,
    Launch,
    SendToMaster,
    ToExecutor,
    Wake,
)
from dcos.agent.core.custom_executor import (
    DEFAULT_REGISTRATION_TIMEOUT,
    build_executor_config,
    duration_field,
    executor_token,
    wait_status,
)
from dcos.agent.core.ledger import TaskLedger
from dcos.agent.core.model import (
    MAX_COMPLETED_EXECUTORS,
    REGISTERING,
    RUNNING,
    TERMINATED,
    TERMINATING,
    ExecutorKey,
    ExecutorRecord,
    FrameworkRecord,
    LaunchSite,
    TaskRecord,
)
from dcos.protocol import internal
from dcos.protocol.ids import (
    ContainerID,
    ExecutorID,
    FrameworkID,
    TaskID,
    new_container_id,
    unwrap,
    wrap,
)
from dcos.protocol.mesos import format_duration
from dcos.protocol.resources import ResourceError, Resources
from dcos.protocol.states import Reason, Source, TaskState, is_terminal

log = logging.getLogger(__name__)


class ExecutorSupervisor:
    def __init__(self, ledger: TaskLedger, site: LaunchSite,
                 registration_timeout: float = DEFAULT_REGISTRATION_TIMEOUT) -> None:  # fmt: skip
        self.ledger = ledger
        self.site = site
        self.registration_timeout = registration_timeout
        self.executors: dict[ExecutorKey, ExecutorRecord] = {}
        self.completed_executors: deque[ExecutorRecord] = deque(maxlen=MAX_COMPLETED_EXECUTORS)
        self.by_container: dict[ContainerID, ExecutorRecord] = {}  # custom executors' containers

    def mark(self, ex: ExecutorRecord) -> None:
        self.ledger.mark_executor(ex.key)

    def custom_of(self, rec: TaskRecord) -> ExecutorRecord | None:
        """The custom executor `rec` runs on (None: a command or task-group task)."""
        ex = self.executors.get((rec.framework_id, rec.executor_id)) if rec.executor_id else None
        return ex if ex is not None and ex.kind == "custom" else None

    def source_for(self, rec: TaskRecord) -> Source:
        """The agent speaks for a custom executor's task (SOURCE_AGENT); else the executor."""
        return Source.SOURCE_AGENT if self.custom_of(rec) is not None else Source.SOURCE_EXECUTOR

    def status(self, rec: TaskRecord, state: TaskState, now: float, message: str | None = None,
               reason: str | None = None) -> None:  # fmt: skip
        self.ledger.status(rec, state, now, message, reason, self.source_for(rec))

    # -- launching tasks on a custom executor ------------------------------------------------

    def new_task_record(self, fw: FrameworkRecord, task: dict[str, Any],
                        ex: ExecutorRecord) -> TaskRecord:  # fmt: skip
        """A task of `ex`, recorded (and checkpointed) before its first update."""
        tid = TaskID(unwrap(task.get("task_id")) or "")
        rec = TaskRecord(fw.id, tid, task, ex.container_id, task_resources(task), sandbox=ex.sandbox)
        rec.executor_id = ex.executor_id
        fw.tasks[tid] = rec
        ex.tasks.add(tid)
        self.ledger.mark(fw.id, tid)
        if ex.container_id:
            self.mark(ex)
        return rec

    def _start(
        self, fw: FrameworkRecord, executor: dict[str, Any], first: Resources
    ) -> tuple[ExecutorRecord | None, str, list[Action]]:
        """The live executor for `executor`, starting it if needed: (record, error, actions)."""
        eid = ExecutorID(unwrap(executor.get("executor_id")) or "")
        if not eid:
            return None, "the executor has no executor_id", []
        ex = self.executors.get((fw.id, eid))
        if ex is not None and ex.state != TERMINATED:
            if ex.state == TERMINATING:
                return None, f"executor {eid} is shutting down", []
            return ex, "", []
        cid = new_container_id()
        grace = duration_field(executor.get("shutdown_grace_period"), EXECUTOR_SHUTDOWN_GRACE)
        try:
            own = Resources.from_mesos(executor.get("resources") or [])
        except ResourceError as exc:
            return None, f"bad executor resources: {exc}", []
        info = {**executor, "executor_id": wrap(eid), "framework_id": wrap(fw.id)}
        site = self.site
        try:
            config = build_executor_config(
                executor, framework_id=fw.id, executor_id=eid, agent_id=site.agent_id,
                container_id=cid, work_dir=site.work_dir, agent_endpoint=site.endpoint,
                hostname=site.info.hostname, resources=own + first, grace=grace,
                token=executor_token(site.executor_secret, fw.id, eid, cid),
                base_env=site.base_env,
            )  # fmt: skip
        except LaunchRefused as exc:
            return None, str(exc), []
        ex = ExecutorRecord(fw.id, eid, info, cid, config.sandbox, resources=own, grace=grace)
        self.executors[ex.key] = ex
        self.by_container[cid] = ex
        self.mark(ex)
        log.info("starting executor %s of framework %s", eid, fw.id)
        return ex, "", [Launch(cid, config)]

    def run(self, fw: FrameworkRecord, executor: dict[str, Any], tasks: list[dict[str, Any]],
            group: bool, now: float) -> list[Action]:  # fmt: skip
        """Tasks (one, or a task group) for a custom executor: queue them or send them."""
        first = Resources.empty()
        for t in tasks:
            first = first + task_resources(t)
        ex, error, actions = self._start(fw, executor, first)
        if ex is None:
            eid = ExecutorID(unwrap(executor.get("executor_id")) or "")
            dummy = ExecutorRecord(fw.id, eid, executor, ContainerID(""), "")
            for t in tasks:
                rec = self.new_task_record(fw, t, dummy)
                self.status(rec, TaskState.TASK_FAILED, now, error,
                            Reason.REASON_CONTAINER_LAUNCH_FAILED)  # fmt: skip
                self.ledger.maybe_complete(fw, rec)
            self.ledger.maybe_complete_framework(fw)
            return actions
        ids = [self.new_task_record(fw, t, ex).task_id for t in tasks]
        self.mark(ex)
        if ex.state == RUNNING:
            actions.append(self.deliver(ex, group, ids))
        else:
            ex.queued.append((group, ids))
        return actions

    def deliver(self, ex: ExecutorRecord, group: bool, ids: list[TaskID]) -> ToExecutor:
        """LAUNCH (or LAUNCH_GROUP) of these tasks for a subscribed executor."""
        fw = self.ledger.frameworks[ex.framework_id]
        infos = []
        for tid in ids:
            rec = fw.tasks.get(tid)
            if rec is not None:
                rec.launched = True
                infos.append(rec.task)
                self.ledger.mark(rec.framework_id, rec.task_id)
        if group:
            return ToExecutor(ex.key, {"type": "LAUNCH_GROUP",
                                       "launch_group": {"task_group": {"tasks": infos}}})  # fmt: skip
        return ToExecutor(ex.key, {"type": "LAUNCH", "launch": {"task": infos[0]}})

    # -- container outcomes ----------------------------------------------------------------

    def launched(self, ex: ExecutorRecord, result: LaunchResult, now: float) -> list[Action]:
        """The executor's container started (or failed to): wait for its SUBSCRIBE."""
        if not result.ok:
            self._gone(ex, now, TaskState.TASK_FAILED, Reason.REASON_CONTAINER_LAUNCH_FAILED,
                       f"Failed to launch executor: {result.error}")  # fmt: skip
            return []
        ex.launched = True
        self.mark(ex)
        if ex.state == TERMINATING:
            return [Destroy(ex.container_id, 0.0)]
        if ex.state == RUNNING:  # it subscribed before its launch was reported
            return []
        ex.state = REGISTERING
        ex.registration_deadline = now + self.registration_timeout
        return [Wake(ex.registration_deadline)]

    def exited(self, ex: ExecutorRecord, term: Termination, now: float) -> list[Action]:
        """The executor's process ended: its unfinished tasks end, the master is told."""
        ex.exit_status = wait_status(term)
        if term.signal is not None:
            how = f"Executor terminated by signal {signal_name(term.signal)}"
        elif term.exit_code is not None:
            how = f"Executor exited with status {term.exit_code}"
        else:  # ended while the agent was down, how is not known
            how = "Executor terminated"
        if term.message:
            how = f"{how}: {term.message}"
        reason = term.reason or Reason.REASON_EXECUTOR_TERMINATED
        state = TaskState.TASK_KILLED if ex.state == TERMINATING else TaskState.TASK_FAILED
        if term.reason is not None:
            state = TaskState.TASK_FAILED
        self._gone(ex, now, state, reason, how)
        out: list[Action] = [CloseExecutor(ex.key)]
        agent_id = self.ledger.agent_id
        if agent_id and not ex.adopted:
            out.append(SendToMaster({
                "type": internal.EXITED_EXECUTOR, "agent_id": agent_id,
                "framework_id": ex.framework_id, "executor_id": ex.executor_id,
                "status": ex.exit_status,
            }))  # fmt: skip
        return out

    def _gone(self, ex: ExecutorRecord, now: float, state: TaskState,
              reason: str, message: str) -> None:  # fmt: skip
        """The executor is no more: its unfinished tasks end with `state`."""
        ex.state = TERMINATED
        ex.queued.clear()
        self.by_container.pop(ex.container_id, None)
        fw = self.ledger.frameworks.get(ex.framework_id)
        self.retire(ex)
        if fw is not None:
            for tid in sorted(ex.tasks):
                rec = fw.tasks.get(tid)
                if rec is None or is_terminal(rec.state):
                    continue
                final = TaskState.TASK_KILLED if rec.kill_requested else state
                self.status(rec, final, now, message, reason)
                self.ledger.maybe_complete(fw, rec)
            self.ledger.maybe_complete_framework(fw)

    def retire(self, ex: ExecutorRecord) -> None:
        """Move a terminated executor to the completed ones (its file is removed)."""
        if self.executors.get(ex.key) is ex:
            del self.executors[ex.key]
            self.completed_executors.append(ex)
            self.mark(ex)

    # -- timers ----------------------------------------------------------------------------

    def tick(self, now: float) -> list[Action]:
        """Registration timeouts and shutdown grace periods that have run out by `now`."""
        out: list[Action] = []
        for ex in list(self.executors.values()):
            if ex.state == REGISTERING and ex.registration_deadline is not None \
                    and now >= ex.registration_deadline:  # fmt: skip
                log.warning("executor %s did not subscribe in time; killing it", ex.executor_id)
                ex.state = TERMINATING
                self.mark(ex)
                self._fail_tasks(ex, now, TaskState.TASK_FAILED,
                                 Reason.REASON_EXECUTOR_REGISTRATION_TIMEOUT,
                                 "Executor did not register within "
                                 f"{format_duration(self.registration_timeout)}")  # fmt: skip
                out.append(Destroy(ex.container_id, 0.0))
            elif ex.state == TERMINATING and ex.shutdown_deadline is not None \
                    and now >= ex.shutdown_deadline:  # fmt: skip
                ex.shutdown_deadline = None
                out.append(Destroy(ex.container_id, 1.0))
        return out

    def _fail_tasks(self, ex: ExecutorRecord, now: float, state: TaskState,
                    reason: str, message: str) -> None:  # fmt: skip
        fw = self.ledger.frameworks.get(ex.framework_id)
        if fw is None:
            return
        ex.queued.clear()
        for tid in sorted(ex.tasks):
            rec = fw.tasks.get(tid)
            if rec is not None and not is_terminal(rec.state):
                self.status(rec, state, now, message, reason)
                self.ledger.maybe_complete(fw, rec)

    # -- kills, shutdowns, messages from the master ----------------------------------------

    def kill_task(self, ex: ExecutorRecord, rec: TaskRecord, now: float,
                  kill_policy: dict[str, Any] | None) -> list[Action]:  # fmt: skip
        """KILL of a task that runs on a custom executor."""
        if is_terminal(rec.state):
            return []
        rec.kill_requested = True
        if ex.state == TERMINATING:
            return []  # its end is on the way
        if not rec.launched:  # still queued: never reached the executor
            for _, ids in ex.queued:
                if rec.task_id in ids:
                    ids.remove(rec.task_id)
            ex.queued = [(g, ids) for g, ids in ex.queued if ids]
            self.mark(ex)
            self.status(rec, TaskState.TASK_KILLED, now, "Killed before delivery to the executor")
            return []
        if ex.state != RUNNING:
            return []  # delivered after it re-subscribes? it will be killed with it
        event: dict[str, Any] = {"task_id": wrap(rec.task_id)}
        if kill_policy is not None:
            event["kill_policy"] = kill_policy
        return [ToExecutor(ex.key, {"type": "KILL", "kill": event})]

    def shutdown(self, ex: ExecutorRecord, now: float) -> list[Action]:
        """SHUTDOWN event now, the container killed after the executor's grace period."""
        if ex.state in (TERMINATING, TERMINATED):
            return []
        was = ex.state
        ex.state = TERMINATING
        self.mark(ex)
        fw = self.ledger.frameworks.get(ex.framework_id)
        for tid in ex.tasks if fw is not None else ():
            rec = fw.tasks.get(tid) if fw is not None else None
            if rec is not None:
                rec.kill_requested = True
        if not ex.launched or ex.adopted:
            if ex.adopted:
                return [ToExecutor(ex.key, {"type": "SHUTDOWN"}), CloseExecutor(ex.key)]
            return []  # `launched` destroys it
        if was != RUNNING:
            return [Destroy(ex.container_id, 0.0)]
        ex.shutdown_deadline = now + ex.grace
        return [ToExecutor(ex.key, {"type": "SHUTDOWN"}), Wake(ex.shutdown_deadline)]

    def shutdown_framework(self, fid: FrameworkID, now: float) -> list[Action]:
        out: list[Action] = []
        for ex in list(self.executors.values()):
            if ex.framework_id == fid and ex.kind == "custom":
                out += self.shutdown(ex, now)
        return out

    def framework_message(self, fid: FrameworkID, eid: ExecutorID,
                          data: str | None) -> list[Action]:  # fmt: skip
        ex = self.executors.get((fid, eid))
        if ex is None or ex.state != RUNNING or data is None:
            log.info("dropping framework message for executor %s of %s: not subscribed", eid, fid)
            return []
        return [ToExecutor(ex.key, {"type": "MESSAGE", "message": {"data": data}})]

    def acknowledged(self, rec: TaskRecord | None, uuid: str) -> list[Action]:
        """The scheduler acknowledged an executor's update: tell the executor."""
        if rec is None or rec.executor_id is None:
            return []
        ex = self.executors.get((rec.framework_id, rec.executor_id))
        if ex is None or ex.unacked.pop(uuid, None) is None:
            return []
        self.mark(ex)
        if ex.state != RUNNING:
            return []
        return [ToExecutor(ex.key, {"type": "ACKNOWLEDGED", "acknowledged": {
            "task_id": wrap(rec.task_id), "uuid": uuid}})]  # fmt: skip

    # -- views -----------------------------------------------------------------------------

    def busy(self, framework_id: FrameworkID) -> bool:
        """True while a custom executor of the framework is alive (keeps the framework)."""
        return any(
            ex.framework_id == framework_id and ex.alive_custom for ex in self.executors.values()
        )

    def used_resources(self) -> Resources:
        total = Resources.empty()
        for ex in self.executors.values():
            if ex.alive_custom:
                total = total + ex.resources
        return total

    def destroy_all(self, grace_cap: float) -> list[Destroy]:
        """Destroy every live custom executor's container (the agent is stopping)."""
        out: list[Destroy] = []
        for ex in self.executors.values():
            if ex.alive_custom and ex.launched:
                ex.state = TERMINATING
                self.mark(ex)
                out.append(Destroy(ex.container_id, min(ex.grace, grace_cap)))
        return out
