"""State: the versioned `StateStore` (memory, SQLite), the master registry and its
operations, and leader election (embedded)."""

from dcos.state.leader import EmbeddedLeaderElector, LeaderElector, Leadership, MasterInfo
from dcos.state.memory import MemoryStateStore
from dcos.state.registry import (
    AddFramework,
    AdmitAgent,
    MarkReachable,
    MarkUnreachable,
    Operation,
    Registrar,
    Registry,
    RemoveAgent,
    RemoveFramework,
    SetQuota,
    SetWeight,
)
from dcos.state.sqlite import SQLiteStateStore
from dcos.state.store import Change, StateStore, VersionConflict, Versioned

__all__ = [
    "AddFramework",
    "AdmitAgent",
    "Change",
    "EmbeddedLeaderElector",
    "LeaderElector",
    "Leadership",
    "MarkReachable",
    "MarkUnreachable",
    "MasterInfo",
    "MemoryStateStore",
    "Operation",
    "Registrar",
    "Registry",
    "RemoveAgent",
    "RemoveFramework",
    "SQLiteStateStore",
    "SetQuota",
    "SetWeight",
    "StateStore",
    "VersionConflict",
    "Versioned",
]
