"""SchedulerDriver against a fake Mesos master (sdk_fakes.FakeMaster) over real HTTP."""

from __future__ import annotations

import asyncio
import base64

import pytest
from aiohttp import web
from sdk_fakes import WAIT, FakeMaster, Recorder

from dcos.common.clock import SimClock
from dcos.sdk import (
    DRIVER_ABORTED,
    DRIVER_STOPPED,
    CallRejected,
    NotConnected,
    Offer,
    Scheduler,
    SchedulerDriver,
    TaskStatus,
)

OFFER = {
    "id": {"value": "o-1"},
    "framework_id": {"value": "fw-0001"},
    "agent_id": {"value": "a-1"},
    "hostname": "host-1",
    "allocation_info": {"role": "*"},
    "resources": [
        {"name": "cpus", "type": "SCALAR", "scalar": {"value": 2.0}, "role": "*"},
        {"name": "mem", "type": "SCALAR", "scalar": {"value": 512.0}, "role": "*"},
        {"name": "ports", "type": "RANGES", "ranges": {"range": [{"begin": 31000, "end": 31009}]}},
    ],
    "attributes": [{"name": "rack", "type": "TEXT", "text": {"value": "r1"}}],
}
UUID = base64.b64encode(b"0123456789abcdef").decode()


def update(task: str, state: str, uuid: str | None = UUID, agent: str | None = "a-1") -> dict:
    status: dict = {"task_id": {"value": task}, "state": state, "source": "SOURCE_AGENT"}
    if agent:
        status["agent_id"] = {"value": agent}
    if uuid:
        status["uuid"] = uuid
    return {"type": "UPDATE", "update": {"status": status}}


async def started(master: FakeMaster, sched: Scheduler | None = None, **kw):
    sched = sched or Recorder()
    driver = SchedulerDriver(sched, {"name": "test-fw", "user": "alice"}, master.address, **kw)
    await driver.start()
    stream = await master.next_stream()
    return driver, sched, stream


async def test_subscribe_sends_mesos_v1_body_and_registers(master: FakeMaster):
    driver, sched, stream = await started(master, failover_timeout=60)
    assert stream.body == {
        "type": "SUBSCRIBE",
        "subscribe": {
            "framework_info": {"name": "test-fw", "user": "alice", "failover_timeout": 60.0}
        },
    }
    assert stream.headers["Content-Type"] == "application/json"
    assert stream.headers["Accept"] == "application/json"
    assert "Mesos-Stream-Id" not in stream.headers
    framework_id, master_info = await sched.next("registered")
    assert framework_id == "fw-0001"
    assert master_info["port"] == master.port
    assert driver.framework_id == "fw-0001" and driver.connected
    await driver.stop(failover=True)


async def test_calls_carry_stream_id_framework_id_and_exact_bodies(master: FakeMaster):
    driver, sched, stream = await started(master)
    await sched.next("registered")
    fid = {"value": "fw-0001"}
    t1 = {"name": "t1", "task_id": {"value": "t1"}, "agent_id": {"value": "a-1"}}
    t2 = {"name": "t2", "task_id": {"value": "t2"}, "agent_id": {"value": "a-1"}}
    cases = [
        (
            driver.decline(["o-1"], refuse_seconds=5),
            {
                "framework_id": fid,
                "type": "DECLINE",
                "decline": {"offer_ids": [{"value": "o-1"}], "filters": {"refuse_seconds": 5.0}},
            },
        ),
        (
            driver.launch([Offer(OFFER)], [t1, t2]),
            {
                "framework_id": fid,
                "type": "ACCEPT",
                "accept": {
                    "offer_ids": [{"value": "o-1"}],
                    "operations": [{"type": "LAUNCH", "launch": {"task_infos": [t1, t2]}}],
                },
            },
        ),
        (
            driver.launch(["o-2"], []),
            {"framework_id": fid, "type": "DECLINE", "decline": {"offer_ids": [{"value": "o-2"}]}},
        ),
        (
            driver.kill("t1"),
            {"framework_id": fid, "type": "KILL", "kill": {"task_id": {"value": "t1"}}},
        ),
        (
            driver.reconcile(),
            {"framework_id": fid, "type": "RECONCILE", "reconcile": {"tasks": []}},
        ),
        (
            driver.reconcile([("t1", "a-1")]),
            {
                "framework_id": fid,
                "type": "RECONCILE",
                "reconcile": {
                    "tasks": [{"task_id": {"value": "t1"}, "agent_id": {"value": "a-1"}}]
                },
            },
        ),
        (driver.suppress(), {"framework_id": fid, "type": "SUPPRESS"}),
        (
            driver.revive(["web"]),
            {"framework_id": fid, "type": "REVIVE", "revive": {"roles": ["web"]}},
        ),
        (
            driver.message("a-1", "e-1", b"hi"),
            {
                "framework_id": fid,
                "type": "MESSAGE",
                "message": {
                    "agent_id": {"value": "a-1"},
                    "executor_id": {"value": "e-1"},
                    "data": "aGk=",
                },
            },
        ),
        (
            driver.shutdown("e-1", "a-1"),
            {
                "framework_id": fid,
                "type": "SHUTDOWN",
                "shutdown": {"executor_id": {"value": "e-1"}, "agent_id": {"value": "a-1"}},
            },
        ),
        (
            driver.request([{"agent_id": {"value": "a-1"}}]),
            {
                "framework_id": fid,
                "type": "REQUEST",
                "request": {"requests": [{"agent_id": {"value": "a-1"}}]},
            },
        ),
    ]
    for coro, expected in cases:
        await coro
        headers, body = await master.next_call()
        assert body == expected
        assert headers["Mesos-Stream-Id"] == stream.stream_id
        assert headers["Content-Type"] == "application/json"
    await driver.stop(failover=True)


