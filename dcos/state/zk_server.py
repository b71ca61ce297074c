"""Run a ZooKeeper server from the Debian ``zookeeper`` package: its config file and java argv.

Called by: `dcos-py up --ha` (`dcos.cli.up`, a local ZooKeeper under the work dir) and the test
harness (`dcos.testing.zookeeper`: one server or a 3-server ensemble). This module only writes
files and builds argv; starting, waiting and stopping the process is the caller's business.

The servers we run use ``tickTime=500`` (so a client session may be as short as 1 s: ZooKeeper's
minimum is 2 ticks), ``jute.maxbuffer`` of 64 MB (a master registry of 10,000 agents in one
znode; the client must allow the same size, see `dcos.state.zk.new_client`), the admin HTTP
server off, the four-letter words ``ruok``/``stat``/``srvr``/``mntr`` on (readiness checks), and
bind 127.0.0.1 unless told otherwise.
"""

from __future__ import annotations

import os
import shutil
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
    data.mkdir(parents=True, exist_ok=True)
    log.mkdir(parents=True, exist_ok=True)
    lines = [
        f"tickTime={tick_ms}",
        "initLimit=20",
        "syncLimit=10",
        f"dataDir={data}",
        f"dataLogDir={log}",
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
            lines.append(f"server.{i}={peer_ip}:{quorum}:{election}")
        lines.append("quorumListenOnAllIPs=false")
        (data / "myid").write_text(f"{server_id}\n")
    conf = base / "zoo.cfg"
    conf.write_text("\n".join(lines) + "\n")
    return conf
