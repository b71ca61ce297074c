"""The sans-IO master core: state + decisions, takes typed events and `now`, returns actions."""

from dcos.master.core.agents import AgentOutcome
from dcos.master.core.calls import Call, CallError, SchedulerCall, Subscribe, parse_call
from dcos.master.core.frameworks import SubscribeOutcome
from dcos.master.core.master import CallOutcome, MasterCore
from dcos.master.core.model import (
    ALLOCATE_SOON,
    Action,
    AllocateSoon,
    CloseAgent,
    CloseFramework,
    MasterSettings,
    Persist,
    ToAgent,
    ToFramework,
)
from dcos.master.core.observed import Observed
from dcos.protocol.internal import AgentError

__all__ = [
    "ALLOCATE_SOON", "Action", "AgentError", "AgentOutcome", "AllocateSoon", "Call", "CallError",
    "CallOutcome", "CloseAgent", "CloseFramework", "MasterCore", "MasterSettings", "Observed", "Persist",
    "SchedulerCall", "Subscribe", "SubscribeOutcome", "ToAgent", "ToFramework", "parse_call",
]  # fmt: skip
