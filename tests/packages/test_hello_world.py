"""The hello-world package: its service on its own (the hello_world project run from its
source), then on the shared package cluster: installed with its defaults it answers its message
through the load balancer's virtual host and at the address DNS gives for it, and uninstalls
clean; an upgrade 0.1.0 -> 0.2.0 of two instances through /cosmos/service/update rolls without
a single failed request through the load balancer, and 0.2.0 downgrades back to 0.1.0."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import orjson
import pytest

from tests.packages.conftest import CHECKOUT, PkgCluster, get_json, http
from tests.packages.service_checks import (
    a_records,
    option_errors,
    render_release,
    srv_endpoints,
    wait_for,
)

SRC = CHECKOUT / "packages-repo" / "src" / "hello_world"
DEFAULT_MESSAGE = "Hello from dcos-py!"


# --- the service itself ------------------------------------------------------------------------


def test_the_service_answers_its_message_and_health_and_stops_on_sigterm(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(SRC), "MESOS_TASK_ID": "hello.1", "HOST": "127.0.0.1"}
    proc = subprocess.Popen([sys.executable, "-m", "hello_world", "--port", "0",
                             "--message", "héllo \"there\"", "--version", "9.9.9"],
                            env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("hello-world 9.9.9 listening on 127.0.0.1:"), line
        base = "http://127.0.0.1:" + line.rsplit(":", 1)[1].strip()
        status, headers, body = http("GET", base + "/")
        assert (status, body.decode()) == (200, "héllo \"there\"\n")
        assert headers["X-Hello-Version"] == "9.9.9" and headers["X-Task-Id"] == "hello.1"
        assert headers["Content-Type"] == "text/plain; charset=utf-8"
        status, _, body = http("GET", base + "/health")
        assert status == 200
        assert orjson.loads(body) == {"status": "ok", "version": "9.9.9", "task": "hello.1"}
        assert http("GET", base + "/nope")[0] == 404
        assert http("POST", base + "/", b"x")[0] == 405
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
        assert "hello-world stopped" in proc.stdout.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_a_taken_port_is_a_clear_error(tmp_path: Path) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        out = subprocess.run([sys.executable, "-m", "hello_world", "--host", "127.0.0.1",
                              "--port", str(port)], env={**os.environ, "PYTHONPATH": str(SRC)},
                             capture_output=True, text=True, timeout=30)
    assert out.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in out.stderr


# --- the package's templates ------------------------------------------------------------------


@pytest.mark.parametrize(("release", "version"), [(0, "0.1.0"), (1, "0.2.0")])
def test_templates_render_defaults_fixed_ports_and_no_vhost(release: int, version: str) -> None:
    app = render_release("hello-world", release)
    assert (app["id"], app["instances"], app["requirePorts"]) == ("hello-world", 1, False)
    assert app["portDefinitions"] == [{"port": 0, "protocol": "tcp", "name": "http"}]
    assert app["labels"] == {"HAPROXY_GROUP": "external", "HAPROXY_0_VHOST": "hello-world.dcos"}
    assert app["healthChecks"][0]["path"] == "/health"
    assert app["cmd"].endswith(f"--version {version}")
    assert app["fetch"][0]["outputFile"] == "hello_world.tar" and app["fetch"][0]["extract"]
    app = render_release("hello-world", release, {"service": {
        "name": "hw", "port": 31555, "vhost": "", "instances": 3,
        "message": 'say "hi" & <bye> \\ {{x}}'}})
    assert (app["id"], app["instances"], app["requirePorts"]) == ("hw", 3, True)
    assert app["portDefinitions"][0]["port"] == 31555
    assert app["labels"] == {"HAPROXY_GROUP": "external"}
    assert app["env"]["HELLO_MESSAGE"] == 'say "hi" & <bye> \\ {{x}}'


def test_release_1_adds_cpus_and_mem_and_bad_options_name_their_paths() -> None:
    app = render_release("hello-world", 1, {"service": {"cpus": 0.3, "mem": 48}})
    assert (app["cpus"], app["mem"]) == (0.3, 48)
    assert option_errors("hello-world", 0, {"service": {"cpus": 0.3}}) == ["/service"]
    assert option_errors("hello-world", 1, {"service": {
        "port": -1, "vhost": "Not A Host", "name": "/a//b", "instances": "2"}}) == [
        "/service/instances", "/service/name", "/service/port", "/service/vhost"]


# --- on the cluster ----------------------------------------------------------------------------


def via_lb(c: PkgCluster, vhost: str, timeout: float = 5.0) -> tuple[int, dict[str, str], bytes]:
    return http("GET", c.lb_http + "/", headers={"Host": vhost}, timeout=timeout)


def lb_answers(c: PkgCluster, vhost: str, message: str) -> bool:
    status, _, body = via_lb(c, vhost)
    return status == 200 and body.decode() == message + "\n"


def test_hello_world_with_defaults_answers_through_the_lb_and_dns(pkg_cluster: PkgCluster) -> None:
    c = pkg_cluster
    installed = c.install("hello-world")
    try:
        assert (installed["appId"], installed["packageVersion"]) == ("/hello-world", "0.2.0")
        [app] = c.wait_healthy("/hello-world", timeout=90)
        assert app["labels"]["DCOS_PACKAGE_NAME"] == "hello-world"
        assert app["labels"]["HAPROXY_0_VHOST"] == "hello-world.dcos"
        wait_for("hello-world through the LB vhost",
                 lambda: lb_answers(c, "hello-world.dcos", DEFAULT_MESSAGE), 30)
        endpoints = wait_for("the SRV record of hello-world",
                             lambda: srv_endpoints(c, "_hello-world._tcp.webapp.dcos"), 30)
        assert endpoints == [(t["host"], t["ports"][0]) for t in app["tasks"]]
        assert a_records(c, "hello-world.webapp.dcos") == ["127.0.0.1"]
        for ip, port in endpoints:
            status, headers, body = http("GET", f"http://{ip}:{port}/")
            assert (status, body.decode()) == (200, DEFAULT_MESSAGE + "\n")
            assert headers["X-Task-Id"] == app["tasks"][0]["id"]
    finally:
        c.uninstall("hello-world")
    c.assert_clean("/hello-world")
    wait_for("the LB to drop hello-world",
             lambda: via_lb(c, "hello-world.dcos")[0] != 200, 30)


class Poller:
    """Sends GET / through the LB one request after another in a thread until stopped; keeps
    every answer's (status, version) and every failure."""

    def __init__(self, c: PkgCluster, vhost: str) -> None:
        self.c, self.vhost = c, vhost
        self.answers: list[tuple[int, str]] = []
        self.failures: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                status, headers, _ = via_lb(self.c, self.vhost)
                version = {k.lower(): v for k, v in headers.items()}.get("x-hello-version", "")
                self.answers.append((status, version))  # HAProxy sends header names lowercased
                if status != 200:
                    self.failures.append(f"{status} at {time.monotonic():.2f}")
            except Exception as exc:  # noqa: BLE001 - a failed request is what we count
                self.failures.append(f"{exc!r} at {time.monotonic():.2f}")
            time.sleep(0.02)

    def __enter__(self) -> Poller:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def versions(self) -> list[str]:
        return [v for s, v in self.answers if s == 200]


