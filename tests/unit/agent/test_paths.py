"""Sandbox paths cannot leave the agent's work dir, whatever id reaches the agent (issue 9:
an ACCEPT with task id ``../../../../tmp/x`` got its sandbox under /tmp/x): the path helper
refuses such ids, the task fails with the reason, and the agent goes on."""

from __future__ import annotations

import asyncio
import os

import pytest

from dcos.agent.agent import Agent
from dcos.agent.checkpoint_store import CheckpointStore
from dcos.agent.config import AgentConfig
from dcos.agent.containerizer.fake import FakeContainerizer
from dcos.agent.paths import NAME_MAX, UnsafeId, name_error, sandbox_path, task_sandbox
from dcos.protocol import internal

from .conftest import FRAMEWORK, make_task

pytestmark = pytest.mark.timeout(30)

BAD_IDS = ["", ".", "..", "../../../../tmp/x", "a/b", "/abs", "nul\x00byte", "x" * (NAME_MAX + 1),
           "é" * 128]  # fmt: skip


@pytest.mark.parametrize("bad", BAD_IDS)
def test_an_unsafe_id_is_refused_in_every_position(tmp_path, bad):
    assert name_error(bad) is not None
    ids = ["agent-1", "fw-1", "ex-1", "c1"]
    for i in range(len(ids)):
        args = list(ids)
        args[i] = bad
        with pytest.raises(UnsafeId):
            sandbox_path(str(tmp_path), *args)
    with pytest.raises(UnsafeId):
        task_sandbox(str(tmp_path / "sandbox"), bad)


@pytest.mark.parametrize("good", ["t1", "...", "..x", "a b", "x" * NAME_MAX, "é" * 127, "a\\b"])
def test_a_safe_id_gives_the_mesos_layout(tmp_path, good):
    path = sandbox_path(str(tmp_path), "agent-1", "fw-1", good, "c1")
    assert path == os.path.join(str(tmp_path), "slaves", "agent-1", "frameworks", "fw-1",
                                "executors", good, "runs", "c1")  # fmt: skip
    assert task_sandbox(path, good) == os.path.join(path, "tasks", good)


def test_a_symlink_on_the_way_out_of_the_work_dir_is_refused(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    work = tmp_path / "work"
    (work / "slaves").mkdir(parents=True)
    os.symlink(outside, work / "slaves" / "agent-1")
    with pytest.raises(UnsafeId, match="symlink"):
        sandbox_path(str(work), "agent-1", "fw-1", "t1", "c1")


def test_checkpoint_file_names_stay_file_names_for_any_id(tmp_path):
    store = CheckpointStore(str(tmp_path))
    for tid in ("../../x", "..", "é" * 120, "%" * 255, "/" * 255):
        path = store.task_path("fw-1", tid)
        assert os.path.dirname(path) == os.path.join(store.framework_dir("fw-1"), "tasks")
        assert len(os.path.basename(path).encode()) + len(".tmp") <= NAME_MAX
    assert store.task_path("fw-1", "%" * 255) != store.task_path("fw-1", "%" * 254)
    # every name an older agent could write (the name and its .tmp within 255) is unchanged
    fits = "x" * (255 - len("_.task.tmp"))
    assert os.path.basename(store.task_path("fw-1", fits)) == "_" + fits + ".task"
    assert os.path.basename(store.task_path("fw-1", fits + "x")).startswith("=")


async def test_a_task_id_that_would_leave_the_work_dir_fails_with_the_reason(master, tmp_path):
    """Straight on the agent's internal channel, as if the master had let it through."""
    work = tmp_path / "work"
    config = AgentConfig(master=f"http://{master.address}", port=0, work_dir=str(work),
                         resources="cpus:2;mem:1024", detect=False)  # fmt: skip
    agent = Agent(config, FakeContainerizer())
    await agent.start()
    try:
        await agent.registered.wait()
        escape = "../../../../../../escaped"  # six levels up: next to the work dir
        bad_fw = {**FRAMEWORK, "id": {"value": "../fw"}}
        master.send({"type": internal.RUN_TASKS, "framework": FRAMEWORK,
                     "tasks": [make_task(escape, "true"), make_task("x" * 300, "true")]})  # fmt: skip
        master.send({"type": internal.RUN_TASKS, "framework": bad_fw,
                     "tasks": [make_task("t-bad-fw", "true")]})  # fmt: skip
        group = {"type": internal.RUN_TASK_GROUP, "framework": FRAMEWORK,
                 "executor": {"type": "DEFAULT", "executor_id": {"value": ".."}},
                 "tasks": [make_task("g1", "true")]}  # fmt: skip
        master.send(group)
        master.send({**group, "executor": {"type": "DEFAULT", "executor_id": {"value": "pod"}},
                     "tasks": [make_task("g/2", "true"), make_task("g3", "true")]})  # fmt: skip
        updates = [(await asyncio.wait_for(master.updates.get(), 5))["status"] for _ in range(6)]
        by_task = {u["task_id"]["value"]: u for u in updates}
        assert set(by_task) == {escape, "x" * 300, "t-bad-fw", "g1", "g/2", "g3"}
        for u in updates:
            assert u["state"] == "TASK_FAILED", u
            assert u["reason"] == "REASON_CONTAINER_LAUNCH_FAILED"
            assert "invalid sandbox" in u["message"] or "Task group not launched" in u["message"]
        assert "must not contain '/'" in by_task[escape]["message"]
        assert "longer than 255 bytes" in by_task["x" * 300]["message"]
        assert "framework id" in by_task["t-bad-fw"]["message"]
        assert agent.containerizer.configs == {}  # nothing launched
        assert not (tmp_path / "escaped").exists()
        assert sorted(os.listdir(tmp_path)) == ["work"]
        # the agent goes on: a good task runs
        master.send({"type": internal.RUN_TASKS, "framework": FRAMEWORK,
                     "tasks": [make_task("good", "true")]})  # fmt: skip
        update = await asyncio.wait_for(master.updates.get(), 5)
        assert update["status"]["state"] == "TASK_STARTING"
    finally:
        await agent.stop()
