"""`python -m tweeter_analytics`: recompute tweeter's analytics every interval, forever.

The program is a `frameworks.batch` driver in client mode: it registers with the master as the
framework `batch: <name>` (the package's service name), keeps its SparkContext (and so its
warm executors) for its whole life, and every `--interval` seconds reads every message from
Redis, counts words and hashtags on the executors (`tweeter_analytics.job`) and writes the
result to `<prefix>:analytics`. SIGTERM (a kill, an uninstall) stops the SparkContext, which
tears its framework down, and exits 0.

It serves `GET /health` on `--port` (when given): 200 once a run succeeded and the last
success is recent (3 intervals, at least 60 s), else 503; `GET /` shows the last run as JSON.

Flags (each also an environment variable, which the package's app definition sets):
`--master` ($DCOS_MASTER: `host:port` or `zk://...`; `mesos://` is added to a bare address),
`--name` ($TWEETER_ANALYTICS_NAME, default `tweeter-analytics`), `--interval`
($TWEETER_ANALYTICS_INTERVAL, 10), `--top` ($TWEETER_ANALYTICS_TOP, 10), `--redis-service`,
`--redis-url`, `--key-prefix` (as tweeter's), `--host` ($HOST) / `--port` ($PORT0),
`--cores-max` (total executor cpus, 0.2), `--executor-memory` (256m).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import cloudpickle
from tweeter.store import Keys, RedisLocator, Tweet, sync_client

import tweeter_analytics
from tweeter_analytics.job import Result, analyse

log = logging.getLogger("tweeter_analytics")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    env = os.environ.get
    p = argparse.ArgumentParser(prog="tweeter_analytics", description=__doc__.split("\n")[0])
    p.add_argument("--master", default=env("DCOS_MASTER") or "")
    p.add_argument("--name", default=env("TWEETER_ANALYTICS_NAME") or "tweeter-analytics")
    p.add_argument("--interval", type=float, default=float(env("TWEETER_ANALYTICS_INTERVAL") or 10))
    p.add_argument("--top", type=int, default=int(env("TWEETER_ANALYTICS_TOP") or 10))
    p.add_argument("--redis-service", default=env("TWEETER_REDIS_SERVICE") or "redis")
    p.add_argument("--redis-url", default=env("TWEETER_REDIS_URL") or None)
    p.add_argument("--key-prefix", default=env("TWEETER_KEY_PREFIX") or "tweeter")
    p.add_argument("--host", default=env("HOST") or "127.0.0.1")
    p.add_argument("--port", type=int, default=int(env("PORT0") or 0))
    p.add_argument("--cores-max", default=env("TWEETER_ANALYTICS_CORES_MAX") or "0.2")
    p.add_argument("--executor-memory", default=env("TWEETER_ANALYTICS_EXECUTOR_MEMORY") or "256m")
    args = p.parse_args(argv)
    if not args.master:
        p.error("--master (or $DCOS_MASTER) is required")
    if args.interval <= 0 or args.top < 1:
        p.error("--interval must be > 0 and --top >= 1")
    return args


def master_url(master: str) -> str:
    """The SparkContext master of a `DCOS_MASTER` value: `host:port` (or `http://host:port`)
    -> `mesos://host:port`; `mesos://` and `zk://` URLs and `local[N]` (no cluster: for trying
    it out) stay as they are."""
    if master.startswith(("mesos://", "zk://", "local")):
        return master
    return "mesos://" + master.removeprefix("http://").rstrip("/")


@dataclass
class Status:
    """What /health and / report; written by the main loop, read by the HTTP thread."""

    interval: float
    runs: int = 0
    last_success: float = 0.0
    last_error: str = ""
    last: dict[str, Any] = field(default_factory=dict)

    def healthy(self, now: float) -> bool:
        return self.runs > 0 and now - self.last_success <= max(3 * self.interval, 60.0)


def serve_status(status: Status, host: str, port: int) -> ThreadingHTTPServer:
    """Start the status server in a daemon thread; the caller shuts it down."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            if self.path == "/health":
                ok = status.healthy(time.time())
                body = {"healthy": ok, "runs": status.runs, "last_error": status.last_error}
                self._send(200 if ok else 503, body)
            elif self.path == "/":
                self._send(200, {"runs": status.runs, "last_error": status.last_error,
                                 "last": status.last})
            else:
                self._send(404, {"message": "not found"})

        def _send(self, code: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass

    server = ThreadingHTTPServer((host, port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True, name="status-http").start()
    return server


def read_texts(locator: RedisLocator, keys: Keys) -> list[str]:
    """Every message text in Redis (oldest last, as stored)."""
    client = sync_client(locator)
    try:
        return [Tweet.from_json(raw).text for raw in client.lrange(keys.tweets, 0, -1)]
    finally:
        client.close()


def write_result(locator: RedisLocator, keys: Keys, result: Result) -> None:
    client = sync_client(locator)
    try:
        client.set(keys.analytics, result.to_json())
    finally:
        client.close()


def run_once(sc: Any, locator: RedisLocator, keys: Keys, top: int) -> Result:
    """One analytics run: read, compute on the cluster, write back."""
    texts = read_texts(locator, keys)
    result = analyse(sc, texts, top)
    write_result(locator, keys, result)
    return result


def spark_context(args: argparse.Namespace) -> Any:
    """The driver's SparkContext on the cluster; its executors are kept while the program runs
    (idle release only after several intervals without work)."""
    from frameworks.batch import SparkConf, SparkContext

    idle = max(60.0, 3 * args.interval)
    conf = (
        SparkConf()
        .set("spark.cores.max", str(args.cores_max))
        .set("spark.executor.memory", args.executor_memory)
        .set("spark.dynamicAllocation.executorIdleTimeout", f"{idle:g}s")
    )
    return SparkContext(master_url(args.master), args.name, conf=conf)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    # The job's functions travel by value, so executors need not have this project installed.
    cloudpickle.register_pickle_by_value(tweeter_analytics)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    status = Status(args.interval)
    server = serve_status(status, args.host, args.port) if args.port else None
    locator = RedisLocator(args.redis_service, args.redis_url)
    keys = Keys(args.key_prefix)
    sc = spark_context(args)
    log.info("registered as batch: %s with %s; every %gs", args.name, args.master, args.interval)
    try:
        while not stop.is_set():
            started = time.monotonic()
            try:
                result = run_once(sc, locator, keys, args.top)
            except Exception as exc:  # a failed run is retried next interval
                locator.forget()
                status.last_error = f"{type(exc).__name__}: {exc}"
                log.warning("analytics run failed: %s", status.last_error)
            else:
                status.runs += 1
                status.last_success = time.time()
                status.last_error = ""
                status.last = json.loads(result.to_json())
                log.info("analysed %d messages in %.2fs", result.messages, result.duration_s)
            stop.wait(max(0.0, args.interval - (time.monotonic() - started)))
    finally:
        sc.stop()
        if server is not None:
            server.shutdown()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
