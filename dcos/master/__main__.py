"""``python -m dcos.master``: run a master (see `dcos.master.app.run_master`).

Flags come from `dcos.common.flags` (``--help`` lists them with defaults); each is also
settable as ``DCOS_<FLAG>`` or ``MESOS_<FLAG>``. Runs on uvloop (`uvloop.run`).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping
from pathlib import Path

from dcos.common.flags import DaemonParser, positive_seconds
from dcos.common.gc_tuning import tune_gc
from dcos.common.log import setup_logging
from dcos.common.service_main import run_until_signalled
from dcos.common.version import version_line
from dcos.master.app import run_master
from dcos.master.config import MasterConfig
from dcos.security.context import load_context
from dcos.state.zk import parse_zk_url


def _zk_url(text: str) -> str:
    """``--zk``: a ``zk://`` URL (`dcos.state.zk.parse_zk_url` checks it), kept as given."""
    parse_zk_url(text)
    return text.strip()


def _znode_path(text: str) -> str:
    """``--zk-state-path``: an absolute znode path (``/dcos-state``)."""
    text = text.strip()
    if not text.startswith("/") or text == "/" or text.endswith("/") or "//" in text:
        raise ValueError("expecting an absolute znode path such as /dcos-state")
    return text


def _non_negative(text: str) -> float:
    value = float(text)
    if not value >= 0:
        raise ValueError("expecting a number >= 0")
    return value


def build_parser(environ: Mapping[str, str] | None = None) -> DaemonParser:
    """The master's flags; each also ``DCOS_<FLAG>`` or ``MESOS_<FLAG>`` (``--work-dir``:
    ``DCOS_WORK_DIR``). Durations take seconds or Mesos units (``15secs``, ``2mins``)."""
    p = DaemonParser("python -m dcos.master", "dcos-py master", env_prefixes=("DCOS", "MESOS"),
                     environ=environ)  # fmt: skip
    p.shared("ip", "port", "hostname", "work_dir", port=5050, work_dir="./work-dir/master")
    p.flag("--agent-ping-timeout", type=positive_seconds, default=15.0,
           help="seconds an agent may leave a ping unanswered")
    p.flag("--max-agent-ping-timeouts", type=int, default=5,
           help="missed pings before an agent is marked unreachable")
    p.flag("--agent-reregister-timeout", type=positive_seconds, default=600.0,
           help="seconds agents have to re-register after a master failover")
    p.flag("--offer-timeout", type=positive_seconds, default=None,
           help="seconds before an unused offer is rescinded (default: never)")
    p.flag("--allocation-interval", type=positive_seconds, default=1.0,
           help="seconds between allocation cycles")
    p.flag("--heartbeat-interval", type=positive_seconds, default=15.0,
           help="seconds between HEARTBEAT events to schedulers")
    p.flag("--cluster", default="dcos-py", help="cluster name shown in /master/state")
    p.flag("--seed", type=int, default=0, help="allocator seed (same seed, same offers)")
    p.flag("--zk", type=_zk_url, default=None,
           help="HA: ZooKeeper URL zk://host:port[,host:port]/path of the masters' election "
                "(default: none, one embedded master that always leads, registry in SQLite)")
    p.flag("--zk-session-timeout", type=positive_seconds, default=10.0,
           help="HA: ZooKeeper session timeout in seconds")
    p.flag("--zk-state-path", type=_znode_path, default=None,
           help="HA: znode path of the registry (default: the --zk path + '-state')")
    p.flag("--security-dir", default=None,
           help="security on: the cluster's security directory (CA, certificates, token key, "
                "acls.json, credentials.json; `dcos-py up --secure` makes it): HTTPS, "
                "authentication of every request, ACLs (default: off, plain HTTP as before)")
    p.flag("--tls-name", default="master",
           help="security: the name of this master's certificate in <security-dir>/certs")
    p.flag("--default-task-user", default=None,
           help="security: the user of a task whose CommandInfo and FrameworkInfo name none, "
                "for the run_tasks ACL (keep it the agents' --default-task-user; "
                "default: nobody)")
    p.flag("--scheduler-call-rate", type=_non_negative, default=2000.0,
           help="scheduler calls per second per framework before 429 (ACKNOWLEDGE not "
                "counted; 0: no limit)")
    p.flag("--scheduler-call-burst", type=int, default=4000,
           help="scheduler calls a framework may make at once above the rate")
    p.flag("--max-streams-per-principal", type=int, default=None,
           help="open event streams (scheduler and operator SUBSCRIBE) per principal before "
                "429 (default: 16 with --security-dir, no limit without; 0: no limit)")
    p.flag("--max-body-bytes", type=int, default=1024 * 1024,
           help="largest request body of the scheduler and operator APIs (413 above)")
    p.logging_flags()
    return p


def parse_args(argv: list[str] | None = None,
               environ: Mapping[str, str] | None = None) -> MasterConfig:  # fmt: skip
    """Flags (and their environment variables) -> `MasterConfig`; exits 2 on a bad value."""
    a = build_parser(environ).parse_args(argv)
    return MasterConfig(
        ip=a.ip, port=a.port, hostname=a.hostname, work_dir=a.work_dir,
        agent_ping_timeout=a.agent_ping_timeout, max_agent_ping_timeouts=a.max_agent_ping_timeouts,
        agent_reregister_timeout=a.agent_reregister_timeout, offer_timeout=a.offer_timeout,
        allocation_interval=a.allocation_interval, heartbeat_interval=a.heartbeat_interval,
        log_file=a.log_file, log_level=a.log_level, log_format=a.log_format, cluster=a.cluster,
        seed=a.seed, zk=a.zk, zk_session_timeout=a.zk_session_timeout,
        zk_state_path=a.zk_state_path, security_dir=a.security_dir, tls_name=a.tls_name,
        default_task_user=a.default_task_user, scheduler_call_rate=a.scheduler_call_rate,
        scheduler_call_burst=a.scheduler_call_burst,
        max_streams_per_principal=a.max_streams_per_principal, max_body_bytes=a.max_body_bytes,
    )  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    config = parse_args(argv)
    setup_logging(config.log_level, json_lines=config.log_format == "json", file=config.log_file)
    logging.getLogger("dcos.master").info("%s", version_line())
    security = None
    if config.security_dir:
        try:
            security = load_context(Path(config.security_dir), config.tls_name)
        except OSError as exc:  # a missing file (the message names them)
            print(f"master: cannot start: {exc}", file=sys.stderr)
            return 1
        except ValueError as exc:  # a bad acls.json or credentials.json
            print(f"master: cannot start: security directory {config.security_dir}: {exc}",
                  file=sys.stderr)  # fmt: skip
            return 1
    return run_until_signalled(
        "master", lambda stop: run_master(config, stop, started=tune_gc, security=security)
    )


if __name__ == "__main__":
    sys.exit(main())
