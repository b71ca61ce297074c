"""The agent's side of the launcher: connect (starting it when none runs), launch, hear exits.

Owned by `dcos.agent.containerizer.process.ProcessContainerizer`. `connect` returns the HELLO
listing (what the launcher still holds: tasks of a previous agent process included); then
`launch` returns a future of ``(pid, start, error)`` and `exits` maps container ids to the
futures that the launcher's EXIT messages resolve. Messages to the launcher are queued and
written once per event-loop turn (a burst of launches is one write). When the connection is
lost, `lost` is set, pending launches fail and `on_lost` is called: the containerizer then
watches its containers by pid until a new launcher is connected.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import subprocess
import sys
from collections.abc import Callable
from typing import Any

from dcos.agent import launcher as paths
from dcos.agent.launcher import wire

log = logging.getLogger(__name__)

START_TIMEOUT = 30.0


class LauncherGone(ConnectionError):
    """The launcher's connection was lost (it died, or was told to stop)."""


def start_launcher(meta_dir: str, ephemeral: bool = False) -> None:
    """Run ``python -m dcos.agent.launcher`` (it detaches once ready); raises LauncherGone with
    its reason when it cannot start. Blocking: called in a worker thread by `connect`."""
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__)))))  # fmt: skip
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    argv = [sys.executable, "-m", "dcos.agent.launcher", "--dir", meta_dir]
    if ephemeral:
        argv.append("--ephemeral")
    try:
        done = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, env=env,
                              timeout=START_TIMEOUT, check=False)  # fmt: skip
    except (OSError, subprocess.SubprocessError) as exc:
        raise LauncherGone(f"cannot start the task launcher: {exc}") from None
    if done.returncode != 0:
        why = (done.stderr or done.stdout).decode(errors="replace").strip()
        raise LauncherGone(f"cannot start the task launcher: {why or done.returncode}")


class _Protocol(asyncio.Protocol):
    def __init__(self, client: LauncherClient) -> None:
        self.client = client
        self.unpacker = wire.unpacker()

    def data_received(self, data: bytes) -> None:
        self.unpacker.feed(data)
        for msg in self.unpacker:
            self.client._received(msg)

    def connection_lost(self, exc: Exception | None) -> None:
        self.client._lost(exc)


