"""The agent checkpoint store: round trip, atomic files, torn and corrupt files, batching."""

import asyncio
import os

import pytest

from dcos.agent.checkpoint_store import CheckpointError, CheckpointStore
from dcos.agent.containerizer import LaunchResult, Termination
from dcos.agent.core import AgentCore, AgentInfo, Launch
from dcos.protocol.ids import FrameworkID, TaskID
from dcos.protocol.resources import Resources
from dcos.testing.agent import (
    checkpointer,
    exited,
    feed,
    launched,
)

from .conftest import FRAMEWORK, make_task

FW = FrameworkID("fw-1")


def _core(work) -> AgentCore:
    info = AgentInfo("h1", "127.0.0.1", 5051, Resources.parse("cpus:4;mem:4096"), {"rack": "r1"})
    core = AgentCore(info, str(work), base_env={})
    feed(core, {"type": "REGISTERED", "agent_id": "a1", "master_id": "m1"}, 0)
    return core


def _run(core, *tasks):
    return feed(core, {"type": "RUN_TASKS", "framework": FRAMEWORK, "tasks": list(tasks)}, 0)


def _ack(core, fid, status):
    feed(core, {"type": "ACKNOWLEDGE", "framework_id": fid,
                       "task_id": status["task_id"]["value"], "uuid": status["uuid"]}, 1)  # fmt: skip


def test_round_trip_keeps_agent_frameworks_tasks_and_unacked_updates(tmp_path):
    core = _core(tmp_path)
    [launch] = _run(core, make_task("t1", "sleep 100"))
    launched(core, launch.container_id, LaunchResult(True, pid=42), 1)
    store = CheckpointStore(str(tmp_path))
    checkpointer(core, store).flush()

    cp = store.load()
    assert cp is not None
    assert cp.agent_id == "a1"
    assert cp.agent_info["attributes"] == {"rack": "r1"}
    assert cp.frameworks[FW].info["name"] == "test-fw"
    [tc] = cp.tasks
    assert (tc.framework_id, tc.task_id) == (FW, TaskID("t1"))
    assert tc.record is not None
    assert tc.record["state"] == "TASK_RUNNING"
    assert tc.record["container_id"] == launch.container_id
    assert tc.record["sandbox"] == launch.config.sandbox
    assert tc.record["launched"] is True
    assert tc.record["config"]["argv"] == launch.config.argv
    assert tc.record["config"]["resources"]["__resources__"] == launch.config.resources.to_dict()
    # STARTING is unacknowledged (RUNNING queues behind it): both are kept, in order
    pending = core.updates.pending_for(FW, TaskID("t1"))
    assert [u["status"]["uuid"] for u in tc.updates] == [u["status"]["uuid"] for u in pending]
    assert [u["status"]["state"] for u in tc.updates] == ["TASK_STARTING", "TASK_RUNNING"]


def test_acknowledged_terminal_task_and_finished_framework_leave_no_files(tmp_path):
    core = _core(tmp_path)
    store = CheckpointStore(str(tmp_path))
    cpr = checkpointer(core, store)
    [launch] = _run(core, make_task("t1", "true"))
    launched(core, launch.container_id, LaunchResult(True), 1)
    exited(core, launch.container_id, Termination(exit_code=0), 2)
    cpr.flush()
    assert os.path.exists(store.task_path(FW, "t1"))
    for u in core.updates.pending_for(FW, TaskID("t1")):
        _ack(core, FW, u["status"])
    cpr.flush()
    assert not os.path.exists(store.task_path(FW, "t1"))
    assert not os.path.exists(store.framework_dir(FW))
    cp = store.load()
    assert cp is not None and cp.tasks == [] and cp.frameworks == {}


def test_torn_temp_file_is_ignored_and_removed(tmp_path):
    core = _core(tmp_path)
    _run(core, make_task("t1", "sleep 100"))
    store = CheckpointStore(str(tmp_path))
    checkpointer(core, store).flush()
    good = store.task_path(FW, "t1")
    with open(good + ".tmp", "wb") as f:
        f.write(b"\x85\xa3half-writ")  # a crash in the middle of the next write
    cp = store.load()
    assert cp is not None and [t.task_id for t in cp.tasks] == ["t1"]
    assert not os.path.exists(good + ".tmp")


def _crash_after_batches(tmp_path, core):
    """Write the core's marks as the running agent does (journal synced, the files left for
    the next compaction), then crash in the middle of a compaction that the kernel had not
    written yet: empty files, as ext4 may leave new ones. The journal alone must hold them."""
    store = CheckpointStore(str(tmp_path))
    writes, _ = checkpointer(core, store).snapshot()
    store.write(writes)
    for path, _data in writes:
        assert not os.path.exists(path)  # only the journal holds them until compaction
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb"):
            pass
    store.close()
    return CheckpointStore(str(tmp_path))


