"""examples/hello_framework.py against the fake master playing a tiny cluster."""

from __future__ import annotations

import asyncio
import base64
import importlib.util
import os
from pathlib import Path

from sdk_fakes import WAIT, FakeMaster

from dcos.sdk import SchedulerDriver, TaskNeeds, framework_info
from dcos.testing import InProcessCluster, SimClock, always

ROOT = Path(__file__).resolve().parents[3]


def load_example():
    spec = importlib.util.spec_from_file_location(
        "hello_framework", ROOT / "examples" / "hello_framework.py"
    )
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def offer(n: int) -> dict:
    return {
        "id": {"value": f"o-{n}"},
        "agent_id": {"value": "a-1"},
        "hostname": "host-1",
        "allocation_info": {"role": "*"},
        "resources": [
            {"name": "cpus", "type": "SCALAR", "scalar": {"value": 0.25}, "role": "*"},
            {"name": "mem", "type": "SCALAR", "scalar": {"value": 64.0}, "role": "*"},
        ],
    }


def update(task_id: str, state: str) -> dict:
    return {
        "type": "UPDATE",
        "update": {
            "status": {
                "task_id": {"value": task_id},
                "agent_id": {"value": "a-1"},
                "state": state,
                "uuid": base64.b64encode(os.urandom(16)).decode(),
            }
        },
    }


async def play_cluster(master: FakeMaster, lose_nth: int) -> list[str]:
    """Offer 0.25 cpus / 64 MB at a time (none while suppressed); run each launched task, but
    report the `lose_nth` launched one TASK_LOST; return the types of the calls received."""
    stream = await master.next_stream()
    seen: list[str] = []
    n = launched = 0
    suppressed = False
    stream.send({"type": "OFFERS", "offers": {"offers": [offer(n)]}})
    while True:
        _, call = await master.next_call()
        seen.append(call["type"])
        if call["type"] == "ACCEPT":
            for t in call["accept"]["operations"][0]["launch"]["task_infos"]:
                tid = t["task_id"]["value"]
                launched += 1
                if launched == lose_nth:
                    stream.send(update(tid, "TASK_LOST"))
                    continue
                stream.send(update(tid, "TASK_RUNNING"))
                stream.send(update(tid, "TASK_FINISHED"))
        suppressed = {"SUPPRESS": True, "REVIVE": False}.get(call["type"], suppressed)
        if call["type"] in ("ACCEPT", "DECLINE", "REVIVE") and not suppressed:
            n += 1
            stream.send({"type": "OFFERS", "offers": {"offers": [offer(n)]}})
        if call["type"] == "TEARDOWN":
            return seen


async def test_hello_framework_runs_every_task_to_completion(master: FakeMaster):
    hello = load_example()
    run = asyncio.create_task(hello.main(["--master", master.address, "--tasks", "5"]))
    calls = await asyncio.wait_for(play_cluster(master, lose_nth=5), WAIT)
    assert await asyncio.wait_for(run, WAIT) == 0
    launches = [c for c in calls if c == "ACCEPT"]
    assert len(launches) == 4  # 2 + 2 + 1 tasks (0.1 cpus each), then the lost one again
    assert calls.index("SUPPRESS") < calls.index("REVIVE")  # suppressed, revived for the retry
    assert calls[-1] == "TEARDOWN"


def test_the_guide_shows_the_example_verbatim():
    guide = (ROOT / "docs" / "writing-a-framework.md").read_text()
    code = (ROOT / "examples" / "hello_framework.py").read_text()
    assert f"```python\n{code}```" in guide


async def test_hello_scheduler_on_an_in_process_cluster_in_simulated_time():
    """What the guide's testing section shows: the example's scheduler against a real master
    and agents (simulated tasks of 30 s each) on an autojumping SimClock."""
    hello = load_example()
    clock = SimClock(autojump=True)
    try:
        async with InProcessCluster(
            agents=2, clock=clock, agent_http=False, behaviour=always(run_for=30)
        ) as cluster:
            sched = hello.HelloScheduler(4, "true", TaskNeeds.of(cpus=0.1, mem=32))
            info = framework_info("t")
            async with SchedulerDriver(sched, info, cluster.url, clock=clock) as driver:
                assert await asyncio.wait_for(driver.join(), WAIT) == "DRIVER_STOPPED"
            assert len(sched.finished) == 4
    finally:
        clock.stop_autojump()
