"""Compatibility: the real DC/OS CLI (Python dcoscli 0.6.1, the last Python release) drives a real
`dcos-py up --agents 2` through its gateway, unchanged: pointed at the gateway's URL, it skips
login (security is off) and its `node`, `service`, `marathon app`, `task` (with `task log`) and
`package` commands work. The CLI lives in .venv-dcoscli (tests/compat/install_dcoscli.sh, run
by `make test`); its config lives in a temporary DCOS_DIR.

One cluster for the module (the `dcoscli_cluster` fixture); each test cleans up what it made.
"""

from __future__ import annotations

import os
import random
import subprocess
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.e2e.up_process import UpProcess, quiet_ports

ROOT = Path(__file__).resolve().parents[2]
DCOS = ROOT / ".venv-dcoscli" / "bin" / "dcos"
INDEX = ROOT / "packages-repo" / "build" / "index.json"
UP_TIMEOUT_S = 120.0
CLI_TIMEOUT_S = 90.0

pytestmark = pytest.mark.integration


@dataclass
class Cluster:
    up: UpProcess
    url: str  # the gateway
    dcos_dir: Path

    def dcos(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run the DC/OS CLI; with `check`, a non-zero exit fails the test with its output."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("DCOS_")}
        env.update(DCOS_DIR=str(self.dcos_dir), PAGER="cat", COLUMNS="250")
        out = subprocess.run([str(DCOS), *args], capture_output=True, text=True,
                             timeout=CLI_TIMEOUT_S, env=env, check=False)
        if check:
            assert out.returncode == 0, (f"dcos {' '.join(args)} -> {out.returncode}\n"
                                         f"{out.stdout[-2000:]}\n{out.stderr[-3000:]}")
        return out

    def json(self, *args: str) -> Any:
        return orjson.loads(self.dcos(*args).stdout)


def wait_for(what: str, probe: Callable[[], Any], timeout: float = 60.0) -> Any:
    """Poll `probe` until it answers something truthy (that answer)."""
    deadline = time.monotonic() + timeout
    while True:
        if answer := probe():
            return answer
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.5)


def check_cli_installed() -> None:
    assert DCOS.exists(), ("the DC/OS CLI is missing: run `make test` or "
                           "bash tests/compat/install_dcoscli.sh")
    assert INDEX.exists(), f"{INDEX} is missing: run `make repo`"


@pytest.fixture(scope="module")
def dcoscli_cluster(tmp_path_factory: pytest.TempPathFactory) -> Generator[Cluster, None, None]:
    check_cli_installed()
    tmp = tmp_path_factory.mktemp("dcoscli")
    (agent, _a1, master, webapp, dns, dns_http, lb_http, lb_stats, batch, package,
     gateway) = quiet_ports(11, in_a_row=2)
    up = UpProcess(["--agents", "2", "--master-port", str(master), "--agent-port", str(agent),
                    "--webapp-port", str(webapp), "--dns-port", str(dns),
                    "--dns-http-port", str(dns_http), "--lb-http-port", str(lb_http),
                    "--lb-stats-port", str(lb_stats), "--batch-port", str(batch),
                    "--package-port", str(package), "--gateway-port", str(gateway),
                    # task ports apart from any other local cluster's (see tests/packages)
                    "--task-ports", str(random.randrange(61000, 62500))], tmp / "cluster")
    try:
        first = up.wait_for("Web UI and API:", timeout=UP_TIMEOUT_S)
        url = f"http://127.0.0.1:{gateway}"
        assert first.strip() == f"Web UI and API: {url}", up.output()
        up.wait_for("cluster ready", timeout=UP_TIMEOUT_S)
        cluster = Cluster(up, url, tmp / "dcos")
        cluster.dcos("config", "set", "core.dcos_url", url)
        yield cluster
    finally:
        try:
            if up.proc.poll() is None:
                up.note_family()
                up.proc.terminate()
                up.proc.wait(timeout=60)
        finally:
            up.cleanup()


def test_version_and_cluster_come_from_the_gateway(dcoscli_cluster: Cluster) -> None:
    c = dcoscli_cluster
    version = c.dcos("--version").stdout
    assert "dcoscli.version=0.6.1" in version and "dcos.version=2.2.0" in version
    listed = c.dcos("cluster", "list").stdout
    cluster_id = (c.up.work / "cluster-id").read_text().strip()
    assert cluster_id in listed and "AVAILABLE" in listed and c.url in listed