@pytest.mark.timeout(400)
def test_hello_world_upgrade_rolls_without_downtime(pkg_cluster: PkgCluster) -> None:
    c = pkg_cluster
    vhost = "hello-upgrade.dcos"
    options = {"service": {"name": "hello-upgrade", "instances": 2, "vhost": vhost,
                           "message": "rolling"}}
    installed = c.install("hello-world", options=options, version="0.1.0")
    try:
        assert installed["packageVersion"] == "0.1.0"
        c.wait_healthy("/hello-upgrade", timeout=90)
        wait_for("both 0.1.0 tasks behind the LB",
                 lambda: lb_answers(c, vhost, "rolling") and lb_answers(c, vhost, "rolling"), 30)
        with Poller(c, vhost) as poller:
            wait_for("the poller's first answers", lambda: len(poller.answers) >= 5, 30)
            updated = c.rpc("/cosmos/service/update",
                            {"appId": "/hello-upgrade", "packageVersion": "0.2.0"})
            assert updated["package"]["version"] == "0.2.0"
            assert updated["resolvedOptions"]["service"]["instances"] == 2  # kept
            apps = wait_for("the upgraded tasks", lambda: _upgraded(c), 120)
            wait_for("only 0.2.0 answering through the LB",
                     lambda: poller.versions()[-10:] == ["0.2.0"] * 10, 60)
        assert poller.failures == [], poller.failures[:20]
        versions = poller.versions()
        assert "0.1.0" in versions and versions[-1] == "0.2.0"
        assert len(versions) >= 20
        assert len(apps[0]["tasks"]) == 2
        listed = c.rpc("/package/list", {"appId": "/hello-upgrade"})["packages"]
        assert [p["packageInformation"]["packageDefinition"]["version"] for p in listed] == [
            "0.2.0"]
        # 0.2.0 lists 0.1.0 in downgradesTo: back again, with the same options
        back = c.rpc("/cosmos/service/update", {"appId": "/hello-upgrade", "packageVersion": "0.1.0"})
        assert back["package"]["version"] == "0.1.0"
        wait_for("the downgraded tasks", lambda: _at_version(c, "0.1.0"), 120)
        wait_for("0.1.0 answering through the LB",
                 lambda: lb_answers(c, vhost, "rolling") and _lb_version(c, vhost) == "0.1.0", 60)
    finally:
        c.uninstall("hello-world", app_id="/hello-upgrade")
    c.assert_clean("/hello-upgrade")


def _upgraded(c: PkgCluster) -> list[dict] | None:
    return _at_version(c, "0.2.0")


def _at_version(c: PkgCluster, version: str) -> list[dict] | None:
    """The app once its deployment is over and both tasks run `version` healthy, else None."""
    apps = c.apps_of("/hello-upgrade")
    if len(apps) != 1 or apps[0].get("deployments") or apps[0].get("tasksHealthy") != 2:
        return None
    if apps[0]["labels"].get("DCOS_PACKAGE_VERSION") != version:
        return None
    app = get_json(f"{c.webapp_url}/v2/apps/hello-upgrade")["app"]
    return apps if f"--version {version}" in app["cmd"] and len(apps[0]["tasks"]) == 2 else None


def _lb_version(c: PkgCluster, vhost: str) -> str:
    headers = via_lb(c, vhost)[1]
    return {k.lower(): v for k, v in headers.items()}.get("x-hello-version", "")
