"""The built-in command executor's decisions (pure functions, no I/O).

Called by the agent core (`dcos.agent.core`) when it runs a task that has a ``command`` and no custom
``executor``: `build_config` turns the TaskInfo
into a `ContainerConfig` (argv, Mesos environment, ports; it refuses an invalid
``health_check`` or ``uris`` before anything runs), `task_ports` reads its ports in
the order the framework gave them, `termination_outcome` maps how the process ended to the
terminal state, reason and message of its last status update.
"""

from __future__ import annotations

import os
import signal
from typing import Any

from dcos.agent.containerizer import ContainerConfig, Termination
from dcos.agent.health import HealthCheckError, HealthCheckSpec
from dcos.agent.paths import UnsafeId, sandbox_path
from dcos.protocol.ids import AgentID, ContainerID, FrameworkID, TaskID, unwrap
from dcos.protocol.mesos import format_duration
from dcos.protocol.resources import ResourceError, Resources
from dcos.protocol.states import Reason, TaskState

DEFAULT_GRACE = 3.0
EXECUTOR_SHUTDOWN_GRACE = 5.0


class LaunchRefused(ValueError):
    """The TaskInfo cannot be run by the command executor; the text says why."""


def task_ports(task: dict[str, Any]) -> list[int]:
    """The task's ports, in the order of its ``ports`` ranges (PORT0 is the first)."""
    ports: list[int] = []
    for r in task.get("resources") or []:
        if not isinstance(r, dict) or r.get("name") != "ports":
            continue
        for rg in ((r.get("ranges") or {}).get("range")) or []:
            try:
                ports.extend(range(int(rg["begin"]), int(rg["end"]) + 1))
            except (KeyError, TypeError, ValueError):
                continue
    return ports


def task_resources(task: dict[str, Any]) -> Resources:
    """The task's resources for its TaskRecord and the agent's accounting (the core, the
    executor launcher and recovery call it when they record a task); empty when they do not
    parse, since `build_config` refuses such a task, naming the problem."""
    try:
        return Resources.from_mesos(task.get("resources") or [])
    except ResourceError:
        return Resources.empty()


def grace_period(task: dict[str, Any], kill_policy: Any = None) -> float:
    """Seconds between SIGTERM and SIGKILL: the KILL's policy, else the task's, else 3 s."""
    for policy in (kill_policy, task.get("kill_policy")):
        if isinstance(policy, dict):
            ns = (policy.get("grace_period") or {}).get("nanoseconds")
            if isinstance(ns, (int, float)) and ns >= 0:
                return float(ns) / 1e9
    return DEFAULT_GRACE


def _argv(command: dict[str, Any]) -> list[str]:
    value = command.get("value")
    shell = command.get("shell", True)
    if shell is None or shell:
        if not isinstance(value, str) or not value.strip():
            raise LaunchRefused("command.value is missing")
        return ["/bin/sh", "-c", value]
    args = [str(a) for a in (command.get("arguments") or [])]
    if isinstance(value, str) and value:
        # Mesos execs `value` with `arguments` as the whole argv (argv[0] included)
        return [value, *args[1:]] if args else [value]
    raise LaunchRefused("command.value is missing")


def _checked(task: dict[str, Any]) -> tuple[TaskID, dict[str, Any], list[str]]:
    """The task's id, command and argv; raises `LaunchRefused` for what cannot run."""
    task_id = TaskID(unwrap(task.get("task_id")) or "")
    if not task_id:
        raise LaunchRefused("task_id is missing")
    if task.get("executor"):
        raise LaunchRefused("custom executors are not supported by this agent yet")
    command = task.get("command")
    if not isinstance(command, dict):
        raise LaunchRefused("task has no command")
    argv = _argv(command)
    try:
        HealthCheckSpec.from_task(task)
    except HealthCheckError as exc:
        raise LaunchRefused(f"invalid health check: {exc}") from None
    uris = command.get("uris")
    if uris is not None and not (
        isinstance(uris, list) and all(isinstance(u, dict) and u.get("value") for u in uris)
    ):
        raise LaunchRefused("command.uris must be a list of URI objects with a value")
    return task_id, command, argv


