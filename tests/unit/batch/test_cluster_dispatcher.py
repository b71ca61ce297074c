"""The batch dispatcher's Mesos side without a master: queued drivers are placed on offers
with the SDK placement chain (oldest first, head of line), the rest declined, offers
suppressed when nothing is queued and revived by a new submission; the drivers it knows
are reconciled after a re-subscription. Its API: only shipped scripts, or host scripts it
was told to allow, are run (anything else 403, nothing stored or launched); bad bodies 400;
it listens on the address it is given only."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from dcos.sdk import Decline, Launch, Offer, Reconcile, Revive, Suppress
from dcos.state import MemoryStateStore
from dcos.testing import make_offer
from frameworks.batch.cluster.backend import route_to
from frameworks.batch.cluster.dispatcher import (
    LAUNCHED,
    QUEUED,
    Dispatcher,
    dispatcher_framework_info,
    main,
    parser,
    start_api,
)
from frameworks.batch.cluster.submission_checks import ScriptPolicy


class FakeDriver:
    """Records what `apply` is given; every call succeeds."""

    framework_id = "fw-1"

    def __init__(self) -> None:
        self.applied: list[Any] = []

    async def apply(self, actions: Any) -> list[None]:
        actions = list(actions)
        self.applied.extend(actions)
        return [None] * len(actions)


def offer(oid: str, agent: str, cpus: float, mem: float = 2048) -> Offer:
    return Offer(make_offer(oid, agent_id=agent, resources=f"cpus:{cpus};mem:{mem}"))


async def dispatcher(tmp_path, *cpus: float) -> tuple[Dispatcher, FakeDriver]:
    d = Dispatcher(MemoryStateStore(), "127.0.0.1:5050")
    drv = FakeDriver()
    d.driver = drv  # type: ignore[assignment]
    script = tmp_path / "job.py"
    script.write_text("print(1)\n")
    for c in cpus:
        await d.submit({"script": str(script), "driver_cpus": c, "driver_mem": 256})
    return d, drv


async def test_queued_drivers_go_to_offers_that_fit_the_rest_are_declined(tmp_path) -> None:
    d, drv = await dispatcher(tmp_path, 0.5, 0.5, 4.0, 0.1)
    await d.resource_offers(drv, [offer("o1", "a1", 1.0), offer("o2", "a2", 0.4)])  # type: ignore[arg-type]
    launches = [a for a in drv.applied if isinstance(a, Launch)]
    assert [(list(map(str, a.offer_ids)), len(a.tasks)) for a in launches] == [(["o1"], 2)]
    assert [a for a in drv.applied if isinstance(a, Decline)] == [Decline(["o2"], 30)]
    states = [s["state"] for s in sorted(d.subs.values(), key=lambda s: s["submitted"])]
    assert states.count(LAUNCHED) == 2 and states.count(QUEUED) == 2  # the 4-cpu one blocks
    task = launches[0].tasks[0]
    assert {r["name"]: r["scalar"]["value"] for r in task["resources"]} == {"cpus": 0.5, "mem": 256}
    assert not any(isinstance(a, Suppress) for a in drv.applied)  # drivers still queued


async def test_suppress_when_nothing_is_queued_revive_on_submit_and_reconcile(tmp_path) -> None:
    d, drv = await dispatcher(tmp_path, 0.5)
    await d.resource_offers(drv, [offer("o1", "a1", 1.0)])  # type: ignore[arg-type]
    assert isinstance(drv.applied[-1], Suppress)
    await d.submit({"script": str(tmp_path / "job.py")})
    assert isinstance(drv.applied[-1], Revive)
    drv.applied.clear()
    await d.reregistered(drv, {})  # type: ignore[arg-type]
    launched = next(s for s in d.subs.values() if s["state"] == LAUNCHED)
    assert drv.applied == [Reconcile(((launched["task_id"], "a1"),)), Reconcile()]


# ---- what a submission may run, and where the API listens ---------------------------------


@asynccontextmanager
async def api(d: Dispatcher) -> AsyncIterator[TestClient]:
    async with TestClient(TestServer(d.app())) as client:
        yield client


def checked_dispatcher(tmp_path: Path, allow: str = "") -> tuple[Dispatcher, FakeDriver]:
    d = Dispatcher(MemoryStateStore(), "127.0.0.1:5050", scripts_dir=tmp_path / "scripts",
                   policy=ScriptPolicy.parse(allow))
    drv = FakeDriver()
    d.driver = drv  # type: ignore[assignment]
    return d, drv


@pytest.mark.parametrize("script", ["/etc/passwd", "/usr/bin/env", "/tmp/../etc/shadow",
                                    "relative.py", "/nonexistent/x.py"])
async def test_a_host_path_not_allowed_is_refused_and_nothing_runs(tmp_path, script) -> None:
    d, drv = checked_dispatcher(tmp_path)
    async with api(d) as client:
        resp = await client.post("/v1/submissions", json={"script": script, "args": ["-c", "x"]})
        assert resp.status == 403
        assert "is not allowed" in await resp.text()
        assert (await (await client.get("/v1/submissions")).json()) == {"submissions": []}
    assert d.subs == {} and drv.applied == []
    await d.resource_offers(drv, [offer("o1", "a1", 4.0)])  # type: ignore[arg-type]
    assert not [a for a in drv.applied if isinstance(a, Launch)]


async def test_a_symlink_out_of_an_allowed_dir_is_refused(tmp_path) -> None:
    jobs = tmp_path / "jobs"
    jobs.mkdir()
    (jobs / "ok.py").write_text("print(1)\n")
    (jobs / "sneaky.py").symlink_to("/etc/passwd")
    d, _ = checked_dispatcher(tmp_path, allow=str(jobs))
    async with api(d) as client:
        sneaky = await client.post("/v1/submissions", json={"script": str(jobs / "sneaky.py")})
        assert sneaky.status == 403
        ok = await client.post("/v1/submissions", json={"script": str(jobs / "ok.py")})
        assert ok.status == 200, await ok.text()
        assert (await ok.json())["script"] == str(jobs / "ok.py")


async def test_a_shipped_script_is_kept_and_run_from_the_work_dir(tmp_path) -> None:
    d, drv = checked_dispatcher(tmp_path)
    async with api(d) as client:
        resp = await client.post("/v1/submissions", json={
            "script": "wc.py", "script_content": "print('hi')\n", "args": ["a", 1]})
        assert resp.status == 200, await resp.text()
        sub = await resp.json()
    kept = tmp_path / "scripts" / sub["id"] / "wc.py"
    assert sub["script"] == str(kept) and kept.read_text() == "print('hi')\n"
    assert sub["name"] == "wc.py" and sub["args"] == ["a", "1"]
    await d.resource_offers(drv, [offer("o1", "a1", 4.0)])  # type: ignore[arg-type]
    [launch] = [a for a in drv.applied if isinstance(a, Launch)]
    task = launch.tasks[0]
    assert task["command"]["arguments"][1:] == ["wc.py", "a", "1"]
    assert [u["value"] for u in task["command"]["uris"]] == [f"file://{kept}"]


@pytest.mark.parametrize("body", [
    {"script": "../x.py", "script_content": "1"},
    {"script": "a/b.py", "script_content": "1"},
    {"script": "..", "script_content": "1"},
    {"script": "x.py", "script_content": 7},
    {"script": "x.py", "script_content": "1", "args": "a b"},
    {"script": "x.py", "script_content": "1", "args": [{}]},
    {"script": "x.py", "script_content": "1", "conf": {"a": []}},
    {"script": "x.py", "script_content": "1", "driver_cpus": -1},
    {"script": "x.py", "script_content": "1", "driver_mem": True},
    {"script": "x.py", "script_content": "1", "name": {}},
    {"script": 5},
    [],
])
async def test_bad_submissions_are_400_and_change_nothing(tmp_path, body) -> None:
    d, drv = checked_dispatcher(tmp_path)
    async with api(d) as client:
        resp = await client.post("/v1/submissions", json=body)
        assert resp.status == 400, await resp.text()
    assert d.subs == {} and drv.applied == [] and not (tmp_path / "scripts").exists()


async def test_the_api_listens_on_the_given_address_only(tmp_path) -> None:
    d, _ = checked_dispatcher(tmp_path)
    runner, port = await start_api(d, "127.0.0.1", 0)
    try:
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.close()
        # Another loopback address of this machine: a 0.0.0.0 bind would accept it.
        with pytest.raises(OSError):
            await asyncio.open_connection("127.0.0.2", port)
        [server] = runner.sites
        assert server._server.sockets[0].getsockname()[:2] == ("127.0.0.1", port)  # type: ignore[union-attr]
    finally:
        await runner.cleanup()


def test_flags_bind_loopback_for_a_local_master_and_take_host_as_ip() -> None:
    assert parser().parse_args(["--master", "127.0.0.1:5050"]).ip is None  # main: route_to
    assert parser().parse_args(["--host", "127.0.0.1"]).ip == "127.0.0.1"
    assert parser().parse_args(["--ip", "::1"]).ip == "::1"
    assert route_to("127.0.0.1") == "127.0.0.1"


# ---- a team's dispatcher: its own framework name and role ------------------------------


async def test_a_teams_dispatcher_registers_its_name_and_role_and_runs_drivers_in_it(
        tmp_path) -> None:  # fmt: skip
    d = Dispatcher(MemoryStateStore(), "127.0.0.1:5050", name="team-a-batch", role="team-a")
    drv = FakeDriver()
    d.driver = drv  # type: ignore[assignment]
    d.url = "http://127.0.0.1:7078"
    info = dispatcher_framework_info(d, "fw-7", "127.0.0.1")
    assert (info["name"], info["roles"], info["id"]) == ("team-a-batch", ["team-a"], {"value": "fw-7"})
    assert info["hostname"] == "127.0.0.1"  # the DC/OS CLI's `dcos service` HOST column
    assert {"type": "MULTI_ROLE"} in info["capabilities"] and info["checkpoint"] is True
    assert info["webui_url"] == "http://127.0.0.1:7078/"
    script = tmp_path / "job.py"
    script.write_text("print(1)\n")
    await d.submit({"script": str(script), "driver_cpus": 0.5, "driver_mem": 256})
    await d.submit({"script": str(script), "driver_cpus": 0.5, "driver_mem": 256,
                    "conf": {"spark.mesos.role": "other"}})  # fmt: skip
    team = Offer(make_offer("o1", agent_id="a1", resources="cpus:2;mem:2048", role="team-a"))
    await d.resource_offers(drv, [team])  # type: ignore[arg-type]
    [launch] = [a for a in drv.applied if isinstance(a, Launch)]
    assert len(launch.tasks) == 2
    for task in launch.tasks:
        assert {r["allocation_info"]["role"] for r in task["resources"]} == {"team-a"}
    confs = [json.loads(next(v["value"] for v in t["command"]["environment"]["variables"]
                             if v["name"] == "DCOS_BATCH_CONF")) for t in launch.tasks]  # fmt: skip
    assert sorted(c["spark.mesos.role"] for c in confs) == ["other", "team-a"]  # its own wins
    assert drv.applied[-1] == Suppress(("team-a",))  # nothing queued: suppress its role
    async with api(d) as client:
        health = await (await client.get("/health")).json()
    assert (health["name"], health["role"]) == ("team-a-batch", "team-a")


async def test_the_default_dispatcher_keeps_its_name_and_leaves_drivers_roles_alone(
        tmp_path) -> None:  # fmt: skip
    d, drv = await dispatcher(tmp_path, 0.5)
    assert dispatcher_framework_info(d, None)["name"] == "batch-dispatcher"
    assert dispatcher_framework_info(d, None)["roles"] == ["*"]
    await d.resource_offers(drv, [offer("o1", "a1", 1.0)])  # type: ignore[arg-type]
    [launch] = [a for a in drv.applied if isinstance(a, Launch)]
    env = {v["name"]: v["value"] for v in launch.tasks[0]["command"]["environment"]["variables"]}
    assert "spark.mesos.role" not in json.loads(env["DCOS_BATCH_CONF"])


def test_name_and_role_flags_default_as_before_and_bad_ones_are_usage_errors(capsys) -> None:
    args = parser().parse_args([])
    assert (args.framework_name, args.role) == ("batch-dispatcher", "*")
    args = parser().parse_args(["--framework-name", "team-a-batch", "--role", "team-a/etl"])
    assert (args.framework_name, args.role) == ("team-a-batch", "team-a/etl")
    for bad, why in ((["--role", "-x"], "--role"), (["--role", "a b"], "--role"),
                     (["--framework-name", " "], "--framework-name")):  # fmt: skip
        with pytest.raises(SystemExit) as exc:
            main(["--master", "127.0.0.1:5050", "--work-dir", str(Path("/nonexistent")), *bad])
        assert exc.value.code == 2
        assert why in capsys.readouterr().err
