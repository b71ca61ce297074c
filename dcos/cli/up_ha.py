"""`dcos-py up --ha` and `dcos-py up --zk URL`: the ZooKeeper-specific parts of a local HA cluster.

Called by: `dcos.cli.up` (`build_components`, `check_options`, `run_up`) when `--ha` or `--zk`
is given; without them nothing here runs and `up` is the single-master cluster it always was.

The layout (`ha_layout`, pure): a ZooKeeper server from the Debian package on 127.0.0.1:2181
(`--zk-port`; data, transaction log and its log under ``<work>/zookeeper``; `--zk URL` uses an
existing ensemble instead and starts none), three masters on ``--master-port`` + 0, 100 and 200
(5050, 5150, 5250: clear of the agents' 5051-5084) electing their leader under the URL's path
(``/dcos``; registry under ``/dcos-state``), and two webapp instances on ``--webapp-port`` and
the next port electing theirs under ``<path>-webapp``. Agents, DNS, the batch dispatcher and
the package service find the leading master through ``zk://...``; DNS, the package service and
the load balancer get every webapp URL. One package service keeps its repository list in
ZooKeeper under ``<path>-packaging`` (`dcos.cli.up.package_component`).

ZooKeeper gates the masters (`zk_serving`: the ``srvr`` four-letter word reports a mode); a
master is ready when it answers ``/health`` (standbys do too); the last master gates the agents
once all three are ready. The cluster is ready when its agents registered with the leader,
which `leading_master` finds as the one master whose ``master/elected`` gauge is 1.
`LeaderReporter` prints each change of leader while the cluster runs. `redirect_target` reads
where a master's ``/master/redirect`` points (the tests check that every master agrees).
"""

from __future__ import annotations

import http.client
import socket
import sys
import threading
import urllib.parse
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import orjson
from kazoo.handlers.threading import KazooTimeoutError

from dcos.cli import http as cli_http
from dcos.cli.errors import CliError
from dcos.cli.supervisor import Component
from dcos.state.zk import ZkUrl, ZkUrlError, new_client, parse_zk_url
from dcos.state.zk_server import ZooKeeperMissing, write_config, zookeeper_argv

LOCAL_IP = "127.0.0.1"
HA_MASTERS = 3
MASTER_PORT_STEP = 100
HA_WEBAPPS = 2
DEFAULT_ZK_PORT = 2181
MASTERS_PATH = "/dcos"
WEBAPP_SUFFIX = "-webapp"
ZK_DIR = "zookeeper"
PROBE_TIMEOUT_S = 1.0


@dataclass(frozen=True)
class HaLayout:
    """Where the HA pieces are: the masters' ZooKeeper URL, the webapp's, whether `up` starts
    the ZooKeeper server (on `zk_port`) and the masters' and webapp instances' ports."""

    masters_zk: ZkUrl
    webapp_zk: ZkUrl
    start_zk: bool
    zk_port: int
    master_ports: tuple[int, ...]
    webapp_ports: tuple[int, ...]
    scheme: str = "http"  # "https" with `up --secure`

    @property
    def master_urls(self) -> list[str]:
        return [f"{self.scheme}://{LOCAL_IP}:{p}" for p in self.master_ports]

    @property
    def webapp_urls(self) -> list[str]:
        return [f"{self.scheme}://{LOCAL_IP}:{p}" for p in self.webapp_ports]


def ha_layout(zk: str | None, zk_port: int, master_port: int, webapp_port: int,
              scheme: str = "http") -> HaLayout:
    """The layout for `--zk` (None: start ZooKeeper on `zk_port`) and the first master's and
    webapp's ports (their URLs https with `up --secure`). `CliError` for a `--zk` URL that
    cannot be used."""
    if zk is None:
        masters_zk = ZkUrl(f"{LOCAL_IP}:{zk_port}", MASTERS_PATH)
    else:
        try:
            masters_zk = parse_zk_url(zk)
        except ZkUrlError as exc:
            raise CliError(f"--zk: {exc}") from None
    return HaLayout(
        masters_zk=masters_zk,
        webapp_zk=masters_zk.sibling(WEBAPP_SUFFIX),
        start_zk=zk is None,
        zk_port=zk_port,
        master_ports=tuple(master_port + i * MASTER_PORT_STEP for i in range(HA_MASTERS)),
        webapp_ports=tuple(webapp_port + i for i in range(HA_WEBAPPS)),
        scheme=scheme,
    )


