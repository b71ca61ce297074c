"""Runs one step of the installer on many hosts at once, each host on its own.

`for_each_host(cfg, hosts, step, work, progress=...)` is how every step (preflight, deploy,
upgrade, uninstall, add/remove agent) touches hosts: it opens an SSH session per host
(`ssh.connect`), runs ``work(session, host, log)`` with at most ``cfg.ssh_parallelism`` hosts at
a time, and returns one `HostResult` per host, in the order of `hosts`. One host's failure
(unreachable, authentication, a command that failed, any exception of `work`) becomes that
host's failed result with a one-line reason; it never stops the other hosts and never raises.

Every host has a log, ``<genconf>/logs/<address>.log`` (appended; each line
``<ISO time> <step> <text>``): `HostLog` writes it and shows the line in the progress display.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from dcos.installer.progress import Progress
from dcos.installer.ssh import HostError, HostSession, connect

if TYPE_CHECKING:
    from dcos.installer.config import ClusterConfig, HostSpec


@dataclass(frozen=True)
class CheckResult:
    """One preflight check of one host (`check` is one of preflight.CHECKS)."""

    host: str
    check: str
    ok: bool
    detail: str


@dataclass
class HostResult:
    """How a step went on one host: ok, a one-line detail, and (preflight) its checks."""

    address: str
    ok: bool
    detail: str
    checks: list[CheckResult] = field(default_factory=list)


class HostLog:
    """Appends time-stamped lines of one step to one host's log file (and shows them live)."""

    def __init__(self, path: Path, step: str,
                 show: Callable[[str, float | None], None] | None = None) -> None:
        self.path = path
        self.step = step
        self._show = show
        path.parent.mkdir(parents=True, exist_ok=True)

    def __call__(self, line: str, fraction: float | None = None) -> None:
        """Logs `line` (several lines: each gets the prefix); `fraction` moves the host's bar."""
        now = dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")
        text = "".join(f"{now} {self.step} {ln}\n" for ln in (line.splitlines() or [""]))
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(text)
        if self._show is not None and line.strip():
            self._show(line.strip().splitlines()[-1], fraction)


def log_path(cfg: ClusterConfig, address: str) -> Path:
    """``<genconf>/logs/<address>.log`` (an IPv6 address's ':' kept: valid in Linux names)."""
    return Path(cfg.genconf_dir) / "logs" / f"{address}.log"


Work = Callable[[HostSession, "HostSpec", HostLog], Awaitable[str]]
Connect = Callable[..., Awaitable[HostSession]]


def one_line(exc: BaseException) -> str:
    """A one-line reason for an exception of a host's work."""
    if isinstance(exc, HostError):
        return exc.message
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


async def for_each_host(cfg: ClusterConfig, hosts: list[HostSpec], step: str, work: Work, *,
                        progress: Progress, connect: Connect = connect,
                        timeout: float = 10) -> list[HostResult]:
    """Runs `work` on every host (see the module doc); results in the order of `hosts`.

    `work` returns a short detail for the result table ("installed build 1a2b..."); to fail
    a host it raises (HostError with a clear message is best). `connect` is replaceable for
    unit tests; `timeout` is the SSH connect timeout.
    """
    limit = asyncio.Semaphore(max(1, int(cfg.ssh_parallelism)))
    progress.begin(step, [h.address for h in hosts])

    async def one(host: HostSpec) -> HostResult:
        def show(text: str, fraction: float | None) -> None:
            progress.update(host.address, text, fraction)

        log = HostLog(log_path(cfg, host.address), step, show)
        async with limit:
            log(f"{step}: connecting to {host.address} ({host.role})")
            try:
                session = await connect(cfg, host.address, timeout=timeout)
                async with session:
                    detail = await work(session, host, log)
                result = HostResult(host.address, True, detail or "ok")
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # one host's failure never stops the others
                result = HostResult(host.address, False, one_line(exc))
                if not isinstance(exc, HostError):
                    log(traceback.format_exc().rstrip())
            log(f"{step}: {'ok' if result.ok else 'FAILED'}: {result.detail}")
            progress.finish(host.address, result.ok, result.detail)
            return result

    try:
        return list(await asyncio.gather(*(one(h) for h in hosts)))
    finally:
        progress.end()
