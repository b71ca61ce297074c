"""`AgentConfig`: everything an agent needs to start, from flags or from code.

Built by `dcos.agent.__main__` from the command line, and directly by tests, `dcos-py up`
and benchmarks (which run many agents on one event loop with a `FakeContainerizer`).
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Sequence
from dataclasses import dataclass, field

from dcos.agent.resources import GPU_COMMAND


@dataclass
class AgentConfig:
    master: str  # host:port, http://host:port, or zk://host:port[,host:port]/path (the leader)
    ip: str = "127.0.0.1"
    port: int = 5051  # 0 picks a free port (tests)
    hostname: str | None = None  # default: the ip for loopback, else the host name
    work_dir: str = "./work-dir/agent"
    resources: str | None = None  # "cpus:2;mem:1024;disk:2048;ports:[31000-31999]"
    attributes: str | None = None  # "rack:r1;zone:a;level:3"
    status_update_retry: float = 10.0  # first retry interval of unacknowledged updates
    max_status_update_retry: float = 600.0
    reconnect_min: float = 0.1
    reconnect_max: float = 5.0
    stop_grace_cap: float = 3.0  # longest kill grace used when the agent itself stops
    serve_http: bool = True  # simulated agents may skip their HTTP server
    detect: bool = True  # False: take `resources` as the whole totals, probe nothing
    gpu_command: Sequence[str] = field(default_factory=lambda: GPU_COMMAND)
    isolation: str | None = None  # Mesos --isolation names; None: what this host can enforce
    cgroups_root: str = "dcos-py"  # relative: under the agent's own cgroup (v1)
    cgroups_enable_cfs: bool = False  # hard CPU cap (CFS quota) besides the shares
    cgroups_max_pids: int = 1024  # pids.max of each container (0: no limit)
    disk_watch_interval: float = 15.0  # disk/du: seconds between sandbox measurements
    checkpoint: bool = True  # checkpoint under <work_dir>/meta and recover from it at start
    kill_tasks_on_stop: bool = False  # the agent process kills its tasks on SIGTERM too
    executor_registration_timeout: float = 60.0  # a custom executor must SUBSCRIBE by then
    log_max_size: int = 10 * 1024 * 1024  # rotate a task's stdout/stderr past this; 0: never
    log_max_files: int = 5  # per stream: the live file and log_max_files - 1 rotated copies
    log_check_interval: float = 1.0  # seconds between size checks (one loop for all tasks)
    fetcher_cache_size: int = 2 * 1024**3  # bytes kept in <work_dir>/fetcher-cache (LRU)
    dns_resolver: str | None = None  # host:port of the dcos-py DNS server, given to tasks
    log_file: str | None = None  # --log-file; the files API serves it as /slave/log
    # security (`dcos.agent.security`): on with a security directory (`dcos-py up --secure`)
    security_dir: str | None = None
    tls_name: str = "agent"  # the certificate (principal) the agent presents
    default_task_user: str | None = None  # security on: tasks without a user run as this
    # (None: "nobody"); security off: tasks run as the agent's user

    def effective_hostname(self) -> str:
        """`hostname`, else the ip when it is a loopback (or any) address, else the host name."""
        if self.hostname:
            return self.hostname
        try:
            addr = ipaddress.ip_address(self.ip)
        except ValueError:
            return self.ip
        if addr.is_loopback or addr.is_unspecified:
            return self.ip
        return socket.gethostname() or self.ip
