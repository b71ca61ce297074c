"""Executor authentication, the I/O half: the agent's secret and the token of a caller.

The token itself (an HMAC of the executor run's ids under the agent's secret) is made and
checked in the sans-IO core (`dcos.agent.core.custom_executor`, `dcos.agent.core.executor_calls`);
this module does what needs the disk or ``/proc``:

- `load_secret(meta_dir)`: the secret, 32 random bytes in ``<work_dir>/meta/executor.secret``
  (mode 0600), made on the first start; read again after a restart so that the recovered
  executors' tokens stay valid. Called by the agent shell at start (with checkpointing on).
- `bearer_token(header)`: the token of an ``Authorization: Bearer <token>`` header, as Mesos'
  executor libraries (and `dcos.sdk.executor`) send ``MESOS_EXECUTOR_AUTHENTICATION_TOKEN``.
- `peer_token(sockname, peername)`: for executors whose library cannot send a header (pymesos
  0.3.15 has no way to add one to its calls): the token in the environment of the local
  process at the other end of the call's TCP connection. The agent finds the connection's
  socket in ``/proc/net/tcp[6]`` (the peer's end: local address = the request's peer, remote
  address = the agent's), the process that holds that socket (``/proc/<pid>/fd``), and reads
  `TOKEN_ENV` from its ``/proc/<pid>/environ``. A process can only show a token it was given
  (the agent started it with that environment), so this proves the caller as well as a header
  does, for callers on this host; a remote caller, or a local process without the token,
  presents none (401). Linux only; blocking (the executor API runs it in a worker thread, at
  most once per connection). Like Mesos, this does not protect a token from a process of the
  same user that reads the executor's environment.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import os
import secrets
import socket
from typing import Any

from dcos.agent.core.custom_executor import TOKEN_ENV

log = logging.getLogger(__name__)

SECRET_FILE = "executor.secret"
SECRET_BYTES = 32
MAX_TOKEN = 512  # a longer Authorization value is not a token of ours


def load_secret(meta_dir: str) -> bytes:
    """The agent's executor-token secret from `meta_dir`, made (atomically, 0600) if absent.
    Raises OSError when the directory cannot be written or the file read."""
    path = os.path.join(meta_dir, SECRET_FILE)
    with contextlib.suppress(FileNotFoundError), open(path, "rb") as f:
        data = f.read()
        if len(data) >= SECRET_BYTES:
            return data
        log.warning("%s is too short; making a new executor secret", path)
    os.makedirs(meta_dir, exist_ok=True)
    data = secrets.token_bytes(SECRET_BYTES)
    tmp = f"{path}.{os.getpid()}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    return data


def bearer_token(header: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` value (None if there is none)."""
    if not header:
        return None
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or len(token) > MAX_TOKEN:
        return None
    return token


def _address(hex_addr: str) -> tuple[ipaddress.IPv4Address | ipaddress.IPv6Address, int]:
    """An address of ``/proc/net/tcp[6]`` (``0100007F:1F90``: host byte order words)."""
    host, port = hex_addr.split(":")
    raw = bytes.fromhex(host)
    words = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))  # fmt: skip
    ip = ipaddress.ip_address(socket.inet_ntop(socket.AF_INET if len(raw) == 4 else socket.AF_INET6,
                                               words))  # fmt: skip
    return _plain(ip), int(port, 16)


def _plain(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> Any:
    """An IPv4-mapped IPv6 address as its IPv4 address (a dual-stack socket shows those)."""
    mapped = getattr(ip, "ipv4_mapped", None)
    return mapped if mapped is not None else ip


def _endpoint(name: Any) -> tuple[Any, int] | None:
    if not isinstance(name, tuple) or len(name) < 2:
        return None
    try:
        return _plain(ipaddress.ip_address(name[0])), int(name[1])
    except ValueError:
        return None


def _socket_inode(local: tuple[Any, int], remote: tuple[Any, int]) -> int | None:
    """The inode of the TCP socket whose own address is `local` and peer `remote`."""
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                lines = f.readlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) < 10:
                continue
            try:
                if _address(fields[1]) == local and _address(fields[2]) == remote:
                    return int(fields[9])
            except ValueError:
                continue
    return None


def _holder_environ(inode: int) -> bytes | None:
    """The environment of a process that holds socket `inode` and has a token in it."""
    target = f"socket:[{inode}]"
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        fd_dir = f"/proc/{pid}/fd"
        try:
            fds = os.listdir(fd_dir)
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink(f"{fd_dir}/{fd}") != target:
                    continue
                with open(f"/proc/{pid}/environ", "rb") as f:
                    environ = f.read()
            except OSError:
                continue
            if (TOKEN_ENV + "=").encode() in environ:
                return environ
    return None


def peer_token(sockname: Any, peername: Any) -> str | None:
    """The token in the environment of the local process at the other end of a connection
    (`sockname`: the agent's end, `peername`: the caller's, as the transport gives them);
    None for a remote caller or one without a token. Blocking: run in a worker thread."""
    agent_end, caller_end = _endpoint(sockname), _endpoint(peername)
    if agent_end is None or caller_end is None:
        return None
    try:
        inode = _socket_inode(caller_end, agent_end)
        environ = _holder_environ(inode) if inode else None
    except OSError:
        return None
    if environ is None:
        return None
    prefix = (TOKEN_ENV + "=").encode()
    for item in environ.split(b"\x00"):
        if item.startswith(prefix):
            token = item[len(prefix):].decode("utf-8", "replace")  # fmt: skip
            return token if 0 < len(token) <= MAX_TOKEN else None
    return None
