"""Custom executors in the agent core (sans-IO): start, track, talk to and shut down.

A TaskInfo with an ``executor`` (ExecutorInfo with a ``command``) runs under that executor:
the first task for an executor id starts the executor's container (a `Launch` action with the
Mesos executor environment); tasks wait in the executor's queue until it SUBSCRIBEs on
``/api/v1/executor`` and then go to it as LAUNCH (or LAUNCH_GROUP) events; later tasks go
straight to it. The executor's own status updates (UPDATE calls) get ``agent_id`` and
``executor_id`` added and travel through the status update manager like the agent's; when
the scheduler acknowledges one, the executor gets ACKNOWLEDGED. An executor that does not
subscribe within the registration timeout is killed and its tasks fail; when its process
exits, its unfinished tasks fail (or are killed when a kill or shutdown was asked for) and
the master hears EXITED_EXECUTOR.

`ExecutorsMixin` is mixed into `dcos.agent.core.AgentCore`; the core's handlers call the
``_executor_*`` hooks, the HTTP endpoint (`dcos.agent.executor_api`) calls
`executor_subscribe`, `executor_update`, `executor_message` and `executor_disconnected`, and
the shell calls `tick` when a `Wake` it was given comes due. Events for an executor leave as
`ToExecutor` actions; `CloseExecutor` ends its stream.
"""

from __future__ import annotations

