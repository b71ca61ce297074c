"""The framework layer (dcos/sdk/framework.py): actions through driver.apply, the
FrameworkInfo builder, suppression tracking, reconciliation, background tasks."""

from __future__ import annotations

import asyncio
import logging

from sdk_fakes import FakeMaster, Recorder

from dcos.sdk import (
    BackgroundTasks,
    Decline,
    FrameworkScheduler,
    Kill,
    Launch,
    NotConnected,
    Reconcile,
    Revive,
    SchedulerDriver,
    Suppress,
    SuppressionTracker,
    framework_info,
    reconcile_actions,
)

FID = {"value": "fw-0001"}
TASK = {"name": "t1", "task_id": {"value": "t1"}, "agent_id": {"value": "a-1"}}


def test_framework_info_adds_multi_role_with_roles_and_wraps_labels():
    info = framework_info(
        "web",
        roles=["web"],
        capabilities=["PARTITION_AWARE", "TASK_KILLING_STATE"],
        webui_url="http://h:8080",
        labels={"k": "v"},
        failover_timeout=60,
        checkpoint=True,
        framework_id="fw-9",
    )
    assert info == {
        "name": "web",
        "roles": ["web"],
        "capabilities": [
            {"type": "PARTITION_AWARE"},
            {"type": "TASK_KILLING_STATE"},
            {"type": "MULTI_ROLE"},
        ],
        "webui_url": "http://h:8080",
        "labels": {"labels": [{"key": "k", "value": "v"}]},
        "failover_timeout": 60.0,
        "checkpoint": True,
        "id": {"value": "fw-9"},
    }
    assert framework_info("plain") == {"name": "plain"}


def test_suppression_tracker_suppresses_once_revives_once_and_resets_on_resubscribe():
    t = SuppressionTracker(roles=["r"])
    assert t.update(True) == []
    assert t.update(False, may_suppress=False) == []  # e.g. a relaunch backoff is pending
    assert t.update(False) == [Suppress(("r",))]
    assert t.update(False) == []
    assert t.update(True) == [Revive(("r",))]
    assert t.update(True) == []
    t.update(False)
    t.resubscribed()  # a new subscription starts unsuppressed: suppress again
    assert t.update(False) == [Suppress(("r",))]
    assert t.revive() == [Revive(("r",))] and not t.suppressed


def test_reconcile_actions_explicit_then_implicit():
    assert reconcile_actions([("t1", "a1")]) == [Reconcile((("t1", "a1"),)), Reconcile()]
    assert reconcile_actions() == [Reconcile()]
    assert reconcile_actions(["t1"], implicit=False) == [Reconcile(("t1",))]


async def test_apply_sends_every_action_as_its_call(master: FakeMaster):
    sched = Recorder()
    driver = SchedulerDriver(sched, framework_info("fw"), master.address)
    await driver.start()
    await master.next_stream()
    await sched.next("registered")
    results = await driver.apply(
        [
            Launch(["o-1"], [TASK], refuse_seconds=5),
            Decline(["o-2"], refuse_seconds=60),
            Kill("t2", "a-1"),
            Suppress(),
            Revive(("web",)),
            Reconcile((("t1", "a-1"),)),
        ]
    )
    assert results == [None] * 6
    bodies = {}
    for _ in range(6):
        _, body = await master.next_call()
        bodies[body["type"]] = body
    assert bodies["ACCEPT"]["accept"] == {
        "offer_ids": [{"value": "o-1"}],
        "operations": [{"type": "LAUNCH", "launch": {"task_infos": [TASK]}}],
        "filters": {"refuse_seconds": 5.0},
    }
    assert bodies["DECLINE"]["decline"] == {
        "offer_ids": [{"value": "o-2"}],
        "filters": {"refuse_seconds": 60.0},
    }
    assert bodies["KILL"]["kill"] == {"task_id": {"value": "t2"}, "agent_id": {"value": "a-1"}}
    assert bodies["SUPPRESS"] == {"framework_id": FID, "type": "SUPPRESS"}
    assert bodies["REVIVE"]["revive"] == {"roles": ["web"]}
    assert bodies["RECONCILE"]["reconcile"] == {
        "tasks": [{"task_id": {"value": "t1"}, "agent_id": {"value": "a-1"}}]
    }
    await driver.stop(failover=True)


async def test_apply_logs_and_returns_failures_without_raising(master: FakeMaster, caplog):
    driver = SchedulerDriver(Recorder(), {"name": "fw"}, master.address)
    with caplog.at_level(logging.INFO, logger="dcos.sdk.framework"):
        results = await driver.apply([Kill("t1"), Suppress()])  # not started: not connected
    assert all(isinstance(r, NotConnected) for r in results)
    assert "Kill not sent" in caplog.text and "Suppress not sent" in caplog.text
    assert await driver.apply([]) == []


class Tracking(FrameworkScheduler):
    def __init__(self) -> None:
        super().__init__(roles=["web"])
        self.subscriptions: list[bool] = []

    def known_tasks(self):
        return [("t1", "a-1")]

    async def subscribed(self, driver, first):
        self.subscriptions.append(first)


async def test_framework_scheduler_reconciles_and_unsuppresses_on_every_subscription(
    master: FakeMaster,
):
    sched = Tracking()
    driver = SchedulerDriver(sched, framework_info("fw", roles=["web"]), master.address)
    await driver.start()
    stream = await master.next_stream()
    _, explicit = await master.next_call("RECONCILE")
    _, implicit = await master.next_call("RECONCILE")
    assert explicit["reconcile"]["tasks"] == [
        {"task_id": {"value": "t1"}, "agent_id": {"value": "a-1"}}
    ]
    assert implicit["reconcile"]["tasks"] == []
    await sched.demand(driver, False)
    _, body = await master.next_call("SUPPRESS")
    assert body["suppress"] == {"roles": ["web"]}
    stream.close()  # the driver re-subscribes: suppression is forgotten, reconcile again
    await master.next_stream()
    await master.next_call("RECONCILE")
    await master.next_call("RECONCILE")
    assert not sched.suppression.suppressed
    await sched.demand(driver, False)
    await master.next_call("SUPPRESS")
    for _ in range(100):
        if len(sched.subscriptions) == 2:
            break
        await asyncio.sleep(0.01)
    assert sched.subscriptions == [True, False]
    await driver.stop(failover=True)


async def test_background_tasks_keep_references_log_failures_and_close(caplog):
    bg = BackgroundTasks()
    done = asyncio.Event()

    async def fail() -> None:
        raise NotConnected("gone")

    async def forever() -> None:
        await done.wait()

    with caplog.at_level(logging.INFO, logger="dcos.sdk.framework"):
        t = bg.spawn(fail(), name="failing-call")
        bg.spawn(forever())
        assert len(bg) == 2
        await asyncio.wait([t])
        await asyncio.sleep(0)
    assert "failing-call: gone" in caplog.text
    assert len(bg) == 1
    await bg.close()
    assert len(bg) == 0


async def test_apply_soon_keeps_the_task_until_it_ends(master: FakeMaster):
    driver = SchedulerDriver(Recorder(), {"name": "fw"}, master.address)
    task = driver.apply_soon([Kill("t1")])
    assert task in driver._background
    assert isinstance((await task)[0], NotConnected)
