"""``python -m dcos.gateway``: the gateway and web UI (one HTTP entry point, port 8000).

    python -m dcos.gateway --ip 127.0.0.1 --port 8000 --master http://127.0.0.1:5050 \
        [--master URL ...] | [--zk zk://127.0.0.1:2181/dcos] [--package http://127.0.0.1:7070] \
        [--dns-http http://127.0.0.1:8123] [--cluster-id ID] [--cluster-name NAME] \
        [--web-dir DIR] [--log-file PATH] [--security-dir DIR [--tls-name gateway]]

Started by ``dcos-py up`` (`dcos.cli.up`). Flags: `dcos.gateway.config`; routes:
`dcos.gateway.app` and docs/gateway.md. SIGTERM or SIGINT stops it cleanly (open streams
closed, the port released).
"""

from __future__ import annotations

import sys

from dcos.common.flags import setup_from
from dcos.common.service_main import run_until_signalled
from dcos.gateway.app import serve
from dcos.gateway.config import parse_args


def main(argv: list[str] | None = None) -> int:
    config, args = parse_args(argv)
    setup_from(args)
    return run_until_signalled("gateway", lambda stop: serve(config, stop),
                               errors=(OSError, ValueError))  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
