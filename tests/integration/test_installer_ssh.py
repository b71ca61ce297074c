"""dcos.installer.ssh / preflight against ONE real OpenSSH server on 127.0.0.1.

The sshd (Debian ``openssh-server``, ``/usr/sbin/sshd -D``) runs as root on a free port with
its own config, host key and authorized key in a temporary directory, and is killed at the end
of the module. It checks run/put/put_text, the one-line messages of a wrong key, a closed port
and a bad key file, and runs the real probe (installer/host/probe.py) over SSH, judging what
this machine really has. No network namespaces: the installer's multi-host test bed is
``installer/testbed`` (tests/installer).
"""

from __future__ import annotations

import dataclasses
import os
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import pytest

from dcos.installer import preflight as pf
from dcos.installer.config import ClusterConfig, HostSpec, parse
from dcos.installer.progress import QuietProgress
from dcos.installer.runner import log_path
from dcos.installer.ssh import HostError, connect

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

SSHD = Path("/usr/sbin/sshd")


@dataclass
class Sshd:
    port: int
    key: Path
    wrong_key: Path
    dir: Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def keygen(path: Path, comment: str) -> None:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f",
                    str(path)], check=True)


@pytest.fixture(scope="module")
def sshd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sshd]:
    assert SSHD.exists(), f"{SSHD} missing: install Debian openssh-server " \
                          "(scripts/install-system-deps.sh)"
    assert os.geteuid() == 0, "the real-sshd test logs in as root: run it as root"
    d = tmp_path_factory.mktemp("sshd")
    keygen(d / "host_key", "host")
    keygen(d / "id_ed25519", "installer")
    keygen(d / "wrong_key", "wrong")
    (d / "authorized_keys").write_text((d / "id_ed25519.pub").read_text())
    port = free_port()
    (d / "sshd_config").write_text(f"""ListenAddress 127.0.0.1
Port {port}
HostKey {d}/host_key
PidFile {d}/sshd.pid
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
AuthorizedKeysFile {d}/authorized_keys
Subsystem sftp internal-sftp
LogLevel VERBOSE
""")
    Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # sshd's privilege separation dir
    log = open(d / "sshd.log", "wb")
    proc = subprocess.Popen([str(SSHD), "-D", "-e", "-f", str(d / "sshd_config")],
                            stdin=subprocess.DEVNULL, stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + 10
        while True:
            assert proc.poll() is None, f"sshd exited: {(d / 'sshd.log').read_text()}"
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "sshd does not listen"
                time.sleep(0.05)
        yield Sshd(port, d / "id_ed25519", d / "wrong_key", d)
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def make_cfg(tmp: Path, port: int, key: Path, **over: object) -> ClusterConfig:
    raw = {"cluster_name": "t", "master_list": ["127.0.0.1"], "ssh_port": port,
           "ssh_key_path": str(key), "ssh_user": "root"}
    raw.update(over)
    return parse(raw, tmp / "cluster.yaml")


async def test_run_put_and_put_text(sshd: Sshd, tmp_path: Path) -> None:
    cfg = make_cfg(tmp_path, sshd.port, sshd.key)
    remote = PurePosixPath(str(tmp_path / "remote"))
    async with await connect(cfg, "127.0.0.1") as s:
        assert s.address == "127.0.0.1"
        done = await s.run("cat; echo out; echo err >&2; exit 3", input="in\n", check=False)
        assert (done.exit_status, done.stdout, done.stderr) == (3, "in\nout\n", "err\n")
        with pytest.raises(HostError) as e:
            await s.run("echo first >&2; echo last >&2; exit 4")
        assert e.value.message == "`echo first >&2; echo last >&2; exit 4` exited 4: first | last"
        assert (await s.run("id -u")).stdout == "0\n"
        assert (await s.run("cat", timeout=5)).stdout == ""  # no input: stdin at EOF

        tree = tmp_path / "tree"
        (tree / "sub").mkdir(parents=True)
        (tree / "a.txt").write_text("a")
        (tree / "sub" / "run.sh").write_text("#!/bin/sh\necho ran\n")
        (tree / "sub" / "run.sh").chmod(0o750)
        (tree / "sub" / "secret").write_text("s")
        (tree / "sub" / "secret").chmod(0o600)
        await s.put(tree, remote / "tree")
        await s.put(tree, remote / "tree")  # again: same tree, no error, no nesting
        modes = await s.run(f"cd {remote}/tree && find . -type f | sort | "
                            "xargs stat -c '%n %a'")
        assert modes.stdout.splitlines() == ["./a.txt 644", "./sub/run.sh 750",
                                             "./sub/secret 600"]
        assert (await s.run(f"{remote}/tree/sub/run.sh")).stdout == "ran\n"

        one = tmp_path / "one.bin"
        one.write_bytes(bytes(range(256)) * 100)
        one.chmod(0o700)
        await s.put(one, remote / "deep" / "er" / "one.bin")
        assert (tmp_path / "remote/deep/er/one.bin").read_bytes() == one.read_bytes()
        assert (await s.run(f"stat -c %a {remote}/deep/er/one.bin")).stdout == "700\n"

        await s.put_text("key: ü\n", remote / "etc" / "conf.yaml", mode=0o600)
        assert (tmp_path / "remote/etc/conf.yaml").read_text() == "key: ü\n"
        assert (await s.run(f"stat -c %a {remote}/etc/conf.yaml")).stdout == "600\n"

        with pytest.raises(HostError, match=r"cannot copy .*/missing: no such file"):
            await s.put(tmp_path / "missing", remote / "x")
        with pytest.raises(HostError, match=r"^`sleep 5` timed out after 0.5 s"):
            await s.run("sleep 5", timeout=0.5)


async def test_a_wrong_key_fails_authentication_with_a_clear_message(sshd: Sshd,
                                                                       tmp_path: Path) -> None:
    cfg = make_cfg(tmp_path, sshd.port, sshd.wrong_key)
    with pytest.raises(HostError) as e:
        await connect(cfg, "127.0.0.1")
    assert e.value.message == (f"authentication failed for root@127.0.0.1 with key "
                               f"{sshd.wrong_key}")


async def test_a_closed_port_is_unreachable(sshd: Sshd, tmp_path: Path) -> None:
    port = free_port()
    cfg = make_cfg(tmp_path, port, sshd.key)
    with pytest.raises(HostError) as e:
        await connect(cfg, "127.0.0.1")
    assert e.value.message == f"unreachable: connection refused (127.0.0.1:{port})"


async def test_a_bad_key_file_is_named(sshd: Sshd, tmp_path: Path) -> None:
    cfg = make_cfg(tmp_path, sshd.port, sshd.key)
    bad = tmp_path / "bad_key"
    bad.write_text("-----BEGIN OPENSSH PRIVATE KEY-----\nnot a key\n"
                   "-----END OPENSSH PRIVATE KEY-----\n")
    with pytest.raises(HostError, match=rf"^bad key file {bad}: "):
        await connect(dataclasses.replace(cfg, ssh_key_path=bad), "127.0.0.1")


async def test_preflight_over_ssh_judges_this_machine(sshd: Sshd, tmp_path: Path) -> None:
    """The real probe through the real sshd: this machine as a master, then as an agent whose
    port 5051 the test holds."""
    cfg = make_cfg(tmp_path, sshd.port, sshd.key)
    lines: list[str] = []
    master = HostSpec("127.0.0.1", "master", 0)
    [res] = await pf.preflight(cfg, [master], None, QuietProgress(lines.append))
    got = {c.check: c for c in res.checks}
    assert list(got) == ["ssh", "python", "ports", "cgroups", "disk", "memory", "clock",
                         "zookeeper", "version"]
    # what this machine has (a dcos-py test machine: Debian, Python 3.11, ZooKeeper installed)
    for name in ("ssh", "python", "disk", "memory", "clock", "zookeeper"):
        assert got[name].ok, got[name]
    assert got["python"].detail.startswith("Python 3.") and "(cp3" in got["python"].detail
    assert got["zookeeper"].detail == "installed"
    assert got["clock"].detail.startswith("offset ")
    if not Path("/etc/dcos-py/installed.json").exists():
        assert (got["version"].ok, got["version"].detail) == (True, "not installed")
    assert "probe result:" in log_path(cfg, "127.0.0.1").read_text()
    assert lines[0] == "[preflight] 1 host(s): 127.0.0.1"

    agent = HostSpec("127.0.0.1", "agent", 0)
    holder = socket.socket()
    try:
        try:
            holder.bind(("127.0.0.1", 5051))
            holder.listen()
        except OSError:
            pass  # already held by something else on this machine: in use all the same
        [res] = await pf.preflight(cfg, [agent], None, QuietProgress(lines.append))
    finally:
        holder.close()
    got = {c.check: c for c in res.checks}
    assert "zookeeper" not in got
    assert (got["ports"].ok, got["ports"].detail) == (False, "5051 (agent) in use")
    assert not res.ok and "ports: 5051 (agent) in use" in res.detail
    assert got["cgroups"].ok == (got["cgroups"].detail.endswith("writable"))


async def test_python3_missing_is_reported(sshd: Sshd, tmp_path: Path) -> None:
    """A host without python3 on its PATH: the probe's `python3 -` cannot start."""
    cfg = make_cfg(tmp_path, sshd.port, sshd.key)
    async with await connect(cfg, "127.0.0.1") as s:
        done = await s.run("PATH=/nonexistent; python3 -", input="", check=False)
        checks = pf._no_probe(HostSpec("127.0.0.1", "agent", 0), cfg, done.exit_status,
                              done.stderr, done.stdout)
    assert [(c.check, c.ok, c.detail) for c in checks] == [
        ("ssh", True, "root@127.0.0.1"), ("python", False, "python3 not found")]
