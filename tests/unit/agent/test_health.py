"""Health checks: spec parsing, the checker core (Mesos semantics), the runner's timing on a
simulated clock, the real probes, and the agent core's health updates and kill."""

from __future__ import annotations

import asyncio
import os

import pytest
from aiohttp import web

from dcos.agent.command_executor import LaunchRefused
from dcos.agent.containerizer import LaunchResult, Termination
from dcos.agent.core import AgentCore, AgentInfo, Destroy, events
from dcos.agent.health import (
    HealthChanged,
    HealthChecker,
    HealthCheckError,
    HealthCheckSpec,
    KillTask,
)
from dcos.agent.health_runner import HealthRunner, probe_command, probe_http, probe_tcp
from dcos.common.clock import SimClock
from dcos.protocol.resources import Resources
from dcos.testing import free_port
from dcos.testing.agent import (
    exited,
    feed,
    launched,
    update_call,
)

from .conftest import FRAMEWORK, make_task


def spec(**kw) -> HealthCheckSpec:
    base = {"type": "HTTP", "http": {"port": 31000, "path": "/health"}}
    base.update(kw)
    return HealthCheckSpec.parse(base)


# -- spec ---------------------------------------------------------------------------------


def test_spec_defaults_are_mesos_defaults():
    s = spec()
    assert (s.delay, s.interval, s.timeout, s.consecutive_failures, s.grace_period) == (
        15.0, 10.0, 20.0, 3, 10.0,
    )  # fmt: skip
    assert s.describe() == "HTTP GET 127.0.0.1:31000/health"


def test_spec_accepts_old_form_without_type_and_tcp_and_command():
    assert HealthCheckSpec.parse({"command": {"value": "true"}}).kind == "COMMAND"
    assert HealthCheckSpec.parse({"http": {"port": 80}}).kind == "HTTP"
    tcp = HealthCheckSpec.parse({"type": "TCP", "tcp": {"port": 9}})
    assert tcp.describe() == "TCP connect 127.0.0.1:9"


@pytest.mark.parametrize(
    "bad",
    [
        {"type": "HTTP"},
        {"type": "HTTP", "http": {"port": 0}},
        {"type": "TCP", "tcp": {}},
        {"type": "COMMAND", "command": {"value": " "}},
        {"type": "GRPC", "grpc": {}},
        {"type": "TCP", "tcp": {"port": 9}, "consecutive_failures": 0},
        {"type": "TCP", "tcp": {"port": 9}, "interval_seconds": -1},
    ],
)
def test_bad_spec_is_refused_before_launch(bad, tmp_path):
    with pytest.raises(HealthCheckError):
        HealthCheckSpec.parse(bad)
    task = make_task() | {"health_check": bad}
    from dcos.agent.command_executor import build_config

    with pytest.raises(LaunchRefused, match="invalid health check"):
        build_config(task, framework_id="f", agent_id="a", container_id="c",
                     work_dir=str(tmp_path), agent_endpoint="x:1", hostname="h")  # fmt: skip


def test_http_statuses():
    assert spec().http_ok(200) and spec().http_ok(302) and not spec().http_ok(500)
    only = spec(http={"port": 1, "statuses": [503]})
    assert only.http_ok(503) and not only.http_ok(200)


# -- checker core -------------------------------------------------------------------------


def test_failures_in_grace_period_do_not_count_until_first_success():
    c = HealthChecker(spec(grace_period_seconds=10, consecutive_failures=2), started_at=0)
    assert c.result(5, False, "returned 500") == []  # in grace: ignored
    assert c.result(9, False, "returned 500") == []
    assert c.consecutive_failures == 0
    assert c.result(11, False, "returned 500") == [HealthChanged(False)]
    [kill] = [d for d in c.result(12, False, "returned 500") if isinstance(d, KillTask)]
    assert kill.message == (
        "Health check failed: HTTP GET 127.0.0.1:31000/health returned 500 "
        "(2 consecutive failures)"
    )
    assert c.result(13, False, "x") == []  # killed once


