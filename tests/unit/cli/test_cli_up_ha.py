"""`dcos-py up --ha` / `--zk`: the layout, the components and their flags, the refusals before
anything starts, and how `up` finds the leading master (`/master/redirect`)."""

from __future__ import annotations

import socket
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from cli_fakes import free_port
from typer.testing import CliRunner

from dcos.cli import up, up_ha
from dcos.cli.errors import CliError
from dcos.cli.main import app
from dcos.cli.up import UpOptions, build_components, check_options, starting_what, wiring
from dcos.cli.up_ha import (
    elected,
    ha_layout,
    leader_line,
    leading_master,
    redirect_target,
    zk_serving,
)


def flags_of(argv: list[str], start: int = 3) -> dict[str, str]:
    return dict(zip(argv[start::2], argv[start + 1::2], strict=False))


def test_layout_three_masters_clear_of_the_agents_and_two_webapps() -> None:
    layout = ha_layout(None, 2181, 5050, 8080)
    assert layout.start_zk and str(layout.masters_zk) == "zk://127.0.0.1:2181/dcos"
    assert str(layout.webapp_zk) == "zk://127.0.0.1:2181/dcos-webapp"
    assert layout.master_ports == (5050, 5150, 5250)
    assert layout.webapp_ports == (8080, 8081)
    assert layout.master_urls[1] == "http://127.0.0.1:5150"


def test_layout_on_an_external_ensemble_keeps_its_path() -> None:
    layout = ha_layout("zk://10.0.0.1:2181,10.0.0.2:2181/prod", 2181, 5050, 8080)
    assert not layout.start_zk
    assert str(layout.masters_zk) == "zk://10.0.0.1:2181,10.0.0.2:2181/prod"
    assert str(layout.webapp_zk) == "zk://10.0.0.1:2181,10.0.0.2:2181/prod-webapp"


@pytest.mark.parametrize("url", ["http://h:2181/dcos", "zk://h:2181", "zk://h:2181/"])
def test_a_bad_zk_url_is_refused_naming_the_flag(url: str) -> None:
    with pytest.raises(CliError, match="^--zk: "):
        check_options(UpOptions(zk=url, master_port=free_port(), agent_port=free_port()))


def test_ha_components_zookeeper_gates_three_masters_then_agents_follow_zk(
        tmp_path: Path) -> None:
    opts = UpOptions(agents=2, work_dir=tmp_path, ha=True, zk_port=2999, master_port=6050,
                     agent_port=6051, webapp_port=6080, lb=False)
    comps = build_components(opts)
    names = [c.name for c in comps]
    assert names == ["zookeeper", "master-0", "master-1", "master-2", "agent-0", "agent-1",
                     "webapp-0", "webapp-1", "dns", "batch", "package", "gateway"]
    zk = comps[0]
    assert zk.gate and zk.stop_last and zk.url == "zk://127.0.0.1:2999"
    assert zk.argv[-1] == str(tmp_path / "zookeeper" / "zoo.cfg")
    conf = (tmp_path / "zookeeper" / "zoo.cfg").read_text()
    assert "clientPort=2999" in conf and f"dataDir={tmp_path / 'zookeeper' / 'data'}" in conf
    assert [c.gate for c in comps[1:4]] == [False, False, True]
    for i, port in enumerate((6050, 6150, 6250)):
        master = list(comps[1 + i].argv)
        assert master[:3] == [sys.executable, "-m", "dcos.master"]
        flags = flags_of(master)
        assert flags["--port"] == str(port) and flags["--zk"] == "zk://127.0.0.1:2999/dcos"
        assert flags["--work-dir"] == str(tmp_path / f"master-{i}")
    agent = flags_of([a for a in comps[4].argv if a != "--kill-tasks-on-stop"])
    assert agent["--master"] == "zk://127.0.0.1:2999/dcos" and agent["--port"] == "6051"
    for i, c in enumerate(comps[6:8]):
        flags = flags_of(list(c.argv))
        assert flags["--port"] == str(6080 + i) and flags["--master"] == "zk://127.0.0.1:2999/dcos"
        assert flags["--zk"] == "zk://127.0.0.1:2999/dcos-webapp"
        assert flags["--work-dir"] == str(tmp_path / f"webapp-{i}")
    dns = flags_of(list(comps[8].argv))
    assert dns["--webapp"] == "http://127.0.0.1:6080,http://127.0.0.1:6081"
    assert dns["--master"] == "zk://127.0.0.1:2999/dcos"
    assert flags_of(list(comps[9].argv))["--master"] == "zk://127.0.0.1:2999/dcos"
    package = flags_of([a for a in comps[10].argv if a != "--default-repo"
                        and not a.startswith("Universe=")])
    assert package["--zk"] == "zk://127.0.0.1:2999/dcos-packaging"
    assert package["--webapp"] == "http://127.0.0.1:6080,http://127.0.0.1:6081"
    assert package["--master"] == "zk://127.0.0.1:2999/dcos"
    gateway = list(comps[11].argv)  # every master: the gateway follows the leader itself
    masters = [gateway[i + 1] for i, a in enumerate(gateway) if a == "--master"]
    assert masters == ["http://127.0.0.1:6050", "http://127.0.0.1:6150", "http://127.0.0.1:6250"]


