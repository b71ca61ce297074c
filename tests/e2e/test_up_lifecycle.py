"""End to end: `dcos-py up` keeps the cluster up when a component crashes (it is restarted,
with backoff, and reported), starts again at once after Ctrl-C although the previous run's
connections are in TIME_WAIT, and leaves nothing running when it is itself killed with -9."""

from __future__ import annotations

import os
import signal
import urllib.request
from pathlib import Path

import orjson
import psutil
import pytest
from up_process import UpProcess, quiet_ports

from dcos.cli.up import find_haproxy
from dcos.testing import pid_alive, wait_until

TCP_TIME_WAIT = "06"


def using(work: Path) -> list[str]:
    """Command lines of live processes that name `work` in their arguments or run in it."""
    found = []
    for p in psutil.process_iter(["cmdline", "cwd", "status"]):
        if p.info["status"] == psutil.STATUS_ZOMBIE:
            continue
        line = " ".join(p.info["cmdline"] or [])
        if str(work) in line or (p.info["cwd"] or "").startswith(str(work)):
            found.append(line)
    return found


def get_json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=10) as r:
        return dict(orjson.loads(r.read()))


def time_wait_on(port: int) -> bool:
    """Whether a TCP connection in TIME_WAIT has `port` as its local port (/proc/net/tcp)."""
    with open("/proc/net/tcp") as f:
        rows = [line.split() for line in f.readlines()[1:]]
    return any(int(r[1].split(":")[1], 16) == port and r[3] == TCP_TIME_WAIT for r in rows)


def test_killed_agent_is_restarted_and_up_starts_again_right_after_ctrl_c(tmp_path: Path) -> None:
    master_port, agent_port = quiet_ports(2)
    args = ["--agents", "1", "--master-port", str(master_port), "--agent-port", str(agent_port),
            "--no-webapp", "--no-dns", "--no-lb", "--no-batch", "--no-packages", "--no-gateway"]
    master = f"http://127.0.0.1:{master_port}"
    first = UpProcess(args, tmp_path / "cluster")
    try:
        first.wait_for("cluster ready")
        assert get_json(master + "/master/state")["activated_slaves"] == 1
        agent = first.pids()["agent-0"]
        os.kill(agent, signal.SIGKILL)
        first.wait_for("agent-0 exited with code -9; restarting in 1 s (restart 1)")
        back = first.wait_for("agent-0 is registered with the master again")
        assert first.pids()["agent-0"] != agent and f"pid {first.pids()['agent-0']}" in back
        slaves = get_json(master + "/master/slaves")["slaves"]
        assert [(s["port"], s["active"]) for s in slaves] == [(agent_port, True)]
        assert get_json(master + "/master/state")["activated_slaves"] == 1
        first.proc.send_signal(signal.SIGINT)
        assert first.proc.wait(timeout=60) == 0, first.output() + first.rest()
        assert first.alive() == []
    finally:
        first.cleanup()
    assert time_wait_on(master_port)  # what made the port check fail before

    again = UpProcess(args, tmp_path / "cluster")
    try:
        again.wait_for("cluster ready")
        assert get_json(master + "/master/state")["activated_slaves"] == 1
        again.proc.send_signal(signal.SIGINT)
        assert again.proc.wait(timeout=60) == 0, again.output() + again.rest()
    finally:
        again.cleanup()


@pytest.mark.skipif(find_haproxy() is None, reason="haproxy is not installed")
def test_kill_9_of_up_stops_every_component_and_haproxy(tmp_path: Path) -> None:
    (master_port, agent_port, webapp, dns, dns_http, lb_http, lb_stats, batch,
     package, gateway) = quiet_ports(10)
    up = UpProcess(["--agents", "1", "--master-port", str(master_port),
                    "--agent-port", str(agent_port), "--webapp-port", str(webapp),
                    "--dns-port", str(dns), "--dns-http-port", str(dns_http),
                    "--lb-http-port", str(lb_http), "--lb-stats-port", str(lb_stats),
                    "--batch-port", str(batch), "--package-port", str(package),
                    "--gateway-port", str(gateway)],
                   tmp_path / "cluster")
    try:
        up.wait_for("cluster ready")
        pids = up.pids()
        assert set(pids) == {"master", "agent-0", "webapp", "dns", "batch", "package", "lb",
                             "gateway"}
        # A task of the webapp, so that the agent has a task (and its launcher) to clean up.
        app = urllib.request.Request(
            f"http://127.0.0.1:{webapp}/v2/apps", method="POST",
            data=orjson.dumps({"id": "/sleeper", "cmd": "sleep 600", "cpus": 0.1, "mem": 32,
                               "instances": 1}),
            headers={"Content-Type": "application/json"})
        urllib.request.urlopen(app, timeout=10).close()
        wait_until(lambda: get_json(f"http://127.0.0.1:{webapp}/v2/apps/sleeper")["app"]
                   ["tasksRunning"] == 1, "the sleeper task to run")
        assert any("sleep 600" in line for line in using(up.work))
        haproxy = [p for p in up.note_family() if p.name() == "haproxy"]
        assert haproxy, up.alive()
        # The load balancer killed: its HAProxy goes with it, and a new pair takes over.
        os.kill(pids["lb"], signal.SIGKILL)
        up.wait_for("lb exited with code -9; restarting in 1 s (restart 1)")
        up.wait_for("lb is serving (HAProxy up) again")
        wait_until(lambda: not any(pid_alive(p.pid) for p in haproxy), "the old haproxy to stop")
        assert [p for p in up.note_family() if p.name() == "haproxy"]
        with urllib.request.urlopen(f"http://127.0.0.1:{lb_stats}/_haproxy_health_check",
                                    timeout=10) as r:
            assert r.status == 200

        family = up.note_family()
        names = {" ".join(p.cmdline()) for p in family}
        for module in ("dcos.master", "dcos.agent", "frameworks.webapp", "dcos.dns",
                       "frameworks.batch.cluster.dispatcher", "dcos.packaging",
                       "frameworks.webapp.lb", "dcos.gateway", "haproxy"):
            assert any(module in n for n in names), (module, names)
        up.proc.kill()
        up.proc.wait()
        wait_until(lambda: up.alive() == [], "every component to stop", timeout=15,
                   diag=lambda: "\n".join(up.alive()))
        # Nor anything detached that works in the cluster's dir (an agent's task launcher).
        wait_until(lambda: using(up.work) == [], "nothing to use the work dir", timeout=15,
                   diag=lambda: "\n".join(using(up.work)))
    finally:
        up.cleanup()
