"""Agent recovery decisions (sans-IO): from a checkpoint back to a running agent core.

Called by the agent shell at start, before it subscribes to the master:

1. `restore(core, checkpoint, now)` puts the checkpointed agent id, frameworks, tasks and
   unacknowledged updates back into a fresh `AgentCore` and returns the containers the
   previous run left (container id -> the `ContainerConfig` they were launched with).
2. The shell asks the containerizer: ``outcomes = await containerizer.recover(expected)``
   (None = still running and reattached; a `Termination` = it ended while the agent was down;
   absent = nothing is known of it).
3. The shell feeds ``Reattach(expected, outcomes)`` to the core
   (`dcos.agent.core.reattach.Recovery`), which decides what each task becomes and returns the
   actions to carry out: `Watch` a reattached container (the shell awaits its end as for a
   fresh launch), `Destroy` one whose kill was requested before the restart; a task whose
   container ended meanwhile gets its terminal update with the real exit status (TASK_FINISHED,
   or TASK_FAILED "Command exited with status N"); one whose container is unknown gets
   TASK_FAILED (REASON_EXECUTOR_TERMINATED), or TASK_KILLED if its kill had been requested.

Custom executors come back the same way: their container is expected too; a live one is
watched again and waits (REGISTERING, with the registration timeout) for the executor to
re-subscribe (with its unacknowledged tasks and updates; the SDK and pymesos executors retry
while the agent is away, as ``MESOS_CHECKPOINT=1`` tells them); one that ended while the
agent was down fails its unfinished tasks with the executor's exit status and the master
hears EXITED_EXECUTOR. The default executor of task groups has no container of its own: its
record comes back so that a group still lives and dies together; its tasks' containers are
recovered like command tasks. The shell restarts the health checks of reattached tasks
(`task_env`, `running_since` give their environment and start).

The agent then re-registers with its old id (SUBSCRIBE lists its live tasks and unacknowledged
updates) and, once registered, resends each unacknowledged update once (same uuid), then with
the usual backoff until acknowledged. Changed ``--resources`` / ``--attributes`` do not stop
recovery: the agent re-registers with its new info under the same id (`info_changes` lists
what changed, for the log).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from dcos.agent.checkpoint import config_from_dict
from dcos.agent.checkpoint_store import Checkpoint, ExecutorCheckpoint, TaskCheckpoint
from dcos.agent.command_executor import LaunchRefused, build_config, grace_period, task_resources
from dcos.agent.containerizer import ContainerConfig
from dcos.agent.core import AgentCore, ExecutorRecord, FrameworkRecord, TaskRecord
from dcos.agent.core.model import TERMINATED
from dcos.protocol.ids import AgentID, ContainerID, ExecutorID, TaskID
from dcos.protocol.resources import ResourceError, Resources
from dcos.protocol.states import TaskState, is_terminal

log = logging.getLogger(__name__)



def _record(tc: TaskCheckpoint) -> TaskRecord | None:
    data = tc.record or {}
    task = data.get("task")
    state = data.get("state")
    if not isinstance(task, dict) or state not in TaskState.__members__:
        log.warning("checkpointed task %s/%s is unusable; dropped", tc.framework_id, tc.task_id)
        return None
    resources = task_resources(task)
    config = data.get("config")
    grace = data.get("grace")
    executor_id = data.get("executor_id")
    healthy = data.get("healthy")
    return TaskRecord(
        tc.framework_id,
        tc.task_id,
        task,
        ContainerID(str(data.get("container_id") or "")),
        resources,
        sandbox=str(data.get("sandbox") or ""),
        state=TaskState[str(state)],
        statuses=list(data.get("statuses") or []),
        launched=bool(data.get("launched")),
        kill_requested=bool(data.get("kill_requested")),
        grace=float(grace) if isinstance(grace, (int, float)) else grace_period(task),
        config=config_from_dict(config) if isinstance(config, dict) else None,
        executor_id=ExecutorID(executor_id) if isinstance(executor_id, str) else None,
        healthy=healthy if isinstance(healthy, bool) else None,
    )


def _executor(ec: ExecutorCheckpoint) -> ExecutorRecord | None:
    d = ec.record
    kind = d.get("kind")
    state = d.get("state")
    if kind not in ("custom", "default") or state in (None, TERMINATED):
        return None
    try:
        resources = Resources.from_dict(d.get("resources"))
    except (ResourceError, TypeError, ValueError):
        resources = Resources.empty()
    grace = d.get("grace")
    ex = ExecutorRecord(
        ec.framework_id, ec.executor_id, dict(d.get("info") or {}),
        ContainerID(str(d.get("container_id") or "")), str(d.get("sandbox") or ""),
        kind=str(kind), state=str(state), resources=resources,
        launched=bool(d.get("launched")), adopted=bool(d.get("adopted")),
        token_auth=d.get("auth") == "token",  # absent: started by an agent without tokens
    )  # fmt: skip
    if isinstance(grace, (int, float)):
        ex.grace = float(grace)
    for item in d.get("queued") or []:
        if isinstance(item, list) and len(item) == 2 and isinstance(item[1], list):
            ex.queued.append((bool(item[0]), [TaskID(str(t)) for t in item[1]]))
    ex.groups = [{TaskID(str(t)) for t in g} for g in d.get("groups") or [] if isinstance(g, list)]
    unacked = d.get("unacked")
    if isinstance(unacked, dict):
        ex.unacked = {str(k): TaskID(str(v)) for k, v in unacked.items()}
    return ex


def _restore_executors(core: AgentCore, cp: Checkpoint) -> None:
    for ec in cp.executors:
        ex = _executor(ec)
        if ex is None:
            continue
        if ex.adopted:  # taken on unannounced by an older agent (issue 9): never launched here
            log.warning("dropping executor %s of %s: it was adopted, not launched by this agent",
                        ex.executor_id, ex.framework_id)  # fmt: skip
            core.ledger.mark_executor(ex.key)  # its file is removed
            continue
        if ex.framework_id not in core.frameworks:
            core.frameworks[ex.framework_id] = FrameworkRecord(
                ex.framework_id, {"id": {"value": ex.framework_id}})  # fmt: skip
        core.supervisor.executors[ex.key] = ex
        if ex.kind == "custom" and ex.container_id and not ex.adopted:
            core.supervisor.by_container[ex.container_id] = ex


def _executor_config(ex: ExecutorRecord) -> ContainerConfig:
    return ContainerConfig([], {}, ex.sandbox, ex.resources, task_id=ex.executor_id,
                           framework_id=ex.framework_id)  # fmt: skip


def restore(core: AgentCore, cp: Checkpoint, now: float) -> dict[ContainerID, ContainerConfig]:
    """Load `cp` into a fresh core; the containers expected to exist, by container id."""
    if cp.agent_id:
        core.info.id = AgentID(cp.agent_id)
        for change in info_changes(cp.agent_info, core.info.to_wire()):
            log.warning("agent info changed since the last run: %s; re-registering as %s with "
                        "the new info", change, cp.agent_id)  # fmt: skip
    for fcp in cp.frameworks.values():
        core.frameworks[fcp.id] = FrameworkRecord(fcp.id, fcp.info, shutting_down=fcp.shutting_down)
    _restore_executors(core, cp)
    expected: dict[ContainerID, ContainerConfig] = {
        cid: _executor_config(ex) for cid, ex in core.supervisor.by_container.items()
    }
    for tc in cp.tasks:
        fw = core.frameworks.get(tc.framework_id)
        if tc.record is not None:
            rec = _record(tc)
            if rec is not None:
                if fw is None:  # framework file lost: keep the task under a minimal info
                    fw = FrameworkRecord(tc.framework_id, {"id": {"value": tc.framework_id}})
                    core.frameworks[fw.id] = fw
                fw.tasks[rec.task_id] = rec
                ex = core.executors.get((fw.id, rec.executor_id)) if rec.executor_id else None
                if ex is not None and not is_terminal(rec.state):
                    ex.tasks.add(rec.task_id)
                if ex is not None and ex.kind == "custom":
                    pass  # its executor's container is the one watched
                elif not is_terminal(rec.state) and rec.container_id:
                    core.ledger.by_container[rec.container_id] = rec
                    expected[rec.container_id] = rec.config or ContainerConfig(
                        [], {}, rec.sandbox, rec.resources, task_id=rec.task_id,
                        framework_id=rec.framework_id,
                    )  # fmt: skip
        if tc.updates and not (fw is not None and fw.shutting_down):
            core.updates.restore(tc.framework_id, tc.updates, now)
    for ex in list(core.executors.values()):
        if ex.kind == "default":
            core.groups.maybe_retire(ex)
    for fw in list(core.frameworks.values()):
        for rec in list(fw.tasks.values()):
            core.ledger.maybe_complete(fw, rec)
        core.ledger.maybe_complete_framework(fw)
    used = core.used_resources()
    if not used.is_empty() and not core.info.resources.contains(used):
        log.warning("running tasks use %s, more than this agent's new resources %s",
                    used, core.info.resources)  # fmt: skip
    return expected


def task_env(core: AgentCore, rec: TaskRecord) -> dict[str, str]:
    """The environment a recovered task was started with (not checkpointed: rebuilt from its
    TaskInfo as at launch); the shell gives it to the task's restarted health check."""
    try:
        config = build_config(
            rec.task, framework_id=rec.framework_id, agent_id=core.site.agent_id,
            container_id=rec.container_id, work_dir=core.work_dir,
            agent_endpoint=core.site.endpoint, hostname=core.info.hostname,
            base_env=core.site.base_env,
        )  # fmt: skip
    except LaunchRefused:
        return {}
    env = dict(config.env)
    if rec.sandbox:  # a task-group task's sandbox is under its executor's
        env.update({"MESOS_SANDBOX": rec.sandbox, "MESOS_DIRECTORY": rec.sandbox})
    if rec.executor_id:
        env["MESOS_EXECUTOR_ID"] = rec.executor_id
    return env


def running_since(rec: TaskRecord) -> float | None:
    """When the task reached TASK_RUNNING (its first such update), None if unknown."""
    for status in rec.statuses:
        ts = status.get("timestamp")
        if status.get("state") == TaskState.TASK_RUNNING and isinstance(ts, (int, float)):
            return float(ts)
    return None


def info_changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """What differs between the checkpointed AgentInfo and the current one (log lines)."""
    out = []
    for key in ("resources", "reserved_role", "attributes", "hostname", "ip", "port"):
        if old.get(key) != new.get(key):
            out.append(f"{key} {old.get(key)!r} -> {new.get(key)!r}")
    return out