class LauncherClient:
    def __init__(self, meta_dir: str, ephemeral: bool = False) -> None:
        self.meta_dir = meta_dir
        self.ephemeral = ephemeral
        self.transport: asyncio.Transport | None = None
        self.lost = False
        self.pid = 0  # the launcher's (from its HELLO answer)
        self.on_lost: Callable[[], None] | None = None
        self.on_exit: Callable[[str, int | None, int | None], None] | None = None
        self._launches: dict[str, asyncio.Future[tuple[int, float, str | None]]] = {}
        self._hello: asyncio.Future[list[Any]] | None = None
        self._closed: asyncio.Future[None] | None = None
        self._queue: list[bytes] = []
        self._acks: list[str] = []
        self._flush_scheduled = False

    # -- connection ------------------------------------------------------------------------

    async def connect(self) -> list[Any]:
        """Connect (starting a launcher if none answers) and say HELLO; the listing of what
        the launcher holds (see `dcos.agent.launcher.wire`). Raises LauncherGone."""
        os.makedirs(self.meta_dir, exist_ok=True)
        sock = self._try_connect()
        if sock is None:
            await asyncio.to_thread(start_launcher, self.meta_dir, self.ephemeral)
            for _ in range(50):  # another agent process may have started it a moment ago
                sock = self._try_connect()
                if sock is not None:
                    break
                await asyncio.sleep(0.05)
            else:
                raise LauncherGone("the task launcher started but does not answer")
        loop = asyncio.get_running_loop()
        self.transport, _ = await loop.create_unix_connection(lambda: _Protocol(self), sock=sock)
        self.lost = False
        self._closed = loop.create_future()
        self._hello = loop.create_future()
        self._send(wire.pack([wire.HELLO]))
        return await self._hello

    def _try_connect(self) -> socket.socket | None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        addr, dir_fd = paths.short_path(paths.socket_path(self.meta_dir))
        try:
            sock.connect(addr)
        except OSError:
            sock.close()
            return None
        finally:
            if dir_fd is not None:
                os.close(dir_fd)
        sock.setblocking(False)
        return sock

    @property
    def connected(self) -> bool:
        return self.transport is not None and not self.lost

    async def wait_closed(self, timeout: float = 5.0) -> None:
        """Wait (bounded) until the launcher has closed the connection (after a SHUTDOWN)."""
        if self._closed is None:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(self._closed), timeout)

    def _lost(self, exc: Exception | None) -> None:
        self.lost = True
        self.transport = None
        if self._closed is not None and not self._closed.done():
            self._closed.set_result(None)
        gone = LauncherGone(f"the task launcher's connection was lost{f': {exc}' if exc else ''}")
        futures: list[asyncio.Future[Any]] = list(self._launches.values())
        if self._hello is not None:
            futures.append(self._hello)
        for fut in futures:
            if not fut.done():
                fut.set_exception(gone)
        self._launches.clear()
        if self.on_lost is not None:
            self.on_lost()

    def close(self) -> None:
        """Drop the connection (the launcher keeps running its tasks)."""
        self._flush()
        if self.transport is not None:
            self.transport.close()

    # -- messages --------------------------------------------------------------------------

    def launch(self, cid: str, argv: list[str], env: dict[str, str], cwd: str, stdout: str,
               stderr: str, tasks_files: list[str], prelude: list[Any] | None,
               record: Any, setup: list[Any] | None = None,
               ) -> asyncio.Future[tuple[int, float, str | None]]:  # fmt: skip
        """Ask for a spawn; the future gives ``(pid, start time, error)``."""
        fut: asyncio.Future[tuple[int, float, str | None]] = (
            asyncio.get_running_loop().create_future()
        )
        if not self.connected:
            fut.set_exception(LauncherGone("the task launcher is not connected"))
            return fut
        self._launches[cid] = fut
        self._send(wire.pack([wire.LAUNCH, cid, argv, env, cwd, stdout, stderr, tasks_files,
                              prelude, record, setup or []]))  # fmt: skip
        return fut

    def signal(self, cid: str, sig: int) -> bool:
        """Signal the task's process group through the launcher; False when not connected."""
        if not self.connected:
            return False
        self._send(wire.pack([wire.SIGNAL, cid, int(sig)]))
        return True

    def rmdir(self, dirs: list[str]) -> bool:
        """Have the launcher remove these cgroups; False when not connected."""
        if not self.connected:
            return False
        self._send(wire.pack([wire.RMDIR, dirs]))
        return True

    def ack(self, cid: str) -> None:
        """The agent has recorded `cid`'s end: the launcher may forget it (batched)."""
        if self.connected:
            self._acks.append(cid)
            self._schedule()

    def shutdown(self, kill: bool) -> None:
        """Tell the launcher to exit (killing its tasks' groups when `kill`); it closes the
        connection once done (`wait_closed`)."""
        if self.connected:
            self._send(wire.pack([wire.SHUTDOWN, kill]))
            self._flush()

    def _send(self, data: bytes) -> None:
        self._queue.append(data)
        self._schedule()

    def _schedule(self) -> None:
        if not self._flush_scheduled:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_scheduled = False
        if self._acks:
            self._queue.append(wire.pack([wire.ACK, self._acks]))
            self._acks = []
        if self._queue and self.transport is not None:
            data = b"".join(self._queue) if len(self._queue) > 1 else self._queue[0]
            self.transport.write(data)
        self._queue.clear()

    def _received(self, msg: list[Any]) -> None:
        op = msg[0]
        if op == wire.EXIT:
            if self.on_exit is not None:
                self.on_exit(msg[1], msg[2], msg[3])
        elif op == wire.LAUNCHED:
            fut = self._launches.pop(msg[1], None)
            if fut is not None and not fut.done():
                fut.set_result((int(msg[2]), float(msg[3]), msg[4]))
        elif op == wire.HELLO:
            self.pid = int(msg[2]) if len(msg) > 2 else 0
            if self._hello is not None and not self._hello.done():
                self._hello.set_result(list(msg[1]))
        else:
            log.warning("unknown message from the launcher: %.100r", op)


def stop_launcher(meta_dir: str, kill: bool = True, timeout: float = 5.0) -> bool:
    """Tell the launcher of `meta_dir` (if one runs) to exit, synchronously; True when one
    answered. For tests and tools that did not keep a client."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    addr, dir_fd = paths.short_path(paths.socket_path(meta_dir))
    try:
        sock.settimeout(timeout)
        sock.connect(addr)
        sock.sendall(wire.pack([wire.SHUTDOWN, kill]))
        with contextlib.suppress(OSError):
            while sock.recv(65536):
                pass
        return True
    except OSError:
        return False
    finally:
        sock.close()
        if dir_fd is not None:
            os.close(dir_fd)
