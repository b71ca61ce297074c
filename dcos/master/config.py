"""`MasterConfig`: everything a master process is started with (flags of
``python -m dcos.master``, or set directly by tests and benchmarks)."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass


@dataclass
class MasterConfig:
    ip: str = "127.0.0.1"
    port: int = 5050
    hostname: str | None = None  # default: the ip
    work_dir: str = "./work-dir/master"
    agent_ping_timeout: float = 15.0
    max_agent_ping_timeouts: int = 5
    agent_reregister_timeout: float = 600.0
    offer_timeout: float | None = None
    allocation_interval: float = 1.0
    heartbeat_interval: float = 15.0
    log_file: str | None = None
    log_level: str = "INFO"
    log_format: str = "text"  # or "json" (JSON lines)
    cluster: str = "dcos-py"
    seed: int = 0
    in_memory_store: bool = False  # tests: MemoryStateStore instead of SQLite
    # HA (Mesos' flags): `zk` is the masters' ZooKeeper URL ``zk://h:p,h:p/path`` (None:
    # embedded, one master that always leads, registry in SQLite); the election znodes go
    # under its path, the registry under `zk_state_path` (default ``<path>-state``)
    zk: str | None = None
    zk_session_timeout: float = 10.0
    zk_state_path: str | None = None

    @property
    def advertised_hostname(self) -> str:
        return self.hostname or self.ip

    @property
    def state_path(self) -> str:
        return os.path.join(self.work_dir, "state.db")

    @property
    def ha(self) -> bool:
        """Whether this master runs in HA mode (elected through ZooKeeper)."""
        return bool(self.zk)

    def flags(self) -> dict[str, str]:
        """Mesos' /state ``flags``: every value as a string."""
        return {k: "" if v is None else str(v) for k, v in asdict(self).items()}
