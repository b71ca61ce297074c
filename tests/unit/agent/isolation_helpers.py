"""Shared helpers for the real-process isolation tests (cgroups need root and writable v1/v2)."""

from __future__ import annotations

import asyncio
import os
import uuid

import pytest

from dcos.agent.containerizer import ContainerConfig
from dcos.agent.containerizer.process import ProcessContainerizer
from dcos.agent.isolators import cgroupfs
from dcos.agent.isolators.select import build_isolators
from dcos.protocol.resources import Resources
from dcos.testing import async_wait_until as poll  # noqa: F401 (the isolation tests import it from here)
from dcos.testing import pid_alive  # noqa: F401

TEST_ROOT = "dcos-py-test"


def cgroups_writable() -> bool:
    if os.geteuid() != 0:
        return False
    hs = cgroupfs.detect_hierarchies()
    have = {c for h in hs if cgroupfs.writable(h, TEST_ROOT) for c in h.controllers}
    return {"cpu", "memory", "pids"} <= have


needs_cgroups = pytest.mark.skipif(not cgroups_writable(), reason="needs root and writable cgroups")


def leftover_cgroups(agent_key: str) -> list[str]:
    """Directories named `agent_key` under our test root in any hierarchy."""
    out = []
    for h in cgroupfs.detect_hierarchies():
        path = os.path.join(cgroupfs.base_dir(h, TEST_ROOT), agent_key)
        if os.path.isdir(path):
            out.append(path)
    return out


def make_containerizer(tmp_path, isolation=None, **kw) -> tuple[ProcessContainerizer, str]:
    key = f"t-{uuid.uuid4().hex[:8]}"
    choice = build_isolators(isolation, cgroups_root=TEST_ROOT, agent_key=key, **kw)
    return ProcessContainerizer(choice.isolators, meta_dir=str(tmp_path / "meta")), key


def config(tmp_path, command: str, resources: str = "cpus:0.5;mem:64", name: str = "sb"):
    return ContainerConfig(
        argv=["/bin/sh", "-c", command],
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
        sandbox=str(tmp_path / name),
        resources=Resources.parse(resources),
        command={"value": command},
    )


OLD_AGENT = """
import asyncio, os, sys, orjson
from dcos.agent.containerizer import ContainerConfig
from dcos.agent.containerizer.process import ProcessContainerizer
from dcos.agent.isolators.select import build_isolators
from dcos.protocol.resources import Resources

async def main():
    spec = orjson.loads(sys.argv[1])
    choice = build_isolators(spec["isolation"], cgroups_root=spec["root"], agent_key=spec["key"],
                             gpus=None)
    c = ProcessContainerizer(choice.isolators, meta_dir=spec["meta"])
    pids = {}
    for cid, cmd, res, sandbox in spec["launches"]:
        cfg = ContainerConfig(["/bin/sh", "-c", cmd], {"PATH": os.environ["PATH"]}, sandbox,
                              Resources.parse(res))
        pids[cid] = (await c.launch(cid, cfg)).pid
    print(orjson.dumps(pids).decode(), flush=True)
    os._exit(0)  # the agent dies: no cleanup, its wrappers live on

asyncio.run(main())
"""


async def run_old_agent(tmp_path, key: str, launches, isolation=None) -> dict[str, int]:
    """Launch containers from a separate agent process that then dies without cleaning up.

    `launches`: (container id, shell command, resources text). Returns container id -> pid.
    """
    import sys

    import orjson

    spec = {"isolation": isolation, "root": TEST_ROOT, "key": key,
            "meta": str(tmp_path / "meta"),
            "launches": [(cid, cmd, res, str(tmp_path / f"sb-{cid}")) for cid, cmd, res in launches]}  # fmt: skip
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", OLD_AGENT, orjson.dumps(spec).decode(),
        stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, _ = await proc.communicate()
    assert proc.returncode == 0
    return orjson.loads(out)
