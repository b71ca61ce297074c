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
    # security (issue 13): `security_dir` is the cluster's security directory
    # (`dcos.security.layout`); with it the master serves HTTPS with its certificate
    # `tls_name`, authenticates every request and enforces the ACLs (`dcos.master.http.secure`)
    security_dir: str | None = None
    tls_name: str = "master"
    # the user a task runs as when neither its CommandInfo nor its FrameworkInfo names one,
    # for the master's ``run_tasks`` check (the agents run it as their own default: keep
    # them alike); None: "nobody" with security on
    default_task_user: str | None = None
    # limits (security on or off): scheduler calls per second per framework (token bucket;
    # 0: no limit; ACKNOWLEDGE is not counted), open event streams per principal (scheduler
    # and operator SUBSCRIBE; None: 16 with security on, no limit with it off; 0: no limit),
    # request bodies on the public APIs (the internal agent channel keeps `MAX_INTERNAL_BODY`)
    scheduler_call_rate: float = 2000.0
    scheduler_call_burst: int = 4000
    max_streams_per_principal: int | None = None
    max_body_bytes: int = 1024 * 1024

    @property
    def advertised_hostname(self) -> str:
        return self.hostname or self.ip

    @property
    def state_path(self) -> str:
        return os.path.join(self.work_dir, "state.db")

    @property
    def secure(self) -> bool:
        """Whether security is on (``--security-dir``)."""
        return bool(self.security_dir)

    @property
    def task_user(self) -> str:
        """The default task user of the master's ``run_tasks`` check."""
        return self.default_task_user or "nobody"

    @property
    def stream_limit(self) -> int:
        """Open event streams per principal (0: no limit)."""
        if self.max_streams_per_principal is None:
            return 16 if self.secure else 0
        return self.max_streams_per_principal

    @property
    def ha(self) -> bool:
        """Whether this master runs in HA mode (elected through ZooKeeper)."""
        return bool(self.zk)

    def flags(self) -> dict[str, str]:
        """Mesos' /state ``flags``: every value as a string."""
        return {k: "" if v is None else str(v) for k, v in asdict(self).items()}
