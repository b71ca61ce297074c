"""The agent's sans-IO core: `AgentCore.handle(event, now) -> list[Action]`.

Events are in `dcos.agent.core.events`, actions in `dcos.agent.core.actions`, records in
`dcos.agent.core.model`; the parts of the core (task ledger, executor supervisor, executor
calls, task groups, recovery) each have their module here. See `agent_core` for the map.
"""

from dcos.agent.core.actions import (
    Action,
    CheckpointChanges,
    CloseExecutor,
    Destroy,
    Launch,
    Refuse,
    Registered,
    SendToMaster,
    SendUpdates,
    ToExecutor,
    UpdatesDue,
    Wake,
    Watch,
)
from dcos.agent.core.agent_core import AgentCore
from dcos.agent.core.model import AgentInfo, ExecutorRecord, FrameworkRecord, TaskRecord

__all__ = [
    "Action",
    "AgentCore",
    "AgentInfo",
    "CheckpointChanges",
    "CloseExecutor",
    "Destroy",
    "ExecutorRecord",
    "FrameworkRecord",
    "Launch",
    "Refuse",
    "Registered",
    "SendToMaster",
    "SendUpdates",
    "TaskRecord",
    "ToExecutor",
    "UpdatesDue",
    "Wake",
    "Watch",
]
