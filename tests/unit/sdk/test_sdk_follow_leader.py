"""The scheduler driver follows the leading master its detector names (a `FakeDetector`
stands for ZooKeeper here; tests/integration/test_follow_leader.py uses a real one), and
the sans-IO core's part of it."""

from __future__ import annotations

import asyncio
import random

import pytest
from aiohttp import web
from sdk_fakes import WAIT, Recorder

from dcos.common.addresses import MasterAddress
from dcos.common.backoff import Backoff
from dcos.sdk import SchedulerDriver
from dcos.sdk.core import DriverCore
from dcos.testing.detector import FakeDetector

INFO = {"name": "test-fw", "user": "alice"}


def _driver(detector: FakeDetector, **kw) -> tuple[SchedulerDriver, Recorder]:
    sched = Recorder()
    kw.setdefault("backoff_initial", 0.01)
    kw.setdefault("backoff_max", 0.02)
    return SchedulerDriver(sched, INFO, "zk://127.0.0.1:1/dcos", detector=detector, **kw), sched


async def _until(check) -> None:
    async with asyncio.timeout(WAIT):
        while not check():
            await asyncio.sleep(0.01)


async def test_a_new_leader_gets_a_failover_subscription_on_its_own(master, master2):
    detector = FakeDetector(master.address)
    driver, sched = _driver(detector)
    await driver.start()
    try:
        first = await master.next_stream()
        assert "framework_id" not in first.body
        assert (await sched.next("registered"))[0] == "fw-0001"

        detector.set_leader(master2.address)  # master 1 is still up: the driver leaves it
        second = await master2.next_stream()
        assert second.body["framework_id"] == {"value": "fw-0001"}
        assert second.body["subscribe"]["framework_info"]["id"] == {"value": "fw-0001"}
        await sched.next("disconnected")
        (master_info,) = await sched.next("reregistered")
        assert master_info["port"] == master2.port
        assert driver.master == MasterAddress("http", "127.0.0.1", master2.port)

        await driver.revive()
        headers, _ = await master2.next_call("REVIVE")
        assert headers["Mesos-Stream-Id"] == second.stream_id
        assert master.all_calls == []
        assert [name for name, _ in sched.seen] == ["registered", "disconnected", "reregistered"]
    finally:
        await driver.stop(failover=True)
    assert detector.started == 1 and not detector.closed  # given detectors stay the giver's


async def test_no_leader_means_waiting_then_subscribing_to_the_one_named(master):
    detector = FakeDetector(None, start_failures=1)
    driver, sched = _driver(detector)
    await driver.start()
    try:
        await _until(lambda: detector.waiting == 1)
        assert driver.master is None and not driver.connected
        await asyncio.sleep(0.1)  # many backoff periods: a polling loop would ask again
        assert detector.changed_calls == 1 and master.streams.empty()
        detector.set_leader(master.address)
        await master.next_stream()
        await sched.next("registered")

        detector.set_leader(None)  # the leader is gone: stream dropped, driver waits
        await sched.next("disconnected")
        await _until(lambda: detector.waiting == 1 and driver.master is None)
        detector.set_leader(master.address)
        again = await master.next_stream()
        assert again.body["framework_id"] == {"value": "fw-0001"}
        await sched.next("reregistered")
    finally:
        await driver.stop(failover=True)


async def test_a_backoff_wait_ends_when_another_master_leads(master, master2):
    master.subscribe_answers.append(web.Response(status=503, text="no leader yet"))
    detector = FakeDetector(master.address)
    driver, sched = _driver(detector, backoff_initial=60, backoff_max=60)
    await driver.start()
    try:
        await _until(lambda: not master.subscribe_answers)  # the 503 was served: 30-60 s wait
        detector.set_leader(master2.address)
        await master2.next_stream()  # at once, not after the backoff
        await sched.next("registered")
    finally:
        await driver.stop(failover=True)


async def test_an_unreachable_redirect_target_sends_the_driver_back_to_its_master(master):
    dead = MasterAddress("http", "127.0.0.1", _closed_port())
    master.subscribe_answers.append(
        web.Response(status=307, headers={"Location": f"//{dead.hostport}"})
    )
    driver = SchedulerDriver(Recorder(), INFO, master.address, backoff_initial=0.01,
                             backoff_max=0.02)  # fmt: skip
    await driver.start()
    try:
        await master.next_stream()  # back to the master given, which now accepts
        assert driver.master == MasterAddress("http", "127.0.0.1", master.port)
    finally:
        await driver.stop(failover=True)


def test_a_zookeeper_master_makes_a_zookeeper_detector():
    from dcos.state.detector import ZooKeeperDetector

    driver = SchedulerDriver(Recorder(), INFO, "mesos://zk://127.0.0.1:2181,127.0.0.2:2181/dcos")
    assert isinstance(driver._detector, ZooKeeperDetector)
    assert driver.master is None
    with pytest.raises(ValueError, match="zk://"):
        SchedulerDriver(Recorder(), INFO, "zk://127.0.0.1:2181")


def test_core_on_leader_aims_the_next_subscribe_at_once():
    core = DriverCore.create({"name": "f"}, None, backoff=Backoff(1, 8, rng=random.Random(1)))
    assert core.master is None
    assert core.next_delay() == 0.0 and core.next_delay() >= 0.5
    assert core.next_delay() >= 1.0 and core.backoff.attempts == 2
    new = MasterAddress("http", "m2", 5050)
    core.on_leader(new)
    assert core.master == new and core.next_delay() == 0.0
    assert core.next_delay() <= 1.0  # the backoff starts again for the new leader
    core.on_leader(None)
    assert core.master is None


def _closed_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
