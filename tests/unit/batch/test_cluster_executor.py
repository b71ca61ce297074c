"""Executor pieces without a cluster: shuffle files and blocks (`ExecutorStorage`), the shuffle
server and client between two executors, `fetch_shuffle` local/remote/missing (FetchFailed),
and the driver stream with a fake driver (batched launches, payload shipped once, results
with the task's real traceback)."""

from __future__ import annotations

import asyncio

import pytest

from frameworks.batch.backend import FetchFailed, Task
from frameworks.batch.cluster import wire
from frameworks.batch.cluster.executor import BatchExecutor, ClusterTaskContext
from frameworks.batch.cluster.storage import ExecutorStorage


def test_storage_shuffle_blocks_and_atomic_replace(tmp_path):
    s = ExecutorStorage(tmp_path)
    s.write_shuffle(1, 0, {0: b"aa", 2: b"ccc"})
    assert s.read_blocks(1, [0], 0) == [b"aa"]
    assert s.read_block(1, 0, 1) == b""
    assert s.read_block(1, 0, 2) == b"ccc"
    assert s.read_block(1, 0, 7) == b""  # beyond the last non-empty block
    assert s.read_block(1, 1, 0) is None  # map output not here
    s.write_shuffle(1, 0, {0: b"new"})  # a retried map attempt replaces the old output
    assert s.read_block(1, 0, 0) == b"new" and s.read_block(1, 0, 2) == b""
    s.remove_shuffle(1)
    assert s.read_block(1, 0, 0) is None


def test_storage_blocks_lru_within_memory(tmp_path):
    s = ExecutorStorage(tmp_path, block_memory=10)
    s.put_block("a", b"12345")
    s.put_block("b", b"12345")
    assert s.get_block("a") == b"12345"  # a is now the most recent
    s.put_block("c", b"12345")
    assert s.get_block("b") is None and s.get_block("a") is not None
    assert sorted(s.block_ids()) == ["a", "c"]


def task(shuffle_inputs=None, **kw) -> Task:
    return Task(job_id=1, stage_id=2, stage_attempt=0, partition=0, payload=b"p",
                payload_key="k", shuffle_inputs=shuffle_inputs or {}, **kw)


async def test_fetch_shuffle_local_remote_and_missing(tmp_path):
    a = BatchExecutor("ea", "127.0.0.1:1", "127.0.0.1", 1, tmp_path / "a", runner=lambda p, c: b"")
    b = BatchExecutor("eb", "127.0.0.1:1", "127.0.0.1", 1, tmp_path / "b", runner=lambda p, c: b"")
    await a._start_server()
    await b._start_server()
    try:
        a.storage.write_shuffle(5, 0, {0: b"A0", 1: b"A1"})
        b.storage.write_shuffle(5, 1, {1: b"B1"})
        b.storage.write_shuffle(5, 2, {0: b"B0"})
        a.peers = {"ea": a.address, "eb": b.address}
        ctx = ClusterTaskContext(task({5: ["ea", "eb", "eb"]}), a)
        blocks = await asyncio.to_thread(lambda: list(ctx.fetch_shuffle(5, 0)))
        assert sorted(blocks) == [b"A0", b"B0"]
        blocks = await asyncio.to_thread(lambda: list(ctx.fetch_shuffle(5, 1)))
        assert sorted(blocks) == [b"A1", b"B1"]
        # Map output 3 was never written on eb: FetchFailed names the map and executor.
        ctx = ClusterTaskContext(task({5: ["ea", "eb", "eb", "eb"]}), a)
        with pytest.raises(FetchFailed) as err:
            await asyncio.to_thread(lambda: list(ctx.fetch_shuffle(5, 0)))
        assert (err.value.shuffle_id, err.value.map_partition, err.value.executor_id) == (5, 3, "eb")
        # Location unknown (None) and an executor nobody knows.
        for inputs, missing in (([None], 0), (["ghost"], 0)):
            ctx = ClusterTaskContext(task({5: inputs}), a)
            with pytest.raises(FetchFailed) as err:
                await asyncio.to_thread(lambda c=ctx: list(c.fetch_shuffle(5, 0)))
            assert err.value.map_partition == missing
        # An executor whose server is gone.
        await b._http.cleanup()
        b._http = None
        ctx = ClusterTaskContext(task({5: ["ea", "eb"]}), a)
        with pytest.raises(FetchFailed) as err:
            await asyncio.to_thread(lambda: list(ctx.fetch_shuffle(5, 0)))
        assert err.value.executor_id == "eb"
    finally:
        for ex in (a, b):
            if ex._http is not None:
                await ex._http.cleanup()
            ex.pool.shutdown()


async def test_executor_runs_batches_from_a_fake_driver(tmp_path):
    """A fake driver: HELLO arrives, one LAUNCH carries three tasks (payload sent once), and
    RESULTS come back with values, or the real traceback of a failing task."""

    def runner(payload: bytes, ctx) -> bytes:
        if ctx.task.partition == 2:
            raise ValueError(f"bad partition {ctx.task.partition}")
        return payload + str(ctx.task.partition).encode()

    got: asyncio.Queue = asyncio.Queue()

    async def driver(reader, writer):
        hello = await wire.read_frame(reader)
        await got.put(hello)
        items = [wire.encode_task(k, Task(1, 1, 0, k, b"stage", "key"), k == 0)
                 for k in range(3)]
        writer.write(wire.frame(["launch", items]))
        rows = []
        while len(rows) < 3:
            msg = await wire.read_frame(reader)
            rows += msg[1]
        await got.put(rows)
        writer.write(wire.frame(["stop"]))

    server = await asyncio.start_server(driver, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    ex = BatchExecutor("e1", f"127.0.0.1:{port}", "127.0.0.1", 2, tmp_path / "e", runner=runner)
    run = asyncio.create_task(ex.run())
    try:
        hello = await asyncio.wait_for(got.get(), 10)
        assert hello[:2] == ["hello", "e1"] and hello[4] == 2
        rows = sorted(await asyncio.wait_for(got.get(), 10))
        assert [(r[0], r[1]) for r in rows] == [(0, wire.OK), (1, wire.OK), (2, wire.FAILED)]
        assert rows[0][2] == b"stage0" and rows[1][2] == b"stage1"  # payload reused by key
        assert rows[2][2] == "ValueError: bad partition 2"
        assert "Traceback" in rows[2][3] and "in runner" in rows[2][3]
        assert await asyncio.wait_for(run, 10) == 0
    finally:
        server.close()