def test_journal_replay_restores_files_lost_in_a_crash(tmp_path):
    core = _core(tmp_path)
    _run(core, make_task("t1", "sleep 100"), make_task("t2", "sleep 100"))
    store = _crash_after_batches(tmp_path, core)
    cp = store.load()
    assert cp is not None and cp.agent_id == "a1"
    assert sorted(t.task_id for t in cp.tasks) == ["t1", "t2"]
    assert all(t.updates and t.updates[0]["status"]["state"] == "TASK_STARTING" for t in cp.tasks)
    assert os.path.getsize(os.path.join(store.root, "checkpoint.journal")) == 0  # compacted


def test_torn_journal_tail_is_dropped_and_earlier_batches_kept(tmp_path):
    core = _core(tmp_path)
    _run(core, make_task("t1", "sleep 100"))
    store = _crash_after_batches(tmp_path, core)
    with open(os.path.join(store.root, "checkpoint.journal"), "ab") as f:
        f.write(b"\x00\x00\x10\x00\x12\x34half a record")  # a crash mid-append
    cp = store.load()
    assert cp is not None and [t.task_id for t in cp.tasks] == ["t1"]


def test_one_journal_sync_per_batch_however_many_files(tmp_path, monkeypatch):
    core = _core(tmp_path)
    _run(core, *(make_task(f"t{i}", "sleep 100") for i in range(20)))
    store = CheckpointStore(str(tmp_path))
    writes, _ = checkpointer(core, store).snapshot()
    syncs = []
    monkeypatch.setattr(os, "fsync", lambda fd: syncs.append(("fsync", fd)))
    monkeypatch.setattr(os, "fdatasync", lambda fd: syncs.append(("fdatasync", fd)))
    store.write(writes)
    assert len(writes) > 20 and [kind for kind, _ in syncs if kind == "fdatasync"] == ["fdatasync"]
    assert len(syncs) <= 2  # plus the meta directory's once, when the journal is created


def test_torn_first_agent_file_means_no_checkpoint(tmp_path):
    store = CheckpointStore(str(tmp_path))
    os.makedirs(store.root)
    with open(store.agent_path() + ".tmp", "wb") as f:
        f.write(b"\x83")
    assert store.load() is None


def test_corrupt_file_is_a_clear_error_naming_it(tmp_path):
    core = _core(tmp_path)
    _run(core, make_task("t1", "sleep 100"))
    store = CheckpointStore(str(tmp_path))
    checkpointer(core, store).flush()
    path = store.task_path(FW, "t1")
    with open(path, "wb") as f:
        f.write(b"\xc1garbage")
    with pytest.raises(CheckpointError, match="t1"):
        store.load()


def test_other_version_is_refused(tmp_path):
    import msgpack

    store = CheckpointStore(str(tmp_path))
    os.makedirs(store.root)
    with open(store.agent_path(), "wb") as f:
        f.write(msgpack.packb({"version": 99, "agent_id": "a1", "info": {}}))
    with pytest.raises(CheckpointError, match="version 99"):
        store.load()


def test_odd_task_ids_get_safe_file_names(tmp_path):
    core = _core(tmp_path)
    _run(core, make_task("../x/ y", "sleep 1"), make_task("..", "sleep 1"))
    store = CheckpointStore(str(tmp_path))
    checkpointer(core, store).flush()
    for tid in ("../x/ y", ".."):
        assert os.path.dirname(store.task_path(FW, tid)).startswith(store.root)
    cp = store.load()
    assert cp is not None and sorted(t.task_id for t in cp.tasks) == ["..", "../x/ y"]


def test_disabled_checkpointing_marks_nothing(tmp_path):
    info = AgentInfo("h1", "127.0.0.1", 5051, Resources.parse("cpus:4;mem:4096"))
    core = AgentCore(info, str(tmp_path), base_env={})
    core.ledger.checkpointing = False
    feed(core, {"type": "REGISTERED", "agent_id": "a1", "master_id": "m1"}, 0)
    _run(core, make_task("t1", "sleep 1"))
    writes, _ = checkpointer(core, CheckpointStore(str(tmp_path))).snapshot()
    assert writes == []


async def test_changes_in_one_loop_turn_are_written_in_one_batch(tmp_path):
    core = _core(tmp_path)
    cpr = checkpointer(core, CheckpointStore(str(tmp_path)))
    actions = _run(core, *[make_task(f"t{i}", "sleep 100") for i in range(50)])
    cpr.kick()
    for a in actions:
        assert isinstance(a, Launch)
        launched(core, a.container_id, LaunchResult(True), 1)
        cpr.kick()
    await cpr.sync()
    assert cpr.batches == 1
    cp = cpr.store.load()
    assert cp is not None
    assert {t.record["state"] for t in cp.tasks if t.record} == {"TASK_RUNNING"}