def test_with_zk_no_zookeeper_is_started(tmp_path: Path) -> None:
    opts = UpOptions(agents=1, work_dir=tmp_path, zk="zk://10.1.1.1:2181/prod",
                     webapp=False, dns=False, batch=False, package=False, lb=False)
    comps = build_components(opts)
    assert [c.name for c in comps] == ["master-0", "master-1", "master-2", "agent-0", "gateway"]
    assert flags_of(list(comps[0].argv))["--zk"] == "zk://10.1.1.1:2181/prod"
    assert not (tmp_path / "zookeeper").exists()
    assert starting_what(opts) == "3 masters and 1 agent(s)"
    assert starting_what(UpOptions(ha=True)) == "ZooKeeper, 3 masters and 3 agent(s)"


def test_without_ha_the_cluster_is_as_before(tmp_path: Path) -> None:
    comps = build_components(UpOptions(agents=1, work_dir=tmp_path, lb=False))
    assert [c.name for c in comps] == ["master", "agent-0", "webapp", "dns", "batch", "package",
                                       "gateway"]
    assert "--zk" not in comps[2].argv
    assert flags_of(list(comps[3].argv))["--webapp"] == "http://127.0.0.1:8080"
    assert wiring(UpOptions()).master_arg == "127.0.0.1:5050"


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        yield s.getsockname()[1]


def test_refuses_when_a_standby_masters_port_is_in_use(busy_port: int) -> None:
    opts = UpOptions(ha=True, agents=1, master_port=busy_port - 200, agent_port=free_port(),
                     zk_port=free_port(), webapp=False, dns=False, batch=False, lb=False)
    with pytest.raises(CliError, match=rf"port {busy_port} \(master-2: --master-port \+ 200\) "
                                       "is already in use"):
        check_options(opts)


def test_refuses_when_the_zookeeper_port_is_in_use(busy_port: int, tmp_path: Path) -> None:
    result = CliRunner().invoke(app, [
        "up", "--ha", "--zk-port", str(busy_port), "--master-port", str(free_port()),
        "--agent-port", str(free_port()), "--agents", "1", "--no-webapp", "--no-dns",
        "--no-lb", "--no-batch", "--work-dir", str(tmp_path / "w")])
    assert result.exit_code == 1
    assert result.stderr == (f"dcos-py: port {busy_port} is already in use; use --zk-port to "
                             "pick another\n")
    assert not (tmp_path / "w").exists()


def test_refuses_a_master_port_whose_standby_overlaps_the_agents() -> None:
    with pytest.raises(CliError, match="master port 6150 overlaps the agent ports 6140-6159"):
        check_options(UpOptions(ha=True, agents=20, master_port=6050, agent_port=6140))


def test_refuses_an_ensemble_that_does_not_answer() -> None:
    port = free_port()  # nothing listens there
    with pytest.raises(CliError, match=f"--zk: no ZooKeeper server of zk://127.0.0.1:{port}/x "
                                       "answered within 1 s"):
        up_ha.check_ensemble(up_ha.ha_layout(f"zk://127.0.0.1:{port}/x", 0, 1, 1).masters_zk,
                             timeout=1.0)


