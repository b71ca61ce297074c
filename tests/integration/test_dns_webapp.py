"""DNS against the real webapp framework: a real master and agent, `python -m frameworks.webapp`
and `python -m dcos.dns`; an app's A and SRV records follow its tasks (created, then scaled to
zero) through the webapp's event stream, queried with dnspython."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import dns.exception
import dns.rcode
import pytest

from dcos.testing import ProcessCluster, free_port
from tests.integration.test_dns import a_records, eventually, query
from tests.integration.test_lb_zero_downtime import Api, wait_for

pytestmark = pytest.mark.integration


def test_records_follow_the_real_webapps_tasks(tmp_path: Path) -> None:
    c = ProcessCluster(tmp_path / "c", agents=1, master_flags=["--allocation-interval", "0.1"])
    dns_proc = None
    try:
        c.start()
        webapp_port, dns_port, http_port = free_port(), free_port(), free_port()
        c._spawn("webapp", ["-m", "frameworks.webapp", "--master", c.master, "--ip", "127.0.0.1",
                            "--port", str(webapp_port), "--work-dir", str(c.work_dir / "webapp"),
                            "--log-file", str(c.work_dir / "webapp.log")])
        api = Api(f"http://127.0.0.1:{webapp_port}")
        wait_for(lambda: api.call("GET", "/ping")[0] == 200, "webapp /ping")
        dns_proc = subprocess.Popen(
            [sys.executable, "-m", "dcos.dns", "--master", c.master, "--webapp", api.url,
             "--port", str(dns_port), "--http-port", str(http_port), "--refresh-seconds", "3600",
             "--log-file", str(tmp_path / "dns.log")],
            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True)
        wait_for(lambda: api.call("GET", "/v2/info")[0] == 200, "webapp info")
        code, body = api.call("POST", "/v2/apps", {
            "id": "/shop/cart", "cmd": "sleep 600", "cpus": 0.1, "mem": 16, "instances": 2,
            "portDefinitions": [{"port": 0}, {"port": 0}]})
        assert code == 201, body

        def task_ports() -> list[int]:
            return sorted(p for t in api.app("/shop/cart").get("tasks") or []
                          if t.get("state") == "TASK_RUNNING" for p in t["ports"])

        wait_for(lambda: len(task_ports()) == 4, "2 running tasks with 2 ports each")

        def srv_ports() -> list[int]:
            try:
                reply = query(dns_port, "_cart-shop._tcp.webapp.dcos", "SRV")
            except (OSError, dns.exception.DNSException):  # not serving yet
                return []
            return sorted(rr.port for rs in reply.answer for rr in rs)

        eventually(srv_ports, task_ports(), "SRV ports are the tasks' ports")
        assert a_records(dns_port, "cart-shop.webapp.dcos") == ["127.0.0.1"]
        assert a_records(dns_port, "webapp.dcos") == ["127.0.0.1"]

        code, _ = api.call("PUT", "/v2/apps/shop/cart", {"instances": 0})
        assert code == 200
        eventually(lambda: query(dns_port, "cart-shop.webapp.dcos").rcode(), dns.rcode.NXDOMAIN,
                   "NXDOMAIN once scaled to zero")
    finally:
        if dns_proc is not None:
            dns_proc.terminate()
            dns_proc.wait(10)
        c.stop()
