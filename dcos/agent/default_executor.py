"""Task groups (LAUNCH_GROUP / pods) under the agent's built-in default executor (sans-IO).

The master sends ``RUN_TASK_GROUP {framework, executor, tasks}``. When the ExecutorInfo is
the DEFAULT kind (``type`` "DEFAULT", or no ``command``), the agent itself plays Mesos' default
executor, like it plays the command executor: every task of the group gets its own container
(process group) with its sandbox under the executor's, ``<executor sandbox>/tasks/<task_id>``,
all tasks are launched at once, and the group lives and dies together: when one task fails or
is killed, the others are killed; a KILL of any task kills the whole group. A CUSTOM
ExecutorInfo (with a command) gets the group as one LAUNCH_GROUP event instead
(`dcos.agent.executors`).

`TaskGroupsMixin` is mixed into `dcos.agent.core.AgentCore`, whose handlers call it.
"""

from __future__ import annotations

import dataclasses
import os
from typing import TYPE_CHECKING, Any

from dcos.agent.containerizer import ContainerConfig
from dcos.agent.executor import LaunchRefused, build_config, grace_period, sandbox_path
from dcos.agent.executor_calls import ExecutorCallsMixin
from dcos.agent.executors import RUNNING, TERMINATED, ExecutorRecord
from dcos.agent.model import FrameworkRecord, Launch, TaskRecord
from dcos.protocol.ids import (
    AgentID,
    ContainerID,
    ExecutorID,
    TaskID,
    new_container_id,
    unwrap,
    wrap,
)
from dcos.protocol.states import Reason, TaskState, is_terminal

if TYPE_CHECKING:
    from dcos.agent.core import Action


def is_default_executor(executor: dict[str, Any]) -> bool:
    """True when the agent runs the group itself (DEFAULT type, or nothing to run)."""
    kind = executor.get("type")
    if kind == "DEFAULT":
        return True
    if kind == "CUSTOM":
        return False
    return not isinstance(executor.get("command"), dict)


def task_sandbox(executor_sandbox: str, task_id: str) -> str:
    return os.path.join(executor_sandbox, "tasks", task_id)


def group_task_config(config: ContainerConfig, sandbox: str, executor_id: str) -> ContainerConfig:
    """A command task's config moved under the default executor's sandbox."""
    env = dict(config.env)
    env.update({"MESOS_SANDBOX": sandbox, "MESOS_DIRECTORY": sandbox,
                "MESOS_EXECUTOR_ID": executor_id})  # fmt: skip
    return dataclasses.replace(config, sandbox=sandbox, env=env)


