"""The driver's sans-IO core: master addresses, backoff, SUBSCRIBE answers, event decoding."""

from __future__ import annotations

import random

import pytest

from dcos.sdk import calls
from dcos.sdk.core import (
    Abort,
    Backoff,
    Connected,
    Dispatch,
    DriverCore,
    MasterAddress,
    MasterAddressError,
    Redirect,
    Retry,
    parse_master,
)


@pytest.mark.parametrize(
    "text,expected",
    [
        ("127.0.0.1:5050", MasterAddress("http", "127.0.0.1", 5050)),
        ("master.local", MasterAddress("http", "master.local", 5050)),
        ("http://m1:5051", MasterAddress("http", "m1", 5051)),
        ("https://m1:5051/", MasterAddress("https", "m1", 5051)),
        ("//10.0.0.2:5050", MasterAddress("http", "10.0.0.2", 5050)),
        ("[::1]:5050", MasterAddress("http", "::1", 5050)),
    ],
)
def test_master_addresses(text, expected):
    assert parse_master(text) == expected


def test_master_url_and_bad_addresses():
    assert parse_master("m:1").url == "http://m:1"
    assert parse_master("[::1]:5050").url == "http://[::1]:5050"
    for bad in ("", "zk://zk1:2181/mesos", "m:notaport"):
        with pytest.raises(MasterAddressError):
            parse_master(bad)


def test_backoff_doubles_to_the_cap_with_jitter_and_resets():
    b = Backoff(0.1, 10.0, rng=random.Random(7))
    delays = [b.next() for _ in range(12)]
    caps = [min(10.0, 0.1 * 2**n) for n in range(12)]
    assert all(c / 2 <= d <= c for d, c in zip(delays, caps, strict=True))
    assert delays[-1] >= 5.0
    b.reset()
    assert b.next() <= 0.1


def core(**kw) -> DriverCore:
    return DriverCore.create(
        {"name": "f"}, "m1:5050", backoff=Backoff(1, 8, rng=random.Random(1)), **kw
    )


def test_framework_info_defaults_and_failover_timeout():
    c = core(failover_timeout=3600)
    assert c.framework_info["user"] and c.framework_info["failover_timeout"] == 3600.0
    assert c.subscribe_body() == {
        "type": "SUBSCRIBE",
        "subscribe": {"framework_info": c.framework_info},
    }
    c.framework_id = "fw"  # type: ignore[assignment]
    body = c.subscribe_body()
    assert body["framework_id"] == {"value": "fw"}
    assert body["subscribe"]["framework_info"]["id"] == {"value": "fw"}


def test_subscribe_answers_are_classified():
    c = core()
    assert c.next_delay() == 0.0
    assert isinstance(c.on_subscribe_response(503, None, None, "", 0), Retry)
    assert c.next_delay() >= 0.5  # backoff after a failed attempt
    out = c.on_subscribe_response(307, "//m2:5050", None, "", 0)
    assert out == Redirect(MasterAddress("http", "m2", 5050)) and c.master.host == "m2"
    assert c.next_delay() == 0.0  # follow a redirect at once
    assert isinstance(c.on_subscribe_response(401, None, None, "no", 0), Abort)
    assert c.on_subscribe_response(200, None, "s-1", "", 5.0) == Connected("s-1")
    assert c.connected and not c.subscribed and c.heartbeat_deadline() == 5.0 + 45.0


def subscribed(c: DriverCore, fid: str = "fw-1") -> list:
    c.on_subscribe_response(200, None, "s", "", 0)
    return c.on_event(
        {
            "type": "SUBSCRIBED",
            "subscribed": {"framework_id": {"value": fid}, "heartbeat_interval_seconds": 2},
        },
        1.0,
    )


def test_registered_then_reregistered_and_disconnected():
    c = core()
    assert c.next_delay() == 0.0  # the first attempt
    [d] = subscribed(c)
    assert d.method == "registered" and d.args[0] == "fw-1"
    assert d.args[1] == {"hostname": "m1", "port": 5050}
    assert c.heartbeat_deadline() == 1.0 + 6.0
    assert c.on_disconnected() == [Dispatch("disconnected")]
    assert 0.5 <= c.next_delay() <= 1.0  # backoff restarted from its first step
    [d] = subscribed(c)
    assert d.method == "reregistered"
    c.on_subscribe_response(503, None, None, "", 0)
    c.on_disconnected()
    assert c.on_disconnected() == []  # not subscribed: nothing to tell the scheduler


def test_updates_carry_acks_only_with_uuid():
    c = core()
    subscribed(c)
    st = {
        "task_id": {"value": "t"},
        "state": "TASK_RUNNING",
        "agent_id": {"value": "a"},
        "uuid": "dQ==",
    }
    [d] = c.on_event({"type": "UPDATE", "update": {"status": st}}, 2)
    assert d.ack == calls.acknowledge("fw-1", "a", "t", "dQ==")
    del st["uuid"]
    [d] = c.on_event({"type": "UPDATE", "update": {"status": st}}, 2)
    assert d.ack is None
    c2 = core(implicit_acknowledgements=False)
    subscribed(c2)
    [d] = c2.on_event({"type": "UPDATE", "update": {"status": dict(st, uuid="dQ==")}}, 2)
    assert d.ack is None


def test_malformed_events_are_ignored():
    c = core()
    subscribed(c)
    for bad in (
        [],
        {"type": "UPDATE"},
        {"type": "UPDATE", "update": {"status": {}}},
        {"type": "RESCIND", "rescind": {}},
        {"type": "MESSAGE", "message": {"data": "%%%"}},
        {"type": "FAILURE", "failure": {}},
        {"type": "SUBSCRIBED", "subscribed": {}},
        {"type": "SOMETHING_NEW", "something_new": {}},
    ):
        assert c.on_event(bad, 3) == []
    assert c.last_event_at == 3


def test_error_event_aborts():
    c = core()
    subscribed(c)
    assert c.on_event({"type": "ERROR", "error": {"message": "bye"}}, 1) == [
        Dispatch("error", ("bye",)),
        Abort("bye"),
    ]