def four_letter_word(host: str, port: int, word: str, timeout: float = PROBE_TIMEOUT_S) -> str:
    """A ZooKeeper four-letter command's answer ("" when nothing answers)."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as s:
            s.sendall(word.encode())
            chunks = []
            while data := s.recv(65536):
                chunks.append(data)
    except OSError:
        return ""
    return b"".join(chunks).decode(errors="replace")


def zk_serving(port: int, host: str = LOCAL_IP) -> bool:
    """True once the ZooKeeper server serves clients (``srvr`` reports a ``Mode:``)."""
    return any(line.startswith("Mode:")
               for line in four_letter_word(host, port, "srvr").splitlines())


def check_ensemble(url: ZkUrl, timeout: float = 5.0) -> None:
    """Refuse (`CliError`) an external `--zk` ensemble that does not answer within `timeout`."""
    client = new_client(url, session_timeout=timeout)
    try:
        client.start(timeout=timeout)
    except KazooTimeoutError:
        raise CliError(f"--zk: no ZooKeeper server of {url.redacted()} answered within "
                       f"{timeout:g} s") from None
    finally:
        client.stop()
        client.close()


def zookeeper_component(work: Path, port: int) -> Component:
    """The local ZooKeeper server (standalone, 127.0.0.1:`port`): config, data and transaction
    log under ``<work>/zookeeper``, its output in ``zookeeper.log`` there. It gates the masters
    and is stopped after everything else (so that they can close their sessions)."""
    zk_dir = work / ZK_DIR
    conf = write_config(zk_dir, client_port=port, ip=LOCAL_IP)
    try:
        argv = zookeeper_argv(conf)
    except ZooKeeperMissing as exc:
        raise CliError(str(exc)) from None
    return Component(
        name="zookeeper", argv=argv, log_path=zk_dir / "zookeeper.log",
        ready=lambda: zk_serving(port), ready_what="serving clients",
        url=f"zk://{LOCAL_IP}:{port}", gate=True, cwd=zk_dir, stop_last=True,
    )


def master_components(layout: HaLayout, work: Path, ready: Callable[[str], bool],
                      extra: Sequence[str] = ()) -> list[Component]:
    """The masters `master-0`..: each with its own work dir and log, electing through
    `layout.masters_zk`, with `extra` flags (`up --secure`'s); `ready(url)` says whether the
    master at `url` answers /health. The last one gates what follows (so the agents start
    once every master is ready)."""
    out = []
    for i, (port, url) in enumerate(zip(layout.master_ports, layout.master_urls, strict=True)):
        mdir = work / f"master-{i}"
        log = mdir / "master.log"
        out.append(Component(
            name=f"master-{i}",
            argv=[*master_argv(port, mdir, log), "--zk", str(layout.masters_zk), *extra],
            log_path=log, ready=lambda url=url: ready(url),  # type: ignore[misc]
            ready_what="answering /health", url=url, gate=i == len(layout.master_ports) - 1,
        ))
    return out


def master_argv(port: int, work_dir: Path, log: Path) -> list[str]:
    """`python -m dcos.master` on 127.0.0.1:`port` (the single master of plain `up` too)."""
    return [sys.executable, "-m", "dcos.master", "--ip", LOCAL_IP, "--port", str(port),
            "--work-dir", str(work_dir), "--log-file", str(log)]


def redirect_target(url: str, timeout: float = PROBE_TIMEOUT_S) -> str | None:
    """Where the master at `url` says the leader is: ``http://host:port`` from the Location
    of its ``/master/redirect`` (307), or None (no leader known, or no answer)."""
    parts = urllib.parse.urlsplit(url)
    conn: http.client.HTTPConnection
    if parts.scheme == "https":  # `up --secure`: the CLI transport's CA and certificate
        conn = http.client.HTTPSConnection(parts.hostname or LOCAL_IP, parts.port,
                                           timeout=timeout, context=cli_http.transport().ssl_context)
    else:
        conn = http.client.HTTPConnection(parts.hostname or LOCAL_IP, parts.port, timeout=timeout)
    try:
        conn.request("GET", "/master/redirect")
        response = conn.getresponse()
        response.read()
        location = response.getheader("Location") if response.status == 307 else None
    except (OSError, http.client.HTTPException):
        return None
    finally:
        conn.close()
    if not location:
        return None
    target = urllib.parse.urlsplit(location if "//" in location else "//" + location)
    if not target.hostname or target.port is None:
        return None
    return f"{parts.scheme}://{target.hostname}:{target.port}"


def elected(url: str, timeout: float = PROBE_TIMEOUT_S) -> bool:
    """Whether the master at `url` says it leads: ``master/elected`` is 1 in its
    ``/metrics/snapshot`` (Mesos' gauge; a standby answers 0 itself, without redirecting).
    A restarted master on the leader's old address is told apart from the dead leader whose
    znode still names that address, which `/master/redirect` cannot do."""
    try:
        with cli_http.transport().open(url + "/metrics/snapshot", timeout) as response:
            body = orjson.loads(response.read())
    except (OSError, ValueError, http.client.HTTPException):
        return False
    return isinstance(body, dict) and body.get("master/elected") == 1


def leading_master(urls: Sequence[str],
                   is_elected: Callable[[str], bool] = elected) -> str | None:
    """The URL (one of `urls`) of the one master that says it leads; None while none (or,
    for an instant, more than one) does: an election is under way, or the leader is dead and
    its ZooKeeper session not yet expired."""
    leaders = [url for url in urls if is_elected(url)]
    return leaders[0] if len(leaders) == 1 else None


def leader_line(previous: str | None, current: str | None,
                names: dict[str, str]) -> str | None:
    """What the terminal says when the leading master changes from `previous` to `current`
    (URLs; `names` maps a URL to its component name), or None when it did not change."""
    if previous == current:
        return None
    if current is None:
        return "dcos-py up: no leading master (an election is under way)"
    return f"dcos-py up: leading master is now {names.get(current, '?')} ({current})"


class LeaderReporter:
    """Polls `leading_master` every `interval_s` on its own thread while the cluster runs
    and calls `say` with each change (`leader_line`) seen on two polls in a row (one slow
    answer is not a lost leader). Started and stopped by `run_up`."""

    def __init__(self, urls: Sequence[str], names: dict[str, str], current: str | None,
                 say: Callable[[str], None], interval_s: float = 0.5,
                 find: Callable[[Sequence[str]], str | None] = leading_master) -> None:
        self.urls, self.names, self.current = list(urls), names, current
        self.say, self.interval_s, self.find = say, interval_s, find
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="leader-reporter", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        pending: str | None = self.current
        while not self._stop.wait(self.interval_s):
            now = self.find(self.urls)
            seen_twice, pending = now == pending, now
            line = leader_line(self.current, now, self.names) if seen_twice else None
            if line is not None and not self._stop.is_set():
                self.current = now
                self.say(line)
