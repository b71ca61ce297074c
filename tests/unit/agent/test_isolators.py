"""ProcessContainerizer calls isolator hooks around each container; a limitation ends it."""

import asyncio

from dcos.agent.containerizer import ContainerConfig
from dcos.agent.containerizer.process import ProcessContainerizer
from dcos.agent.executor import termination_outcome
from dcos.agent.isolators import Limitation, NoopIsolator
from dcos.protocol.ids import ContainerID
from dcos.protocol.states import Reason, TaskState


class RecordingIsolator(NoopIsolator):
    name = "test/recording"

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.limit = asyncio.Event()

    async def prepare(self, container_id, resources):
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


async def test_failed_spawn_still_cleans_up(tmp_path):
    iso = RecordingIsolator()
    c = ProcessContainerizer([iso])
    cfg = ContainerConfig(["/nonexistent"], {}, str(tmp_path / "sb"))
    assert not (await c.launch(ContainerID("c1"), cfg)).ok
    assert iso.calls == ["prepare", "cleanup"]
