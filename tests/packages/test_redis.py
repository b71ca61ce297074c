"""The redis package on the shared package cluster: installed with its defaults it runs the
agents' redis-server, becomes healthy (redis-cli PING), is found through dcos-py DNS
(redis.webapp.dcos, _redis._tcp.webapp.dcos) and answers PING / SET / GET with the configured
memory limit; uninstalled, nothing of it is left (no app, task or redis-server process)."""

from __future__ import annotations

import shutil
import socket
import subprocess

import psutil
import pytest

from tests.packages.conftest import PkgCluster
from tests.packages.service_checks import (
    a_records,
    option_errors,
    render_release,
    resp_command,
    srv_endpoints,
    wait_for,
)


def _require_redis() -> None:
    """A test that needs redis-server fails loudly without it (make test installs it)."""
    if shutil.which("redis-server") is None:
        pytest.fail("redis-server missing: install the Debian package redis-server "
                    "(scripts/install-system-deps.sh, which make test runs as root)")


needs_redis = pytest.mark.usefixtures("_redis_installed")


@pytest.fixture
def _redis_installed() -> None:
    _require_redis()


def test_template_renders_memory_port_and_health_options() -> None:
    app = render_release("redis", 0)
    assert (app["id"], app["instances"], app["requirePorts"]) == ("redis", 1, False)
    assert "--maxmemory 64mb --maxmemory-policy noeviction" in app["cmd"]
    assert app["healthChecks"][0]["command"]["value"].startswith("redis-cli ")
    app = render_release("redis", 0, {"service": {"name": "cache", "mem": 300},
                                      "redis": {"port": 31379, "maxmemory": 256,
                                                "maxmemory_policy": "allkeys-lru"}})
    assert (app["id"], app["mem"], app["requirePorts"]) == ("cache", 300, True)
    assert app["portDefinitions"][0]["port"] == 31379
    assert "--maxmemory 256mb --maxmemory-policy allkeys-lru" in app["cmd"]
    assert option_errors("redis", 0, {"redis": {"maxmemory": 0, "maxmemory_policy": "lru"},
                                      "service": {"instances": 2}}) == [
        "/redis/maxmemory", "/redis/maxmemory_policy", "/service"]


@needs_redis
def test_redis_with_defaults_is_found_through_dns_and_stores_values(pkg_cluster: PkgCluster) -> None:
    c = pkg_cluster
    installed = c.install("redis")
    try:
        assert installed["appId"] == "/redis"
        [app] = c.wait_healthy("/redis", timeout=90)
        assert app["instances"] == 1 and app["healthChecks"][0]["protocol"] == "COMMAND"
        [task] = app["tasks"]
        endpoints = wait_for("the SRV record of redis",
                             lambda: srv_endpoints(c, "_redis._tcp.webapp.dcos"), 30)
        assert endpoints == [(task["host"], task["ports"][0])]
        assert a_records(c, "redis.webapp.dcos") == [task["host"]]
        host, port = endpoints[0]
        with socket.create_connection((host, port), timeout=5) as sock:
            assert resp_command(sock, "PING") == "PONG"
            assert resp_command(sock, "SET", "h4:greeting", "héllo") == "OK"
            assert resp_command(sock, "GET", "h4:greeting") == "héllo"
            assert resp_command(sock, "GET", "h4:missing") is None
            assert resp_command(sock, "CONFIG", "GET", "maxmemory") == [
                "maxmemory", str(64 * 1024 * 1024)]
            assert resp_command(sock, "CONFIG", "GET", "maxmemory-policy") == [
                "maxmemory-policy", "noeviction"]
        cli = shutil.which("redis-cli")
        if cli is not None:  # the client the health check uses sees the same data
            out = subprocess.run([cli, "-h", host, "-p", str(port), "GET", "h4:greeting"],
                                 capture_output=True, text=True, timeout=10)
            assert out.stdout.strip() == "héllo"
        servers = redis_servers(port)
        assert len(servers) == 1
    finally:
        c.uninstall("redis")
    c.assert_clean("/redis")
    assert redis_servers(port) == []


def redis_servers(port: int) -> list[int]:
    """Pids of live redis-server processes listening on `port`."""
    out = []
    for p in psutil.process_iter(["pid", "name", "cmdline"]):
        try:
            if p.info["name"] != "redis-server" or p.status() == psutil.STATUS_ZOMBIE:
                continue
            if any(conn.laddr.port == port for conn in p.net_connections(kind="tcp")
                   if conn.status == psutil.CONN_LISTEN):
                out.append(p.pid)
        except psutil.Error:
            continue
    return out