async def test_offers_are_delivered_as_offer_views(master: FakeMaster):
    driver, sched, stream = await started(master)
    await sched.next("registered")
    stream.send({"type": "OFFERS", "offers": {"offers": [OFFER]}})
    (offers,) = await sched.next("resource_offers")
    (offer,) = offers
    assert offer == OFFER  # the Mesos JSON dict itself
    assert (offer.id, offer.agent_id, offer.hostname) == ("o-1", "a-1", "host-1")
    assert offer.resources.scalar("cpus") == 2.0
    assert offer.resources.ranges["ports"] == ((31000, 31009),)
    assert offer.attributes == {"rack": "r1"}
    stream.send({"type": "RESCIND", "rescind": {"offer_id": {"value": "o-1"}}})
    assert await sched.next("offer_rescinded") == ("o-1",)
    await driver.stop(failover=True)


async def test_updates_are_acknowledged_implicitly_after_the_callback(master: FakeMaster):
    driver, sched, stream = await started(master)
    await sched.next("registered")
    stream.send(update("t1", "TASK_RUNNING"))
    (status,) = await sched.next("status_update")
    assert isinstance(status, TaskStatus) and status.state == "TASK_RUNNING"
    headers, body = await master.next_call("ACKNOWLEDGE")
    assert body == {
        "framework_id": {"value": "fw-0001"},
        "type": "ACKNOWLEDGE",
        "acknowledge": {"agent_id": {"value": "a-1"}, "task_id": {"value": "t1"}, "uuid": UUID},
    }
    assert headers["Mesos-Stream-Id"] == stream.stream_id
    await driver.stop(failover=True)


async def test_updates_without_uuid_are_not_acknowledged(master: FakeMaster):
    driver, sched, stream = await started(master)
    await sched.next("registered")
    stream.send(update("t1", "TASK_LOST", uuid=None))  # e.g. a reconciliation answer
    stream.send(update("t2", "TASK_RUNNING"))
    await sched.next("status_update")
    await sched.next("status_update")
    _, body = await master.next_call("ACKNOWLEDGE")
    assert body["acknowledge"]["task_id"] == {"value": "t2"}
    assert [c["type"] for c in master.all_calls] == ["ACKNOWLEDGE"]
    await driver.stop(failover=True)


async def test_explicit_acknowledgement(master: FakeMaster):
    driver, sched, stream = await started(master, implicit_acknowledgements=False)
    await sched.next("registered")
    stream.send(update("t1", "TASK_RUNNING"))
    stream.send(update("t2", "TASK_FINISHED", uuid=None))
    (status,) = await sched.next("status_update")
    (status2,) = await sched.next("status_update")
    await driver.acknowledge(status2)  # no uuid: nothing to send
    await driver.acknowledge(status)
    _, body = await master.next_call()
    assert body["type"] == "ACKNOWLEDGE"
    assert body["acknowledge"]["task_id"] == {"value": "t1"}
    assert master.all_calls == [body]
    await driver.stop(failover=True)


