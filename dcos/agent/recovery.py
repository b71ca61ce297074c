"""Agent recovery decisions (sans-IO): from a checkpoint back to a running agent core.

Called by the agent shell at start, before it subscribes to the master:

1. `restore(core, checkpoint, now)` puts the checkpointed agent id, frameworks, tasks and
   unacknowledged updates back into a fresh `AgentCore` and returns the containers the
   previous run left (container id -> the `ContainerConfig` they were launched with).
2. The shell asks the containerizer: ``outcomes = await containerizer.recover(expected)``
   (None = still running and reattached; a `Termination` = it ended while the agent was down;
   absent = nothing is known of it).
3. `reattach(core, expected, outcomes, now)` decides what each task becomes and returns the
   actions to carry out: `Watch` a reattached container (the shell awaits its end as for a
   fresh launch), `Destroy` one whose kill was requested before the restart; a task whose
   container ended meanwhile gets its terminal update with the real exit status (TASK_FINISHED,
   or TASK_FAILED "Command exited with status N"); one whose container is unknown gets
   TASK_FAILED (REASON_EXECUTOR_TERMINATED), or TASK_KILLED if its kill had been requested.

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

from dcos.agent.checkpoint import Checkpoint, TaskCheckpoint, config_from_dict
from dcos.agent.containerizer import ContainerConfig, LaunchResult, Termination
from dcos.agent.core import Action, AgentCore, Destroy, FrameworkRecord, TaskRecord, Watch
from dcos.agent.executor import grace_period
from dcos.protocol.ids import AgentID, ContainerID, FrameworkID, TaskID
from dcos.protocol.resources import ResourceError, Resources
from dcos.protocol.states import TaskState, is_terminal

log = logging.getLogger(__name__)

UNKNOWN_CONTAINER = "The task's container was not found when the agent recovered"


def _record(tc: TaskCheckpoint) -> TaskRecord | None:
    data = tc.record or {}
    task = data.get("task")
    state = data.get("state")
    if not isinstance(task, dict) or state not in TaskState.__members__:
        log.warning("checkpointed task %s/%s is unusable; dropped", tc.framework_id, tc.task_id)
        return None
    try:
        resources = Resources.from_mesos(task.get("resources") or [])
    except ResourceError:
        resources = Resources.empty()
    config = data.get("config")
    grace = data.get("grace")
    return TaskRecord(
        tc.framework_id,
        tc.task_id,
        task,
        ContainerID(str(data.get("container_id") or "")),
        resources,
        sandbox=str(data.get("sandbox") or ""),
        state=TaskState[state],
        statuses=list(data.get("statuses") or []),
        launched=bool(data.get("launched")),
        kill_requested=bool(data.get("kill_requested")),
        grace=float(grace) if isinstance(grace, (int, float)) else grace_period(task),
        config=config_from_dict(config) if isinstance(config, dict) else None,
    )


def restore(core: AgentCore, cp: Checkpoint, now: float) -> dict[ContainerID, ContainerConfig]:
    """Load `cp` into a fresh core; the containers expected to exist, by container id."""
    if cp.agent_id:
        core.info.id = AgentID(cp.agent_id)
        for change in info_changes(cp.agent_info, core.info.to_wire()):
            log.warning("agent info changed since the last run: %s; re-registering as %s with "
                        "the new info", change, cp.agent_id)  # fmt: skip
    for fcp in cp.frameworks.values():
        core.frameworks[fcp.id] = FrameworkRecord(fcp.id, fcp.info, shutting_down=fcp.shutting_down)
    expected: dict[ContainerID, ContainerConfig] = {}
    for tc in cp.tasks:
        fw = core.frameworks.get(tc.framework_id)
        if tc.record is not None:
            rec = _record(tc)
            if rec is not None:
                if fw is None:  # framework file lost: keep the task under a minimal info
                    fw = FrameworkRecord(tc.framework_id, {"id": {"value": tc.framework_id}})
                    core.frameworks[fw.id] = fw
                fw.tasks[rec.task_id] = rec
                if not is_terminal(rec.state) and rec.container_id:
                    core._by_container[rec.container_id] = rec
                    expected[rec.container_id] = rec.config or ContainerConfig(
                        [], {}, rec.sandbox, rec.resources, task_id=rec.task_id,
                        framework_id=rec.framework_id,
                    )  # fmt: skip
        if tc.updates and not (fw is not None and fw.shutting_down):
            core.updates.restore(tc.framework_id, tc.updates, now)
    for fw in list(core.frameworks.values()):
        for rec in list(fw.tasks.values()):
            core._maybe_complete(fw, rec)
        core._maybe_complete_framework(fw)
    used = core.used_resources()
    if not used.is_empty() and not core.info.resources.contains(used):
        log.warning("running tasks use %s, more than this agent's new resources %s",
                    used, core.info.resources)  # fmt: skip
    return expected


def reattach(
    core: AgentCore,
    expected: Mapping[ContainerID, ContainerConfig],
    outcomes: Mapping[ContainerID, Termination | None] | None,
    now: float,
) -> list[Action]:
    """Decide each recovered task's fate from the containerizer's `outcomes`."""
    actions: list[Action] = []
    found = outcomes or {}
    if outcomes is None and expected:
        log.warning("the containerizer cannot recover containers; their tasks are lost")
    for cid in expected:
        rec = core._by_container.get(cid)
        if rec is None:
            continue
        if cid in found and found[cid] is None:
            actions += _reattached(core, rec, now)
            continue
        term = found.get(cid) or Termination(message=UNKNOWN_CONTAINER)
        log.info("task %s ended while the agent was down (%s)", rec.task_id, term)
        actions += core.exited(cid, term, now)
    return actions


def _reattached(core: AgentCore, rec: TaskRecord, now: float) -> list[Action]:
    cid = rec.container_id
    log.info("task %s of %s is still running (container %s)", rec.task_id, rec.framework_id, cid)
    if not rec.launched:  # the previous run died while launching it
        actions = core.launched(cid, LaunchResult(True), now)
    elif rec.kill_requested:
        actions = [Destroy(cid, rec.grace)]
    else:
        actions = []
    return [*actions, Watch(cid)]


def info_changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """What differs between the checkpointed AgentInfo and the current one (log lines)."""
    out = []
    for key in ("resources", "attributes", "hostname", "ip", "port"):
        if old.get(key) != new.get(key):
            out.append(f"{key} {old.get(key)!r} -> {new.get(key)!r}")
    return out


def task_key(rec: TaskRecord) -> tuple[FrameworkID, TaskID]:
    return rec.framework_id, rec.task_id