def test_leading_master_is_the_one_that_says_it_is_elected() -> None:
    a, b, c = "http://127.0.0.1:1", "http://127.0.0.1:2", "http://127.0.0.1:3"
    assert leading_master([a, b, c], {b}.__contains__) == b
    # None leads (an election is under way, or the leader is dead), or two say so for an
    # instant (a deposed leader about to step down): no answer yet.
    assert leading_master([a, b, c], set().__contains__) is None
    assert leading_master([a, b, c], {a, c}.__contains__) is None


def test_leader_lines() -> None:
    names = {"http://127.0.0.1:5150": "master-1"}
    assert leader_line("x", "x", names) is None
    assert leader_line("x", None, names) == ("dcos-py up: no leading master (an election is "
                                             "under way)")
    assert leader_line(None, "http://127.0.0.1:5150", names) == (
        "dcos-py up: leading master is now master-1 (http://127.0.0.1:5150)")


def test_the_reporter_says_each_change_seen_twice_in_a_row() -> None:
    a, b = "http://127.0.0.1:5050", "http://127.0.0.1:5150"
    # What successive polls find: a blip (one poll without a leader) is not reported.
    answers = iter([a, None, a, None, None, None, b, b, b])
    lines: list[str] = []
    done = threading.Event()

    def find(urls: object) -> str | None:
        try:
            return next(answers)
        except StopIteration:
            done.set()
            return b

    reporter = up_ha.LeaderReporter([a, b], {a: "master-0", b: "master-1"}, a, lines.append,
                                    interval_s=0.001, find=find)
    reporter.start()
    assert done.wait(10)
    reporter.stop()
    assert lines == ["dcos-py up: no leading master (an election is under way)",
                     f"dcos-py up: leading master is now master-1 ({b})"]


class _Redirect(BaseHTTPRequestHandler):
    location: str | None = None

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        if self.path != "/master/redirect" or self.location is None:
            self.send_response(503)
            self.end_headers()
            return
        self.send_response(307)
        self.send_header("Location", self.location)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.mark.parametrize(("location", "expected"), [
    ("//127.0.0.1:5150", "http://127.0.0.1:5150"),  # Mesos' form
    ("http://localhost:5250/master/redirect", "http://localhost:5250"),
    (None, None),  # 503: no leader
])
def test_redirect_target_reads_the_location(location: str | None, expected: str | None) -> None:
    handler = type("H", (_Redirect,), {"location": location})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        assert redirect_target(f"http://127.0.0.1:{server.server_port}") == expected
    finally:
        server.shutdown()
        server.server_close()


def test_nothing_listening_is_no_leader_and_no_zookeeper() -> None:
    port = free_port()
    assert redirect_target(f"http://127.0.0.1:{port}") is None
    assert not elected(f"http://127.0.0.1:{port}")
    assert not zk_serving(port)


class _Metrics(BaseHTTPRequestHandler):
    body = b""

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        self.send_response(200 if self.path == "/metrics/snapshot" else 404)
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.mark.parametrize(("body", "expected"), [
    (b'{"master/elected": 1.0, "master/uptime_secs": 3.5}', True),
    (b'{"master/elected": 0.0}', False),  # a standby
    (b'not json', False),
])
def test_elected_reads_the_masters_gauge(body: bytes, expected: bool) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), type("H", (_Metrics,), {"body": body}))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        assert elected(f"http://127.0.0.1:{server.server_port}") is expected
    finally:
        server.shutdown()
        server.server_close()


def test_refuses_ha_without_zookeeper_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(up, "zookeeper_available", lambda: False)
    opts = UpOptions(ha=True, agents=1, master_port=free_port(), agent_port=free_port(),
                     zk_port=free_port(), webapp=False, dns=False, batch=False, lb=False)
    with pytest.raises(CliError, match=r"^--ha needs ZooKeeper: install the Debian package "
                                       "`zookeeper`"):
        check_options(opts)
