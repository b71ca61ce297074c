"""`python -m tweeter`: run the web app.

Flags (each also an environment variable, which the package's app definition sets):
`--host` ($HOST, default 127.0.0.1), `--port` ($PORT0, default 8000), `--redis-service`
($TWEETER_REDIS_SERVICE, default `redis`: the webapp app id of the Redis to use, found through
dcos-py DNS), `--redis-url` ($TWEETER_REDIS_URL: a fixed `redis://host:port` instead of DNS),
`--key-prefix` ($TWEETER_KEY_PREFIX, default `tweeter`).
"""

from __future__ import annotations

import argparse
import logging
import os

from aiohttp import web

from tweeter.store import AsyncStore, Keys, RedisLocator
from tweeter.web import make_app


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    env = os.environ.get
    p = argparse.ArgumentParser(prog="tweeter", description="the tweeter demo web app")
    p.add_argument("--host", default=env("HOST") or "127.0.0.1")
    p.add_argument("--port", type=int, default=int(env("PORT0") or 8000))
    p.add_argument("--redis-service", default=env("TWEETER_REDIS_SERVICE") or "redis")
    p.add_argument("--redis-url", default=env("TWEETER_REDIS_URL") or None)
    p.add_argument("--key-prefix", default=env("TWEETER_KEY_PREFIX") or "tweeter")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    store = AsyncStore(RedisLocator(args.redis_service, args.redis_url), Keys(args.key_prefix))
    web.run_app(make_app(store), host=args.host, port=args.port, access_log=None,
                handle_signals=True)


if __name__ == "__main__":
    main()