def test_auth_is_off_login_succeeds_without_a_token(dcoscli_cluster: Cluster) -> None:
    c = dcoscli_cluster
    assert "Login successful" in c.dcos("auth", "login").stdout
    token = c.dcos("config", "show", "core.dcos_acs_token", check=False)
    assert token.returncode != 0  # no token was stored
    providers = c.dcos("auth", "list-providers", check=False)
    assert providers.returncode == 1 and "No providers configured" in providers.stderr


def test_node_lists_the_agents_and_the_leading_master(dcoscli_cluster: Cluster) -> None:
    c = dcoscli_cluster
    table = c.dcos("node").stdout
    assert "master (leader)" in table and table.count(" agent ") == 2
    nodes = c.json("node", "--json")
    assert sorted(n["type"] for n in nodes) == ["agent", "agent", "master (leader)"]
    agents = [n for n in nodes if n["type"] == "agent"]
    assert all(a["active"] and a["hostname"] == "127.0.0.1" for a in agents)
    ports = sorted(a["port"] for a in agents)
    assert ports[1] == ports[0] + 1  # agent-0 and agent-1


def test_service_lists_the_frameworks(dcoscli_cluster: Cluster) -> None:
    table = dcoscli_cluster.dcos("service").stdout
    assert "webapp" in table and "batch-dispatcher" in table


def test_marathon_app_task_and_task_log(dcoscli_cluster: Cluster, tmp_path: Path) -> None:
    c = dcoscli_cluster
    app = tmp_path / "app.json"
    app.write_bytes(orjson.dumps({"id": "/cli-hello", "cmd": "echo hello-from-dcoscli; sleep 600",
                                  "cpus": 0.1, "mem": 32, "instances": 1}))
    assert "Created deployment" in c.dcos("marathon", "app", "add", str(app)).stdout
    try:
        assert "/cli-hello" in c.dcos("marathon", "app", "list").stdout
        shown = c.json("marathon", "app", "show", "/cli-hello")
        assert shown["id"] == "/cli-hello" and shown["instances"] == 1

        def running() -> list[dict[str, Any]]:
            return [t for t in c.json("task", "--json")
                    if t["name"] == "cli-hello" and t["state"] == "TASK_RUNNING"]

        (task,) = wait_for("the app's task to run", running)
        assert task["id"].startswith("cli-hello.") and task["slave_id"]
        assert "cli-hello" in c.dcos("task").stdout
        # the sandbox is read through the gateway's /agent/<id>/files/...
        log = wait_for("the task's line in its log",
                       lambda: (out := c.dcos("task", "log", task["id"]).stdout)
                       and "hello-from-dcoscli" in out and out)
        assert "hello-from-dcoscli" in log
    finally:
        c.dcos("marathon", "app", "remove", "/cli-hello")
    assert "/cli-hello" not in c.dcos("marathon", "app", "list").stdout
    wait_for("the task to be gone", lambda: not any(
        t["name"] == "cli-hello" for t in c.json("task", "--json")))


def test_package_search_install_list_uninstall(dcoscli_cluster: Cluster) -> None:
    c = dcoscli_cluster
    found = c.json("package", "search", "hello-world", "--json")
    assert [p["name"] for p in found["packages"]] == ["hello-world"]
    out = c.dcos("package", "install", "hello-world", "--yes")
    assert "Installing Marathon app for package [hello-world]" in out.stdout
    try:
        listed = c.json("package", "list", "--json")
        assert [(p["name"], p["apps"]) for p in listed] == [("hello-world", ["/hello-world"])]
        assert "/hello-world" in c.dcos("marathon", "app", "list").stdout
        wait_for("hello-world's task to run", lambda: [
            t for t in c.json("task", "--json")
            if t["name"] == "hello-world" and t["state"] == "TASK_RUNNING"])
    finally:
        out = c.dcos("package", "uninstall", "hello-world", "--yes")
    assert "Uninstalled package [hello-world]" in out.stdout + out.stderr
    assert c.json("package", "list", "--json") == []
