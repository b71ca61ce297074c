"""Real ZooKeeper servers for tests: one standalone server or a 3-server ensemble on loopback.

Called by: ``tests/conftest.py`` (the session fixture ``zk_server``), HA integration and chaos
tests (`ZooKeeperEnsemble` to stop one server, or the leader's), and framework authors' tests.
The servers come from the Debian ``zookeeper`` package (`dcos.state.zk_server`); when it is
missing, `start` raises `ZooKeeperMissing` (tests fail loudly, they never skip)::

    zk = ZooKeeperServer(tmp_path / "zk").start()
    try:
        store = await ZooKeeperStateStore.open(zk.url("/test"))
    finally:
        zk.stop()

Each server runs in its own process group (``start_new_session``) and, when started from the
main thread, gets SIGTERM if the test process dies (`dcos.common.lifeline`), so nothing
outlives the tests. `start` returns once the server serves clients (the ``srvr`` four-letter
word reports a mode: standalone, leader or follower).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import threading
from pathlib import Path

from dcos.common.lifeline import die_with_parent
from dcos.state.zk_server import ZooKeeperMissing, write_config, zookeeper_argv
from dcos.testing.processes import free_port
from dcos.testing.waiting import wait_until

__all__ = ["ZooKeeperEnsemble", "ZooKeeperMissing", "ZooKeeperServer", "four_letter_word"]


def four_letter_word(host: str, port: int, word: str, timeout: float = 1.0) -> str:
    """Send a ZooKeeper four-letter command (``ruok``, ``srvr``, ``mntr``) and return the
    answer; "" when the server does not answer."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as s:
            s.sendall(word.encode())
            chunks = []
            while True:
                data = s.recv(65536)
                if not data:
                    break
                chunks.append(data)
            return b"".join(chunks).decode(errors="replace")
    except OSError:
        return ""


class ZooKeeperServer:
    """One ZooKeeper server process under `work_dir` (config, data, log and ``zookeeper.out``)
    on 127.0.0.1:`port` (a free port when None). For an ensemble member, `server_id` (1..n) and
    `peers` (every member's ``(ip, quorum_port, election_port)``) are given by
    `ZooKeeperEnsemble`."""

    def __init__(
        self,
        work_dir: str | os.PathLike[str],
        port: int | None = None,
        *,
        server_id: int | None = None,
        peers: list[tuple[str, int, int]] | None = None,
    ) -> None:
        self.work_dir = Path(work_dir)
        self.port = port or free_port()
        self.server_id = server_id
        self.peers = peers
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def hosts(self) -> str:
        """``"127.0.0.1:<port>"``: the kazoo hosts string."""
        return f"127.0.0.1:{self.port}"

    def url(self, path: str = "/dcos") -> str:
        """``zk://127.0.0.1:<port><path>``."""
        return f"zk://{self.hosts}/{path.lstrip('/')}"

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def spawn(self) -> None:
        """Start the process without waiting for it to serve (ensembles start all first)."""
        if self.running:
            return
        conf = write_config(
            self.work_dir, client_port=self.port, server_id=self.server_id, peers=self.peers
        )
        argv = zookeeper_argv(conf)
        log = open(self.work_dir / "zookeeper.out", "ab")
        main = threading.current_thread() is threading.main_thread()
        try:
            self.proc = subprocess.Popen(
                argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                cwd=self.work_dir, start_new_session=True,
                preexec_fn=die_with_parent(signal.SIGKILL) if main else None,
            )
        finally:
            log.close()

    def mode(self) -> str | None:
        """``standalone``, ``leader`` or ``follower`` while serving clients, else None."""
        for line in four_letter_word("127.0.0.1", self.port, "srvr").splitlines():
            if line.startswith("Mode:"):
                return line.split(":", 1)[1].strip()
        return None

    def wait_serving(self, timeout: float = 60.0) -> None:
        """Wait until the server answers ``srvr`` with a mode; AssertionError with the log's
        tail otherwise (or as soon as the process exits)."""

        def serving() -> bool:
            if not self.running:
                code = self.proc.returncode if self.proc else None
                raise AssertionError(
                    f"ZooKeeper on {self.hosts} exited ({code}):\n{self.log_tail()}"
                )
            return self.mode() is not None

        wait_until(serving, f"ZooKeeper serving on {self.hosts}", timeout, diag=self.log_tail)

    def start(self, timeout: float = 60.0) -> ZooKeeperServer:
        """Start the server and wait until it serves; returns self."""
        self.spawn()
        try:
            self.wait_serving(timeout)
        except BaseException:
            self.kill()
            raise
        return self

    def _signal_group(self, sig: int) -> None:
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM, then SIGKILL after `timeout` s; waits for the process to exit."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self._signal_group(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                pass
        self._signal_group(signal.SIGKILL)
        self.proc.wait()

    def kill(self) -> None:
        """SIGKILL the server (its group) and wait for it to exit."""
        if self.proc is None:
            return
        self._signal_group(signal.SIGKILL)
        self.proc.wait()

    def restart(self, timeout: float = 60.0) -> ZooKeeperServer:
        """Stop and start again on the same port with the same data (sessions survive when
        the restart is shorter than their timeout)."""
        self.stop()
        return self.start(timeout)

    def log_tail(self, lines: int = 40) -> str:
        path = self.work_dir / "zookeeper.out"
        if not path.exists():
            return ""
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


class ZooKeeperEnsemble:
    """`size` ZooKeeper servers (ids 1..size) forming one ensemble on loopback, each in
    ``<work_dir>/zk<id>``. Servers are addressed by index 0..size-1."""

    def __init__(self, work_dir: str | os.PathLike[str], size: int = 3) -> None:
        if size < 1:
            raise ValueError("an ensemble needs at least one server")
        self.work_dir = Path(work_dir)
        peers = [("127.0.0.1", free_port(), free_port()) for _ in range(size)]
        self.servers = [
            ZooKeeperServer(self.work_dir / f"zk{i + 1}", server_id=i + 1, peers=peers)
            for i in range(size)
        ]

    @property
    def hosts(self) -> str:
        """``"127.0.0.1:p1,127.0.0.1:p2,..."``."""
        return ",".join(s.hosts for s in self.servers)

    def url(self, path: str = "/dcos") -> str:
        return f"zk://{self.hosts}/{path.lstrip('/')}"

    def start(self, timeout: float = 90.0) -> ZooKeeperEnsemble:
        """Start every server and wait until all serve (a quorum formed); returns self."""
        try:
            for s in self.servers:
                s.spawn()
            for s in self.servers:
                s.wait_serving(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def stop_server(self, i: int) -> None:
        self.servers[i].stop()

    def kill_server(self, i: int) -> None:
        self.servers[i].kill()

    def start_server(self, i: int, timeout: float = 60.0) -> None:
        """Start server `i` again and wait until it serves (it rejoins the quorum)."""
        self.servers[i].start(timeout)

    def leader_index(self) -> int | None:
        """The index of the server whose mode is ``leader`` (None when there is none)."""
        for i, s in enumerate(self.servers):
            if s.running and s.mode() == "leader":
                return i
        return None

    def stop(self) -> None:
        for s in self.servers:
            s.stop()
