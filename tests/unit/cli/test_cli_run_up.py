"""`dcos-py up`: refusals before start, the components it builds, and its run/stop cycle
(with stand-in processes for the master and agents)."""

from __future__ import annotations

import io
import os
import signal
import socket
import sys
from pathlib import Path

import psutil
import pytest
from cli_fakes import free_port
from rich.console import Console
from typer.testing import CliRunner

from dcos.cli import up
from dcos.cli.errors import CliError
from dcos.cli.main import app
from dcos.cli.supervisor import Component
from dcos.cli.up import UpOptions, build_components, check_options, run_up


@pytest.fixture
def busy_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        yield s.getsockname()[1]


def test_refuses_when_master_port_in_use(busy_port: int, tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["up", "--master-port", str(busy_port),
                                      "--agent-port", str(free_port()), "--agents", "1",
                                      "--work-dir", str(tmp_path / "w")])
    assert result.exit_code == 1
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith(f"dcos-py: port {busy_port} is already in use")
    assert not (tmp_path / "w").exists()


def test_refuses_when_an_agent_port_in_use(busy_port: int) -> None:
    with pytest.raises(CliError, match=f"agent port {busy_port} is already in use"):
        check_options(UpOptions(agents=1, master_port=free_port(), agent_port=busy_port))


@pytest.mark.parametrize("agents", [0, 40])
def test_refuses_bad_agent_count(agents: int) -> None:
    with pytest.raises(CliError, match="--agents must be between 1 and 34"):
        check_options(UpOptions(agents=agents))


def test_components_run_the_master_then_agents_with_their_shares(tmp_path: Path) -> None:
    comps = build_components(UpOptions(agents=2, work_dir=tmp_path, master_port=6050,
                                       agent_port=6051))
    assert [c.name for c in comps][:3] == ["master", "agent-0", "agent-1"]
    assert comps[0].gate and comps[0].url == "http://127.0.0.1:6050"
    assert comps[0].argv == [sys.executable, "-m", "dcos.master", "--ip", "127.0.0.1",
                             "--port", "6050", "--work-dir", str(tmp_path / "master"),
                             "--log-file", str(tmp_path / "master" / "master.log")]
    agent = list(comps[2].argv)
    assert "--kill-tasks-on-stop" in agent  # Ctrl-C on `up` leaves no task behind
    agent.remove("--kill-tasks-on-stop")
    assert agent[:3] == [sys.executable, "-m", "dcos.agent"]
    flags = dict(zip(agent[3::2], agent[4::2], strict=True))
    assert flags["--master"] == "127.0.0.1:6050" and flags["--port"] == "6052"
    assert flags["--work-dir"] == str(tmp_path / "agent-1")
    assert flags["--log-file"] == str(tmp_path / "agent-1" / "agent.log")
    assert flags["--resources"].endswith(";ports:[32000-32999]")
    assert comps[2].url == "http://127.0.0.1:6052"


class SignalOnReady(io.StringIO):
    """Console output that sends this process SIGTERM once `up` says the cluster is ready,
    as an operator's Ctrl-C would."""

    def write(self, text: str) -> int:
        n = super().write(text)
        if "cluster ready" in text:
            os.kill(os.getpid(), signal.SIGTERM)
        return n


def stand_ins(tmp_path: Path, exit_code: int | None = None) -> list[Component]:
    ready = tmp_path / "ready"
    waiter = f"open({str(ready)!r}, 'w').close(); import signal; signal.pause()"
    crasher = f"print('fatal: cannot bind'); raise SystemExit({exit_code})"
    return [
        Component(name="master", argv=[sys.executable, "-c", waiter], log_path=tmp_path / "m.log",
                  ready=ready.exists, gate=True, url="http://127.0.0.1:1"),
        Component(name="agent-0", argv=[sys.executable, "-c",
                                        crasher if exit_code is not None else waiter],
                  log_path=tmp_path / "a.log", ready=ready.exists, url="http://127.0.0.1:2"),
    ]


def test_runs_until_sigterm_then_stops_everything(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(up, "check_options", lambda opts: None)
    monkeypatch.setattr(up, "build_components", lambda opts: stand_ins(tmp_path))
    out, err = SignalOnReady(), io.StringIO()
    children_before = set(psutil.Process().children(recursive=True))
    handler_before = signal.getsignal(signal.SIGTERM)
    code = run_up(UpOptions(agents=1, work_dir=tmp_path / "w"), Console(file=out, width=200),
                  Console(file=err, width=200))
    assert code == 0, err.getvalue()
    text = out.getvalue()
    assert "http://127.0.0.1:1" in text and str(tmp_path / "a.log") in text
    assert "cluster stopped" in text
    assert set(psutil.Process().children(recursive=True)) == children_before
    assert signal.getsignal(signal.SIGTERM) == handler_before
    assert not (tmp_path / "w" / "pids.json").exists()


def test_component_exit_during_start_is_exit_1_with_its_log(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(up, "check_options", lambda opts: None)
    monkeypatch.setattr(up, "build_components", lambda opts: stand_ins(tmp_path, exit_code=4))
    out, err = io.StringIO(), io.StringIO()
    children_before = set(psutil.Process().children(recursive=True))
    code = run_up(UpOptions(agents=1, work_dir=tmp_path / "w"), Console(file=out, width=200),
                  Console(file=err, width=200))
    assert code == 1
    lines = err.getvalue().splitlines()
    assert lines[0] == "dcos-py up: agent-0 exited with code 4 before it was ready"
    assert lines[-1] == "  fatal: cannot bind"
    assert set(psutil.Process().children(recursive=True)) == children_before


def test_refuses_a_work_dir_held_by_another_up(tmp_path: Path) -> None:
    fd = up.lock_work_dir(tmp_path)  # a second open file description cannot take the flock
    try:
        with pytest.raises(CliError, match="is in use by another `dcos-py up`"):
            up.lock_work_dir(tmp_path)
    finally:
        os.close(fd)
    os.close(up.lock_work_dir(tmp_path))  # free again once the holder let go


def test_a_port_whose_connections_are_in_time_wait_is_not_in_use() -> None:
    # The server side closes first, so its end of the connection stays in TIME_WAIT on the
    # server's port after the server stopped: as after Ctrl-C on `up` once a client had called.
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", 0))
    server.listen()
    port = server.getsockname()[1]
    client = socket.create_connection(("127.0.0.1", port))
    conn, _ = server.accept()
    conn.close()
    assert client.recv(1) == b""
    client.close()
    server.close()
    with open("/proc/net/tcp") as f:
        states = [(int(r.split()[1].split(":")[1], 16), r.split()[3]) for r in f.readlines()[1:]]
    assert (port, "06") in states  # TIME_WAIT
    assert not up.port_in_use(port)


def test_a_listening_port_is_in_use_even_with_reuseaddr() -> None:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as aiohttp's servers bind
        s.bind(("127.0.0.1", 0))
        s.listen()
        assert up.port_in_use(s.getsockname()[1])
