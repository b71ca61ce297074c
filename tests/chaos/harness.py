"""`HACluster`: `ProcessCluster` in HA mode (dcos/testing/processes.py: ``masters=3, zk=...``,
`leader_index`, `kill_master`, `start_master`, `wait_leader`) plus what the chaos tests read
and one more fault: each master may get its own ZooKeeper URL (`master_zk`), which the
ensemble test uses to route each master through its own cuttable proxies.

Also `agent_urls()`, `agent_work_dirs()` (for the exactly-once checks) and `wait_new_leader`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from dcos.testing.processes import QUICK_MASTER_FLAGS, ProcessCluster

ZK_SESSION_TIMEOUT = 2.0  # seconds: a dead leader's znode is gone 2 s after its last ping


@dataclass
class HACluster(ProcessCluster):
    """See the module docstring; `zk` is required (the masters' election URL, which agents
    and frameworks use too)."""

    master_zk: list[str] | None = None  # per-master --zk (default: `zk` for all)

    def __post_init__(self) -> None:
        if not self.zk:
            raise ValueError("HACluster needs zk=zk://host:port/path")
        if not self.master_flags:
            self.master_flags = list(QUICK_MASTER_FLAGS)
        super().__post_init__()

    def start_master(self, i: int = 0) -> None:
        """Master `i`, with its own ZooKeeper URL when `master_zk` gives one."""
        if self.master_zk is None:
            super().start_master(i)
            return
        shared, self.zk = self.zk, self.master_zk[i]
        try:
            super().start_master(i)
        finally:
            self.zk = shared

    def agent_urls(self) -> list[str]:
        return [f"http://127.0.0.1:{p}" for p in self.agent_ports]

    def agent_work_dirs(self) -> list[Path]:
        return [self.work_dir / f"agent-{i}" for i in range(len(self.agent_ports))]

    def wait_new_leader(self, old: int | None, timeout: float = 30.0) -> int:
        """Wait until exactly one master leads and it is not `old`; its index."""
        return self.wait_leader(timeout, exclude={old} if old is not None else None)
