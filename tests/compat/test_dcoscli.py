"""Compatibility: the real DC/OS CLI (Python dcoscli 0.6.1, the last Python release) drives a real
`dcos-py up --agents 2` through its gateway, unchanged: pointed at the gateway's URL, it skips
login (security is off) and its `node`, `service`, `marathon app`, `task` (with `task log`) and
`package` commands work. The CLI lives in .venv-dcoscli (tests/compat/install_dcoscli.sh, run
by `make test`); its config lives in a temporary DCOS_DIR.

One cluster for the module (the `dcoscli_cluster` fixture); each test cleans up what it made.
"""

from __future__ import annotations

import os
import queue
import random
import subprocess
import threading
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.e2e.up_process import UpProcess, up_ports

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

    def follow(self, *args: str) -> tuple[subprocess.Popen[str], queue.Queue[str]]:
        """Start a long-running CLI command (``--follow``); its output lines arrive in the
        queue. The caller terminates the process."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("DCOS_")}
        env.update(DCOS_DIR=str(self.dcos_dir), PAGER="cat", COLUMNS="250")
        proc = subprocess.Popen([str(DCOS), *args], stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, env=env)
        lines: queue.Queue[str] = queue.Queue()

        def read() -> None:
            assert proc.stdout is not None
            for line in proc.stdout:
                lines.put(line.rstrip("\n"))

        threading.Thread(target=read, daemon=True).start()
        return proc, lines


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
    ports = up_ports(2)
    # task ports apart from any other local cluster's (see tests/packages)
    up = UpProcess([*ports.args(), "--task-ports", str(random.randrange(61000, 62500))],
                   tmp / "cluster")
    try:
        first = up.wait_for("Web UI and API:", timeout=UP_TIMEOUT_S)
        url = ports.url(ports.gateway)
        assert first.strip() == f"Web UI and API: {url}", up.output()
        up.wait_for("cluster ready", timeout=UP_TIMEOUT_S)
        cluster = Cluster(up, url, tmp / "dcos")
        cluster.dcos("config", "set", "core.dcos_url", url)
        yield cluster
    finally:
        up.stop()


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


def _a_run_of(out: str, log: Path) -> list[str]:
    """`out`'s lines, checked to be consecutive lines of the file `log` (read after the CLI
    ran, so lines logged meanwhile do not matter)."""
    lines = out.splitlines()
    assert lines, f"no output; {log} ends with {log.read_text()[-500:]!r}"
    text = log.read_text().splitlines()
    assert lines[0] in text, (lines, text[-10:])
    start = text.index(lines[0])
    assert text[start:start + len(lines)] == lines, (lines, text[-10:])
    return lines


def _wait_line(lines: queue.Queue[str], wanted: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    seen = []
    while wanted not in seen:
        try:
            seen.append(lines.get(timeout=max(0.0, deadline - time.monotonic())))
        except queue.Empty:
            raise AssertionError(f"no line {wanted!r} within {timeout:g} s; saw {seen}") from None


def test_node_log_leader_reads_the_masters_log_file(dcoscli_cluster: Cluster) -> None:
    """No dcos-log capability: the CLI falls back to Mesos' files API, ``/master/log`` through
    the gateway's ``/mesos/files/read.json``."""
    c = dcoscli_cluster
    log = c.up.work / "master" / "master.log"
    assert len(_a_run_of(c.dcos("node", "log", "--leader", "--lines", "4").stdout, log)) == 4
    everything = c.dcos("node", "log", "--leader", "--lines", "100000").stdout
    assert " leads " in everything and "master listening on" in everything
    proc, lines = c.follow("node", "log", "--leader", "--follow", "--lines", "1")
    try:
        _wait_line(lines, log.read_text().splitlines()[-1])  # the last line, then ...
        marker = f"compat follow marker {random.random()}"
        with open(log, "a") as f:  # ... a line appended as the master's handler appends
            f.write(marker + "\n")
        _wait_line(lines, marker)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_node_log_mesos_id_reads_that_agents_log_file(dcoscli_cluster: Cluster) -> None:
    """``/slave/log`` of the agent's files API, through the gateway's ``/slave/<id>/``."""
    c = dcoscli_cluster
    for node in (n for n in c.json("node", "--json") if n["type"] == "agent"):
        logs = [p for p in sorted(c.up.work.glob("agent-*/agent.log"))
                if f"registered with master as {node['id']}" in p.read_text()]
        assert len(logs) == 1, (node["id"], logs)
        out = c.dcos("node", "log", "--mesos-id", node["id"], "--lines", "3").stdout
        assert len(_a_run_of(out, logs[0])) == 3
    proc, lines = c.follow("node", "log", "--mesos-id", node["id"], "--follow", "--lines", "1")
    try:
        _wait_line(lines, logs[0].read_text().splitlines()[-1])
        marker = f"compat follow marker {random.random()}"
        with open(logs[0], "a") as f:
            f.write(marker + "\n")
        _wait_line(lines, marker)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    unknown = c.dcos("node", "log", "--mesos-id", "no-such-agent", check=False)
    assert unknown.returncode == 1 and "No files exist" in unknown.stderr  # the CLI's own words


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
