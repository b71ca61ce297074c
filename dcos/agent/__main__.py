"""``python -m dcos.agent``: run one agent process.

Started by `dcos-py up` (one per local agent), by service units on agent hosts and by
integration tests. SIGTERM/SIGINT stop the agent and leave its (checkpointed) tasks running
for the next agent process started on the same work dir (Mesos' behaviour); with
``--kill-tasks-on-stop``, or on SIGUSR1, every task's process group is killed first (what
`dcos-py up` wants on Ctrl-C). Exits 0 then; 1 when it cannot start (port taken, unreadable
checkpoint); 2 with a one-line message for bad flags.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import logging
import os
import signal
import sys

import uvloop

from dcos.agent.agent import Agent
from dcos.agent.checkpoint_store import CheckpointError
from dcos.agent.config import AgentConfig
from dcos.agent.isolators.select import parse_isolation
from dcos.agent.logs import parse_size
from dcos.agent.resources import parse_attributes
from dcos.common.addresses import parse_master
from dcos.common.durations import parse_duration
from dcos.common.gc_tuning import tune_gc
from dcos.common.log import setup_logging
from dcos.protocol.resources import ResourceError, Resources

log = logging.getLogger("dcos.agent")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m dcos.agent", description="dcos-py agent")
    p.add_argument("--master", required=True, help="host:port, [v6addr]:port, http://host:port or https://host:port")
    p.add_argument("--ip", default="127.0.0.1")
    p.add_argument("--port", type=int, default=5051)
    p.add_argument("--hostname", default=None, help="default: the ip")
    p.add_argument("--work-dir", default="./work-dir/agent")
    p.add_argument("--resources", default=None, help='e.g. "cpus:2;mem:1024;ports:[31000-31999]"')
    p.add_argument("--attributes", default=None, help='e.g. "rack:r1;zone:a;level:3"')
    p.add_argument("--status-update-retry", type=float, default=10.0,
                   help="seconds before the first resend of an unacknowledged update")  # fmt: skip
    p.add_argument("--log-max-size", default="10MB",
                   help="rotate a task's stdout/stderr past this size (e.g. 10MB; 0: never)")
    p.add_argument("--log-max-files", type=int, default=5,
                   help="files kept per stream: the live one and N-1 rotated copies")
    p.add_argument("--fetcher-cache-size", default="2GB",
                   help="size limit of <work-dir>/fetcher-cache (least recently used go)")
    p.add_argument("--executor-registration-timeout", default="60secs",
                   help="kill a custom executor that has not subscribed by then (60secs, 2mins)")
    p.add_argument("--kill-tasks-on-stop", action="store_true",
                   help="SIGTERM/SIGINT also kill the tasks (default: they keep running and "
                        "the next agent process recovers them; SIGUSR1 always kills them)")
    p.add_argument("--no-checkpoint", action="store_true",
                   help="do not checkpoint or recover (tasks die with the agent's state)")
    p.add_argument("--isolation", default=None,
                   help="e.g. cgroups/cpu,cgroups/mem,cgroups/pids,disk/du,posix/rlimits "
                        "(default: what this host can enforce; gpu/nvidia when GPUs are found)")
    p.add_argument("--cgroups-root", "--cgroups_root", default="dcos-py",
                   help="relative: under the agent's own cgroup; absolute: under the mount")
    p.add_argument("--cgroups-enable-cfs", "--cgroups_enable_cfs", action="store_true",
                   help="cap each task's CPU time at its cpus (CFS quota), besides the shares")
    p.add_argument("--cgroups-max-pids", "--cgroups_max_pids", type=int, default=1024,
                   help="most processes per container (pids.max; 0: no limit)")
    p.add_argument("--disk-watch-interval", type=float, default=15.0,
                   help="disk/du: seconds between measurements of each sandbox")
    p.add_argument("--log-file", default=None)
    p.add_argument("--log-level", default="INFO")
    return p


def config_from_args(argv: list[str] | None = None) -> tuple[AgentConfig, argparse.Namespace]:
    """Parse and validate flags; exits 2 with a clear message for bad values."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        address = parse_master(args.master)
        # host:port for plain http (what the agent has always recorded); the URL for https
        master = address.hostport if address.scheme == "http" else address.url
        if args.resources:
            Resources.parse(args.resources)
        parse_attributes(args.attributes)
        parse_isolation(args.isolation)
        ipaddress.ip_address(args.ip)
    except (ValueError, ResourceError) as exc:
        parser.error(str(exc))
    if not 0 <= args.port <= 65535:
        parser.error(f"bad port {args.port}")
    if args.cgroups_max_pids < 0 or args.disk_watch_interval <= 0:
        parser.error("--cgroups-max-pids must be >= 0 and --disk-watch-interval positive")
    if args.status_update_retry <= 0:
        parser.error("--status-update-retry must be positive")
    try:
        log_max_size = 0 if args.log_max_size.strip() == "0" else parse_size(args.log_max_size)
        cache_size = parse_size(args.fetcher_cache_size)
    except ValueError as exc:
        parser.error(str(exc))
    try:
        registration_timeout = parse_duration(args.executor_registration_timeout)
    except ValueError as exc:
        parser.error(f"--executor-registration-timeout: {exc}")
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
        log_max_size=log_max_size,
        log_max_files=args.log_max_files,
        fetcher_cache_size=cache_size,
        executor_registration_timeout=registration_timeout,
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
    agent = Agent(config)
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
    if args.log_file:
        os.makedirs(os.path.dirname(os.path.abspath(args.log_file)), exist_ok=True)
    setup_logging(args.log_level, file=args.log_file)
    uvloop.run(_main(config))
    sys.exit(0)


if __name__ == "__main__":
    main()
