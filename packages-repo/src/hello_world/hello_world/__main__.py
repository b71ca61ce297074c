"""``python -m hello_world``: run the hello-world service until SIGTERM/SIGINT.

    python -m hello_world [--host H[,H...]] [--port P] [--message M] [--version V]

Each flag defaults to an environment variable the package's app definition or the agent
sets: ``--host`` ``$HOST`` (the agent's address; 127.0.0.1 is always added for the agent's
health checks), ``--port`` ``$PORT0`` (0: a free port), ``--message`` ``$HELLO_MESSAGE``,
``--version`` ``$HELLO_VERSION`` (default: this project's version). It prints
``hello-world listening on <addresses>:<port>`` once it serves.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading

from hello_world import __version__
from hello_world.server import Greeting, Servers, bind_hosts


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    env = os.environ.get
    p = argparse.ArgumentParser(prog="hello_world", description="the hello-world service")
    p.add_argument("--host", default=env("HOST") or "127.0.0.1",
                   help="addresses to listen on, comma-separated (default: $HOST)")
    p.add_argument("--port", type=int, default=int(env("PORT0") or 0),
                   help="port (default: $PORT0; 0: a free one)")
    p.add_argument("--message", default=env("HELLO_MESSAGE") or "Hello, world!",
                   help="what GET / answers (default: $HELLO_MESSAGE)")
    p.add_argument("--version", default=env("HELLO_VERSION") or __version__,
                   help="the version it reports (default: $HELLO_VERSION)")
    args = p.parse_args(argv)
    if not 0 <= args.port <= 65535:
        p.error(f"--port {args.port} is not between 0 and 65535")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    greeting = Greeting(args.message, args.version, os.environ.get("MESOS_TASK_ID", ""))
    hosts = bind_hosts(args.host.split(","))
    try:
        servers = Servers(hosts, args.port, greeting)
    except OSError as exc:
        print(f"hello-world: cannot listen on {','.join(hosts)}:{args.port}: {exc}",
              file=sys.stderr)
        return 1
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    servers.start()
    print(f"hello-world {args.version} listening on {','.join(hosts)}:{servers.port}", flush=True)
    stop.wait()
    servers.close()
    print("hello-world stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
