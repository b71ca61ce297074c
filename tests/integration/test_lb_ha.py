"""The load balancer (a real process running a real HAProxy) through a failover of the webapp
framework: `--webapp` lists two instances; when the one it reads dies and the other has no
leader yet (its `/v2/events` answers, its `/v2/apps` is 503), HAProxy keeps its config and
its servers (no reload, traffic keeps flowing); when an instance answers again, the changes
made meanwhile are applied."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from aiohttp import web

from dcos.testing import eventually, free_port
from tests.integration.test_lb import Backend, Lb, get, lb_app, require_haproxy, try_get
from tests.unit.lb.marathon_fakes import FakeMarathon

pytestmark = pytest.mark.integration


class Leaderless(FakeMarathon):
    """A webapp follower while no instance leads: its event stream opens, its API is 503."""

    async def _apps(self, request: web.Request) -> web.Response:
        self.requests.append(request.path_qs)
        return web.Response(status=503, text="no leading webapp instance")


class Instances:
    """What `Lb` reads its `--webapp` from: every instance's URL, comma-separated."""

    def __init__(self, *fakes: FakeMarathon) -> None:
        self.url = ",".join(f.url for f in fakes)


@pytest.fixture
def backends() -> Iterator[list[Backend]]:
    started = [Backend(name) for name in ("one", "two")]
    yield started
    for b in started:
        b.close()


def test_haproxy_keeps_its_config_while_no_webapp_instance_answers(
        tmp_path: Path, backends: list[Backend]) -> None:
    require_haproxy()
    leader, follower = FakeMarathon().start(), Leaderless().start()
    revived: FakeMarathon | None = None
    lb = Lb(tmp_path / "lb", Instances(leader, follower))  # type: ignore[arg-type]
    try:
        service_port = free_port()
        leader.set_apps([lb_app("/web", service_port, backends[:1])])
        eventually(lambda: try_get(service_port), (200, "one"),
                   "routed through the first instance", timeout=30)
        one = [[f"127.0.0.1:{backends[0].port}"]]

        def servers() -> list[list[str]]:
            return [s["servers"] for s in lb.status().get("services", [])]

        eventually(servers, one, "status.json written after the reload")
        reloads = lb.status()["reloads"]

        leader.stop()  # the leading instance dies; the follower has no leader yet
        eventually(follower.attached, 1, "the event stream moved to the follower")
        eventually(lambda: "no webapp instance answered" in lb.log(), True,
                   "a resync failed for want of a leader")
        assert get(service_port) == (200, "one")  # still routed
        status = lb.status()
        assert status["reloads"] == reloads, lb.log()
        assert servers() == one

        # a new leader answers on the old address, with a change made meanwhile
        revived = FakeMarathon(port=leader.port).start()
        revived.set_apps([lb_app("/web", service_port, backends)])
        eventually(lambda: {get(service_port)[1] for _ in range(6)}, {"one", "two"},
                   "the change made during the failover is applied", timeout=30)
    finally:
        lb.stop()
        for fake in (follower, revived):
            if fake is not None:
                fake.stop()
    assert lb.proc.returncode == 0, lb.log()
