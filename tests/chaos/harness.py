"""`HACluster`: `ProcessCluster` in HA mode (dcos/testing/processes.py: ``masters=3, zk=...``,
`leader_index`, `kill_master`, `start_master`, `wait_leader`) plus what the chaos tests read
and one more fault: each master may get its own ZooKeeper URL (`master_zk`), which the
ensemble test uses to route each master through its own cuttable proxies.

Also `agent_urls()`, `agent_work_dirs()` (for the exactly-once checks), `wait_new_leader` and
`master_status(i, path)` (the status master `i` answers, redirects not followed).
"""

from __future__ import annotations

import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from dcos.testing.processes import QUICK_MASTER_FLAGS, ProcessCluster

ZK_SESSION_TIMEOUT = 2.0  # seconds: a dead leader's znode is gone 2 s after its last ping


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


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

    def master_status(self, i: int, path: str) -> int:
        """The HTTP status master `i` answers for GET `path` (a 307 is not followed); 0 when
        it does not answer."""
        opener = urllib.request.build_opener(_NoRedirect)
        try:
            with opener.open(self.master_url(i) + path, timeout=1.0) as resp:
                return int(resp.status)
        except urllib.error.HTTPError as e:
            return int(e.code)
        except OSError:
            return 0
