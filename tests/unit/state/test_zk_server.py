"""`dcos.state.zk_server`: zoo.cfg text (standalone and ensemble), `write_config` as before,
and the host launcher ``python -m dcos.state.zk_server`` (data dirs, myid, exec java) that the
installer's ZooKeeper service runs: three launchers on loopback form a real ensemble."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from dcos.state import zk_server
from dcos.state.zk_server import config_text, prepare_host_dirs, read_config, write_config
from dcos.testing.processes import free_port
from dcos.testing.waiting import wait_until
from dcos.testing.zookeeper import four_letter_word


def test_standalone_text_binds_the_given_address_and_names_no_servers() -> None:
    text = config_text(client_port=2181, data_dir="/var/lib/dcos-py/zookeeper/data",
                       log_dir="/var/lib/dcos-py/zookeeper/log", ip="10.0.0.11")
    cfg = read_config(text)
    assert cfg["clientPort"] == "2181"
    assert cfg["clientPortAddress"] == "10.0.0.11"
    assert cfg["dataDir"] == "/var/lib/dcos-py/zookeeper/data"
    assert cfg["dataLogDir"] == "/var/lib/dcos-py/zookeeper/log"
    assert not [k for k in cfg if k.startswith("server.")]


def test_ensemble_text_lists_every_member_in_id_order() -> None:
    peers = [("10.0.0.11", 2888, 3888), ("10.0.0.12", 2888, 3888), ("fd00::13", 2888, 3888)]
    cfg = read_config(config_text(client_port=2181, data_dir="/d", log_dir="/l",
                                  server_id=2, peers=peers, ip="10.0.0.12"))
    assert cfg["server.1"] == "10.0.0.11:2888:3888"
    assert cfg["server.2"] == "10.0.0.12:2888:3888"
    assert cfg["server.3"] == "[fd00::13]:2888:3888"
    assert cfg["quorumListenOnAllIPs"] == "false"


@pytest.mark.parametrize("server_id", [None, 0, 4])
def test_ensemble_text_refuses_an_id_outside_the_members(server_id: int | None) -> None:
    with pytest.raises(ValueError, match="server_id must be 1..3"):
        config_text(client_port=2181, data_dir="/d", log_dir="/l", server_id=server_id,
                    peers=[("a", 1, 2), ("b", 1, 2), ("c", 1, 2)])


def test_write_config_keeps_its_layout_and_writes_myid(tmp_path: Path) -> None:
    conf = write_config(tmp_path, client_port=2999, server_id=3,
                        peers=[("127.0.0.1", 1, 2), ("127.0.0.1", 3, 4), ("127.0.0.1", 5, 6)])
    assert conf == tmp_path / "zoo.cfg"
    cfg = read_config(conf.read_text())
    assert cfg["dataDir"] == str(tmp_path / "data")
    assert cfg["dataLogDir"] == str(tmp_path / "log")
    assert (tmp_path / "data" / "myid").read_text() == "3\n"
    standalone = write_config(tmp_path / "s", client_port=2998)
    assert "server.1" not in standalone.read_text()
    assert not (tmp_path / "s" / "data" / "myid").exists()


def test_prepare_host_dirs_makes_the_dirs_and_copies_myid(tmp_path: Path) -> None:
    etc = tmp_path / "etc"
    etc.mkdir()
    data, log = tmp_path / "work" / "zookeeper" / "data", tmp_path / "work" / "zookeeper" / "log"
    (etc / "zoo.cfg").write_text(config_text(
        client_port=2181, data_dir=data, log_dir=log, server_id=1,
        peers=[("10.0.0.11", 2888, 3888), ("10.0.0.12", 2888, 3888), ("10.0.0.13", 2888, 3888)]))
    (etc / "myid").write_text("1\n")
    prepare_host_dirs(etc / "zoo.cfg")
    assert log.is_dir()
    assert (data / "myid").read_text() == "1\n"
    (etc / "myid").write_text("2\n")  # a changed id is taken on the next start
    prepare_host_dirs(etc / "zoo.cfg")
    assert (data / "myid").read_text() == "2\n"


def test_prepare_host_dirs_refuses_an_ensemble_without_myid(tmp_path: Path) -> None:
    (tmp_path / "zoo.cfg").write_text(config_text(
        client_port=2181, data_dir=tmp_path / "d", log_dir=tmp_path / "l", server_id=1,
        peers=[("10.0.0.11", 2888, 3888)]))
    with pytest.raises(ValueError, match="myid"):
        prepare_host_dirs(tmp_path / "zoo.cfg")


def test_launcher_exits_1_with_a_message_on_a_missing_config(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "dcos.state.zk_server", "--config",
                           str(tmp_path / "nope.cfg")], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 1
    assert "zookeeper: cannot start" in done.stderr and "nope.cfg" in done.stderr


def test_three_launchers_form_an_ensemble(tmp_path: Path) -> None:
    """What the installer runs on three masters, on loopback with distinct ports: each
    launcher execs java (the pid supervisord watches is ZooKeeper's) and they elect a leader."""
    zk_server.classpath()  # ZooKeeperMissing fails the test: the suite needs the package
    ports = [(free_port(), free_port(), free_port()) for _ in range(3)]
    peers = [("127.0.0.1", q, e) for _, q, e in ports]
    procs: list[subprocess.Popen[bytes]] = []
    try:
        for i, (client, _, _) in enumerate(ports, start=1):
            etc = tmp_path / f"h{i}" / "etc"
            etc.mkdir(parents=True)
            work = tmp_path / f"h{i}" / "work"
            (etc / "zoo.cfg").write_text(config_text(
                client_port=client, data_dir=work / "data", log_dir=work / "log",
                server_id=i, peers=peers))
            (etc / "myid").write_text(f"{i}\n")
            out = open(tmp_path / f"h{i}" / "zookeeper.log", "wb")
            procs.append(subprocess.Popen(
                [sys.executable, "-m", "dcos.state.zk_server", "--config", str(etc / "zoo.cfg"),
                 "--heap-mb", "64"], stdout=out, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True))
            out.close()

        def modes() -> list[str]:
            found = []
            for client, _, _ in ports:
                for line in four_letter_word("127.0.0.1", client, "srvr").splitlines():
                    if line.startswith("Mode:"):
                        found.append(line.split(":", 1)[1].strip())
            return found

        wait_until(lambda: len(modes()) == 3, "three members serving", timeout=60)
        assert sorted(modes()) == ["follower", "follower", "leader"]
        for proc in procs:  # exec'd: the launcher's pid is java's now
            assert "java" in os.readlink(f"/proc/{proc.pid}/exe")
    finally:
        for proc in procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
