"""`dcos-py up`'s gateway component (`dcos.cli.up_gateway`): its command line (every master,
the package service and DNS when they run), the cluster id kept in the work dir, the port check,
`--no-gateway`, and the summary that names the gateway's URL first."""

from __future__ import annotations

import io
import socket
import sys
import uuid
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from dcos.cli import main, up
from dcos.cli.errors import CliError
from dcos.cli.up import UpOptions, announce, build_components, check_options, wiring
from dcos.cli.up_gateway import CLUSTER_ID_FILE, cluster_id


def free() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def flag_values(argv: list[str], flag: str) -> list[str]:
    return [argv[i + 1] for i, a in enumerate(argv) if a == flag]


def test_gateway_starts_last_with_every_upstream(tmp_path: Path) -> None:
    comps = build_components(UpOptions(agents=1, work_dir=tmp_path, master_port=6050,
                                       agent_port=6051, package_port=6070, dns_http_port=6123,
                                       gateway_port=6000, lb=False))
    gateway = comps[-1]
    assert gateway.name == "gateway" and not gateway.critical
    argv = list(gateway.argv)
    assert argv[:3] == [sys.executable, "-m", "dcos.gateway"]
    assert flag_values(argv, "--ip") == ["127.0.0.1"] and flag_values(argv, "--port") == ["6000"]
    assert flag_values(argv, "--master") == ["http://127.0.0.1:6050"]
    assert flag_values(argv, "--package") == ["http://127.0.0.1:6070"]
    assert flag_values(argv, "--dns-http") == ["http://127.0.0.1:6123"]
    assert flag_values(argv, "--cluster-name") == ["dcos-py"]
    assert flag_values(argv, "--cluster-id") == [(tmp_path / CLUSTER_ID_FILE).read_text().strip()]
    assert flag_values(argv, "--log-file") == [str(tmp_path / "gateway" / "gateway.log")]
    assert gateway.url == "http://127.0.0.1:6000"


def test_gateway_without_packages_or_dns_gets_no_such_flag(tmp_path: Path) -> None:
    comps = build_components(UpOptions(agents=1, work_dir=tmp_path, package=False, dns=False,
                                       lb=False))
    argv = list(comps[-1].argv)
    assert comps[-1].name == "gateway"
    assert "--package" not in argv and "--dns-http" not in argv
    assert flag_values(argv, "--port") == ["8000"]


def test_no_gateway_leaves_it_out(tmp_path: Path) -> None:
    opts = UpOptions(agents=1, work_dir=tmp_path, gateway=False, lb=False)
    assert "gateway" not in [c.name for c in build_components(opts)]
    assert "--gateway-port" not in {flag for _, flag in up.service_ports(opts)}


def test_cluster_id_is_kept_across_restarts(tmp_path: Path) -> None:
    first = cluster_id(tmp_path / "new")
    assert str(uuid.UUID(first)) == first
    assert cluster_id(tmp_path / "new") == first
    assert (tmp_path / "new" / CLUSTER_ID_FILE).read_text() == first + "\n"
    assert cluster_id(tmp_path / "other") != first


def test_a_cluster_id_file_that_is_no_uuid_is_refused(tmp_path: Path) -> None:
    (tmp_path / CLUSTER_ID_FILE).write_text("not-an-id\n")
    with pytest.raises(CliError, match="does not hold a cluster id.*remove it"):
        cluster_id(tmp_path)


def test_busy_gateway_port_is_refused() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        opts = UpOptions(agents=1, master_port=free(), agent_port=free(), webapp=False,
                         dns=False, lb=False, batch=False, package=False, gateway_port=port)
        with pytest.raises(CliError, match=f"port {port} is already in use; use --gateway-port"):
            check_options(opts)


def test_gateway_port_overlapping_another_is_refused() -> None:
    p = free()
    with pytest.raises(CliError, match=f"--gateway-port {p} overlaps"):
        check_options(UpOptions(agents=1, master_port=free(), agent_port=free(), webapp=False,
                                dns=False, lb=False, batch=False, package_port=p,
                                gateway_port=p))


def test_summary_names_the_gateway_first(tmp_path: Path) -> None:
    opts = UpOptions(agents=1, work_dir=tmp_path, lb=False, gateway_port=6000)
    out = io.StringIO()
    announce(opts, build_components(opts), {}, wiring(opts), None, Console(file=out, width=200))
    lines = out.getvalue().splitlines()
    assert lines[0] == "Web UI and API: http://127.0.0.1:6000"
    assert any("gateway" in line and "http://127.0.0.1:6000" in line for line in lines[1:])
    opts = UpOptions(agents=1, work_dir=tmp_path, lb=False, gateway=False)
    out = io.StringIO()
    announce(opts, build_components(opts), {}, wiring(opts), None, Console(file=out, width=200))
    assert "Web UI" not in out.getvalue()


def test_cli_flags_reach_the_options(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[UpOptions] = []

    def fake_run_up(opts: UpOptions, out: Console, err: Console) -> int:
        seen.append(opts)
        return 0

    monkeypatch.setattr(main, "run_up", fake_run_up)
    runner = CliRunner()
    assert runner.invoke(main.app, ["up", "--gateway-port", "6001"]).exit_code == 0
    assert runner.invoke(main.app, ["up", "--no-gateway"]).exit_code == 0
    assert runner.invoke(main.app, ["up"]).exit_code == 0
    assert [(o.gateway, o.gateway_port) for o in seen] == [(True, 6001), (False, 8000),
                                                           (True, 8000)]
