"""SSH and SFTP to one host of the cluster (asyncssh): the installer's only way onto a host.

`connect(cfg, address)` opens an authenticated session; the steps of `dcos-py install`
(preflight, deploy, upgrade, uninstall) get one from `dcos.installer.runner.for_each_host` and
call `run`, `put` and `put_text` on it. Every failure a caller can meet comes out as a
`HostError` whose `message` is one line an operator can act on ("unreachable: connection
refused (10.0.0.21:22)", "authentication failed for root@10.0.0.21 with key /k", "`pip
install ...` exited 1: <last stderr lines>").

Authentication is by key only: the private key at ``cfg.ssh_key_path`` (no agent, no password,
no ~/.ssh/config). Host keys are NOT pinned (``known_hosts=None``): the installer trusts the
addresses of cluster.yaml on first use without recording them; trust-on-first-use with a
known_hosts file in genconf/ is a later improvement.

Commands run as root. With ``ssh_user: root`` they run as given; with any other user every
command is wrapped as ``sudo -n sh -c '<cmd>'`` (the user needs password-less sudo: ``-n``
fails at once instead of waiting for a password), and `put`/`put_text` upload into a private
temporary directory on the host and move the result into place with ``sudo -n``.
"""

from __future__ import annotations

import asyncio
import errno
import os
import shlex
import socket
import stat
import uuid
import warnings
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

with warnings.catch_warnings():  # asyncssh's DSA support warns at import (cryptography 43+)
    warnings.filterwarnings("ignore", message="DSA is deprecated")
    import asyncssh

if TYPE_CHECKING:
    from dcos.installer.config import ClusterConfig


