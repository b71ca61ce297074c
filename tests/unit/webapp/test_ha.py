"""The webapp's leader/follower logic: `route` (where a request goes), `LeaderRecord`, and
`LeaderLoop` with two real `WebappService`s on an in-memory election and fenced store
(`ha_fakes`): one leads, the other stands by and takes over with the stored state; a fenced
write or a lost leadership stops the leader at once; abdication hands over."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from dcos.state import MemoryStateStore
from frameworks.webapp.actions import Deploy
from frameworks.webapp.api.http import parse_app
from frameworks.webapp.ha import (
    HaState,
    LeaderRecord,
    Loop,
    Proxy,
    Serve,
    SoloElection,
    Unavailable,
    is_local,
    route,
)  # fmt: skip
from frameworks.webapp.leading import LeaderLoop
from frameworks.webapp.scheduler import WebappService
from frameworks.webapp.store import NotLeading, WebappStore
from tests.unit.webapp.ha_fakes import FakeElection, FakeEnsemble, FencedStore

ME = LeaderRecord("me", "10.0.0.1", 8080, "http://10.0.0.1:8080", "1")
OTHER = LeaderRecord("other", "10.0.0.2", 8080, "http://10.0.0.2:8080", "1")


# -- route: pure ----------------------------------------------------------------------------


def test_the_leader_serves_everything():
    st = HaState(ME, leading=True, leader=ME)
    for method, path in [("GET", "/v2/apps"), ("POST", "/v2/apps"), ("DELETE", "/v2/leader"),
                         ("GET", "/v2/events"), ("GET", "/ping")]:  # fmt: skip
        assert route(st, method, path) == Serve()


def test_a_follower_proxies_v2_to_the_leader_and_answers_the_local_paths():
    st = HaState(ME, leading=False, leader=OTHER)
    for method, path in [("GET", "/v2/apps"), ("POST", "/v2/apps"), ("PUT", "/v2/apps/a"),
                         ("GET", "/v2/events"), ("DELETE", "/v2/leader"), ("GET", "/v2/groups/x")]:  # fmt: skip
        assert route(st, method, path) == Proxy("http://10.0.0.2:8080")
    for method, path in [("GET", "/ping"), ("GET", "/v2/leader"), ("GET", "/v2/info"),
                         ("GET", "/metrics"), ("GET", "/debug/stimuli"), ("GET", "/nope")]:  # fmt: skip
        assert route(st, method, path) == Serve(), path
    assert is_local("GET", "/v2/leader/") and not is_local("DELETE", "/v2/leader")


def test_no_known_leader_is_unavailable_and_a_stale_self_record_is_no_leader():
    assert route(HaState(ME), "GET", "/v2/apps") == Unavailable()
    # the election still shows this instance (it just stepped down): not a leader to proxy to
    st = HaState(ME, leading=False, leader=ME)
    assert st.current_leader is None
    assert route(st, "GET", "/v2/apps") == Unavailable()


def test_a_request_that_came_through_this_instance_is_a_loop():
    st = HaState(ME, leading=False, leader=OTHER)
    assert route(st, "GET", "/v2/apps", ["1.1 10.0.0.9:8080, 1.1 10.0.0.1:8080"]) == Loop()
    assert route(st, "GET", "/v2/apps", ["1.1 10.0.0.9:8080"]) == Proxy(OTHER.url)


def test_leader_record_round_trip_and_bad_data():
    rec = LeaderRecord.new("h", 81, "v9")
    assert LeaderRecord.parse(rec.to_bytes()) == rec
    assert rec.url == "http://h:81" and rec.host_port == "h:81"
    for bad in (None, b"", b"{", b"[]", b'{"host": 1, "port": 2}', b'{"host": "h"}',
                b'{"host": "h", "port": true}'):  # fmt: skip
        assert LeaderRecord.parse(bad) is None
    # a record written by another tool: url defaults from host and port
    assert LeaderRecord.parse(b'{"host": "h", "port": 2}') == LeaderRecord("h:2", "h", 2, "http://h:2", "")


# -- LeaderLoop with two services -------------------------------------------------------------


async def until(pred: Callable[[], bool], what: str, timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not pred():
            await asyncio.sleep(0.01)
    assert pred(), what


class Node:
    def __init__(self, ens: FakeEnsemble, shared: MemoryStateStore, port: int) -> None:
        self.me = LeaderRecord.new("127.0.0.1", port, "test")
        self.store = FencedStore(shared, ens)
        self.svc = WebappService(WebappStore(self.store), master="127.0.0.1:1", http_port=port)
        self.state = HaState(self.me)
        self.election = FakeElection(ens, self.me.to_bytes())
        self.loop = LeaderLoop(self.svc, self.election, self.state, fence=self.store.fence, pause=0.01)


@pytest.fixture
async def pair():
    ens, shared = FakeEnsemble(), MemoryStateStore()
    a, b = Node(ens, shared, 8081), Node(ens, shared, 8082)
    a.loop.start()
    await until(lambda: a.state.leading, "a leads")
    b.loop.start()
    await until(lambda: b.state.leader == a.me, "b sees a lead")
    try:
        yield ens, shared, a, b
    finally:
        await a.loop.stop()
        await b.loop.stop()


APP = {"id": "/web", "cmd": "sleep 100", "cpus": 0.1, "mem": 16, "instances": 3}


async def deploy(inst: Node) -> str:
    app, errs = parse_app(APP)
    assert app is not None, errs
    d = await inst.svc.deploy(Deploy({app.id: app}))
    return d.id  # type: ignore[union-attr]


async def test_one_leads_the_other_stands_by(pair):
    ens, _, a, b = pair
    assert a.state.leading and a.svc.acting and a.svc.driver is not None
    assert not b.state.leading and b.svc.driver is None
    assert b.state.current_leader == a.me and a.state.current_leader == a.me
    assert [c.path for c in ens.contenders] == [a.election.path, b.election.path]
    assert a.store._fence == a.election.path  # writes fenced with the election znode


async def test_the_follower_takes_over_with_the_stored_apps_and_deployments(pair):
    _, _, a, b = pair
    did = await deploy(a)
    assert "/web" in a.svc.view.apps
    a.election.expire()  # the leader's session is lost
    await until(lambda: b.state.leading, "b leads")
    assert not a.state.leading and not a.svc.acting
    await until(lambda: a.svc.driver is None, "a closed its subscription")
    assert b.state.current_leader == b.me
    assert "/web" in b.svc.view.apps and b.svc.view.apps["/web"].instances == 3
    assert list(b.svc.view.deployments) == [did]  # the deployment resumes under b
    await until(lambda: a.state.leader == b.me, "a sees b lead")
    await until(lambda: a.election in a.election.ens.contenders, "a campaigns again (standby)")


async def test_a_fenced_write_stops_the_leader_at_once(pair):
    ens, shared, a, b = pair
    ens.contenders.remove(a.election)  # a's znode vanished; a has not heard yet
    ens.notify()
    await until(lambda: b.state.leading, "b leads")
    assert a.state.leading  # still believes it leads ...
    with pytest.raises(NotLeading):
        await deploy(a)  # ... until its write is refused
    assert a.store.refused == 1 and not a.state.leading and not a.svc.acting
    assert await shared.list("webapp/apps") == []  # nothing of a's reached the store
    await until(lambda: a.svc.driver is None, "a stepped down")
    assert b.state.leading


async def test_a_stepped_down_service_refuses_changes(pair):
    _, _, a, b = pair
    a.election.expire()
    await until(lambda: b.state.leading and a.svc.driver is None, "handover")
    with pytest.raises(NotLeading):
        await deploy(a)
    did = await deploy(b)
    assert did in b.svc.view.deployments


async def test_abdication_hands_over_and_campaigns_again(pair):
    ens, _, a, b = pair
    assert not b.loop.abdicate()  # only the leader can
    assert a.loop.abdicate()
    await until(lambda: b.state.leading, "b leads")
    await until(lambda: a.election in ens.contenders and a.state.leader == b.me, "a stands by")
    assert a.loop.reason == "abdicated"
    assert ens.contenders[0] is b.election


async def test_stepping_down_ends_the_local_event_streams(pair):
    _, _, a, b = pair
    q = a.svc.bus.subscribe()
    a.election.expire()
    # step_down drops the driver, stops it and closes the master session before it ends the
    # streams: wait for the streams too (waiting for the driver alone raced the close)
    await until(lambda: a.svc.driver is None and b.state.leading and a.svc.bus.subscribers == 0,
                "handover and the streams ended")
    assert q.get_nowait() is None


async def test_a_single_instance_always_leads():
    svc = WebappService(WebappStore(MemoryStateStore()), master="127.0.0.1:1")
    me = LeaderRecord.new("127.0.0.1", 8080, "t")
    state = HaState(me)
    loop = LeaderLoop(svc, SoloElection(me.to_bytes()), state, pause=0.01)
    loop.start()
    try:
        await until(lambda: state.leading and state.leader == me, "solo leads")
        assert loop.abdicate()  # abdicating alone: elected again
        await until(lambda: state.terms == 2 and state.leading, "re-elected")
    finally:
        await loop.stop()
    assert svc.driver is None and not state.leading


def test_zk_flags(capsys):
    from frameworks.webapp.__main__ import parse_args

    base = ["--master", "127.0.0.1:5050", "--work-dir", "/tmp/w"]
    args = parse_args([*base, "--zk", "zk://h1:2181,h2/dcos-webapp", "--zk-session-timeout", "4"], {})
    assert (args.zk.hosts, args.zk.path, args.zk_session_timeout) == ("h1:2181,h2:2181", "/dcos-webapp", 4.0)
    assert parse_args(base, {}).zk is None
    assert parse_args(base, {"DCOS_ZK": "zk://h:1/w"}).zk.path == "/w"
    for bad in ("http://h:2181/x", "zk://h:2181", "zk://h:2181/"):
        with pytest.raises(SystemExit) as e:
            parse_args([*base, "--zk", bad], {})
        assert e.value.code == 2
        assert "ZooKeeper URL" in capsys.readouterr().err


async def test_stop_while_a_cancelled_start_winds_down_does_not_hang():
    """The term ends while `service.start` is still running; `_lead` cancels it and waits
    for it to wind down. A `stop` arriving in that moment must not be swallowed by that
    wait (it was: the loop campaigned again and `stop` waited forever)."""
    ens, shared = FakeEnsemble(), MemoryStateStore()
    a = Node(ens, shared, 8081)

    async def slow_start() -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            await asyncio.sleep(0.3)  # slow to give up (a store read in flight, say)
            raise

    a.svc.start = slow_start  # type: ignore[method-assign]
    a.loop.start()
    await until(lambda: a.state.leading, "a leads")
    a.election.expire()  # the term ends while start() runs
    await asyncio.sleep(0.1)  # _lead now waits for the cancelled start to wind down
    await asyncio.wait_for(a.loop.stop(), 5)
    assert not a.state.leading
    assert a.state.terms == 1  # no new term after stop
    assert a.election not in ens.contenders  # and no campaign left behind
