"""The load balancer through a failover of the real webapp framework, all real: ZooKeeper,
a master, two agents, two webapp processes elected in ZooKeeper (`--zk`), the load balancer
with HAProxy given both (`--webapp a,b`), and a 2-instance HTTP app with a health check,
hammered through HAProxy. SIGKILL the webapp leader: not one request fails while the follower
takes over (HAProxy keeps its servers), and the LB then follows the new leader's events (an
upgrade made through it is served, again with no failed request)."""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from dcos.testing import ProcessCluster, free_port
from dcos.testing.zookeeper import ZooKeeperServer
from tests.integration.test_lb import HAPROXY, require_haproxy
from tests.integration.test_lb_zero_downtime import Api, Load, app_def, fetch, settled, wait_for
from tests.integration.test_webapp_ha import Webapp

pytestmark = pytest.mark.integration

APP = "/lbha/web"


@pytest.fixture
def stack(tmp_path: Path, zk_server: ZooKeeperServer) -> Iterator[tuple[ProcessCluster, Webapp,
                                                                        Webapp, int, Path]]:
    require_haproxy()
    zk = zk_server.url(f"/t{uuid.uuid4().hex}/dcos-webapp")
    c = ProcessCluster(tmp_path / "c", agents=2, master_flags=["--allocation-interval", "0.1"])
    lb: subprocess.Popen[bytes] | None = None
    try:
        c.start()
        a, b = Webapp(c, zk, 0), Webapp(c, zk, 1)
        a.start()
        c.wait_for(lambda: a.leader() == a.host_port and a.info().get("frameworkId"),
                   "webapp-0 leads")
        b.start()
        c.wait_for(lambda: b.leader() == a.host_port, "the follower knows the leader")
        vhost = free_port()
        lb = subprocess.Popen(
            [sys.executable, "-m", "frameworks.webapp.lb", "--webapp", f"{a.url},{b.url}",
             "--group", "external", "--work-dir", str(tmp_path / "lb"), "--haproxy", HAPROXY,
             "--http-port", str(vhost), "--stats-port", str(free_port()),
             "--log-file", str(tmp_path / "lb.log")],
            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True)
        wait_for(lambda: (tmp_path / "lb" / "status.json").exists(), "load balancer up")
        yield c, a, b, vhost, tmp_path
    finally:
        if lb is not None:
            lb.terminate()
            try:
                lb.wait(15)
            except subprocess.TimeoutExpired:
                lb.kill()
                lb.wait()
        c.stop()


def test_no_request_fails_through_a_webapp_failover(stack) -> None:
    c, a, b, vhost, tmp = stack
    leader, follower = Api(a.url), Api(b.url)

    def diag() -> str:
        status, log = tmp / "lb" / "status.json", tmp / "lb.log"
        return "\n".join([
            "lb status: " + (status.read_text() if status.exists() else "-"),
            "lb log: " + (log.read_text()[-6000:] if log.exists() else "-"),
            "webapp-1 log: " + c.log_tail("webapp-1", 40)])

    def serves(version: str) -> bool:
        try:
            return {fetch(vhost) for _ in range(6)} == {version}
        except (OSError, RuntimeError):
            return False

    code, body = leader.call("POST", "/v2/apps", app_def(APP, free_port(), "v1"))
    assert code == 201, body
    wait_for(lambda: settled(leader, APP, "echo v1"), "2 instances of v1", diag=diag)
    wait_for(lambda: serves("v1"), "the load balancer to serve v1", diag=diag)
    load = Load(vhost)
    try:
        a.kill()  # SIGKILL the webapp leader
        c.wait_for(lambda: b.leader() == b.host_port, "the follower leads", timeout=30)
        wait_for(lambda: settled(follower, APP, "echo v1"), "the new leader has the app",
                 diag=diag)
        code, body = follower.call("PUT", f"/v2/apps{APP}", app_def(
            APP, follower.app(APP)["portDefinitions"][0]["port"], "v2"))
        assert code == 200, body
        wait_for(lambda: settled(follower, APP, "echo v2"), "the upgrade under the new leader",
                 timeout=120, diag=diag)
        wait_for(lambda: load.seen["v2"] > 0 and serves("v2"), "the LB serves v2", diag=diag)
    finally:
        load.stop()
    print(f"webapp failover: {load.sent} requests through HAProxy, {len(load.failures)} failed "
          f"({dict(load.seen)})")
    assert load.seen["v1"] > 0 and load.seen["v2"] > 0, load.seen
    assert load.failures == [], (f"{len(load.failures)} of {load.sent} failed: "
                                 f"{load.failures[:10]}\n{diag()}")
