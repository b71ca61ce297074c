"""A custom executor's process and the Mesos JSON it is told (pure functions, no I/O).

Called by the executor supervisor (`dcos.agent.core.supervisor`) when it starts an executor
(`build_executor_config`: the process's `ContainerConfig` with the Mesos executor
environment), when the executor subscribes (`agent_info_json`) and when it exits
(`wait_status`: the POSIX wait status of EXITED_EXECUTOR).

Executor authentication (as Mesos' ``MESOS_EXECUTOR_AUTHENTICATION_TOKEN``): every custom
executor the agent starts gets a token in its environment, `executor_token`, an HMAC-SHA256
of its framework id, executor id and container id under the agent's secret (kept in
``<work_dir>/meta``, so the same token is derived again after an agent restart and nothing
else about it is checkpointed). The executor presents it on every call as ``Authorization:
Bearer <token>``; `dcos.agent.core.executor_calls` checks it (`token_valid`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
from typing import Any

from dcos.agent.command_executor import LaunchRefused, build_config
from dcos.agent.containerizer import ContainerConfig, Termination
from dcos.agent.core.model import AgentInfo
from dcos.protocol.ids import AgentID, ContainerID, ExecutorID, FrameworkID, wrap
from dcos.protocol.mesos import format_duration
from dcos.protocol.resources import Resources

DEFAULT_REGISTRATION_TIMEOUT = 60.0
EXECUTOR_RECOVERY_TIMEOUT = 15 * 60.0  # how long an executor waits for a restarting agent
EXECUTOR_SUBSCRIPTION_BACKOFF_MAX = 2.0  # its re-subscription backoff cap (Mesos default)
TOKEN_ENV = "MESOS_EXECUTOR_AUTHENTICATION_TOKEN"


def executor_token(secret: bytes, framework_id: str, executor_id: str, container_id: str) -> str:
    """The authentication token of one run (container) of an executor: hex HMAC-SHA256 of its
    ids under the agent's `secret` (ids are joined with NUL, which no id contains)."""
    ids = "\x00".join((framework_id, executor_id, container_id))
    message = ids.encode("utf-8", "surrogatepass")
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def token_valid(secret: bytes, framework_id: str, executor_id: str, container_id: str,
                token: str) -> bool:  # fmt: skip
    """True when `token` is the executor run's token (compared in constant time)."""
    expected = executor_token(secret, framework_id, executor_id, container_id)
    return hmac.compare_digest(expected.encode(), token.encode("utf-8", "replace"))


def duration_field(value: Any, default: float) -> float:
    """Seconds of a Mesos DurationInfo JSON (``{"nanoseconds": n}``), else `default`."""
    if isinstance(value, dict) and isinstance(value.get("nanoseconds"), (int, float)):
        return max(0.0, float(value["nanoseconds"]) / 1e9)
    return default


def wait_status(term: Termination) -> int:
    """A Termination as the POSIX wait status Mesos reports in ExitedExecutorMessage."""
    if term.signal is not None:
        return int(term.signal)
    return (int(term.exit_code or 0) & 0xFF) << 8


def agent_info_json(info: AgentInfo) -> dict[str, Any]:
    """The Mesos AgentInfo JSON sent to executors in SUBSCRIBED."""
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
    framework_id: FrameworkID,
    executor_id: ExecutorID,
    agent_id: AgentID,
    container_id: ContainerID,
    work_dir: str,
    agent_endpoint: str,
    hostname: str,
    resources: Resources,
    grace: float,
    token: str,
    base_env: dict[str, str] | None = None,
) -> ContainerConfig:
    """The `ContainerConfig` of a custom executor's process, with its authentication `token`
    in the environment; raises `LaunchRefused`."""
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
    env[TOKEN_ENV] = token  # last: the framework's variables cannot replace it
    return dataclasses.replace(config, env=env, resources=resources, task_id=executor_id)
