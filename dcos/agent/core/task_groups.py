"""Task groups (LAUNCH_GROUP / pods) under the agent's built-in default executor (sans-IO).

The master sends ``RUN_TASK_GROUP {framework, executor, tasks}``. When the ExecutorInfo is
the DEFAULT kind (``type`` "DEFAULT", or no ``command``), the agent itself plays Mesos' default
executor, like it plays the command executor: every task of the group gets its own container
(process group) with its sandbox under the executor's, ``<executor sandbox>/tasks/<task_id>``,
all tasks are launched at once, and the group lives and dies together: when one task fails or
is killed, the others are killed; a KILL of any task kills the whole group. A CUSTOM
ExecutorInfo (with a command) gets the group as one LAUNCH_GROUP event instead
(`dcos.agent.core.supervisor`).

`TaskGroups` is part of `dcos.agent.core.AgentCore`, which calls it for RUN_TASK_GROUP, for
kills of group tasks and when a group task's container ends.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from dcos.agent.command_executor import LaunchRefused, build_config, grace_period
from dcos.agent.containerizer import ContainerConfig
from dcos.agent.core.actions import Action, Launch
from dcos.agent.core.ledger import TaskLedger
from dcos.agent.core.model import (
    RUNNING,
    TERMINATED,
    ExecutorRecord,
    FrameworkRecord,
    LaunchSite,
    TaskRecord,
)
from dcos.agent.core.supervisor import ExecutorSupervisor
from dcos.agent.paths import UnsafeId, sandbox_path, task_sandbox
from dcos.protocol.ids import ContainerID, ExecutorID, TaskID, new_container_id, unwrap, wrap
from dcos.protocol.states import Reason, TaskState, is_terminal


def is_default_executor(executor: dict[str, Any]) -> bool:
    """True when the agent runs the group itself (DEFAULT type, or nothing to run)."""
    kind = executor.get("type")
    if kind == "DEFAULT":
        return True
    if kind == "CUSTOM":
        return False
    return not isinstance(executor.get("command"), dict)


def group_task_config(config: ContainerConfig, sandbox: str, executor_id: str) -> ContainerConfig:
    """A command task's config moved under the default executor's sandbox."""
    env = dict(config.env)
    env.update({"MESOS_SANDBOX": sandbox, "MESOS_DIRECTORY": sandbox,
                "MESOS_EXECUTOR_ID": executor_id})  # fmt: skip
    return dataclasses.replace(config, sandbox=sandbox, env=env)


class TaskGroups:
    def __init__(self, ledger: TaskLedger, supervisor: ExecutorSupervisor,
                 site: LaunchSite) -> None:  # fmt: skip
        self.ledger = ledger
        self.supervisor = supervisor
        self.site = site

    def run(self, fw: FrameworkRecord, executor: dict[str, Any], tasks: list[dict[str, Any]],
            now: float) -> list[Action]:  # fmt: skip
        """RUN_TASK_GROUP: the agent runs the group itself, or hands it to a custom executor."""
        tasks = [t for t in tasks if unwrap(t.get("task_id")) not in fw.tasks]
        if not tasks:
            return []
        if not is_default_executor(executor):
            return self.supervisor.run(fw, executor, tasks, True, now)
        return self._run_group(fw, executor, tasks, now)

    def _default_executor(self, fw: FrameworkRecord, executor: dict[str, Any]) -> ExecutorRecord:
        """The group's live default executor, made if needed; raises `UnsafeId` for an
        executor id that cannot name its sandbox."""
        eid = ExecutorID(unwrap(executor.get("executor_id")) or f"default-{new_container_id()}")
        ex = self.supervisor.executors.get((fw.id, eid))
        if ex is not None and ex.state != TERMINATED:
            return ex
        cid = new_container_id()
        sandbox = sandbox_path(self.site.work_dir, self.site.agent_id, fw.id, eid, cid)
        info = {**executor, "executor_id": wrap(eid), "framework_id": wrap(fw.id)}
        ex = ExecutorRecord(fw.id, eid, info, cid, sandbox, kind="default", state=RUNNING)
        self.supervisor.executors[ex.key] = ex
        self.supervisor.mark(ex)
        return ex

    def _run_group(self, fw: FrameworkRecord, executor: dict[str, Any],
                   tasks: list[dict[str, Any]], now: float) -> list[Action]:  # fmt: skip
        """Start every task of the group, each in its own container."""
        try:
            ex = self._default_executor(fw, executor)
        except UnsafeId as exc:
            return self._refuse_group(fw, executor, tasks, now, f"invalid sandbox: {exc}")
        group: set[TaskID] = set()
        ex.groups.append(group)
        self.supervisor.mark(ex)
        launches: list[Action] = []
        failed = ""
        site = self.site
        for task in tasks:
            rec = self.supervisor.new_task_record(
                fw, {k: v for k, v in task.items() if k != "executor"}, ex)  # fmt: skip
            rec.container_id = new_container_id()
            rec.grace = grace_period(task)
            group.add(rec.task_id)
            try:
                try:
                    rec.sandbox = task_sandbox(ex.sandbox, rec.task_id)
                except UnsafeId as exc:
                    raise LaunchRefused(f"invalid sandbox: {exc}") from None
                config = build_config(
                    rec.task, framework_id=fw.id, agent_id=site.agent_id,
                    container_id=rec.container_id, work_dir=site.work_dir,
                    agent_endpoint=site.endpoint, hostname=site.info.hostname,
                    base_env=site.base_env, resources=rec.resources or None,  # as in the core
                )  # fmt: skip
            except LaunchRefused as exc:
                failed = failed or f"task {rec.task_id}: {exc}"
                continue
            config = group_task_config(config, rec.sandbox, ex.executor_id)
            rec.config = config
            self.ledger.by_container[rec.container_id] = rec
            launches.append(Launch(rec.container_id, config))
        if failed:  # the group starts whole or not at all
            for tid in sorted(group):
                rec = fw.tasks[tid]
                self.ledger.by_container.pop(rec.container_id, None)
                self.ledger.status(rec, TaskState.TASK_FAILED, now,
                                   f"Task group not launched: {failed}",
                                   Reason.REASON_CONTAINER_LAUNCH_FAILED)  # fmt: skip
                self.ledger.maybe_complete(fw, rec)
            self.maybe_retire(ex)
            self.ledger.maybe_complete_framework(fw)
            return []
        for tid in sorted(group):
            self.ledger.status(fw.tasks[tid], TaskState.TASK_STARTING, now)
        return launches

    def _refuse_group(self, fw: FrameworkRecord, executor: dict[str, Any],
                      tasks: list[dict[str, Any]], now: float, why: str) -> list[Action]:  # fmt: skip
        """Fail every task of a group that cannot start at all (no executor record made)."""
        eid = ExecutorID(unwrap(executor.get("executor_id")) or "")
        dummy = ExecutorRecord(fw.id, eid, executor, ContainerID(""), "", kind="default")
        for task in tasks:
            rec = self.supervisor.new_task_record(
                fw, {k: v for k, v in task.items() if k != "executor"}, dummy)  # fmt: skip
            self.ledger.status(rec, TaskState.TASK_FAILED, now, f"Task group not launched: {why}",
                               Reason.REASON_CONTAINER_LAUNCH_FAILED)  # fmt: skip
            self.ledger.maybe_complete(fw, rec)
        self.ledger.maybe_complete_framework(fw)
        return []

    def group_of(self, rec: TaskRecord) -> tuple[ExecutorRecord | None, set[TaskID]]:
        """The default executor and group of a task-group task ((None, set()) otherwise)."""
        if rec.executor_id is None:
            return None, set()
        ex = self.supervisor.executors.get((rec.framework_id, rec.executor_id))
        if ex is None or ex.kind != "default":
            return None, set()
        for group in ex.groups:
            if rec.task_id in group:
                return ex, group
        return ex, set()

    def kill(self, fw: FrameworkRecord, rec: TaskRecord, now: float,
             grace: float) -> list[Action]:  # fmt: skip
        """Kill every unfinished task of `rec`'s group (a group lives and dies together)."""
        ex, group = self.group_of(rec)
        if ex is None:
            return list(self.ledger.kill_container(fw, rec, now, grace))
        out: list[Action] = []
        for tid in sorted(group):
            other = fw.tasks.get(tid)
            if other is not None and not is_terminal(other.state):
                out += self.ledger.kill_container(fw, other, now,
                                                  grace if other is rec else other.grace)  # fmt: skip
        return out

    def task_ended(self, rec: TaskRecord, now: float) -> list[Action]:
        """A task of a group ended: unless it finished, kill the rest of its group."""
        ex, group = self.group_of(rec)
        if ex is None:
            return []
        fw = self.ledger.frameworks.get(rec.framework_id)
        out: list[Action] = []
        if fw is not None and rec.state != TaskState.TASK_FINISHED:
            for tid in sorted(group):
                other = fw.tasks.get(tid)
                if other is not None and other is not rec and not is_terminal(other.state):
                    out += self.ledger.kill_container(fw, other, now, other.grace)
        self.maybe_retire(ex)
        return out

    def maybe_retire(self, ex: ExecutorRecord) -> None:
        """A default executor with no live task left is retired."""
        fw = self.ledger.frameworks.get(ex.framework_id)
        live = [] if fw is None else [
            t for t in ex.tasks if t in fw.tasks and not is_terminal(fw.tasks[t].state)
        ]  # fmt: skip
        if not live:
            ex.state = TERMINATED
            self.supervisor.retire(ex)
