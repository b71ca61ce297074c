"""The sans-IO master core: state + decisions, takes events and `now`, returns actions."""

from dcos.master.core.agents import AgentError, AgentOutcome
from dcos.master.core.calls import Call, CallError, parse_call
from dcos.master.core.frameworks import SubscribeOutcome
from dcos.master.core.master import CallOutcome, MasterCore
from dcos.master.core.model import (
    Action,
    CloseAgent,
    CloseFramework,
    MasterSettings,
    Persist,
    ToAgent,
    ToFramework,
)

__all__ = [
    "Action", "AgentError", "AgentOutcome", "Call", "CallError", "CallOutcome", "CloseAgent",
    "CloseFramework", "MasterCore", "MasterSettings", "Persist", "SubscribeOutcome", "ToAgent",
    "ToFramework", "parse_call",
]  # fmt: skip
