"""Run a ZooKeeper server from the Debian ``zookeeper`` package: its config file and java argv.

Called by: `dcos-py up --ha` (`dcos.cli.up`, a local ZooKeeper under the work dir), the test
harness (`dcos.testing.zookeeper`: one server or a 3-server ensemble) and the installer
(`dcos.installer.units.zookeeper_files` renders each master host's zoo.cfg with `config_text`;
the host's ZooKeeper service is ``python -m dcos.state.zk_server --config ...``, `main`, which
makes the data dirs and execs java). Apart from `main`, this module only renders or writes
files and builds argv; starting, waiting and stopping the process is the caller's business.

The servers we run use ``tickTime=500`` (so a client session may be as short as 1 s: ZooKeeper's
minimum is 2 ticks), ``jute.maxbuffer`` of 64 MB (a master registry of 10,000 agents in one
znode; the client must allow the same size, see `dcos.state.zk.new_client`), the admin HTTP
server off, the four-letter words ``ruok``/``stat``/``srvr``/``mntr`` on (readiness checks), and
bind 127.0.0.1 unless told otherwise.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path

ZOOKEEPER_HOME = Path("/usr/share/zookeeper")
JAVA_DIR = Path("/usr/share/java")
MAIN_CLASS = "org.apache.zookeeper.server.quorum.QuorumPeerMain"
JUTE_MAXBUFFER = 64 * 1024 * 1024
# The jars the server needs besides those named in zookeeper.jar's manifest Class-Path
# (the Debian jar lists its own dependencies); slf4j-simple gives it a logger (stderr).
_EXTRA_JARS = ("zookeeper-jute.jar", "slf4j-api.jar", "slf4j-simple.jar")


class ZooKeeperMissing(RuntimeError):
    """The ZooKeeper jars or java are not installed (Debian: ``apt-get install zookeeper``)."""


def java_path() -> str | None:
    """The java binary: ``$JAVA_HOME/bin/java``, else ``java`` on PATH."""
    home = os.environ.get("JAVA_HOME")
    if home and os.access(os.path.join(home, "bin", "java"), os.X_OK):
        return os.path.join(home, "bin", "java")
    return shutil.which("java")


def _zkenv_classpath() -> list[str]:
    """The CLASSPATH entries the package's zkEnv.sh sets (``CLASSPATH="..."`` lines)."""
    env = ZOOKEEPER_HOME / "bin" / "zkEnv.sh"
    try:
        text = env.read_text()
    except OSError:
        return []
    entries: list[str] = []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("CLASSPATH=") and "$" not in line:
            entries += [e for e in line.split("=", 1)[1].strip("\"'").split(":") if e]
    return entries


def classpath() -> list[str]:
    """The server's classpath: zookeeper.jar (from zkEnv.sh or /usr/share/java) plus
    zookeeper-jute and an slf4j logger. Raises `ZooKeeperMissing` when zookeeper.jar is absent."""
    jars = [e for e in _zkenv_classpath() if e.endswith(".jar") and os.path.exists(e)]
    if not jars:
        candidates = sorted(JAVA_DIR.glob("zookeeper-[0-9]*.jar")) or [JAVA_DIR / "zookeeper.jar"]
        jars = [str(p) for p in candidates if p.exists() and "contrib" not in p.name][-1:]
    if not jars:
        raise ZooKeeperMissing(
            f"ZooKeeper is not installed: no zookeeper.jar under {JAVA_DIR} "
            "(Debian: apt-get install zookeeper; or scripts/install-system-deps.sh as root)"
        )
    for name in _EXTRA_JARS:
        path = JAVA_DIR / name
        if path.exists() and str(path) not in jars:
            jars.append(str(path))
    return jars


def zookeeper_available() -> bool:
    """Whether java and the ZooKeeper jars are installed."""
    try:
        classpath()
    except ZooKeeperMissing:
        return False
    return java_path() is not None


