"""``python -m dcos.master``: run a master (see `dcos.master.app.run_master`)."""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys

from dcos.common.log import setup_logging
from dcos.master.config import MasterConfig


def parse_args(argv: list[str] | None = None) -> MasterConfig:
    p = argparse.ArgumentParser(prog="python -m dcos.master", description="dcos-py master")
    p.add_argument("--ip", default="127.0.0.1")
    p.add_argument("--port", type=int, default=5050)
    p.add_argument("--hostname", default=None, help="advertised hostname (default: --ip)")
    p.add_argument("--work-dir", default="./work-dir/master")
    p.add_argument("--agent-ping-timeout", type=float, default=15.0, help="seconds")
    p.add_argument("--max-agent-ping-timeouts", type=int, default=5)
    p.add_argument("--agent-reregister-timeout", type=float, default=600.0, help="seconds")
    p.add_argument("--offer-timeout", type=float, default=None, help="seconds (default: none)")
    p.add_argument("--allocation-interval", type=float, default=1.0, help="seconds")
    p.add_argument("--heartbeat-interval", type=float, default=15.0, help="seconds")
    p.add_argument("--log-file", default=None)
    p.add_argument("--log-level", default="INFO")
    p.add_argument("--cluster", default="dcos-py")
    p.add_argument("--seed", type=int, default=0, help="allocator seed")
    a = p.parse_args(argv)
    if a.port < 0 or a.port > 65535:
        p.error("--port must be between 0 and 65535")
    for name in ("agent_ping_timeout", "allocation_interval", "heartbeat_interval"):
        if getattr(a, name) <= 0:
            p.error(f"--{name.replace('_', '-')} must be positive")
    return MasterConfig(
        ip=a.ip, port=a.port, hostname=a.hostname, work_dir=a.work_dir,
        agent_ping_timeout=a.agent_ping_timeout, max_agent_ping_timeouts=a.max_agent_ping_timeouts,
        agent_reregister_timeout=a.agent_reregister_timeout, offer_timeout=a.offer_timeout,
        allocation_interval=a.allocation_interval, heartbeat_interval=a.heartbeat_interval,
        log_file=a.log_file, log_level=a.log_level, cluster=a.cluster, seed=a.seed,
    )  # fmt: skip


async def _main(config: MasterConfig) -> None:
    from dcos.common.gc_tuning import tune_gc
    from dcos.master.app import run_master

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await run_master(config, stop, started=tune_gc)


def main(argv: list[str] | None = None) -> int:
    config = parse_args(argv)
    if config.log_file:
        os.makedirs(os.path.dirname(os.path.abspath(config.log_file)), exist_ok=True)
    setup_logging(config.log_level, file=config.log_file)
    try:
        import uvloop

        uvloop.install()
    except ImportError:  # pragma: no cover
        pass
    try:
        asyncio.run(_main(config))
    except OSError as exc:
        print(f"master: cannot start: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
