"""``python -m dcos.agent``: run one agent process.

Started by `dcos-py up` (one per local agent), by service units on agent hosts and by
integration tests. SIGTERM/SIGINT stop the agent and leave its (checkpointed) tasks running
for the next agent process started on the same work dir (Mesos' behaviour); with
``--kill-tasks-on-stop``, or on SIGUSR1, every task's process group is killed first (what
`dcos-py up` wants on Ctrl-C). Exits 0 then; 1 when it cannot start (port taken, unreadable
checkpoint); 2 with a one-line message for bad flags. Every flag is also settable as
``DCOS_<FLAG>`` or ``MESOS_<FLAG>`` (`dcos.common.flags`); ``--help`` lists them.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from collections.abc import Callable, Mapping

import uvloop

from dcos.agent.agent import Agent
from dcos.agent.checkpoint_store import CheckpointError
from dcos.agent.config import AgentConfig
from dcos.agent.isolators.select import parse_isolation
from dcos.agent.logs import parse_size
from dcos.agent.resources import parse_attributes
from dcos.agent.task_env import parse_dns_resolver
from dcos.common.addresses import parse_master, zk_master
from dcos.common.flags import DaemonParser, positive_seconds, setup_from
from dcos.common.gc_tuning import tune_gc
from dcos.common.version import version_line
from dcos.protocol.resources import Resources
from dcos.security.options import add_security_args
from dcos.state.zk import ZkUrlError, parse_zk_url

log = logging.getLogger("dcos.agent")


def _size(text: str) -> int:
    """A byte size (``10MB``, ``2GB``; ``0``: none) -- the type of the size flags."""
    return 0 if text.strip() == "0" else parse_size(text)


def _checked(check: Callable[[str], object], name: str) -> Callable[[str], str]:
    """A flag type that validates with `check` and keeps the text."""

    def convert(text: str) -> str:
        check(text)
        return text

    convert.__name__ = name
    return convert


def _master(parser: DaemonParser, text: str) -> str:
    """``--master`` as the agent keeps it: a ``zk://`` URL as given (checked: the agent
    follows the leader it names), else host:port for plain http (what the agent has always
    recorded) and the URL for https. A bad ZooKeeper URL is a usage error (exit 2)."""
    zk = zk_master(text)
    if zk is not None:
        try:
            parse_zk_url(zk)
        except ZkUrlError as exc:
            parser.error(f"argument --master: {exc}")
        return zk
    address = parse_master(text)
    return address.hostport if address.scheme == "http" else address.url


def build_parser(environ: Mapping[str, str] | None = None) -> DaemonParser:
    """The agent's flags; each also ``DCOS_<FLAG>`` or ``MESOS_<FLAG>`` (``--work-dir``:
    ``DCOS_WORK_DIR``). Durations take seconds or Mesos units (``60secs``, ``2mins``)."""
    p = DaemonParser("python -m dcos.agent", "dcos-py agent", env_prefixes=("DCOS", "MESOS"),
                     environ=environ)  # fmt: skip
    p.shared("master", master=None, master_required=True)
    p.shared("ip", "port", "hostname", "work_dir", port=5051, work_dir="./work-dir/agent")
    p.flag("--resources", type=_checked(Resources.parse_reserved, "resources"), default=None,
           help='e.g. "cpus:2;mem:1024;ports:[31000-31999]" (default: what this host has); '
           'items as name(ROLE):value reserve the whole agent to ROLE (one role per agent)')
    p.flag("--attributes", type=_checked(parse_attributes, "attributes"), default=None,
           help='e.g. "rack:r1;zone:a;level:3"')
    p.flag("--status-update-retry", type=positive_seconds, default=10.0,
           help="seconds before the first resend of an unacknowledged update")
    p.flag("--log-max-size", type=_size, default="10MB",
           help="rotate a task's stdout/stderr past this size (e.g. 10MB; 0: never)")
    p.flag("--log-max-files", type=int, default=5,
           help="files kept per stream: the live one and N-1 rotated copies")
    p.flag("--fetcher-cache-size", type=_size, default="2GB",
           help="size limit of <work-dir>/fetcher-cache (least recently used go)")
    p.flag("--dns-resolver", type=_checked(parse_dns_resolver, "dns resolver"), default=None,
           help="HOST:PORT of the dcos-py DNS server, given to every task as "
           "DCOS_DNS_RESOLVER (default: none; tasks use the host's resolv.conf)")
    p.flag("--executor-registration-timeout", type=positive_seconds, default="60secs",
           help="kill a custom executor that has not subscribed by then (60secs, 2mins)")
    p.flag("--kill-tasks-on-stop", action="store_true",
           help="SIGTERM/SIGINT also kill the tasks (default: they keep running and the next "
           "agent process recovers them; SIGUSR1 always kills them)")
    p.flag("--no-checkpoint", action="store_true",
           help="do not checkpoint or recover (tasks die with the agent's state)")
    p.flag("--isolation", type=_checked(parse_isolation, "isolation"), default=None,
           help="e.g. cgroups/cpu,cgroups/mem,cgroups/pids,disk/du,posix/rlimits "
           "(default: what this host can enforce; gpu/nvidia when GPUs are found)")
    p.flag("--cgroups-root", "--cgroups_root", default="dcos-py",
           help="relative: under the agent's own cgroup; absolute: under the mount")
    p.flag("--cgroups-enable-cfs", "--cgroups_enable_cfs", action="store_true",
           help="cap each task's CPU time at its cpus (CFS quota), besides the shares")
    p.flag("--cgroups-max-pids", "--cgroups_max_pids", type=int, default=1024,
           help="most processes per container (pids.max; 0: no limit)")
    p.flag("--disk-watch-interval", type=positive_seconds, default=15.0,
           help="disk/du: seconds between measurements of each sandbox")
    add_security_args(p)
    p.flag("--default-task-user", default=None,
           help="security on: the user tasks run as when neither the task nor its framework "
           "names one (default: nobody); security off: tasks run as the agent's user")
    p.logging_flags()
    return p


def config_from_args(argv: list[str] | None = None, environ: Mapping[str, str] | None = None
                     ) -> tuple[AgentConfig, argparse.Namespace]:  # fmt: skip
    """Parse and validate flags (and their environment variables); exits 2 with a clear
    message for bad values."""
    parser = build_parser(environ)
    args = parser.parse_args(argv)
    master = _master(parser, args.master)
    if args.cgroups_max_pids < 0:
        parser.error("--cgroups-max-pids must be >= 0")
    if args.log_max_files < 1:
        parser.error("--log-max-files must be at least 1")
    return AgentConfig(
        master=master,
        ip=args.ip,
        port=args.port,
        hostname=args.hostname,
        work_dir=args.work_dir,
        resources=args.resources,
        attributes=args.attributes,
        status_update_retry=args.status_update_retry,
        isolation=args.isolation,
        cgroups_root=args.cgroups_root,
        cgroups_enable_cfs=args.cgroups_enable_cfs,
        cgroups_max_pids=args.cgroups_max_pids,
        disk_watch_interval=args.disk_watch_interval,
        checkpoint=not args.no_checkpoint,
        kill_tasks_on_stop=args.kill_tasks_on_stop,
        log_max_size=args.log_max_size,
        log_max_files=args.log_max_files,
        fetcher_cache_size=args.fetcher_cache_size,
        executor_registration_timeout=args.executor_registration_timeout,
        dns_resolver=parse_dns_resolver(args.dns_resolver) if args.dns_resolver else None,
        log_file=args.log_file,
        security_dir=args.security_dir,
        tls_name=args.tls_name or "agent",
        default_task_user=args.default_task_user,
    ), args


async def _main(config: AgentConfig) -> None:
    stop = asyncio.Event()
    kill = [config.kill_tasks_on_stop]
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    def stop_and_kill() -> None:
        kill[0] = True
        stop.set()

    loop.add_signal_handler(signal.SIGUSR1, stop_and_kill)
    try:
        agent = Agent(config)
    except (OSError, ValueError) as exc:  # a security directory without our certificate ...
        log.error("cannot start the agent: %s", exc)
        raise SystemExit(1) from None
    try:
        await agent.start()
    except (OSError, CheckpointError) as exc:
        log.error("cannot start the agent: %s", exc)
        if isinstance(exc, CheckpointError):
            log.error("move %s away to start afresh (its tasks are then forgotten)",
                      os.path.join(os.path.abspath(config.work_dir), "meta"))  # fmt: skip
        await agent.stop(kill_tasks=False)  # it runs nothing yet; leave what runs alone
        raise SystemExit(1) from None
    tune_gc()  # the recovered state is long-lived now
    await stop.wait()
    if kill[0]:
        log.info("stopping: killing tasks")
    else:
        log.info("stopping: tasks keep running for the next agent process")
    await agent.stop(kill_tasks=kill[0])
    log.info("agent stopped")


def main(argv: list[str] | None = None) -> None:
    config, args = config_from_args(argv)
    setup_from(args)
    log.info("%s", version_line())
    uvloop.run(_main(config))
    sys.exit(0)


if __name__ == "__main__":
    main()