def test_after_first_success_grace_no_longer_applies():
    c = HealthChecker(spec(grace_period_seconds=100, consecutive_failures=1), started_at=0)
    assert c.result(1, True, "returned 200") == [HealthChanged(True)]
    assert c.result(2, True, "returned 200") == []  # no change, no update
    out = c.result(3, False, "returned 500")
    assert out[0] == HealthChanged(False) and isinstance(out[1], KillTask)


def test_success_resets_consecutive_failures():
    c = HealthChecker(spec(grace_period_seconds=0, consecutive_failures=3), started_at=0)
    c.result(1, False, "a")
    c.result(2, False, "b")
    assert c.result(3, True, "ok") == [HealthChanged(True)]
    assert c.consecutive_failures == 0
    assert c.result(4, False, "c") == [HealthChanged(False)]
    assert c.result(5, False, "d") == []
    assert isinstance(c.result(6, False, "timed out after 1s")[-1], KillTask)


def test_timeout_counts_as_failure():
    c = HealthChecker(spec(grace_period_seconds=0, consecutive_failures=1), started_at=0)
    [_, kill] = c.result(1, False, "timed out after 2s")
    assert isinstance(kill, KillTask) and "timed out after 2s (1 consecutive failure)" in kill.message


def test_schedule_delay_then_interval_after_finish():
    c = HealthChecker(spec(delay_seconds=3, interval_seconds=7), started_at=100)
    assert c.first_check_at() == 103
    assert c.next_check_at(105.5) == 112.5


# -- runner timing on a simulated clock ---------------------------------------------------


class ScriptedRunner(HealthRunner):
    def __init__(self, results, clock):
        self.events: list[tuple[float, object]] = []
        super().__init__(
            lambda cid, h: self.events.append((clock.time(), h)),
            lambda cid, m: self.events.append((clock.time(), m)),
            clock,
        )
        self.results = list(results)
        self.probes: list[float] = []

    async def probe(self, spec, sandbox, env, container_id=None):
        self.probes.append(self.clock.time())
        return self.results.pop(0)


async def test_runner_checks_after_delay_then_every_interval_and_kills():
    clock = SimClock(start=0)
    r = ScriptedRunner([(True, "ok"), (False, "returned 500"), (False, "returned 500")], clock)
    s = spec(delay_seconds=2, interval_seconds=5, consecutive_failures=2, grace_period_seconds=0)
    r.start("c1", s, "/tmp", {})
    await clock.advance(1.9)
    assert r.probes == []
    await clock.advance(20)
    assert r.probes == [2, 7, 12]
    assert r.events[0] == (2, True)
    assert r.events[1] == (7, False)
    assert r.events[2][0] == 12 and "2 consecutive failures" in str(r.events[2][1])
    assert clock.pending() == 0  # stopped after the kill
    await r.close()


async def test_runner_stop_cancels_checks():
    clock = SimClock(start=0)
    r = ScriptedRunner([(True, "ok")] * 10, clock)
    r.start("c1", spec(delay_seconds=1, interval_seconds=1), "/tmp", {})
    await clock.advance(1.5)
    r.stop("c1")
    await clock.advance(10)
    assert r.probes == [1]
    await r.close()


# -- real probes ---------------------------------------------------------------------------


