"""The batch executor: one warm Python process per agent that runs a driver's tasks.

Started by `ClusterBackend` as a Mesos task (coarse-grained, like Spark's executor backend)::

    <python> -m frameworks.batch.cluster.executor --driver HOST:PORT --executor-id ID \
        --host AGENT_HOST --cores N [--memory-mb M] [--work-dir DIR]

The agent's Python must have dcos-py installed (locally the driver's venv interpreter is
used). The process

- serves its shuffle outputs over HTTP (aiohttp, ``GET /shuffle/{shuffle}/{reduce}?maps=..``)
  on a free port, and reports that address in HELLO;
- connects to the driver (`frameworks.batch.cluster.wire`), runs each launched task with
  ``frameworks.batch.worker.run_task(payload, context)`` in a pool of `cores` threads and
  sends results back in batches;
- keeps cached blocks and shuffle files (`ExecutorStorage`) until it exits; it exits when the
  driver says stop or its connection to the driver ends.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import logging
import os
import shutil
import socket
import struct
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import uvloop
from aiohttp import web

from frameworks.batch.backend import FetchFailed, Task
from frameworks.batch.cluster import wire
from frameworks.batch.cluster.storage import ExecutorStorage
from frameworks.batch.worker import run_task

log = logging.getLogger(__name__)
MISSING = 0xFFFFFFFF
_LEN = struct.Struct(">I")

Runner = Callable[[bytes, Any], bytes]


class ShuffleClient:
    """Blocking fetches of shuffle blocks from other executors' servers, one keep-alive
    connection per (thread, server). Called from task threads inside `fetch_shuffle`."""

    def __init__(self, timeout: float = 60.0) -> None:
        self.timeout = timeout
        self._local = threading.local()

    def fetch(
        self, address: str, shuffle_id: int, reduce: int, maps: list[int]
    ) -> list[bytes | None]:
        conns = self._local.__dict__.setdefault("conns", {})
        path = f"/shuffle/{shuffle_id}/{reduce}?maps={','.join(map(str, maps))}"
        for attempt in range(2):  # a kept-alive connection the server closed: retry once
            conn = conns.get(address)
            if conn is None:
                hostport = address.split("://", 1)[-1]
                host, _, port = hostport.rpartition(":")
                conn = http.client.HTTPConnection(host, int(port), timeout=self.timeout)
                conns[address] = conn
            try:
                conn.request("GET", path)
                resp = conn.getresponse()
                body = resp.read()
                if resp.status != 200:
                    raise OSError(f"{address} answered {resp.status}")
                return _split_blocks(body, len(maps))
            except (OSError, http.client.HTTPException):
                conn.close()
                conns.pop(address, None)
                if attempt == 1:
                    raise
        raise AssertionError("unreachable")


def _split_blocks(body: bytes, count: int) -> list[bytes | None]:
    out: list[bytes | None] = []
    view = memoryview(body)
    pos = 0
    for _ in range(count):
        (n,) = _LEN.unpack_from(view, pos)
        pos += 4
        if n == MISSING:
            out.append(None)
        else:
            out.append(bytes(view[pos : pos + n]))
            pos += n
    return out


def join_blocks(blocks: list[bytes | None]) -> bytes:
    parts = []
    for b in blocks:
        if b is None:
            parts.append(_LEN.pack(MISSING))
        else:
            parts.append(_LEN.pack(len(b)))
            parts.append(b)
    return b"".join(parts)


class ClusterTaskContext:
    """`TaskContext` for one task on this executor (see `frameworks.batch.backend`)."""

    __slots__ = ("_task", "_executor")

    def __init__(self, task: Task, executor: BatchExecutor) -> None:
        self._task = task
        self._executor = executor

    @property
    def task(self) -> Task:
        return self._task

    @property
    def executor_id(self) -> str:
        return self._executor.executor_id

    def fetch_shuffle(self, shuffle_id: int, reduce_partition: int) -> Iterator[bytes]:
        """Local map outputs are read from this executor's files, remote ones with one request
        per executor holding them; a missing one raises `FetchFailed`."""
        ex = self._executor
        holders = self._task.shuffle_inputs.get(shuffle_id)
        if holders is None:
            raise FetchFailed(shuffle_id, 0, None, "no map output locations")
        by_exec: dict[str, list[int]] = {}
        for m, eid in enumerate(holders):
            if eid is None:
                raise FetchFailed(shuffle_id, m, None, "map output missing")
            by_exec.setdefault(eid, []).append(m)
        for eid, maps in by_exec.items():
            if eid == ex.executor_id:
                blocks = ex.storage.read_blocks(shuffle_id, maps, reduce_partition)
            else:
                address = ex.peers.get(eid)
                if address is None:
                    raise FetchFailed(shuffle_id, maps[0], eid, "executor unknown or lost")
                try:
                    blocks = ex.client.fetch(address, shuffle_id, reduce_partition, maps)
                except (OSError, http.client.HTTPException) as exc:
                    raise FetchFailed(shuffle_id, maps[0], eid, str(exc)) from None
            for m, b in zip(maps, blocks, strict=True):
                if b is None:
                    raise FetchFailed(shuffle_id, m, eid, "map output not found")
                if b:
                    yield b

    def write_shuffle(
        self, shuffle_id: int, map_partition: int, blocks: Mapping[int, bytes]
    ) -> None:
        self._executor.storage.write_shuffle(shuffle_id, map_partition, blocks)

    def get_block(self, block_id: str) -> bytes | None:
        return self._executor.storage.get_block(block_id)

    def put_block(self, block_id: str, data: bytes) -> None:
        self._executor.storage.put_block(block_id, data)


class BatchExecutor:
    """The executor's shell: driver connection, task threads, shuffle server."""

    def __init__(
        self,
        executor_id: str,
        driver: str,
        host: str,
        cores: int,
        work_dir: Path,
        runner: Runner | None = None,
        block_memory: int = 256 << 20,
    ) -> None:
        self.executor_id = executor_id
        self.driver = driver
        self.host = host
        self.cores = max(1, cores)
        self.storage = ExecutorStorage(work_dir, block_memory)
        self.work_dir = work_dir
        self.runner = runner or run_task
        self.client = ShuffleClient()
        self.peers: dict[str, str] = {}
        self.address = ""
        self.payloads = wire.PayloadLRU(2 * wire.PAYLOAD_CACHE)
        self.pool = ThreadPoolExecutor(self.cores, thread_name_prefix="task")
        self.cancelled: set[int] = set()
        self._outbox: list[list[Any]] = []
        self._writer: asyncio.StreamWriter | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._http: web.AppRunner | None = None
        self.tasks_run = 0

    async def run(self) -> int:
        """Serve until the driver stops us or goes away. Returns the exit status."""
        self._loop = asyncio.get_running_loop()
        await self._start_server()
        host, _, port = self.driver.rpartition(":")
        reader, writer = await asyncio.open_connection(host, int(port))
        sock = writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._writer = writer
        writer.write(
            wire.frame(
                ["hello", self.executor_id, self.host, self.address, self.cores, os.getpid()]
            )
        )
        try:
            while True:
                msg = await wire.read_frame(reader)
                if msg is None or msg[0] == "stop":
                    break
                self._handle(msg)
        finally:
            await self.close()
        return 0

    def _handle(self, msg: list[Any]) -> None:
        kind = msg[0]
        if kind == "launch":
            loop = self._loop
            assert loop is not None
            for item in msg[1]:
                pkey, payload = item[1], item[2]
                if payload is not None:
                    self.payloads.touch(pkey, payload)
                else:
                    payload = self.payloads.get(pkey)
                key, task = wire.decode_task(item, payload)
                fut = loop.run_in_executor(self.pool, self._run, key, task)
                fut.add_done_callback(self._done)
        elif kind == "peers":
            self.peers = dict(msg[1])
        elif kind == "cancel":
            self.cancelled.update(msg[1])

    def _run(self, key: int, task: Task) -> list[Any] | None:
        """Run one task in a pool thread; returns its result row for the RESULTS frame."""
        if key in self.cancelled:
            self.cancelled.discard(key)
            return None
        t0 = time.perf_counter()
        try:
            if task.payload is None:
                raise RuntimeError(f"stage payload {task.payload_key} missing on executor")
            value = self.runner(task.payload, ClusterTaskContext(task, self))
            return [key, wire.OK, value, "", time.perf_counter() - t0, None]
        except FetchFailed as e:
            fetch = [e.shuffle_id, e.map_partition, e.executor_id, e.message]
            return [key, wire.FETCH_FAILED, str(e), "", time.perf_counter() - t0, fetch]
        except BaseException as e:  # noqa: BLE001 - any task error is reported, not raised
            error = f"{type(e).__name__}: {e}"
            return [key, wire.FAILED, error, traceback.format_exc(), time.perf_counter() - t0, None]

    def _done(self, fut: asyncio.Future[Any]) -> None:
        row = fut.result()
        if row is None:
            return
        self.tasks_run += 1
        if not self._outbox and self._loop is not None:
            self._loop.call_soon(self._flush)
        self._outbox.append(row)

    def _flush(self) -> None:
        rows, self._outbox = self._outbox, []
        if rows and self._writer is not None and not self._writer.is_closing():
            self._writer.write(wire.frame(["results", rows]))

    async def _start_server(self) -> None:
        app = web.Application()
        app.router.add_get("/shuffle/{shuffle}/{reduce}", self._serve_shuffle)
        app.router.add_get("/health", self._health)
        self._http = web.AppRunner(app, access_log=None)
        await self._http.setup()
        site = web.TCPSite(self._http, "0.0.0.0", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.address = f"http://{self.host}:{port}"

    async def _serve_shuffle(self, request: web.Request) -> web.Response:
        try:
            shuffle = int(request.match_info["shuffle"])
            reduce = int(request.match_info["reduce"])
            maps = [int(m) for m in request.query.get("maps", "").split(",") if m]
        except ValueError:
            return web.Response(status=400, text="shuffle, reduce and maps must be integers")
        if min(shuffle, reduce, *maps) < 0:  # a negative index would read another block
            return web.Response(status=400, text="shuffle, reduce and maps must not be negative")
        loop = asyncio.get_running_loop()
        blocks = await loop.run_in_executor(None, self.storage.read_blocks, shuffle, maps, reduce)
        return web.Response(body=join_blocks(blocks), content_type="application/octet-stream")

    async def _health(self, request: web.Request) -> web.Response:
        return web.json_response({"executor_id": self.executor_id, "tasks_run": self.tasks_run})

    async def close(self) -> None:
        if self._writer is not None:
            self._flush()
            self._writer.close()
        if self._http is not None:
            await self._http.cleanup()
        self.pool.shutdown(wait=False, cancel_futures=True)
        shutil.rmtree(self.work_dir, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="dcos-py batch executor")
    p.add_argument("--driver", required=True, help="the driver's HOST:PORT")
    p.add_argument("--executor-id", required=True)
    p.add_argument("--host", default=socket.gethostname(), help="this agent's host name")
    p.add_argument("--cores", type=int, default=1)
    p.add_argument("--memory-mb", type=float, default=512)
    p.add_argument("--work-dir", default=None)
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    base = args.work_dir or os.environ.get("MESOS_SANDBOX") or tempfile.gettempdir()
    work = Path(base) / f"blockmgr-{args.executor_id}"
    ex = BatchExecutor(
        args.executor_id,
        args.driver,
        args.host,
        args.cores,
        work,
        block_memory=int(args.memory_mb * 0.5 * (1 << 20)),
    )
    return uvloop.run(ex.run())


if __name__ == "__main__":
    sys.exit(main())