def zookeeper_argv(conf_path: str | os.PathLike[str], *, heap_mb: int = 1024) -> list[str]:
    """The command that runs one ZooKeeper server (foreground) on the config at `conf_path`.
    Raises `ZooKeeperMissing` when java or the jars are missing.

    The heap: a server keeps its last 500 committed writes in memory (for followers to catch
    up; ZooKeeper does not go below 500), and a 10,000-agent registry write is about 0.7 MB,
    so 256 MB ran out of heap while 10,000 agents registered (failover benchmark)."""
    java = java_path()
    if java is None:
        raise ZooKeeperMissing("java is not installed (Debian: apt-get install zookeeper)")
    return [
        java,
        f"-Xmx{heap_mb}m",
        "-XX:+UseSerialGC",
        "-XX:TieredStopAtLevel=1",  # start in about half the time; a test server is small
        f"-Djute.maxbuffer={JUTE_MAXBUFFER}",
        "-Dzookeeper.admin.enableServer=false",
        "-Dzookeeper.4lw.commands.whitelist=ruok,stat,srvr,mntr,conf,cons",
        "-Dorg.slf4j.simpleLogger.defaultLogLevel=info",
        "-Dorg.slf4j.simpleLogger.showDateTime=true",
        "-cp",
        ":".join(classpath()),
        MAIN_CLASS,
        str(conf_path),
    ]


def _host(ip: str) -> str:
    """`ip` as ZooKeeper writes a server address: IPv6 literals in brackets."""
    return f"[{ip}]" if ":" in ip and not ip.startswith("[") else ip


def config_text(
    *,
    client_port: int,
    data_dir: str | os.PathLike[str],
    log_dir: str | os.PathLike[str],
    server_id: int | None = None,
    peers: Sequence[tuple[str, int, int]] | None = None,
    tick_ms: int = 500,
    ip: str = "127.0.0.1",
) -> str:
    """The text of a ``zoo.cfg`` (pure: nothing is written). Standalone when `peers` is None
    or empty; for an ensemble `peers` lists every member as ``(ip, quorum_port,
    election_port)`` in server-id order (ids 1..n) and `server_id` names this one (its
    ``myid`` file, which ZooKeeper reads from `data_dir`, is the caller's to write).

    Called by `write_config` (local servers: `dcos-py up --ha`, the test harness) and by the
    installer (`dcos.installer.units.zookeeper_files`, for each master host's
    ``/etc/dcos-py/zookeeper/zoo.cfg``). Raises ValueError for a `server_id` outside 1..n."""
    lines = [
        f"tickTime={tick_ms}",
        "initLimit=20",
        "syncLimit=10",
        f"dataDir={data_dir}",
        f"dataLogDir={log_dir}",
        f"clientPort={client_port}",
        f"clientPortAddress={ip}",
        "maxClientCnxns=0",
        "minSessionTimeout=" + str(2 * tick_ms),
        "maxSessionTimeout=" + str(max(60_000, 20 * tick_ms)),
        "admin.enableServer=false",
        "4lw.commands.whitelist=ruok,stat,srvr,mntr,conf,cons",
        "autopurge.snapRetainCount=3",
        "autopurge.purgeInterval=1",
        "preAllocSize=4096",  # KB: the default 64 MB per log file is wasteful for tests
    ]
    if peers:
        if server_id is None or not 1 <= server_id <= len(peers):
            raise ValueError(f"server_id must be 1..{len(peers)} for an ensemble, got {server_id}")
        for i, (peer_ip, quorum, election) in enumerate(peers, start=1):
            lines.append(f"server.{i}={_host(peer_ip)}:{quorum}:{election}")
        lines.append("quorumListenOnAllIPs=false")
    return "\n".join(lines) + "\n"