async def test_stream_drop_resubscribes_with_framework_id_and_reregisters(master: FakeMaster):
    driver, sched, stream = await started(master, backoff_initial=0.001)
    await sched.next("registered")
    stream.close()
    await sched.next("disconnected")
    stream2 = await master.next_stream()
    assert stream2.body["framework_id"] == {"value": "fw-0001"}
    assert stream2.body["subscribe"]["framework_info"]["id"] == {"value": "fw-0001"}
    assert "Mesos-Stream-Id" not in stream2.headers
    (master_info,) = await sched.next("reregistered")
    assert master_info["port"] == master.port
    assert [name for name, _ in sched.seen] == ["registered", "disconnected", "reregistered"]
    await driver.kill("t1")
    headers, _ = await master.next_call("KILL")
    assert headers["Mesos-Stream-Id"] == stream2.stream_id != stream.stream_id
    await driver.stop(failover=True)


async def test_preset_framework_id_fails_over_and_calls_registered(master: FakeMaster):
    sched = Recorder()
    driver = SchedulerDriver(
        sched, {"name": "f", "id": {"value": "fw-old"}}, f"http://{master.address}"
    )
    await driver.start()
    stream = await master.next_stream()
    assert stream.body["framework_id"] == {"value": "fw-old"}
    assert await sched.next("registered") == ("fw-old", stream_master_info(master))
    await driver.stop(failover=True)


def stream_master_info(master: FakeMaster) -> dict:
    return {"id": "m1", "hostname": "127.0.0.1", "port": master.port}


async def test_redirect_to_leader_is_followed(master: FakeMaster, master2: FakeMaster):
    master.subscribe_answers.append(
        web.Response(status=307, headers={"Location": f"//127.0.0.1:{master2.port}"})
    )
    sched = Recorder()
    driver = SchedulerDriver(sched, {"name": "f"}, master.address)
    await driver.start()
    stream = await master2.next_stream()
    await sched.next("registered")
    assert driver.master.port == master2.port
    await driver.suppress()
    headers, body = await master2.next_call("SUPPRESS")
    assert headers["Mesos-Stream-Id"] == stream.stream_id
    assert master.all_calls == []
    await driver.stop(failover=True)


async def test_unavailable_master_is_retried(master: FakeMaster):
    master.subscribe_answers.append(web.Response(status=503, text="no leader"))
    master.subscribe_answers.append(web.Response(status=503, text="no leader"))
    driver, sched, _ = await started(master, backoff_initial=0.001, backoff_max=0.002)
    await sched.next("registered")
    assert not master.subscribe_answers
    await driver.stop(failover=True)


async def test_refused_subscription_aborts_with_error(master: FakeMaster):
    master.subscribe_answers.append(web.Response(status=400, text="Framework name is empty"))
    sched = Recorder()
    driver = SchedulerDriver(sched, {"name": "f"}, master.address)
    assert await asyncio.wait_for(driver.run(), WAIT) == DRIVER_ABORTED
    (message,) = await sched.next("error")
    assert "Framework name is empty" in message


async def test_error_event_aborts_without_resubscribing(master: FakeMaster):
    driver, sched, stream = await started(master)
    await sched.next("registered")
    stream.send({"type": "ERROR", "error": {"message": "Framework has been removed"}})
    assert await asyncio.wait_for(driver.join(), WAIT) == DRIVER_ABORTED
    assert await sched.next("error") == ("Framework has been removed",)
    assert master.streams.empty()
    assert "disconnected" not in [n for n, _ in sched.seen]


async def test_missed_heartbeats_count_as_disconnection(master: FakeMaster):
    master.heartbeat_interval = 5
    clock = SimClock()
    driver, sched, stream = await started(master, clock=clock)
    await sched.next("registered")
    await clock.advance(16)  # more than 3 heartbeat intervals without any event
    await sched.next("disconnected")
    while clock.pending() == 0:  # the driver is now waiting out its backoff
        await asyncio.sleep(0)
    await clock.advance(0.1)
    stream2 = await master.next_stream()
    assert stream2.body["framework_id"] == {"value": "fw-0001"}
    await sched.next("reregistered")
    await driver.stop(failover=True)


