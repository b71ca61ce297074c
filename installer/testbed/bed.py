"""The installer's multi-host test bed from Python: a thin wrapper over ``netns.sh`` (next to
this file), which builds hosts as network namespaces with their own sshd and private mounts of
/opt/dcos-py, /var/lib/dcos-py and /etc/dcos-py.

Imported by path (``installer/`` is not a Python package: the test bed is not part of the
installed distribution) by tests/installer/conftest.py and benchmarks/install.py:

    sys.path.insert(0, str(ROOT / "installer" / "testbed")); from bed import Bed

``Bed(n, dir).up()`` builds hosts h1..hN (10.213.0.11..), ``down()`` removes everything,
``kill(i)`` SIGKILLs a host's processes except its sshd, ``run(i, cmd)`` runs a command on a host
(its network and mounts), ``pids(i)``/``processes(i)`` list what runs there. Needs root.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent / "netns.sh"
NET = "10.213.0"
BOOTSTRAP = f"{NET}.1"


def address(i: int) -> str:
    """The address of host `i` (1-based)."""
    return f"{NET}.{10 + i}"


@dataclass
class Bed:
    """`n` hosts under `dir`: DIR/id_ed25519 is the client key, DIR/hN/{opt,var,etc} the hosts'
    private install, work and config dirs."""

    n: int
    dir: Path

    @property
    def key(self) -> Path:
        return self.dir / "id_ed25519"

    @property
    def addresses(self) -> list[str]:
        return [address(i) for i in range(1, self.n + 1)]

    def host_dir(self, i: int) -> Path:
        return self.dir / f"h{i}"

    def _script(self, *args: str, timeout: float = 120) -> str:
        proc = subprocess.run(
            ["bash", str(SCRIPT), *args], capture_output=True, text=True, timeout=timeout
        )
        if proc.returncode != 0:
            raise RuntimeError(f"netns.sh {' '.join(args)}: exit {proc.returncode}\n{proc.stderr}")
        return proc.stdout

    def up(self) -> Bed:
        self.dir.mkdir(parents=True, exist_ok=True)
        self._script("up", str(self.n), str(self.dir))
        return self

    def down(self) -> None:
        self._script("down", str(self.dir))

    def kill(self, i: int) -> None:
        """SIGKILL every process of host `i` except its sshd: the host's services die."""
        self._script("kill", f"h{i}")

    def pids(self, i: int) -> list[int]:
        return [int(p) for p in self._script("pids", f"h{i}").split()]

    def processes(self, i: int, *, except_sshd: bool = True) -> list[str]:
        """'pid command line' of each process of host `i` (sshd left out by default)."""
        out = []
        for pid in self.pids(i):
            try:
                comm = Path(f"/proc/{pid}/comm").read_text().strip()
                cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue  # exited meanwhile
            if except_sshd and comm == "sshd":
                continue
            out.append(f"{pid} {cmd.strip()}")
        return out

    def run(
        self, i: int, cmd: str, *, timeout: float = 60, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        """Run `cmd` (a shell command) on host `i` (its network namespace and mounts)."""
        proc = subprocess.run(
            ["bash", str(SCRIPT), "exec", f"h{i}", "sh", "-c", cmd],
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if check and proc.returncode != 0:
            raise RuntimeError(f"h{i}: {cmd}: exit {proc.returncode}\n{proc.stdout}{proc.stderr}")
        return proc

    def popen(self, i: int, argv: list[str]) -> subprocess.Popen[bytes]:
        """Start `argv` on host `i` in the background (the caller stops it)."""
        return subprocess.Popen(
            ["bash", str(SCRIPT), "exec", f"h{i}", *argv],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