async def test_sync_waits_for_marks_made_while_a_batch_is_being_written(tmp_path):
    core = _core(tmp_path)
    cpr = checkpointer(core, CheckpointStore(str(tmp_path)))
    [launch] = _run(core, make_task("t1", "sleep 100"))
    cpr.kick()
    await asyncio.sleep(0)  # the first batch is now being written
    launched(core, launch.container_id, LaunchResult(True), 1)
    await cpr.sync()
    cp = cpr.store.load()
    assert cp is not None and cp.tasks[0].record["state"] == "TASK_RUNNING"


def test_batches_go_to_the_journal_and_the_files_are_written_when_it_is_compacted(
    tmp_path, monkeypatch
):
    from dcos.agent import checkpoint_store

    core = _core(tmp_path)
    store = CheckpointStore(str(tmp_path))
    cpr = checkpointer(core, store)
    [launch] = _run(core, make_task("t1", "true"))
    store.write(cpr.snapshot()[0])
    path = store.task_path(FW, "t1")
    assert not os.path.exists(path) and path in store.pending  # only in the journal
    launched(core, launch.container_id, LaunchResult(True), 1)
    exited(core, launch.container_id, Termination(exit_code=0), 2)
    for u in core.updates.pending_for(FW, TaskID("t1")):
        _ack(core, FW, u["status"])
    writes, gone = cpr.snapshot()
    monkeypatch.setattr(checkpoint_store, "JOURNAL_LIMIT", 0)  # the next commit compacts
    store.write(writes)
    for fid in gone:
        store.prune(fid)
    store.compact()  # the prune waits for the compaction that writes the deletes
    assert store.pending == {}
    with open(os.path.join(store.root, "checkpoint.journal"), "rb") as f:
        assert f.read().strip(b"\0") == b""  # no record left (zeros for the next ones)
    assert os.path.exists(store.agent_path())
    assert not os.path.exists(path) and not os.path.exists(store.framework_dir(FW))
    cp = CheckpointStore(str(tmp_path)).load()
    assert cp is not None and cp.agent_id == "a1" and cp.tasks == [] and cp.frameworks == {}


async def test_journal_syncs_run_on_the_loop_while_fast_else_in_a_thread(tmp_path, monkeypatch):
    from dcos.agent import checkpoint

    core = _core(tmp_path)
    cpr = checkpointer(core, CheckpointStore(str(tmp_path)))
    loop = asyncio.get_running_loop()
    assert cpr._sync_inline(loop.time())  # a fresh agent tries the loop first
    _run(core, make_task("t1", "sleep 100"))
    await cpr.sync()  # synced on the loop: no worker thread
    assert cpr.batches == 1 and cpr._writing is None
    cpr.sync_cost = 1.0  # slow syncs seen: the worker thread, tried again after a while
    now = loop.time()
    assert cpr._sync_inline(now)  # the probe
    assert not cpr._sync_inline(now + 0.5)
    assert cpr._sync_inline(now + checkpoint.INLINE_PROBE_INTERVAL)
    cpr._probed = now + 10**9
    _run(core, make_task("t2", "sleep 100"))
    cpr.kick()
    await asyncio.sleep(0)
    assert cpr._writing is not None  # in the worker thread
    await cpr.sync()
    cp = cpr.store.load()
    assert cp is not None and sorted(t.task_id for t in cp.tasks) == ["t1", "t2"]


def test_the_journal_is_filled_with_zeros_ahead_and_records_are_written_over_them(tmp_path):
    core = _core(tmp_path)
    store = CheckpointStore(str(tmp_path))
    cpr = checkpointer(core, store)
    journal = os.path.join(store.root, "checkpoint.journal")
    _run(core, make_task("t1", "sleep 100"))
    store.write(cpr.snapshot()[0])
    size = os.path.getsize(journal)
    assert size >= 1024 * 1024  # zeros after the record: its sync changes no metadata
    _run(core, make_task("t2", "sleep 100"))
    store.write(cpr.snapshot()[0])
    assert os.path.getsize(journal) == size
    store.close()
    with open(journal, "r+b") as f:  # a crash in the middle of the third record
        data = f.read()
        end = len(data.rstrip(b"\0"))
        f.seek(end)
        f.write(b"\x00\x00\x10\x00\x12\x34half a record")
    again = CheckpointStore(str(tmp_path))
    cp = again.load()
    assert cp is not None and sorted(t.task_id for t in cp.tasks) == ["t1", "t2"]
    assert os.path.getsize(journal) == 0
    # an agent that opens a journal it did not replay keeps its records, drops the rest
    _run(core, make_task("t3", "sleep 100"))
    again.write(cpr.snapshot()[0])
    again.close()
    with open(journal, "ab") as f:
        f.write(b"\x00\x00\x00\x09garbage")
    third = CheckpointStore(str(tmp_path))
    _run(core, make_task("t4", "sleep 100"))
    third.write(cpr.snapshot()[0])
    third.close()
    cp = CheckpointStore(str(tmp_path)).load()
    assert cp is not None and sorted(t.task_id for t in cp.tasks) == ["t1", "t2", "t3", "t4"]
