"""The HAProxy process: validate a config, start it in master-worker mode, reload it seamlessly.

HAProxy runs as `haproxy -W -f CFG -p PIDFILE -S MASTER_SOCK` in the foreground. A reload is
SIGUSR2 to the master: it re-executes itself with the new config, and the new worker takes the
listening sockets over from the old one through the stats socket declared with `expose-fd
listeners` (the master passes `-x` by itself), so no connection attempt is refused while it
reloads; the old worker finishes the requests it has and exits (`hard-stop-after` bounds it).
The master CLI socket (`-S`) tells when a reload is done (`show proc`).

Called by: `frameworks.webapp.lb.service.LoadBalancer`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import signal
import time
from dataclasses import dataclass
from pathlib import Path

from dcos.common.lifeline import die_with_parent

log = logging.getLogger(__name__)

_RELOADS = re.compile(r"^\s*\d+\s+master\s+(\d+)(?:\s+\[failed:\s*(\d+)\])?", re.MULTILINE)


@dataclass
class HAProxy:
    """One HAProxy master process owned by the load balancer."""

    binary: str
    work_dir: Path
    proc: asyncio.subprocess.Process | None = None

    @property
    def config_path(self) -> Path:
        return self.work_dir / "haproxy.cfg"

    @property
    def master_socket(self) -> Path:
        return self.work_dir / "master.sock"

    @property
    def stats_socket(self) -> Path:
        return self.work_dir / "haproxy.sock"

    @property
    def log_path(self) -> Path:
        return self.work_dir / "haproxy.log"

    async def check(self, path: Path) -> str | None:
        """`haproxy -c` on `path`: None when valid, else the first error lines."""
        proc = await asyncio.create_subprocess_exec(
            self.binary, "-c", "-q", "-f", str(path),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
        out, _ = await proc.communicate()
        if proc.returncode == 0:
            return None
        lines = [ln.strip() for ln in out.decode(errors="replace").splitlines()
                 if "ALERT" in ln or "error" in ln.lower()]
        return " | ".join(lines[:3]) or f"haproxy -c exited with {proc.returncode}"

    async def start(self) -> None:
        """Start the master on `config_path` (already written and checked) and wait until it
        answers on its master socket."""
        with contextlib.suppress(FileNotFoundError):
            self.master_socket.unlink()
        log_file = open(self.log_path, "ab")  # noqa: SIM115 -- handed to the child
        try:
            self.proc = await asyncio.create_subprocess_exec(
                self.binary, "-W", "-f", str(self.config_path),
                "-p", str(self.work_dir / "haproxy.pid"), "-S", str(self.master_socket),
                stdin=asyncio.subprocess.DEVNULL, stdout=log_file, stderr=log_file,
                start_new_session=True,
                # HAProxy stops when the load balancer dies, even by SIGKILL (the setting
                # survives its re-exec on reload): a restarted lb never finds one in its way.
                preexec_fn=die_with_parent(signal.SIGTERM))
        finally:
            log_file.close()
        deadline = time.monotonic() + 10
        while await self.reloads() is None:
            if self.proc.returncode is not None or time.monotonic() > deadline:
                raise RuntimeError(f"haproxy did not start (see {self.log_path})")
            await asyncio.sleep(0.05)

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.returncode is None

    async def master_cli(self, command: str) -> str | None:
        """Send one command to the master CLI; its answer, or None when it does not answer."""
        return await self._unix_command(self.master_socket, command)

    async def runtime(self, command: str) -> str | None:
        """Send one runtime API command to the current worker (through the stats socket)."""
        return await self._unix_command(self.stats_socket, command)

    async def _unix_command(self, path: Path, command: str) -> str | None:
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_unix_connection(str(path)), 2)
        except (OSError, TimeoutError):
            return None
        try:
            writer.write(command.encode() + b"\n")
            await writer.drain()
            writer.write_eof()  # the master CLI answers and closes once our side is closed
            return (await asyncio.wait_for(reader.read(), 5)).decode(errors="replace")
        except (OSError, TimeoutError):
            return None
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    async def reloads(self) -> int | None:
        """The master's reload counter (from `show proc`), None when it does not answer."""
        counts = await self._counts()
        return counts[0] if counts else None

    async def _counts(self) -> tuple[int, int] | None:
        out = await self.master_cli("show proc")
        m = _RELOADS.search(out or "")
        return (int(m.group(1)), int(m.group(2) or 0)) if m else None

    async def reload(self, timeout_s: float = 10.0) -> bool:
        """SIGUSR2 the master and wait until it has re-executed (its reload counter moved);
        False when it did not within `timeout_s` or died."""
        if not self.running or self.proc is None:
            return False
        before = await self._counts()
        os.kill(self.proc.pid, signal.SIGUSR2)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            await asyncio.sleep(0.05)
            if not self.running:
                return False
            now = await self._counts()
            if now is not None and (before is None or now[0] > before[0]):
                return before is None or now[1] == before[1]
        return False

    async def stop(self) -> None:
        """SIGTERM the master (it stops its workers); SIGKILL the group if it lingers."""
        if self.proc is None:
            return
        if self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.proc.wait(), 5)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                await self.proc.wait()
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)  # old workers still draining
