"""`dcos-py up` with the webapp framework, DNS and the load balancer: their command lines and
readiness URLs, the --no-* switches, port checks, and the one-line hint when haproxy is missing."""

from __future__ import annotations

import io
import socket
import sys
from pathlib import Path

import pytest
from rich.console import Console

from dcos.cli import up
from dcos.cli.errors import CliError
from dcos.cli.supervisor import Step
from dcos.cli.up import HAPROXY_HINT, UpOptions, build_components, check_options


def flags(argv) -> dict[str, str]:
    args = list(argv)[3:]
    return dict(zip(args[::2], args[1::2], strict=True))


def test_webapp_dns_and_lb_follow_the_agents(tmp_path: Path) -> None:
    opts = UpOptions(agents=1, work_dir=tmp_path, master_port=6050, agent_port=6051,
                     webapp_port=6080, dns_port=6053, dns_http_port=6123, lb_http_port=6081,
                     lb_stats_port=6090, batch_port=6077,
                     haproxy=sys.executable)  # any executable stands in
    comps = {c.name: c for c in build_components(opts)}
    assert list(comps) == ["master", "agent-0", "webapp", "dns", "batch", "package", "lb",
                           "gateway"]
    webapp, dns, lb = comps["webapp"], comps["dns"], comps["lb"]
    assert webapp.argv[:3] == [sys.executable, "-m", "frameworks.webapp"]
    assert flags(webapp.argv) == {"--master": "127.0.0.1:6050", "--ip": "127.0.0.1",
                                  "--port": "6080", "--work-dir": str(tmp_path / "webapp"),
                                  "--log-file": str(tmp_path / "webapp" / "webapp.log")}
    assert webapp.url == "http://127.0.0.1:6080" and webapp.critical
    assert dns.argv[:3] == [sys.executable, "-m", "dcos.dns"]
    assert flags(dns.argv)["--webapp"] == "http://127.0.0.1:6080"
    assert flags(dns.argv)["--port"] == "6053" and flags(dns.argv)["--http-port"] == "6123"
    assert not dns.critical and not lb.critical
    assert lb.argv[:3] == [sys.executable, "-m", "frameworks.webapp.lb"]
    assert flags(lb.argv)["--haproxy"] == sys.executable
    assert flags(lb.argv)["--http-port"] == "6081" and flags(lb.argv)["--stats-port"] == "6090"
    batch = comps["batch"]
    assert batch.argv[:3] == [sys.executable, "-m", "frameworks.batch.cluster.dispatcher"]
    assert flags(batch.argv) == {"--master": "127.0.0.1:6050", "--ip": "127.0.0.1",
                                 "--port": "6077", "--work-dir": str(tmp_path / "batch")}
    assert batch.url == "http://127.0.0.1:6077" and not batch.critical


def test_no_switches_and_missing_haproxy_leave_components_out(tmp_path: Path) -> None:
    names = [c.name for c in build_components(UpOptions(
        agents=1, work_dir=tmp_path, webapp=False, dns=False, batch=False, package=False,
        gateway=False, haproxy=str(tmp_path / "none")))]
    assert names == ["master", "agent-0"]


def test_busy_service_port_is_refused_before_anything_starts() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        opts = UpOptions(agents=1, master_port=free(), agent_port=free(), webapp_port=port,
                         dns=False, lb=False)
        with pytest.raises(CliError, match=f"port {port} is already in use; use --webapp-port"):
            check_options(opts)


def test_overlapping_service_ports_are_refused() -> None:
    p = free()
    with pytest.raises(CliError, match="--dns-http-port"):
        check_options(UpOptions(agents=1, master_port=free(), agent_port=free(),
                                dns_port=p, dns_http_port=p, webapp=False, lb=False))


def test_missing_haproxy_prints_one_line_with_the_install_hint(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(up, "check_options", lambda opts: None)
    monkeypatch.setattr(up, "build_components", lambda opts: [])
    monkeypatch.setattr(up.Supervisor, "start", lambda self, timeout, stop: Step(
        failed=True, reason="interrupted"))
    out = io.StringIO()
    code = up.run_up(UpOptions(agents=1, work_dir=tmp_path / "w", haproxy=str(tmp_path / "no")),
                     Console(file=out, width=200), Console(file=io.StringIO()))
    assert code == 0
    assert [ln for ln in out.getvalue().splitlines() if "not installed" in ln] == [HAPROXY_HINT]
    assert "apt-get install -y haproxy" in HAPROXY_HINT


def free() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
