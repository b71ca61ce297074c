"""ProcessContainerizer calls isolator hooks around each container; a limitation ends it."""

import asyncio

from dcos.agent.command_executor import termination_outcome
from dcos.agent.containerizer import ContainerConfig
from dcos.agent.containerizer.process import ProcessContainerizer
from dcos.agent.isolators import IsolationError, LaunchSpec, Limitation, NoopIsolator
from dcos.protocol.ids import ContainerID
from dcos.protocol.states import Reason, TaskState


class RecordingIsolator(NoopIsolator):
    name = "test/recording"

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.limit = asyncio.Event()

    async def prepare(self, container_id, config):
        self.calls.append("prepare")

    async def isolate(self, container_id, pid):
        self.calls.append("isolate")

    async def watch(self, container_id):
        await self.limit.wait()
        return Limitation(Reason.REASON_CONTAINER_LIMITATION_MEMORY, "Memory limit 32 MB exceeded")

    async def cleanup(self, container_id):
        self.calls.append("cleanup")


def _config(tmp_path, command):
    return ContainerConfig(["/bin/sh", "-c", command], {}, str(tmp_path / "sb"))


async def test_hooks_run_in_order_and_cleanup_follows_the_end(tmp_path):
    iso = RecordingIsolator()
    c = ProcessContainerizer([iso])
    assert (await c.launch(ContainerID("c1"), _config(tmp_path, "true"))).ok
    await c.wait(ContainerID("c1"))
    assert iso.calls == ["prepare", "isolate", "cleanup"]


async def test_limitation_kills_the_container_with_its_reason(tmp_path):
    iso = RecordingIsolator()
    c = ProcessContainerizer([iso])
    assert (await c.launch(ContainerID("c1"), _config(tmp_path, "sleep 60"))).ok
    iso.limit.set()
    term = await c.wait(ContainerID("c1"))
    state, reason, message = termination_outcome(term, kill_requested=False)
    assert (state, reason) == (TaskState.TASK_FAILED, Reason.REASON_CONTAINER_LIMITATION_MEMORY)
    assert message == "Memory limit 32 MB exceeded"


async def test_missing_program_is_refused_before_any_isolation(tmp_path):
    iso = RecordingIsolator()
    c = ProcessContainerizer([iso])
    cfg = ContainerConfig(["/nonexistent"], {}, str(tmp_path / "sb"))
    result = await c.launch(ContainerID("c1"), cfg)
    assert not result.ok and "No such file" in result.error
    assert iso.calls == []


class FailingIsolator(RecordingIsolator):
    async def prepare(self, container_id, config):
        self.calls.append("prepare")
        raise IsolationError("Requested 2 GPUs but only 1 of 1 are free")


async def test_failed_prepare_fails_the_launch_and_still_cleans_up(tmp_path):
    ok, bad = RecordingIsolator(), FailingIsolator()
    c = ProcessContainerizer([ok, bad])
    result = await c.launch(ContainerID("c1"), _config(tmp_path, "true"))
    assert not result.ok and "only 1 of 1 are free" in result.error
    assert ok.calls == ["prepare", "cleanup"] and bad.calls == ["prepare", "cleanup"]
    assert c.containers() == set()


class EnvIsolator(NoopIsolator):
    name = "test/env"

    async def prepare(self, container_id, config):
        return LaunchSpec(env={"EXTRA": "yes"}, shell=["ulimit -n 123"])


async def test_wrapper_keeps_the_tasks_view_and_applies_isolator_env_and_ulimits(tmp_path):
    c = ProcessContainerizer([EnvIsolator()])
    cmd = 'echo "$0|$1|$EXTRA|$(ulimit -n)|$(pwd)"'
    cfg = ContainerConfig(["/bin/sh", "-c", cmd, "name0", "arg1"], {"PATH": "/usr/bin:/bin"},
                          str(tmp_path / "sb"))  # fmt: skip
    assert (await c.launch(ContainerID("c1"), cfg)).ok
    assert (await c.wait(ContainerID("c1"))).exit_code == 0
    out = (tmp_path / "sb" / "stdout").read_text().strip()
    assert out == f"name0|arg1|yes|123|{tmp_path / 'sb'}"
    # the environment is exactly the task's plus the isolator's (the wrapper adds nothing)
    cfg = ContainerConfig(["/usr/bin/env"], {"PATH": "/usr/bin:/bin"}, str(tmp_path / "sb2"))
    assert (await c.launch(ContainerID("c2"), cfg)).ok
    assert (await c.wait(ContainerID("c2"))).exit_code == 0
    env = (tmp_path / "sb2" / "stdout").read_text().split()
    assert sorted(env) == ["EXTRA=yes", "PATH=/usr/bin:/bin"]