def _task_env(task: dict[str, Any], command: dict[str, Any], base_env: dict[str, str] | None,
              mesos: dict[str, str]) -> dict[str, str]:  # fmt: skip
    """The base environment, the Mesos variables, the task's ports and its own variables."""
    env = dict(os.environ if base_env is None else base_env)
    env.pop("MESOS_EXECUTOR_AUTHENTICATION_TOKEN", None)  # the agent's own, if it has one
    env.update(mesos)
    ports = task_ports(task)
    for i, port in enumerate(ports):
        env[f"PORT{i}"] = str(port)
    if ports:
        env["PORT"] = str(ports[0])
        env["PORTS"] = ",".join(str(p) for p in ports)
    for var in ((command.get("environment") or {}).get("variables")) or []:
        if isinstance(var, dict) and isinstance(var.get("name"), str):
            env[var["name"]] = str(var.get("value", ""))
    return env


def build_config(
    task: dict[str, Any],
    *,
    framework_id: FrameworkID,
    agent_id: AgentID,
    container_id: ContainerID,
    work_dir: str,
    agent_endpoint: str,
    hostname: str,
    base_env: dict[str, str] | None = None,
    resources: Resources | None = None,
) -> ContainerConfig:
    """The `ContainerConfig` of a command task; raises `LaunchRefused` naming the problem.

    `resources`: the task's resources as its caller already parsed them (the core does, for
    its TaskRecord); None parses `task["resources"]` here, refusing the task if they are bad."""
    task_id, command, argv = _checked(task)
    if resources is None:
        try:
            resources = Resources.from_mesos(task.get("resources") or [])
        except ResourceError as exc:
            raise LaunchRefused(f"bad resources: {exc}") from None
    try:  # an id that would leave the work dir fails the task, whatever the master let through
        sandbox = sandbox_path(work_dir, agent_id, framework_id, task_id, container_id)
    except UnsafeId as exc:
        raise LaunchRefused(f"invalid sandbox: {exc}") from None
    env = _task_env(task, command, base_env, {
        "MESOS_SANDBOX": sandbox,
        "MESOS_DIRECTORY": sandbox,
        "MESOS_TASK_ID": task_id,
        "MESOS_FRAMEWORK_ID": framework_id,
        "MESOS_EXECUTOR_ID": task_id,
        "MESOS_AGENT_ENDPOINT": agent_endpoint,
        "MESOS_SLAVE_ID": agent_id,
        "MESOS_SLAVE_PID": f"slave(1)@{agent_endpoint}",
        "MESOS_CONTAINER_ID": container_id,
        "MESOS_CHECKPOINT": "0",
        "MESOS_HTTP_COMMAND_EXECUTOR": "0",
        "MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD": format_duration(EXECUTOR_SHUTDOWN_GRACE),
        "HOST": hostname,
    })  # fmt: skip
    return ContainerConfig(argv=argv, env=env, sandbox=sandbox, resources=resources,
                           command=command, task_id=task_id, framework_id=framework_id)  # fmt: skip


def signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def termination_outcome(
    term: Termination, kill_requested: bool
) -> tuple[TaskState, str | None, str]:
    """(terminal state, reason, message) of a task whose container ended with `term`."""
    if term.signal is not None:
        message = f"Command terminated by signal {signal_name(term.signal)}"
    elif term.exit_code is not None:
        message = f"Command exited with status {term.exit_code}"
    else:
        message = term.message or "Command terminated"
    if term.reason is not None:
        return TaskState.TASK_FAILED, term.reason, term.message or message
    if kill_requested:
        return TaskState.TASK_KILLED, None, message
    if term.exit_code == 0:
        return TaskState.TASK_FINISHED, None, message
    if term.exit_code is None and term.signal is None:
        return TaskState.TASK_FAILED, Reason.REASON_EXECUTOR_TERMINATED, message
    return TaskState.TASK_FAILED, None, message