async def test_heartbeats_keep_the_stream_alive(master: FakeMaster):
    master.heartbeat_interval = 5
    clock = SimClock()
    driver, sched, stream = await started(master, clock=clock)
    await sched.next("registered")
    for _ in range(5):
        await clock.advance(10)
        stream.send({"type": "HEARTBEAT"})
        stream.send({"type": "RESCIND", "rescind": {"offer_id": {"value": "o"}}})
        await sched.next("offer_rescinded")
    assert [n for n, _ in sched.seen].count("disconnected") == 0
    await driver.stop(failover=True)


async def test_callbacks_run_one_at_a_time_in_order(master: FakeMaster):
    release = asyncio.Event()
    offers_started = asyncio.Event()
    order: list[str] = []

    class Slow(Recorder):
        async def resource_offers(self, driver, offers):
            order.append("offers-start")
            offers_started.set()
            await release.wait()
            order.append("offers-end")
            raise RuntimeError("a buggy callback")

        async def offer_rescinded(self, driver, offer_id):
            order.append("rescind")
            await super().offer_rescinded(driver, offer_id)

    driver, sched, stream = await started(master, Slow())
    await sched.next("registered")
    stream.send({"type": "OFFERS", "offers": {"offers": [OFFER]}})
    stream.send({"type": "RESCIND", "rescind": {"offer_id": {"value": "o-1"}}})
    stream.send(update("t1", "TASK_RUNNING"))
    await asyncio.wait_for(offers_started.wait(), WAIT)
    while driver._queue.qsize() < 2:  # both later events have reached the driver
        await asyncio.sleep(0)
    assert order == ["offers-start"]
    release.set()
    await sched.next("offer_rescinded")
    await sched.next("status_update")  # the driver survived the exception
    assert order == ["offers-start", "offers-end", "rescind"]
    await master.next_call("ACKNOWLEDGE")
    await driver.stop(failover=True)


async def test_other_events_reach_their_callbacks(master: FakeMaster):
    driver, sched, stream = await started(master)
    await sched.next("registered")
    stream.send(
        {
            "type": "MESSAGE",
            "message": {
                "agent_id": {"value": "a-1"},
                "executor_id": {"value": "e-1"},
                "data": "aGk=",
            },
        }
    )
    stream.send({"type": "FAILURE", "failure": {"agent_id": {"value": "a-2"}}})
    stream.send(
        {
            "type": "FAILURE",
            "failure": {
                "agent_id": {"value": "a-1"},
                "executor_id": {"value": "e-1"},
                "status": 137,
            },
        }
    )
    stream.send({"type": "UPDATE_OPERATION_STATUS", "update_operation_status": {}})
    assert await sched.next("framework_message") == ("e-1", "a-1", b"hi")
    assert await sched.next("agent_lost") == ("a-2",)
    assert await sched.next("executor_lost") == ("e-1", "a-1", 137)
    await driver.stop(failover=True)


async def test_stop_tears_down_unless_failing_over(master: FakeMaster):
    driver, sched, _ = await started(master)
    await sched.next("registered")
    assert await driver.stop() == DRIVER_STOPPED
    _, body = await master.next_call()
    assert body == {"framework_id": {"value": "fw-0001"}, "type": "TEARDOWN"}
    assert await driver.join() == DRIVER_STOPPED

    driver2, sched2, _ = await started(master)
    await sched2.next("registered")
    await driver2.stop(failover=True)
    assert master.calls.empty()


async def test_stop_from_inside_a_callback(master: FakeMaster):
    class StopOnOffers(Recorder):
        async def resource_offers(self, driver, offers):
            await driver.decline(offers, refuse_seconds=1)
            await driver.stop()

    driver, sched, stream = await started(master, StopOnOffers())
    await sched.next("registered")
    stream.send({"type": "OFFERS", "offers": {"offers": [OFFER]}})
    assert await asyncio.wait_for(driver.join(), WAIT) == DRIVER_STOPPED
    assert [c["type"] for c in master.all_calls] == ["DECLINE", "TEARDOWN"]


async def test_calls_fail_clearly_when_not_subscribed_or_rejected(master: FakeMaster):
    sched = Recorder()
    driver = SchedulerDriver(sched, {"name": "f"}, master.address)
    with pytest.raises(NotConnected):
        await driver.revive()
    await driver.start()
    await sched.next("registered")
    master.call_status = 400
    with pytest.raises(CallRejected) as info:
        await driver.revive()
    assert info.value.status == 400 and info.value.message == "bad call"
    await driver.stop(failover=True)
    with pytest.raises(NotConnected):
        await driver.revive()