class TaskGroupsMixin(ExecutorCallsMixin):
    """RUN_TASK_GROUP handling; mixed into `AgentCore`."""

    if TYPE_CHECKING:
        _by_container: dict[ContainerID, TaskRecord]

    def _on_run_task_group(self, event: dict[str, Any], now: float) -> list[Action]:
        fw = self._framework(event.get("framework") or {})
        if fw is None:
            return []
        executor = event.get("executor") if isinstance(event.get("executor"), dict) else {}
        assert isinstance(executor, dict)
        tasks = [t for t in event.get("tasks") or [] if isinstance(t, dict)]
        tasks = [t for t in tasks if unwrap(t.get("task_id")) not in fw.tasks]
        if not tasks:
            return []
        if not is_default_executor(executor):
            return self._run_on_executor(fw, executor, tasks, True, now)
        return self._run_group(fw, executor, tasks, now)

    def _default_executor(self, fw: FrameworkRecord, executor: dict[str, Any]) -> ExecutorRecord:
        eid = ExecutorID(unwrap(executor.get("executor_id")) or f"default-{new_container_id()}")
        ex = self.executors.get((fw.id, eid))
        if ex is not None and ex.state != TERMINATED:
            return ex
        cid = new_container_id()
        sandbox = sandbox_path(self.work_dir, self.agent_id or AgentID(""), fw.id, eid, cid)
        info = {**executor, "executor_id": wrap(eid), "framework_id": wrap(fw.id)}
        ex = ExecutorRecord(fw.id, eid, info, cid, sandbox, kind="default", state=RUNNING)
        self.executors[ex.key] = ex
        self._mark_executor(ex)
        return ex

    def _run_group(self, fw: FrameworkRecord, executor: dict[str, Any],
                   tasks: list[dict[str, Any]], now: float) -> list[Action]:  # fmt: skip
        """Start every task of the group, each in its own container."""
        ex = self._default_executor(fw, executor)
        group: set[TaskID] = set()
        ex.groups.append(group)
        self._mark_executor(ex)
        launches: list[Action] = []
        failed = ""
        for task in tasks:
            rec = self._new_task_record(fw, {k: v for k, v in task.items() if k != "executor"}, ex)
            rec.container_id = new_container_id()
            rec.grace = grace_period(task)
            rec.sandbox = task_sandbox(ex.sandbox, rec.task_id)
            group.add(rec.task_id)
            try:
                config = build_config(
                    rec.task, framework_id=fw.id, agent_id=self.agent_id or AgentID(""),
                    container_id=rec.container_id, work_dir=self.work_dir,
                    agent_endpoint=self.endpoint, hostname=self.info.hostname,
                    base_env=self.base_env, resources=rec.resources or None,  # as in the core
                )  # fmt: skip
            except LaunchRefused as exc:
                failed = failed or f"task {rec.task_id}: {exc}"
                continue
            config = group_task_config(config, rec.sandbox, ex.executor_id)
            rec.config = config
            self._by_container[rec.container_id] = rec
            launches.append(Launch(rec.container_id, config))
        if failed:  # the group starts whole or not at all
            for tid in sorted(group):
                rec = fw.tasks[tid]
                self._by_container.pop(rec.container_id, None)
                self._status(rec, TaskState.TASK_FAILED, now, f"Task group not launched: {failed}",
                             Reason.REASON_CONTAINER_LAUNCH_FAILED)  # fmt: skip
                self._maybe_complete(fw, rec)
            self._maybe_retire_default(ex)
            self._maybe_complete_framework(fw)
            return []
        for tid in sorted(group):
            self._status(fw.tasks[tid], TaskState.TASK_STARTING, now)
        return launches

    def _group_of(self, rec: TaskRecord) -> tuple[ExecutorRecord | None, set[TaskID]]:
        if rec.executor_id is None:
            return None, set()
        ex = self.executors.get((rec.framework_id, rec.executor_id))
        if ex is None or ex.kind != "default":
            return None, set()
        for group in ex.groups:
            if rec.task_id in group:
                return ex, group
        return ex, set()

    def _kill_group(self, fw: FrameworkRecord, rec: TaskRecord, now: float,
                    grace: float) -> list[Action]:  # fmt: skip
        """Kill every unfinished task of `rec`'s group (a group lives and dies together)."""
        ex, group = self._group_of(rec)
        if ex is None:
            return self._kill(fw, rec, now, grace)
        out: list[Action] = []
        for tid in sorted(group):
            other = fw.tasks.get(tid)
            if other is not None and not is_terminal(other.state):
                out += self._kill(fw, other, now, grace if other is rec else other.grace)
        return out

    def _group_task_ended(self, rec: TaskRecord, now: float) -> list[Action]:
        """A task of a group ended: unless it finished, kill the rest of its group."""
        ex, group = self._group_of(rec)
        if ex is None:
            return []
        fw = self.frameworks.get(rec.framework_id)
        out: list[Action] = []
        if fw is not None and rec.state != TaskState.TASK_FINISHED:
            for tid in sorted(group):
                other = fw.tasks.get(tid)
                if other is not None and other is not rec and not is_terminal(other.state):
                    out += self._kill(fw, other, now, other.grace)
        self._maybe_retire_default(ex)
        return out

    def _maybe_retire_default(self, ex: ExecutorRecord) -> None:
        fw = self.frameworks.get(ex.framework_id)
        live = [] if fw is None else [
            t for t in ex.tasks if t in fw.tasks and not is_terminal(fw.tasks[t].state)
        ]  # fmt: skip
        if not live:
            ex.state = TERMINATED
            self._retire_executor(ex)
