"""State: the versioned `StateStore` (memory, SQLite, ZooKeeper), the master registry and
its operations, leader election (embedded, ZooKeeper) and master detection (a fixed address or
a ``zk://`` URL).

ZooKeeper pieces: `dcos.state.zk` (URLs, kazoo clients on asyncio), `dcos.state.zookeeper`
(`ZooKeeperStateStore`), `dcos.state.election` (`ZooKeeperElection`,
`ZooKeeperLeaderElector`), `dcos.state.detector` (`master_detector`, `resolve_master`),
`dcos.state.zk_server` (running a ZooKeeper server from the Debian package).
"""

from dcos.state.detector import (
    MasterDetector,
    StaticDetector,
    ZooKeeperDetector,
    master_detector,
    resolve_master,
)
from dcos.state.election import ZooKeeperElection, ZooKeeperLeaderElector
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
from dcos.state.zk import ZkUrl, ZkUrlError, is_zk_url, parse_zk_url
from dcos.state.zookeeper import Fenced, ZooKeeperStateStore

__all__ = [
    "AddFramework",
    "AdmitAgent",
    "Change",
    "EmbeddedLeaderElector",
    "Fenced",
    "LeaderElector",
    "Leadership",
    "MarkReachable",
    "MarkUnreachable",
    "MasterDetector",
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
    "StaticDetector",
    "VersionConflict",
    "Versioned",
    "ZkUrl",
    "ZkUrlError",
    "ZooKeeperDetector",
    "ZooKeeperElection",
    "ZooKeeperLeaderElector",
    "ZooKeeperStateStore",
    "is_zk_url",
    "master_detector",
    "parse_zk_url",
    "resolve_master",
]
