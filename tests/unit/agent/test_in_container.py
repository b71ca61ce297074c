"""COMMAND health checks and task-group tasks run inside their container's cgroups (real
processes, root, writable cgroups): the check goes through the containerizer's launch wrapper,
as the task did."""

from __future__ import annotations

import asyncio
import os

import pytest

from dcos.agent.agent import Agent
from dcos.agent.config import AgentConfig
from dcos.agent.containerizer.process import ProcessContainerizer
from dcos.agent.health import HealthCheckSpec
from dcos.agent.health_runner import HealthRunner
from dcos.protocol import internal
from dcos.protocol.ids import ContainerID, FrameworkID
from dcos.testing.agent import FakeMaster

from .conftest import FRAMEWORK, make_task
from .isolation_helpers import TEST_ROOT, config, make_containerizer, needs_cgroups, poll

pytestmark = [needs_cgroups, pytest.mark.timeout(60)]

ISOLATION = "cgroups/cpu,cgroups/mem,cgroups/pids"


def _cgroups_of(text: str) -> dict[str, str]:
    """/proc/<pid>/cgroup text -> {controller: path} (v1 lines ``N:ctrl,ctrl:/path``)."""
    out = {}
    for line in text.splitlines():
        _, ctrls, path = line.split(":", 2)
        for ctrl in ctrls.split(","):
            out[ctrl] = path
    return out


async def test_a_command_check_runs_in_its_containers_cgroups(tmp_path):
    cz, _ = make_containerizer(tmp_path, ISOLATION)
    cid = ContainerID("c1")
    cfg = config(tmp_path, "cat /proc/self/cgroup > task.cg; sleep 30", "cpus:0.2;mem:64")
    assert (await cz.launch(cid, cfg)).ok
    try:
        runner = HealthRunner(lambda c, h: None, lambda c, m: None, wrap=cz.exec_command)
        spec = HealthCheckSpec.parse({"type": "COMMAND", "command": {
            "value": "cat /proc/self/cgroup > check.cg"}})  # fmt: skip
        ok, detail = await runner.probe(spec, cfg.sandbox, cfg.env, cid)
        assert ok, detail
        await poll(lambda: os.path.exists(os.path.join(cfg.sandbox, "task.cg")), "task.cg")
        with open(os.path.join(cfg.sandbox, "task.cg")) as f:
            task = _cgroups_of(f.read())
        with open(os.path.join(cfg.sandbox, "check.cg")) as f:
            check = _cgroups_of(f.read())
        for ctrl in ("memory", "pids", "cpu"):
            assert task[ctrl].endswith(f"/{cid}"), task
            assert check[ctrl] == task[ctrl]
        # after an agent restart the check still goes into the container
        again = ProcessContainerizer([], meta_dir=cz.meta_dir)
        assert await again.recover({cid: cfg}) == {cid: None}
        argv, _ = again.exec_command(cid, ["true"], {})
        assert any(a.endswith("cgroup.procs") and f"/{cid}/" in a for a in argv)
        await runner.close()
    finally:
        await cz.destroy(cid, 0)
        await cz.wait(cid)
        await cz.close()


async def test_task_group_tasks_and_their_checks_run_in_the_tasks_cgroups(tmp_path):
    master = FakeMaster()
    await master.start()
    agent = Agent(AgentConfig(
        master=f"http://{master.address}", port=0, work_dir=str(tmp_path / "agent"),
        resources="cpus:2;mem:1024", detect=False, isolation=ISOLATION,
        cgroups_root=TEST_ROOT,
    ))  # fmt: skip
    await agent.start()
    try:
        await agent.registered.wait()
        task = make_task("a", "cat /proc/self/cgroup > $MESOS_SANDBOX/task.cg; sleep 30")
        task["health_check"] = {"type": "COMMAND", "delay_seconds": 0, "interval_seconds": 1,
                                "command": {"value": "cat /proc/self/cgroup > check.cg"}}  # fmt: skip
        executor = {"type": "DEFAULT", "executor_id": {"value": "pod"}}
        master.send({"type": internal.RUN_TASK_GROUP, "framework": FRAMEWORK,
                     "executor": executor, "tasks": [task]})  # fmt: skip
        rec = None
        for _ in range(500):
            rec = agent.core.frameworks.get(FrameworkID("fw-1"))
            rec = rec.tasks.get("a") if rec else None  # type: ignore[assignment]
            if rec is not None and rec.launched:
                break
            await asyncio.sleep(0.01)
        assert rec is not None
        task_cg, check_cg = (os.path.join(rec.sandbox, n) for n in ("task.cg", "check.cg"))
        await poll(lambda: os.path.exists(task_cg) and os.path.exists(check_cg), "cgroup files")
        await poll(lambda: os.path.getsize(check_cg) > 0, "the check's output")
        with open(task_cg) as f:
            in_task = _cgroups_of(f.read())
        with open(check_cg) as f:
            in_check = _cgroups_of(f.read())
        for ctrl in ("memory", "pids"):
            assert in_task[ctrl].endswith(f"/{rec.container_id}"), in_task
            assert in_check[ctrl] == in_task[ctrl]
    finally:
        await agent.stop()
        await master.stop()
