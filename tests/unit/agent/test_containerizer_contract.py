"""One contract, every Containerizer: FakeContainerizer and ProcessContainerizer."""

import signal

import pytest

from dcos.agent.containerizer import ContainerConfig, Termination
from dcos.agent.containerizer.fake import FakeContainerizer
from dcos.agent.containerizer.process import ProcessContainerizer
from dcos.protocol.ids import ContainerID


@pytest.fixture(params=["fake", "process"])
async def containerizer(request):
    if request.param == "fake":
        yield FakeContainerizer()
        return
    c = ProcessContainerizer()
    yield c
    await c.close()  # its (ephemeral) launcher exits


def _config(tmp_path, command: str) -> ContainerConfig:
    return ContainerConfig(
        argv=["/bin/sh", "-c", command],
        env={"PATH": "/usr/bin:/bin"},
        sandbox=str(tmp_path / "sandbox"),
        command={"value": command},
    )


@pytest.mark.parametrize(("command", "code"), [("true", 0), ("exit 3", 3)])
async def test_exit_code_is_reported(containerizer, tmp_path, command, code):
    cid = ContainerID("c1")
    assert (await containerizer.launch(cid, _config(tmp_path, command))).ok
    assert await containerizer.wait(cid) == Termination(exit_code=code)
    assert containerizer.containers() == set()


async def test_destroy_ends_a_running_container_and_is_idempotent(containerizer, tmp_path):
    cid = ContainerID("c1")
    assert (await containerizer.launch(cid, _config(tmp_path, "sleep 999"))).ok
    assert containerizer.containers() == {cid}
    await containerizer.destroy(cid, 5)
    term = await containerizer.wait(cid)
    assert term.signal == signal.SIGTERM
    await containerizer.destroy(cid, 5)
    assert containerizer.containers() == set()


async def test_unknown_ids_are_safe(containerizer):
    await containerizer.destroy(ContainerID("nope"), 1)
    assert (await containerizer.wait(ContainerID("nope"))).exit_code is None
    assert await containerizer.usage(ContainerID("nope")) == {}


async def test_same_id_twice_is_refused(containerizer, tmp_path):
    cid = ContainerID("c1")
    assert (await containerizer.launch(cid, _config(tmp_path, "sleep 999"))).ok
    assert not (await containerizer.launch(cid, _config(tmp_path, "sleep 999"))).ok
    await containerizer.destroy(cid, 0)
