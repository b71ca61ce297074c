"""End to end: `dcos-py up --zk URL` runs ONE package service with its state in ZooKeeper under
``<path>-packaging`` and both webapp instances: a repository added through it survives a
``kill -9`` of the service (`up` restarts it), a package installs through the leading master
and webapp to healthy, and uninstalls clean."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import orjson
import pytest
from kazoo.client import KazooClient
from test_up_ha import READY, ha_ports
from up_process import UpProcess, quiet_ports

from dcos.packaging import mediatypes as mt
from dcos.testing import wait_until
from dcos.testing.zookeeper import ZooKeeperServer
from tests.packages.conftest import http
from tests.packages.testrepo import write_repo


def rpc(url: str, path: str, body: object) -> dict:
    ep = mt.ENDPOINTS[path]
    assert ep.request is not None
    status, _, raw = http("POST", url + path, body,
                          {"Content-Type": ep.request, "Accept": ",".join(ep.responses)},
                          timeout=120)
    assert status == 200, raw
    return dict(orjson.loads(raw))


def answers(url: str) -> bool:
    try:
        return http("GET", url, timeout=2)[0] == 200
    except OSError:
        return False


def znodes(zk: ZooKeeperServer, path: str) -> list[str]:
    client = KazooClient(hosts=zk.hosts)
    client.start(timeout=10)
    try:
        return list(client.get_children(path)) if client.exists(path) else []
    finally:
        client.stop()
        client.close()


@pytest.mark.timeout(400)
def test_up_zk_runs_one_package_service_on_zookeeper(tmp_path: Path, zk_server: ZooKeeperServer,
                                                     zk_url: str,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DCOS_UP_TASK_PORTS_BASE", "17000")  # apart from other local clusters
    _, master_port, agent_port, webapp_port = ha_ports(extra=1)
    (package_port,) = quiet_ports(1)
    path = zk_url.split(zk_server.hosts, 1)[1]
    index = write_repo(tmp_path / "repo")
    up = UpProcess(["--zk", zk_url, "--agents", "1", "--master-port", str(master_port),
                    "--agent-port", str(agent_port), "--webapp-port", str(webapp_port),
                    "--package-port", str(package_port), "--no-dns", "--no-lb", "--no-batch",
                    "--no-gateway"],
                   tmp_path / "cluster")
    url = f"http://127.0.0.1:{package_port}"
    try:
        ready = READY.search(up.wait_for("cluster ready", timeout=120))
        assert ready, up.output()
        pids = up.pids()
        assert "package" in pids and "package-0" not in pids
        argv = Path(f"/proc/{pids['package']}/cmdline").read_bytes().split(b"\0")
        assert argv[argv.index(b"--zk") + 1].decode() == zk_url + "-packaging"
        assert argv[argv.index(b"--webapp") + 1].decode() == (
            f"http://127.0.0.1:{webapp_port},http://127.0.0.1:{webapp_port + 1}")
        rpc(url, "/package/repository/add", {"name": "ha-test", "uri": index.as_uri()})
        assert znodes(zk_server, path + "-packaging")

        killed = pids["package"]
        os.kill(killed, signal.SIGKILL)
        wait_until(lambda: up.pids().get("package") not in (None, killed),
                   "up to restart the package service", timeout=30)
        wait_until(lambda: answers(url + "/health"), "the restarted package service",
                   timeout=30)
        names = [r["name"] for r in rpc(url, "/package/repository/list", {})["repositories"]]
        assert "ha-test" in names

        started = time.monotonic()
        out = rpc(url, "/package/install", {"packageName": "pyhttp", "appId": "/ha-web"})
        assert out["appId"] == "/ha-web"

        def healthy() -> bool:
            app = orjson.loads(http("GET", f"http://127.0.0.1:{webapp_port}/v2/apps/ha-web")[2])
            return app["app"].get("tasksHealthy", 0) >= 1
        wait_until(healthy, "pyhttp healthy on the HA cluster", timeout=120)
        print(f"HA pyhttp install-to-healthy: {time.monotonic() - started:.2f} s")
        rpc(url, "/package/uninstall", {"packageName": "pyhttp", "appId": "/ha-web"})
        assert http("GET", f"http://127.0.0.1:{webapp_port}/v2/apps/ha-web")[0] == 404

        up.note_family()
        up.proc.send_signal(signal.SIGINT)
        assert up.proc.wait(timeout=60) == 0, up.output() + up.rest()
        assert up.alive() == []
    finally:
        up.cleanup()