async def test_probe_http_statuses_and_refused():
    async def handler(request):
        return web.Response(status=int(request.query.get("s", "200")))

    app = web.Application()
    app.router.add_get("/h", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    import aiohttp

    async with aiohttp.ClientSession() as session:
        try:
            assert await probe_http(spec(http={"port": port, "path": "/h"}), session) == (
                True, "returned 200",
            )  # fmt: skip
            bad = spec(http={"port": port, "path": "/h?s=500"})
            assert await probe_http(bad, session) == (False, "returned 500")
        finally:
            await runner.cleanup()
        ok, detail = await probe_http(spec(http={"port": port, "path": "/h"}), session)
        assert not ok and detail.startswith("failed:")


async def test_probe_tcp_connects_and_fails_on_closed_port():
    server = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        assert await probe_tcp(HealthCheckSpec.parse({"tcp": {"port": port}})) == (True, "connected")
    ok, detail = await probe_tcp(HealthCheckSpec.parse({"tcp": {"port": free_port()}}))
    assert not ok and "refused" in detail.lower()


async def test_probe_command_runs_in_sandbox_with_task_env(tmp_path):
    (tmp_path / "marker").write_text("x")
    s = HealthCheckSpec.parse({"command": {"value": 'test -f marker && test "$TASK_VAR" = 7'}})
    assert await probe_command(s, str(tmp_path), {"TASK_VAR": "7", "PATH": os.environ["PATH"]}) \
        == (True, "exited with status 0")  # fmt: skip
    assert (await probe_command(s, str(tmp_path), {"PATH": os.environ["PATH"]}))[0] is False


async def test_probe_command_timeout_kills_its_process_group(tmp_path):
    pidfile = tmp_path / "child.pid"
    s = HealthCheckSpec.parse({
        "command": {"value": f"sleep 30 & echo $! > {pidfile}; wait"}, "timeout_seconds": 0.3,
    })  # fmt: skip
    ok, detail = await probe_command(s, str(tmp_path), {"PATH": os.environ["PATH"]})
    assert (ok, detail) == (False, "timed out after 0.3s")
    child = int(pidfile.read_text())
    # the background sleep was in the check's group: it is gone (or a zombie being reaped)
    try:
        with open(f"/proc/{child}/stat") as f:
            assert f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        pass


# -- agent core: healthy updates and the health kill ---------------------------------------


def _core(tmp_path) -> AgentCore:
    info = AgentInfo("h1", "127.0.0.1", 5051, Resources.parse("cpus:4;mem:4096"))
    core = AgentCore(info, str(tmp_path), base_env={})
    feed(core, {"type": "REGISTERED", "agent_id": "a1", "master_id": "m1"}, 0)
    return core


def _drain(core, now):
    out = []
    while (call := update_call(core, now)) is not None:
        for u in call["updates"]:
            out.append(u["status"])
            feed(core, {"type": "ACKNOWLEDGE", "framework_id": "fw-1",
                               "task_id": u["status"]["task_id"]["value"],
                               "uuid": u["status"]["uuid"]}, now)  # fmt: skip
    return out


def test_core_sends_healthy_updates_and_kills_with_reason(tmp_path):
    core = _core(tmp_path)
    task = make_task() | {"health_check": {"type": "TCP", "tcp": {"port": 9}}}
    [launch] = feed(core, {"type": "RUN_TASKS", "framework": FRAMEWORK, "tasks": [task]}, 0)
    cid = launch.container_id
    launched(core, cid, LaunchResult(True, pid=1), 1)
    assert [s["state"] for s in _drain(core, 1)] == ["TASK_STARTING", "TASK_RUNNING"]
    feed(core, events.HealthChanged(cid, True), 2)
    [up] = _drain(core, 2)
    assert (up["state"], up["healthy"], up["reason"]) == (
        "TASK_RUNNING", True, "REASON_TASK_HEALTH_CHECK_STATUS_UPDATED",
    )  # fmt: skip
    feed(core, events.HealthChanged(cid, False), 3)
    assert _drain(core, 3)[0]["healthy"] is False
    msg = "Health check failed: TCP connect 127.0.0.1:9 failed: refused (3 consecutive failures)"
    actions = feed(core, events.HealthFailed(cid, msg), 4)
    assert actions == [Destroy(cid, 3.0)]
    exited(core, cid, Termination(signal=15), 5)
    [last] = _drain(core, 5)
    assert last["state"] == "TASK_KILLED"
    assert last["healthy"] is False
    assert last["reason"] == "REASON_TASK_HEALTH_CHECK_STATUS_UPDATED"
    assert last["message"] == msg
