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
  socket (the peer's end: local address = the request's peer, remote address = the agent's)
  by its exact 4-tuple through netlink sock_diag (else in ``/proc/net/tcp[6]``), the process
  that holds that socket (``/proc/<pid>/fd``; about 1 ms on a host of 130 processes), and reads
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
import struct
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


def _hex(ip: ipaddress.IPv4Address | ipaddress.IPv6Address, port: int) -> str:
    """An address as ``/proc/net/tcp[6]`` shows it: the address in 32-bit words of host byte
    order (little-endian here), then the port, in upper-case hex (``0100007F:1F90``)."""
    raw = ip.packed
    words = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))  # fmt: skip
    return f"{words.hex().upper()}:{port:04X}"


def _forms(ip: Any, port: int) -> dict[str, str]:
    """How the TCP tables may show an endpoint: per table, its text (an IPv4 address is
    shown IPv4-mapped in the IPv6 table, for a dual-stack socket)."""
    if isinstance(ip, ipaddress.IPv4Address):
        return {"/proc/net/tcp": _hex(ip, port),
                "/proc/net/tcp6": _hex(ipaddress.IPv6Address(b"\0" * 10 + b"\xff" * 2 + ip.packed),
                                       port)}  # fmt: skip
    return {"/proc/net/tcp6": _hex(ip, port)}


def _plain(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> Any:
    """An IPv4-mapped IPv6 address as its IPv4 address (a dual-stack socket shows those)."""
    mapped = getattr(ip, "ipv4_mapped", None)
    return mapped if mapped is not None else ip


def _endpoint(name: Any) -> tuple[Any, int] | None:
    if not isinstance(name, tuple) or len(name) < 2:
        return None
    try:
        return _plain(ipaddress.ip_address(str(name[0]).split("%")[0])), int(name[1])
    except ValueError:
        return None


NETLINK_SOCK_DIAG = 4
SOCK_DIAG_BY_FAMILY = 20
NLM_F_REQUEST = 1
NLMSG_ERROR = 2
_NO_COOKIE = 0xFFFFFFFF


def _diag_inode(local: tuple[Any, int], remote: tuple[Any, int]) -> int | None:
    """The inode of the TCP socket ``local`` -> ``remote``, asked of the kernel by its exact
    4-tuple (netlink sock_diag: microseconds, however many sockets the host has); None when
    there is no such socket or netlink cannot be used."""
    ip_l, ip_r = local[0], remote[0]
    if isinstance(ip_l, ipaddress.IPv4Address) and isinstance(ip_r, ipaddress.IPv4Address):
        mapped = [b"\0" * 10 + b"\xff" * 2 + ip.packed for ip in (ip_l, ip_r)]
        candidates = [(socket.AF_INET, ip_l.packed + bytes(12), ip_r.packed + bytes(12)),
                      (socket.AF_INET6, mapped[0], mapped[1])]  # fmt: skip
    else:
        candidates = [(socket.AF_INET6, ip_l.packed, ip_r.packed)]
    try:
        nl = socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, NETLINK_SOCK_DIAG)
    except (OSError, AttributeError):
        return None
    with nl:
        nl.settimeout(1.0)
        for seq, (family, src, dst) in enumerate(candidates, 1):
            sockid = struct.pack("!HH16s16s", local[1], remote[1], src, dst)
            sockid += struct.pack("=III", 0, _NO_COOKIE, _NO_COOKIE)
            req = struct.pack("=BBBBI", family, socket.IPPROTO_TCP, 0, 0, 0xFFFFFFFF) + sockid
            msg = struct.pack("=IHHII", 16 + len(req), SOCK_DIAG_BY_FAMILY, NLM_F_REQUEST, seq, 0)
            try:
                nl.send(msg + req)
                reply = nl.recv(8192)
            except OSError:
                return None
            if len(reply) < 88 or struct.unpack_from("=H", reply, 4)[0] == NLMSG_ERROR:
                continue
            inode = struct.unpack_from("=I", reply, 84)[0]
            if inode:
                return int(inode)
    return None


def _socket_inode(local: tuple[Any, int], remote: tuple[Any, int]) -> int | None:
    """The inode of the open TCP socket whose own address is `local` and peer `remote`:
    asked by netlink, else searched in ``/proc/net/tcp[6]`` (which may hold tens of thousands
    of lines of TIME_WAIT, searched as text, not parsed: slow, hence only a fallback)."""
    inode = _diag_inode(local, remote)
    if inode is not None:
        return inode
    locals_, remotes = _forms(*local), _forms(*remote)
    for table, mine in locals_.items():
        pattern = f" {mine} {remotes[table]} "
        try:
            with open(table) as f:
                text = f.read()
        except OSError:
            continue
        at = text.find(pattern)
        while at >= 0:
            line = text[at : text.find("\n", at)]
            fields = line.split()
            if len(fields) >= 9 and fields[8].isdigit() and int(fields[8]) != 0:
                return int(fields[8])
            at = text.find(pattern, at + 1)
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
