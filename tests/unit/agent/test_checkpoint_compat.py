"""An agent started on a work dir that the previous agent version checkpointed recovers it,
and writes the same files back: the on-disk format did not change.

``data/checkpoint_v1/meta`` was written by the agent before the core was rebuilt by
composition (commit 7ea863d): registered as a1, framework fw-1 with a command task ``cmd``
(running), a task ``on-ex`` on the custom executor ``ex-1`` (subscribed, task delivered) and a
task group ``g1``, ``g2`` under the default executor ``pod`` (both running).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import msgpack

from dcos.agent import recovery
from dcos.agent.checkpoint import Checkpointer, config_from_dict
from dcos.agent.checkpoint_store import CheckpointStore
from dcos.agent.core import AgentCore, AgentInfo, CheckpointChanges, Wake, Watch
from dcos.agent.core.model import REGISTERING
from dcos.protocol.ids import ExecutorID, FrameworkID, TaskID
from dcos.protocol.resources import Resources
from dcos.testing.agent import reattach

DATA = Path(__file__).parent / "data" / "checkpoint_v1"
FW = FrameworkID("fw-1")


def _restored(tmp_path):
    shutil.copytree(DATA / "meta", tmp_path / "meta")
    info = AgentInfo("h1", "127.0.0.1", 5051, Resources.parse("cpus:4;mem:4096"), {"rack": "r1"})
    core = AgentCore(info, str(tmp_path), base_env={})
    cp = CheckpointStore(str(tmp_path)).load()
    assert cp is not None
    return core, recovery.restore(core, cp, 10)


def test_the_previous_versions_checkpoint_is_recovered(tmp_path):
    core, expected = _restored(tmp_path)
    assert core.agent_id == "a1"
    fw = core.frameworks[FW]
    assert fw.info["name"] == "test-fw"
    assert {t: r.state for t, r in fw.tasks.items()} == {
        "cmd": "TASK_RUNNING", "on-ex": "TASK_STAGING", "g1": "TASK_RUNNING", "g2": "TASK_RUNNING",
    }  # fmt: skip
    assert fw.tasks[TaskID("cmd")].config is not None
    assert fw.tasks[TaskID("cmd")].config.argv == ["/bin/sh", "-c", "sleep 100"]
    assert fw.tasks[TaskID("on-ex")].executor_id == "ex-1" and fw.tasks[TaskID("on-ex")].launched
    ex, pod = core.executors[(FW, ExecutorID("ex-1"))], core.executors[(FW, ExecutorID("pod"))]
    assert (ex.kind, pod.kind) == ("custom", "default")
    assert [sorted(g) for g in pod.groups] == [["g1", "g2"]]
    assert len(expected) == 4  # the command task, the executor and the two group tasks
    assert len(core.updates.pending()) == 6  # STARTING and RUNNING of cmd, g1 and g2
    actions = reattach(core, expected, dict.fromkeys(expected), 10)
    assert {a.container_id for a in actions if isinstance(a, Watch)} == set(expected)
    assert ex.state == REGISTERING and Wake(10 + 60.0) in actions


def test_the_files_written_back_are_those_of_the_previous_version(tmp_path):
    core, _ = _restored(tmp_path)
    store = CheckpointStore(str(tmp_path))
    cpr = Checkpointer(core, store)
    cpr.note(CheckpointChanges(
        True, {FW}, {(FW, TaskID(t)) for t in ("cmd", "on-ex", "g1", "g2")},
        {(FW, ExecutorID("ex-1")), (FW, ExecutorID("pod"))},
    ))  # fmt: skip
    writes, _ = cpr.snapshot()
    assert len(writes) == 8
    for path, data in writes:
        old = (DATA / os.path.relpath(path, tmp_path)).read_bytes()
        assert data is not None
        new, was = msgpack.unpackb(data, raw=False), msgpack.unpackb(old, raw=False)
        record = new.get("record")
        if isinstance(record, dict) and isinstance(record.get("config"), dict):
            # the config round-trips through ContainerConfig (its env is not kept)
            assert config_from_dict(record["config"]) == config_from_dict(was["record"]["config"])
            record["config"] = was["record"]["config"]
        assert new == was, path
