"""End to end: `dcos-py up --agents 2` as a real process (master, agents, webapp framework, DNS,
load balancer), `node list` and the webapp's /ping against it, SIGTERM, and nothing of the
cluster left behind."""

from __future__ import annotations

import contextlib
import os
import queue
import signal
import subprocess
import sys
import threading
import urllib.request
from pathlib import Path

import dns.message
import dns.query
import orjson
import psutil
from up_process import quiet_ports

from dcos.testing import pid_alive

START_TIMEOUT_S = 60


def cli() -> list[str]:
    script = Path(sys.executable).parent / "dcos-py"
    return [str(script)] if script.exists() else [sys.executable, "-m", "dcos.cli"]


def read_lines(stream, lines: queue.Queue[str | None]) -> None:
    for line in stream:
        lines.put(line)
    lines.put(None)


def wait_for(lines: queue.Queue[str | None], text: str, seen: list[str]) -> bool:
    """Consume output lines until one contains `text` (True) or the output ends (False)."""
    while True:
        try:
            line = lines.get(timeout=START_TIMEOUT_S)
        except queue.Empty:
            return False
        if line is None:
            return False
        seen.append(line)
        if text in line:
            return True


def test_up_two_agents_node_list_then_sigterm_leaves_nothing(tmp_path: Path) -> None:
    (agent_port, _, master_port, webapp_port, dns_port, dns_http, lb_http, lb_stats,
     batch_port, package_port, gateway_port) = quiet_ports(11, in_a_row=2)  # agent i listens on agent_port + i
    work = tmp_path / "cluster"
    env = {**os.environ, "COLUMNS": "200"}
    env.pop("DCOS_MASTER", None)
    proc = subprocess.Popen(
        [*cli(), "up", "--agents", "2", "--work-dir", str(work),
         "--master-port", str(master_port), "--agent-port", str(agent_port),
         "--webapp-port", str(webapp_port), "--dns-port", str(dns_port),
         "--dns-http-port", str(dns_http), "--lb-http-port", str(lb_http),
         "--lb-stats-port", str(lb_stats), "--batch-port", str(batch_port),
         "--package-port", str(package_port), "--gateway-port", str(gateway_port)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
    )
    lines: queue.Queue[str | None] = queue.Queue()
    threading.Thread(target=read_lines, args=(proc.stdout, lines), daemon=True).start()
    seen: list[str] = []
    family: list[psutil.Process] = []
    try:
        assert wait_for(lines, "cluster ready", seen), "".join(seen)
        recorded = orjson.loads((work / "pids.json").read_bytes())
        assert recorded["supervisor"] == proc.pid
        assert set(recorded["components"]) == {"master", "agent-0", "agent-1", "webapp", "dns",
                                               "batch", "package", "lb", "gateway"}, "haproxy missing? " + "".join(seen)
        family = psutil.Process(proc.pid).children(recursive=True)
        assert {p.pid for p in family} >= set(recorded["components"].values())

        listed = subprocess.run(
            [*cli(), "node", "list", "--json", "--master", f"127.0.0.1:{master_port}"],
            capture_output=True, text=True, timeout=60, env=env,
        )
        assert listed.returncode == 0, listed.stderr
        agents = orjson.loads(listed.stdout)
        assert sorted(a["port"] for a in agents) == [agent_port, agent_port + 1]

        table = subprocess.run(
            [*cli(), "node", "list", "--master", f"http://127.0.0.1:{master_port}"],
            capture_output=True, text=True, timeout=60, env=env,
        )
        assert table.returncode == 0 and str(agent_port + 1) in table.stdout

        with urllib.request.urlopen(f"http://127.0.0.1:{webapp_port}/ping", timeout=10) as r:
            assert r.status == 200
        reply = dns.query.udp(dns.message.make_query("leader.dcos", "A"), "127.0.0.1",
                              port=dns_port, timeout=5)
        assert [rr.address for rrset in reply.answer for rr in rrset] == ["127.0.0.1"]
        with urllib.request.urlopen(f"http://127.0.0.1:{lb_stats}/_haproxy_health_check",
                                    timeout=10) as r:
            assert r.status == 200
        # The batch dispatcher is registered with the master, so `batch submit` finds it.
        with urllib.request.urlopen(f"http://127.0.0.1:{master_port}/master/frameworks",
                                    timeout=10) as r:
            names = {f["name"] for f in orjson.loads(r.read())["frameworks"] if f["active"]}
        assert {"webapp", "batch-dispatcher"} <= names

        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0, "".join(seen) + "".join(iter(lines.get, None))
        assert [p.pid for p in family if pid_alive(p.pid)] == []
        assert not (work / "pids.json").exists()
        assert (work / "master" / "master.log").exists()
        assert (work / "agent-1" / "agent.log").exists()
    finally:
        if proc.poll() is None:
            with contextlib.suppress(psutil.Error):
                family += psutil.Process(proc.pid).children(recursive=True)
            proc.kill()
            proc.wait()
        for p in family:
            with contextlib.suppress(psutil.Error):
                p.kill()
