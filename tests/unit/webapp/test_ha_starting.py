"""A newly elected webapp leader holds `/v2` (503 after the proxy's settle wait) until it has
loaded its state from the store: no client reads the empty core of a leader still loading (the
load balancer would reload HAProxy with no servers, DNS would drop the app records)."""

from __future__ import annotations

import asyncio

from frameworks.webapp.ha import STARTING, HaState, Serve, Unavailable, route
from tests.unit.webapp.test_ha import ME, deploy, pair, until  # noqa: F401 -- `pair` is a fixture


def test_a_leader_still_starting_holds_v2_but_answers_the_local_paths() -> None:
    st = HaState(ME, leading=True, starting=True, leader=ME)
    assert route(st, "GET", "/v2/apps") == Unavailable(STARTING)
    assert route(st, "GET", "/v2/leader") == Serve()
    assert route(st, "GET", "/ping") == Serve()
    st.starting = False
    assert route(st, "GET", "/v2/apps") == Serve()


async def test_a_new_leader_serves_v2_once_it_loaded_its_state(pair) -> None:  # noqa: F811
    _, _, a, b = pair
    await deploy(a)
    gate = asyncio.Event()
    load = b.svc.load

    async def slow_load() -> None:
        await gate.wait()
        await load()

    b.svc.load = slow_load  # type: ignore[method-assign]
    a.election.expire()  # the leader's session is lost: b is elected and starts loading
    await until(lambda: b.state.leading, "b elected")
    assert route(b.state, "GET", "/v2/apps") == Unavailable(STARTING)
    gate.set()
    await until(lambda: route(b.state, "GET", "/v2/apps") == Serve(), "b serves /v2")
    assert "/web" in b.svc.view.apps
