"""``python -m dcos.gateway``: the gateway and web UI (one HTTP entry point, port 8000).

    python -m dcos.gateway --ip 127.0.0.1 --port 8000 --master http://127.0.0.1:5050 \
        [--master URL ...] | [--zk zk://127.0.0.1:2181/dcos] [--package http://127.0.0.1:7070] \
        [--dns-http http://127.0.0.1:8123] [--cluster-id ID] [--cluster-name NAME] \
        [--web-dir DIR] [--log-file PATH]

Started by ``dcos-py up`` (`dcos.cli.up`). Flags: `dcos.gateway.config`; routes:
`dcos.gateway.app` and docs/gateway.md. SIGTERM or SIGINT stops it cleanly (open streams
closed, the port released).
"""

from __future__ import annotations

import asyncio
import signal
import sys

import uvloop

from dcos.common.flags import setup_from
from dcos.gateway.app import serve
from dcos.gateway.config import GatewayConfig, parse_args


async def _main(config: GatewayConfig) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await serve(config, stop)


def main(argv: list[str] | None = None) -> int:
    config, args = parse_args(argv)
    setup_from(args)
    try:
        uvloop.run(_main(config))
    except OSError as exc:
        print(f"gateway: cannot start: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