def write_config(
    dir: str | os.PathLike[str],
    *,
    client_port: int,
    server_id: int | None = None,
    peers: list[tuple[str, int, int]] | None = None,
    tick_ms: int = 500,
    ip: str = "127.0.0.1",
) -> Path:
    """Write ``<dir>/zoo.cfg`` (data in ``<dir>/data``, transaction log in ``<dir>/log``) and
    return its path.

    Standalone when `peers` is None. For an ensemble, `peers` lists every member as
    ``(ip, quorum_port, election_port)`` in server-id order (ids 1..n) and `server_id` names
    this one; its ``myid`` file is written too.
    """
    base = Path(dir)
    data, log = base / "data", base / "log"
    text = config_text(client_port=client_port, data_dir=data, log_dir=log,
                       server_id=server_id, peers=peers, tick_ms=tick_ms, ip=ip)
    data.mkdir(parents=True, exist_ok=True)
    log.mkdir(parents=True, exist_ok=True)
    if peers:
        (data / "myid").write_text(f"{server_id}\n")
    conf = base / "zoo.cfg"
    conf.write_text(text)
    return conf


def read_config(text: str) -> dict[str, str]:
    """``key=value`` lines of a zoo.cfg (comments and blank lines skipped)."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, _, value = line.partition("=")
            out[key.strip()] = value.strip()
    return out


def prepare_host_dirs(conf_path: str | os.PathLike[str]) -> None:
    """Before a host's server starts: make the config's ``dataDir`` and ``dataLogDir`` and,
    for an ensemble member, copy the ``myid`` file kept next to the config into ``dataDir``
    (where ZooKeeper reads it). Called by `main` (the installer's ZooKeeper service) each
    start, so a wiped work dir or a changed id is fixed by a restart. Raises OSError, or
    ValueError when an ensemble config has no ``myid`` beside it."""
    conf = Path(conf_path)
    settings = read_config(conf.read_text(encoding="utf-8"))
    data = settings.get("dataDir")
    if not data:
        raise ValueError(f"{conf}: no dataDir")
    Path(data).mkdir(parents=True, exist_ok=True)
    if settings.get("dataLogDir"):
        Path(settings["dataLogDir"]).mkdir(parents=True, exist_ok=True)
    if any(key.startswith("server.") for key in settings):
        myid = conf.with_name("myid")
        if not myid.is_file():
            raise ValueError(f"{conf} names an ensemble but {myid} is missing")
        text = myid.read_text(encoding="utf-8")
        target = Path(data) / "myid"
        if not target.is_file() or target.read_text(encoding="utf-8") != text:
            target.write_text(text, encoding="utf-8")


def build_parser() -> argparse.ArgumentParser:
    """``python -m dcos.state.zk_server``'s flags (see `main`)."""
    p = argparse.ArgumentParser(
        prog="python -m dcos.state.zk_server",
        description="run a ZooKeeper server (Debian package) on a zoo.cfg in the foreground")
    p.add_argument("--config", required=True, help="the zoo.cfg (a myid file beside it for an "
                   "ensemble member)")
    p.add_argument("--heap-mb", type=int, default=256, help="the JVM's -Xmx in MB")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m dcos.state.zk_server --config /etc/dcos-py/zookeeper/zoo.cfg``: the
    ZooKeeper service of a master host (`dcos.installer.roles`). Prepares the data dirs
    (`prepare_host_dirs`), then replaces itself with the java server (`zookeeper_argv`,
    resolved on the host itself: its java and jars), so supervisord or systemd watch and
    signal ZooKeeper directly. Exits 1 with a message when ZooKeeper or java is missing or
    the config is unusable (the service manager retries)."""
    args = build_parser().parse_args(argv)
    try:
        prepare_host_dirs(args.config)
        command = zookeeper_argv(args.config, heap_mb=args.heap_mb)
    except (OSError, ValueError, ZooKeeperMissing) as exc:
        print(f"zookeeper: cannot start: {exc}", file=sys.stderr)
        return 1
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(command[0], command)
    return 1  # not reached


if __name__ == "__main__":
    sys.exit(main())