class HostError(Exception):
    """A host could not be reached or did not do what was asked; `message` is one line."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Completed:
    """A finished command: its exit status (-1 when killed by a signal) and its output."""

    exit_status: int
    stdout: str
    stderr: str


def endpoint(address: str, port: int) -> str:
    """``10.0.0.1:22`` / ``[fd00::1]:22``."""
    return f"[{address}]:{port}" if ":" in address else f"{address}:{port}"


def tail(text: str, lines: int = 3) -> str:
    """The last non-empty `lines` lines of `text` on one line (" | " between them)."""
    kept = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return " | ".join(kept[-lines:])


def short(cmd: str, limit: int = 60) -> str:
    """A command shortened for a message: its first line, at most `limit` characters."""
    first = cmd.strip().splitlines()[0] if cmd.strip() else ""
    return first if len(first) <= limit and "\n" not in cmd.strip() else first[:limit] + "..."


class HostSession:
    """An open SSH connection to one host (an async context manager that closes it).

    Made by `connect`; used by the work functions of `runner.for_each_host`.
    """

    def __init__(self, address: str, conn: asyncssh.SSHClientConnection, user: str) -> None:
        self.address = address
        self.user = user
        self._conn = conn

    @property
    def sudo(self) -> bool:
        """True when commands are wrapped in ``sudo -n`` (ssh_user is not root)."""
        return self.user != "root"

    async def __aenter__(self) -> HostSession:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        self._conn.close()
        try:
            await asyncio.wait_for(self._conn.wait_closed(), 5)
        except (TimeoutError, OSError, asyncssh.Error):
            pass

    def _wrap(self, cmd: str) -> str:
        return f"sudo -n sh -c {shlex.quote(cmd)}" if self.sudo else cmd

    async def run(self, cmd: str, *, input: str | None = None, timeout: float = 600,
                  check: bool = True) -> Completed:
        """Runs `cmd` with the login shell on the host (as root, see the module doc); `input`
        on its stdin (none: stdin at EOF at once). The remote process is not killed on a
        timeout: its pipes close with the channel.

        `check`: a non-zero exit raises HostError naming the command, its exit status and its
        last stderr lines. A timeout or a dropped connection always raises HostError.
        """
        try:
            feed: dict[str, Any] = {"input": input} if input else {"stdin": asyncssh.DEVNULL}
            proc = await self._conn.run(self._wrap(cmd), timeout=timeout, check=False,
                                        encoding="utf-8", errors="replace", **feed)
        except asyncssh.TimeoutError as exc:
            raise HostError(f"`{short(cmd)}` timed out after {timeout:g} s"
                            + (f": {tail(str(exc.stderr or ''))}" if exc.stderr else "")) from None
        except (asyncssh.Error, OSError) as exc:
            raise HostError(f"connection to {self.address} lost during `{short(cmd)}`: "
                            f"{_reason(exc)}") from None
        status = proc.exit_status if proc.exit_status is not None else -1
        result = Completed(status, str(proc.stdout or ""), str(proc.stderr or ""))
        if check and status != 0:
            how = (f"was killed by signal {proc.exit_signal[0]}" if proc.exit_signal
                   else f"exited {status}")
            detail = tail(result.stderr) or tail(result.stdout)
            raise HostError(f"`{short(cmd)}` {how}" + (f": {detail}" if detail else ""))
        return result

    async def put(self, local: Path, remote: PurePosixPath) -> None:
        """Copies a file, or a directory's tree into the directory `remote`, keeping modes.

        Missing parent directories are made; existing files are replaced, other files already
        in a remote directory are kept (a re-run copies the same tree again).
        """
        if not local.exists():
            raise HostError(f"cannot copy {local}: no such file or directory")
        target = await self._stage(remote)
        try:
            async with self._conn.start_sftp_client() as sftp:
                if local.is_dir():
                    await _put_tree(sftp, local, target)
                else:
                    await sftp.makedirs(str(target.parent), exist_ok=True)
                    await sftp.put(str(local), str(target))
                    await sftp.chmod(str(target), stat.S_IMODE(local.stat().st_mode))
        except (asyncssh.Error, OSError) as exc:
            raise HostError(f"copying {local} to {self.address}:{remote} failed: "
                            f"{_reason(exc)}") from None
        await self._commit(target, remote)

    async def put_text(self, text: str, remote: PurePosixPath, mode: int = 0o644) -> None:
        """Writes `text` (UTF-8) to the file `remote` with `mode`, creating its parent dir."""
        target = await self._stage(remote)
        try:
            async with self._conn.start_sftp_client() as sftp:
                if not self.sudo:
                    await sftp.makedirs(str(remote.parent), exist_ok=True)
                async with sftp.open(str(target), "wb") as f:
                    await f.write(text.encode())
                await sftp.chmod(str(target), mode)
        except (asyncssh.Error, OSError) as exc:
            raise HostError(f"writing {self.address}:{remote} failed: {_reason(exc)}") from None
        await self._commit(target, remote)

    async def _stage(self, remote: PurePosixPath) -> PurePosixPath:
        """Where SFTP writes: `remote` itself as root, else a private temp dir of the user."""
        if not self.sudo:
            return remote
        tmp = PurePosixPath(f"/tmp/dcos-py-put-{uuid.uuid4().hex[:12]}")
        try:
            await self._conn.run(f"mkdir -m 700 {tmp}", check=True, stdin=asyncssh.DEVNULL)
        except (asyncssh.Error, OSError) as exc:
            raise HostError(f"cannot make {tmp} on {self.address}: {_reason(exc)}") from None
        return tmp / remote.name

    async def _commit(self, target: PurePosixPath, remote: PurePosixPath) -> None:
        if target == remote:
            return
        q, r = shlex.quote(str(target)), shlex.quote(str(remote))
        await self.run(f"mkdir -p {shlex.quote(str(remote.parent))} && "
                       f"if [ -d {q} ]; then mkdir -p {r} && cp -R --preserve=mode {q}/. {r}/; "
                       f"else cp --preserve=mode {q} {r}; fi && chown -R root:root {r}")
        await self.run(f"rm -rf {shlex.quote(str(target.parent))}", check=False)


async def _put_tree(sftp: asyncssh.SFTPClient, local: Path, remote: PurePosixPath) -> None:
    """Copies the tree under `local` into `remote`, one file at a time, with the local modes."""
    await sftp.makedirs(str(remote), exist_ok=True)
    for root, dirs, files in os.walk(local, followlinks=True):
        base = remote / Path(root).relative_to(local).as_posix()
        for name in sorted(dirs):
            await sftp.makedirs(str(base / name), exist_ok=True)
        for name in sorted(files):
            await sftp.put(str(Path(root) / name), str(base / name))
            await sftp.chmod(str(base / name), stat.S_IMODE((Path(root) / name).stat().st_mode))
        await sftp.chmod(str(base), stat.S_IMODE(Path(root).stat().st_mode))


def _reason(exc: BaseException) -> str:
    """A short reason of an asyncssh/OS error."""
    if isinstance(exc, asyncssh.DisconnectError):
        return exc.reason or type(exc).__name__
    if isinstance(exc, asyncssh.SFTPError):
        return exc.reason or type(exc).__name__
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower()
    return str(exc) or type(exc).__name__


def load_key(path: Path) -> asyncssh.SSHKey:
    """The private key at `path`; HostError "bad key file <path>: <why>" when it cannot be used."""
    try:
        return asyncssh.read_private_key(str(path))
    except OSError as exc:
        raise HostError(f"bad key file {path}: {_reason(exc)}") from None
    except asyncssh.KeyImportError as exc:
        raise HostError(f"bad key file {path}: {exc} (a passphrase-less OpenSSH or PEM "
                        "private key is needed)") from None


async def connect(cfg: ClusterConfig, address: str, *, timeout: float = 10) -> HostSession:
    """Opens an authenticated SSH session to `address` (cfg.ssh_user, ssh_port, ssh_key_path).

    Called by `runner.for_each_host` for each host of a step. Raises HostError:
    "unreachable: <why> (<addr>:<port>)", "authentication failed for <user>@<addr> with key
    <path>", "bad key file <path>: <why>", "ssh to <addr>:<port> failed: <why>".
    """
    key_path = Path(cfg.ssh_key_path).expanduser()
    key = load_key(key_path)
    where = endpoint(address, cfg.ssh_port)
    options: dict[str, Any] = dict(
        port=cfg.ssh_port, username=cfg.ssh_user, client_keys=[key], known_hosts=None,
        agent_path=None, config=[], preferred_auth="publickey", password=None,
        connect_timeout=timeout, login_timeout=timeout, keepalive_interval=30)
    try:
        conn = await asyncssh.connect(address, **options)
    except asyncssh.PermissionDenied:
        raise HostError(f"authentication failed for {cfg.ssh_user}@{address} with key "
                        f"{key_path}") from None
    except TimeoutError:
        raise HostError(f"unreachable: timed out after {timeout:g} s ({where})") from None
    except ConnectionRefusedError:
        raise HostError(f"unreachable: connection refused ({where})") from None
    except socket.gaierror as exc:
        raise HostError(f"unreachable: unknown host {address}: {exc.strerror}") from None
    except OSError as exc:
        why = {errno.EHOSTUNREACH: "no route to host", errno.ENETUNREACH: "network unreachable",
               errno.ETIMEDOUT: "timed out"}.get(exc.errno or 0, _reason(exc))
        raise HostError(f"unreachable: {why} ({where})") from None
    except asyncssh.ConnectionLost:
        raise HostError(f"ssh to {where} failed: the connection was closed before login "
                        f"(is it an SSH server? see its sshd log)") from None
    except asyncssh.Error as exc:
        raise HostError(f"ssh to {where} failed: {_reason(exc)}") from None
    return HostSession(address, conn, cfg.ssh_user)