import dataclasses
import logging
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dcos.agent.containerizer import ContainerConfig, LaunchResult, Termination
from dcos.agent.executor import (
    EXECUTOR_SHUTDOWN_GRACE,
    LaunchRefused,
    build_config,
    signal_name,
    task_resources,
)
from dcos.agent.model import AgentInfo, Call, Destroy, FrameworkRecord, Launch, TaskRecord
from dcos.protocol import internal
from dcos.protocol.ids import (
    AgentID,
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

if TYPE_CHECKING:
    from dcos.agent.core import Action

log = logging.getLogger(__name__)

DEFAULT_REGISTRATION_TIMEOUT = 60.0
EXECUTOR_RECOVERY_TIMEOUT = 15 * 60.0  # how long an executor waits for a restarting agent
EXECUTOR_SUBSCRIPTION_BACKOFF_MAX = 2.0  # its re-subscription backoff cap (Mesos default)
MAX_COMPLETED_EXECUTORS = 200
ExecutorKey = tuple[FrameworkID, ExecutorID]

# executor states
LAUNCHING = "LAUNCHING"  # container being started
REGISTERING = "REGISTERING"  # process up, not subscribed (yet / any more)
RUNNING = "RUNNING"  # subscribed: events flow
TERMINATING = "TERMINATING"  # shutdown asked; killed at `shutdown_deadline`
TERMINATED = "TERMINATED"


# -- actions (carried out by dcos.agent.agent.Agent) -----------------------------------------


@dataclass(frozen=True)
class ToExecutor:
    """Send `event` (a Mesos v1 executor Event JSON) down the executor's stream."""

    key: ExecutorKey
    event: dict[str, Any]


@dataclass(frozen=True)
class CloseExecutor:
    """End the executor's stream (it exited or was replaced)."""

    key: ExecutorKey


@dataclass(frozen=True)
class Wake:
    """Call `AgentCore.tick(now)` at (or after) time `at`."""

    at: float


@dataclass
class ExecutorRecord:
    framework_id: FrameworkID
    executor_id: ExecutorID
    info: dict[str, Any]  # ExecutorInfo JSON, ids normalised
    container_id: ContainerID
    sandbox: str
    kind: str = "custom"  # "custom" (own process) or "default" (task groups, in the agent)
    state: str = LAUNCHING
    resources: Resources = field(default_factory=Resources.empty)
    tasks: set[TaskID] = field(default_factory=set)  # not yet completed
    queued: list[tuple[bool, list[TaskID]]] = field(default_factory=list)  # (group?, ids)
    groups: list[set[TaskID]] = field(default_factory=list)  # task groups (default executor)
    unacked: dict[str, TaskID] = field(default_factory=dict)  # executor update uuid -> task
    registration_deadline: float | None = None
    shutdown_deadline: float | None = None
    grace: float = EXECUTOR_SHUTDOWN_GRACE
    launched: bool = False  # container started (custom executors)
    adopted: bool = False  # re-subscribed without this agent having started it
    exit_status: int | None = None

    @property
    def key(self) -> ExecutorKey:
        return (self.framework_id, self.executor_id)


def _duration(value: Any, default: float) -> float:
    if isinstance(value, dict) and isinstance(value.get("nanoseconds"), (int, float)):
        return max(0.0, float(value["nanoseconds"]) / 1e9)
    return default


_UNITS = {
    "ns": 1e-9,
    "us": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "secs": 1.0,
    "sec": 1.0,
    "mins": 60.0,
    "min": 60.0,
    "m": 60.0,
    "hrs": 3600.0,
    "h": 3600.0,
    "days": 86400.0,
}


def parse_duration(text: str) -> float:
    """Seconds from a Mesos duration (``60secs``, ``2mins``, ``500ms``) or a bare number."""
    t = text.strip()
    i = len(t)
    while i > 0 and t[i - 1].isalpha():
        i -= 1
    number, unit = t[:i], t[i:] or "s"
    if unit not in _UNITS:
        raise ValueError(f"unknown duration unit {unit!r} in {text!r}")
    try:
        value = float(number) * _UNITS[unit]
    except ValueError:
        raise ValueError(f"bad duration {text!r}") from None
    if value < 0:
        raise ValueError(f"negative duration {text!r}")
    return value


def wait_status(term: Termination) -> int:
    """A Termination as the POSIX wait status Mesos reports in ExitedExecutorMessage."""
    if term.signal is not None:
        return int(term.signal)
    return (int(term.exit_code or 0) & 0xFF) << 8


def agent_info_json(core: Any) -> dict[str, Any]:
    """The Mesos AgentInfo JSON sent to executors in SUBSCRIBED."""
    info = core.info
    attrs = []
    for name, value in info.attributes.items():
        if isinstance(value, (int, float)):
            attrs.append({"name": name, "type": "SCALAR", "scalar": {"value": float(value)}})
        else:
            attrs.append({"name": name, "type": "TEXT", "text": {"value": str(value)}})
    out: dict[str, Any] = {
        "hostname": info.hostname,
        "port": info.port,
        "resources": info.resources.to_mesos(),
        "attributes": attrs,
    }
    if info.id:
        out["id"] = wrap(info.id)
    return out


def build_executor_config(
    executor: dict[str, Any],
    *,
    framework: dict[str, Any],
    framework_id: FrameworkID,
    executor_id: ExecutorID,
    agent_id: AgentID,
    container_id: ContainerID,
    work_dir: str,
    agent_endpoint: str,
    hostname: str,
    resources: Resources,
    grace: float,
    base_env: dict[str, str] | None = None,
) -> ContainerConfig:
    """The `ContainerConfig` of a custom executor's process; raises `LaunchRefused`."""
    command = executor.get("command")
    if not isinstance(command, dict):
        raise LaunchRefused("the executor has no command")
    pseudo = {"task_id": wrap(executor_id), "command": command, "resources": []}
    config = build_config(
        pseudo, framework_id=framework_id, agent_id=agent_id, container_id=container_id,
        work_dir=work_dir, agent_endpoint=agent_endpoint, hostname=hostname, base_env=base_env,
    )  # fmt: skip
    env = dict(config.env)
    env.pop("MESOS_TASK_ID", None)
    env.update(
        {
            "MESOS_EXECUTOR_ID": executor_id,
            "MESOS_AGENT_ID": agent_id,
            "MESOS_SLAVE_ID": agent_id,
            # this agent checkpoints every framework (dcos.agent.checkpoint), so an executor
            # must outlive the agent's restarts: it re-subscribes while the agent is away
            # (pymesos reads any non-empty value as true and so never shuts itself down)
            "MESOS_CHECKPOINT": "1",
            "MESOS_RECOVERY_TIMEOUT": format_duration(EXECUTOR_RECOVERY_TIMEOUT),
            "MESOS_SUBSCRIPTION_BACKOFF_MAX": format_duration(EXECUTOR_SUBSCRIPTION_BACKOFF_MAX),
            "MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD": format_duration(grace),
            "MESOS_HTTP_COMMAND_EXECUTOR": "0",
        }
    )
    for var in ((command.get("environment") or {}).get("variables")) or []:
        if isinstance(var, dict) and isinstance(var.get("name"), str):
            env[var["name"]] = str(var.get("value", ""))
    return dataclasses.replace(config, env=env, resources=resources, task_id=executor_id)


class ExecutorsMixin:
    """Custom executors; mixed into `AgentCore` (see the module docstring)."""

    if TYPE_CHECKING:  # provided by AgentCore
        from dcos.agent.status_updates import StatusUpdateManager

        info: AgentInfo
        work_dir: str
        base_env: dict[str, str] | None
        updates: StatusUpdateManager
        frameworks: dict[FrameworkID, FrameworkRecord]
        counters: dict[str, int]
        terminal_counts: dict[str, int]

        @property
        def agent_id(self) -> AgentID | None: ...
        @property
        def endpoint(self) -> str: ...
        def _framework(self, info: dict[str, Any]) -> FrameworkRecord | None: ...
        def _status(self, rec: TaskRecord, state: TaskState, now: float,
                    message: str | None = None, reason: str | None = None) -> None: ...  # fmt: skip
        def _maybe_complete(self, fw: FrameworkRecord, rec: TaskRecord) -> None: ...
        def _maybe_complete_framework(self, fw: FrameworkRecord) -> None: ...
        def _kill(self, fw: FrameworkRecord, rec: TaskRecord, now: float,
                  grace: float) -> list[Action]: ...  # fmt: skip

    executors: dict[ExecutorKey, ExecutorRecord]
    completed_executors: deque[ExecutorRecord]
    _executor_by_container: dict[ContainerID, ExecutorRecord]
    executor_registration_timeout: float

    def _init_executors(self, registration_timeout: float = DEFAULT_REGISTRATION_TIMEOUT) -> None:
        self.executors = {}
        self.completed_executors = deque(maxlen=MAX_COMPLETED_EXECUTORS)
        self._executor_by_container = {}
        self.executor_registration_timeout = registration_timeout
        self.dirty_executors: set[ExecutorKey] = set()  # to checkpoint (dcos.agent.checkpoint)

    def _mark_executor(self, ex: ExecutorRecord) -> None:
        """The executor's checkpoint file changed (written, or removed once it is retired)."""
        if getattr(self, "checkpointing", False):
            self.dirty_executors.add(ex.key)

    # -- launching tasks on a custom executor ------------------------------------------------

    def _new_task_record(self, fw: FrameworkRecord, task: dict[str, Any],
                         ex: ExecutorRecord) -> TaskRecord:  # fmt: skip
        resources = task_resources(task)
        tid = TaskID(unwrap(task.get("task_id")) or "")
        rec = TaskRecord(fw.id, tid, task, ex.container_id, resources, sandbox=ex.sandbox)
        rec.executor_id = ex.executor_id
        fw.tasks[tid] = rec
        ex.tasks.add(tid)
        mark = getattr(self, "_mark", None)  # checkpointed even before its first update
        if mark is not None:
            mark(fw.id, tid)
        if ex.container_id:
            self._mark_executor(ex)
        return rec

    def _executor_for(
        self, fw: FrameworkRecord, executor: dict[str, Any], first: Resources, now: float
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
        grace = _duration(executor.get("shutdown_grace_period"), EXECUTOR_SHUTDOWN_GRACE)
        try:
            own = Resources.from_mesos(executor.get("resources") or [])
        except ResourceError as exc:
            return None, f"bad executor resources: {exc}", []
        info = {**executor, "executor_id": wrap(eid), "framework_id": wrap(fw.id)}
        try:
            config = build_executor_config(
                executor, framework=fw.info, framework_id=fw.id, executor_id=eid,
                agent_id=self.agent_id or AgentID(""), container_id=cid,
                work_dir=self.work_dir, agent_endpoint=self.endpoint,
                hostname=self.info.hostname, resources=own + first, grace=grace,
                base_env=self.base_env,
            )  # fmt: skip
        except LaunchRefused as exc:
            return None, str(exc), []
        ex = ExecutorRecord(fw.id, eid, info, cid, config.sandbox, resources=own, grace=grace)
        self.executors[ex.key] = ex
        self._executor_by_container[cid] = ex
        self._mark_executor(ex)
        log.info("starting executor %s of framework %s", eid, fw.id)
        return ex, "", [Launch(cid, config)]

    def _run_on_executor(
        self, fw: FrameworkRecord, executor: dict[str, Any], tasks: list[dict[str, Any]],
        group: bool, now: float,
    ) -> list[Action]:  # fmt: skip
        """Tasks (one, or a task group) for a custom executor: queue them or send them."""
        first = Resources.empty()
        for t in tasks:
            first = first + task_resources(t)
        ex, error, actions = self._executor_for(fw, executor, first, now)
        if ex is None:
            eid = ExecutorID(unwrap(executor.get("executor_id")) or "")
            dummy = ExecutorRecord(fw.id, eid, executor, ContainerID(""), "")
            for t in tasks:
                rec = self._new_task_record(fw, t, dummy)
                self._status(rec, TaskState.TASK_FAILED, now, error,
                             Reason.REASON_CONTAINER_LAUNCH_FAILED)  # fmt: skip
                self._maybe_complete(fw, rec)
            self._maybe_complete_framework(fw)
            return actions
        ids = [self._new_task_record(fw, t, ex).task_id for t in tasks]
        self._mark_executor(ex)
        if ex.state == RUNNING:
            actions.append(self._deliver(ex, group, ids))
        else:
            ex.queued.append((group, ids))
        return actions

    def _deliver(self, ex: ExecutorRecord, group: bool, ids: list[TaskID]) -> ToExecutor:
        fw = self.frameworks[ex.framework_id]
        infos = []
        for tid in ids:
            rec = fw.tasks.get(tid)
            if rec is not None:
                rec.launched = True
                infos.append(rec.task)
                mark = getattr(self, "_mark", None)
                if mark is not None:
                    mark(rec.framework_id, rec.task_id)
        if group:
            return ToExecutor(ex.key, {"type": "LAUNCH_GROUP",
                                       "launch_group": {"task_group": {"tasks": infos}}})  # fmt: skip
        return ToExecutor(ex.key, {"type": "LAUNCH", "launch": {"task": infos[0]}})

    # -- container outcomes ----------------------------------------------------------------

    def _executor_launched(
        self, ex: ExecutorRecord, result: LaunchResult, now: float
    ) -> list[Action]:
        if not result.ok:
            self._executor_gone(ex, now, TaskState.TASK_FAILED,
                                Reason.REASON_CONTAINER_LAUNCH_FAILED,
                                f"Failed to launch executor: {result.error}")  # fmt: skip
            return []
        ex.launched = True
        self._mark_executor(ex)
        if ex.state == TERMINATING:
            return [Destroy(ex.container_id, 0.0)]
        ex.state = REGISTERING
        ex.registration_deadline = now + self.executor_registration_timeout
        return [Wake(ex.registration_deadline)]

    def _executor_exited(self, ex: ExecutorRecord, term: Termination, now: float) -> list[Action]:
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
        self._executor_gone(ex, now, state, reason, how)
        out: list[Action] = [CloseExecutor(ex.key)]
        if self.agent_id and not ex.adopted:
            out.append(Call({
                "type": internal.EXITED_EXECUTOR, "agent_id": self.agent_id,
                "framework_id": ex.framework_id, "executor_id": ex.executor_id,
                "status": ex.exit_status,
            }))  # fmt: skip
        return out

    def _executor_gone(self, ex: ExecutorRecord, now: float, state: TaskState,
                       reason: str, message: str) -> None:  # fmt: skip
        """The executor is no more: its unfinished tasks end with `state`."""
        ex.state = TERMINATED
        ex.queued.clear()
        self._executor_by_container.pop(ex.container_id, None)
        fw = self.frameworks.get(ex.framework_id)
        self._retire_executor(ex)
        if fw is not None:
            for tid in sorted(ex.tasks):
                rec = fw.tasks.get(tid)
                if rec is None or is_terminal(rec.state):
                    continue
                final = TaskState.TASK_KILLED if rec.kill_requested else state
                self._status(rec, final, now, message, reason)
                self._maybe_complete(fw, rec)
            self._maybe_complete_framework(fw)

    def _retire_executor(self, ex: ExecutorRecord) -> None:
        if self.executors.get(ex.key) is ex:
            del self.executors[ex.key]
            self.completed_executors.append(ex)
            self._mark_executor(ex)

    # -- timers ----------------------------------------------------------------------------

    def tick(self, now: float) -> list[Action]:
        """Registration timeouts and shutdown grace periods that have run out by `now`."""
        out: list[Action] = []
        for ex in list(self.executors.values()):
            if ex.state == REGISTERING and ex.registration_deadline is not None \
                    and now >= ex.registration_deadline:  # fmt: skip
                log.warning("executor %s did not subscribe in time; killing it", ex.executor_id)
                ex.state = TERMINATING
                self._mark_executor(ex)
                self._fail_tasks(ex, now, TaskState.TASK_FAILED,
                                 Reason.REASON_EXECUTOR_REGISTRATION_TIMEOUT,
                                 "Executor did not register within "
                                 f"{format_duration(self.executor_registration_timeout)}")  # fmt: skip
                out.append(Destroy(ex.container_id, 0.0))
            elif ex.state == TERMINATING and ex.shutdown_deadline is not None \
                    and now >= ex.shutdown_deadline:  # fmt: skip
                ex.shutdown_deadline = None
                out.append(Destroy(ex.container_id, 1.0))
        return out

    def _fail_tasks(self, ex: ExecutorRecord, now: float, state: TaskState,
                    reason: str, message: str) -> None:  # fmt: skip
        fw = self.frameworks.get(ex.framework_id)
        if fw is None:
            return
        ex.queued.clear()
        for tid in sorted(ex.tasks):
            rec = fw.tasks.get(tid)
            if rec is not None and not is_terminal(rec.state):
                self._status(rec, state, now, message, reason)
                self._maybe_complete(fw, rec)

    # -- kills, shutdowns, messages from the master ----------------------------------------

    def _kill_executor_task(
        self, ex: ExecutorRecord, rec: TaskRecord, now: float, kill_policy: Any
    ) -> list[Action]:
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
            self._mark_executor(ex)
            self._status(rec, TaskState.TASK_KILLED, now, "Killed before delivery to the executor")
            return []
        if ex.state != RUNNING:
            return []  # delivered after it re-subscribes? it will be killed with it
        event: dict[str, Any] = {"task_id": wrap(rec.task_id)}
        if isinstance(kill_policy, dict):
            event["kill_policy"] = kill_policy
        return [ToExecutor(ex.key, {"type": "KILL", "kill": event})]

    def _shutdown_executor(self, ex: ExecutorRecord, now: float) -> list[Action]:
        """SHUTDOWN event now, the container killed after the executor's grace period."""
        if ex.state in (TERMINATING, TERMINATED):
            return []
        was = ex.state
        ex.state = TERMINATING
        self._mark_executor(ex)
        fw = self.frameworks.get(ex.framework_id)
        for tid in ex.tasks if fw is not None else ():
            rec = fw.tasks.get(tid) if fw is not None else None
            if rec is not None:
                rec.kill_requested = True
        if not ex.launched or ex.adopted:
            if ex.adopted:
                return [ToExecutor(ex.key, {"type": "SHUTDOWN"}), CloseExecutor(ex.key)]
            return []  # `_executor_launched` destroys it
        if was != RUNNING:
            return [Destroy(ex.container_id, 0.0)]
        ex.shutdown_deadline = now + ex.grace
        return [ToExecutor(ex.key, {"type": "SHUTDOWN"}), Wake(ex.shutdown_deadline)]

    def _on_shutdown_executor(self, event: dict[str, Any], now: float) -> list[Action]:
        """SHUTDOWN_EXECUTOR from the master (the scheduler's SHUTDOWN call)."""
        fid = FrameworkID(str(unwrap(event.get("framework_id")) or event.get("framework_id")))
        eid = ExecutorID(str(unwrap(event.get("executor_id")) or event.get("executor_id")))
        ex = self.executors.get((fid, eid))
        if ex is not None and ex.kind == "custom":
            return self._shutdown_executor(ex, now)
        fw = self.frameworks.get(fid)
        if fw is None:
            return []
        out: list[Action] = []
        for rec in list(fw.tasks.values()):
            if rec.executor_id == eid or (rec.executor_id is None and rec.task_id == eid):
                out += self._kill(fw, rec, now, rec.grace)
        return out

    def _shutdown_framework_executors(self, fw: FrameworkRecord, now: float) -> list[Action]:
        out: list[Action] = []
        for ex in list(self.executors.values()):
            if ex.framework_id == fw.id and ex.kind == "custom":
                out += self._shutdown_executor(ex, now)
        return out

    def _executor_framework_message(self, event: dict[str, Any]) -> list[Action]:
        fid = FrameworkID(str(unwrap(event.get("framework_id")) or event.get("framework_id")))
        eid = ExecutorID(str(unwrap(event.get("executor_id")) or event.get("executor_id")))
        ex = self.executors.get((fid, eid))
        if ex is None or ex.state != RUNNING or not isinstance(event.get("data"), str):
            log.info("dropping framework message for executor %s of %s: not subscribed", eid, fid)
            return []
        return [ToExecutor(ex.key, {"type": "MESSAGE", "message": {"data": event["data"]}})]

    def _executor_acknowledged(self, rec: TaskRecord | None, uuid: str) -> list[Action]:
        if rec is None or rec.executor_id is None:
            return []
        ex = self.executors.get((rec.framework_id, rec.executor_id))
        if ex is None or ex.unacked.pop(uuid, None) is None:
            return []
        self._mark_executor(ex)
        if ex.state != RUNNING:
            return []
        return [ToExecutor(ex.key, {"type": "ACKNOWLEDGED", "acknowledged": {
            "task_id": wrap(rec.task_id), "uuid": uuid}})]  # fmt: skip

    def _status_source(self, rec: TaskRecord) -> Source:
        """The agent speaks for a custom executor's task (SOURCE_AGENT); else the executor."""
        ex = self.executors.get((rec.framework_id, rec.executor_id)) if rec.executor_id else None
        if ex is not None and ex.kind == "custom":
            return Source.SOURCE_AGENT
        return Source.SOURCE_EXECUTOR

    def _has_executors(self, framework_id: FrameworkID) -> bool:
        """True while a custom executor of the framework is alive (keeps the framework)."""
        return any(
            ex.framework_id == framework_id and ex.kind == "custom" and ex.state != TERMINATED
            for ex in self.executors.values()
        )

    def _executor_resources(self) -> Resources:
        total = Resources.empty()
        for ex in self.executors.values():
            if ex.kind == "custom" and ex.state != TERMINATED:
                total = total + ex.resources
        return total

    def _executor_destroys(self, grace_cap: float) -> list[Action]:
        out: list[Action] = []
        for ex in self.executors.values():
            if ex.kind == "custom" and ex.launched and ex.state != TERMINATED:
                ex.state = TERMINATING
                self._mark_executor(ex)
                out.append(Destroy(ex.container_id, min(ex.grace, grace_cap)))
        return out
