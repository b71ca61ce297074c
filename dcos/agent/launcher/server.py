"""The launcher process's loop (see `dcos.agent.launcher` for what it is for).

`Launcher.run` is a plain ``selectors`` loop (no asyncio: a launch is a handful of syscalls and
the loop's own overhead counts). One turn: read the agent's messages (each LAUNCH spawned at
once, `dcos.agent.launcher.spawn`), go back to the launcher's own cgroups, reap what ended
(SIGCHLD woke the loop through `signal.set_wakeup_fd`), write the journal (synced when the turn
reaped something), then answer the agent in one write: LAUNCHED replies first, then EXITs.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import logging
import os
import selectors
import signal
import socket
import time
from collections import deque
from typing import Any

from dcos.agent import launcher as paths
from dcos.agent.launcher import wire
from dcos.agent.launcher.journal import Entry, Journal, Syncer, replay
from dcos.agent.launcher.spawn import Spawner, SpawnError

log = logging.getLogger("dcos.agent.launcher")

PR_SET_CHILD_SUBREAPER = 36
START_DELAY = 0.05  # seconds after its spawn a running task's start time is journaled


def become_subreaper() -> bool:
    """prctl(PR_SET_CHILD_SUBREAPER): orphans of our tasks are reparented to us, not init."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return bool(libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0)
    except (OSError, AttributeError):
        return False


class Launcher:
    def __init__(self, meta_dir: str, idle_exit: float = paths.IDLE_EXIT,
                 ephemeral: bool = False) -> None:  # fmt: skip
        """`ephemeral`: the agent keeps no meta dir: when it goes, every task is killed and the
        launcher exits (and removes `meta_dir`)."""
        self.meta_dir = meta_dir
        self.idle_exit = idle_exit
        self.ephemeral = ephemeral
        self.entries: dict[str, Entry] = replay(os.path.join(meta_dir, paths.JOURNAL))
        self.by_pid: dict[int, str] = {}  # our running children -> container id
        self.journal = Journal(os.path.join(meta_dir, paths.JOURNAL))
        self.syncer = Syncer(self.journal)
        self._unsynced: list[tuple[int, list[str]]] = []  # (sync generation, ended cids)
        self._rmdirs: list[tuple[str, int]] = []  # cgroups to remove, (dir, tries so far)
        self._starts: deque[tuple[float, str, int]] = deque()  # (when, cid, pid) to note
        self.spawner = Spawner(meta_dir)
        self.sel = selectors.DefaultSelector()
        self.listener: socket.socket | None = None
        self.conn: socket.socket | None = None
        self.greeted = False  # the current agent said HELLO (EXITs go to it from then on)
        self._unpacker = wire.unpacker()
        self._replies: list[bytes] = []
        self._exits: list[str] = []
        self._outbuf = b""
        self._writing = False
        self._chld = False
        self._stop = False
        self._idle_since = time.monotonic()
        self.launched = 0

    # -- set-up ----------------------------------------------------------------------------

    def listen(self) -> None:
        """Bind the socket (the caller holds the lock, so a leftover file is stale)."""
        path = paths.socket_path(self.meta_dir)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        addr, dir_fd = paths.short_path(path)
        try:
            sock.bind(addr)
        finally:
            if dir_fd is not None:
                os.close(dir_fd)
        os.chmod(path, 0o600)
        sock.listen(16)
        sock.setblocking(False)
        self.listener = sock
        self.sel.register(sock, selectors.EVENT_READ, "listen")

    def _signals(self) -> None:
        r, w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self._wake_r = r
        signal.set_wakeup_fd(w, warn_on_full_buffer=False)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        self.sel.register(r, selectors.EVENT_READ, "wake")
        self.sel.register(self.syncer.wake_fd, selectors.EVENT_READ, "synced")
        self._chld = True  # reap whatever ended before the handler was in place

    # -- the loop --------------------------------------------------------------------------

    def run(self) -> None:
        """Serve until told to stop, or idle (no agent, no task) for `idle_exit` seconds."""
        self._signals()
        while not self._stop:
            for key, mask in self.sel.select(self._timeout()):
                if key.data == "listen":
                    self._accept()
                elif key.data == "wake":
                    with contextlib.suppress(OSError):
                        os.read(self._wake_r, 4096)
                    self._chld = True
                elif key.data == "synced":
                    self.syncer.drain()
                elif key.data == "conn" and key.fileobj is self.conn:
                    if mask & selectors.EVENT_READ:
                        self._read()
                    if mask & selectors.EVENT_WRITE and self.conn is not None:
                        self._send(b"")
            self.spawner.go_home()
            if self._rmdirs:
                self._remove_dirs()
            if self._chld:
                self._chld = False
                self._reap()
            if self._starts:
                self._note_starts()
            self._flush()
            if self._idle():
                log.info("no agent and no task for %.0f s: exiting", self.idle_exit)
                break
        self._shutdown()

    def _busy(self) -> bool:
        """Tasks running, or an agent connected (an ephemeral launcher, whose agent keeps no
        meta dir, does not wait for its agent: it is started again on the next launch)."""
        return (bool(self.by_pid or self._unsynced or self._rmdirs)
                or (self.conn is not None and not self.ephemeral))

    def _timeout(self) -> float | None:
        if self._rmdirs:
            return 0.01  # busy cgroups: try again soon
        if self._starts:
            return max(0.0, self._starts[0][0] - time.monotonic()) + 0.001
        if self._busy():
            return None
        return max(0.0, self.idle_exit - (time.monotonic() - self._idle_since)) + 0.01

    def _idle(self) -> bool:
        if self._busy():
            self._idle_since = time.monotonic()
            return False
        return time.monotonic() - self._idle_since >= self.idle_exit

    def _accept(self) -> None:
        assert self.listener is not None
        try:
            conn, _ = self.listener.accept()
        except OSError:
            return
        if self.conn is not None:  # a newer agent process replaces the old connection
            log.info("a new agent connected; closing the previous connection")
            self._drop()
        conn.setblocking(False)
        self.conn = conn
        self.greeted = False
        self._unpacker = wire.unpacker()
        self.sel.register(conn, selectors.EVENT_READ, "conn")

    def _drop(self) -> None:
        if self.conn is None:
            return
        with contextlib.suppress(KeyError, ValueError):
            self.sel.unregister(self.conn)
        self.conn.close()
        self.conn = None
        self.greeted = False
        self._outbuf = b""
        self._writing = False
        self._replies.clear()
        if self.ephemeral:
            log.info("the agent went away (no meta dir): killing its tasks and exiting")
            self._kill_all()
            self._stop = True

    def _read(self) -> None:
        assert self.conn is not None
        try:
            data = self.conn.recv(1 << 20)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            self._drop()
            return
        self._unpacker.feed(data)
        for msg in self._unpacker:
            try:
                self._handle(msg)
            except Exception:  # a bad message must not end the launcher and its tasks
                # its operation and container only: a LAUNCH carries the task's environment,
                # secrets' values included, which must never reach a log
                shown = msg[:2] if isinstance(msg, list) else type(msg).__name__
                log.exception("bad message from the agent: %.200r", shown)

    # -- messages --------------------------------------------------------------------------

    def _handle(self, msg: list[Any]) -> None:
        op = msg[0]
        if op == wire.LAUNCH:
            self._launch(*msg[1:11])
        elif op == wire.RMDIR:
            self._rmdirs.extend((str(d), 0) for d in msg[1])
        elif op == wire.ACK:
            for cid in msg[1]:
                if self.entries.pop(cid, None) is not None:
                    self.journal.append(["A", cid])
        elif op == wire.SIGNAL:
            self._signal(str(msg[1]), int(msg[2]))
        elif op == wire.HELLO:
            self.greeted = True
            listing = [e.wire(cid) for cid, e in self.entries.items()]
            self._replies.append(wire.pack([wire.HELLO, listing, os.getpid()]))
        elif op == wire.SHUTDOWN:
            if msg[1]:
                self._kill_all()
            self._stop = True
        else:
            log.warning("unknown message %.100r", op)

    def _launch(self, cid: str, argv: list[str], env: dict[str, str], cwd: str, stdout: str,
                stderr: str, tasks_files: list[str], prelude: Any, record: Any,
                setup: Any = None) -> None:  # fmt: skip
        if cid in self.entries:
            self._replies.append(wire.pack([wire.LAUNCHED, cid, 0, 0.0,
                                            f"container {cid} already exists"]))  # fmt: skip
            return
        try:
            if setup:
                self.spawner.setup(setup)
            pid = self.spawner.spawn(argv, env, cwd, stdout, stderr, tasks_files, prelude)
        except SpawnError as exc:
            self._replies.append(wire.pack([wire.LAUNCHED, cid, 0, 0.0, str(exc)]))
            return
        # its start time (which tells it from a later process with a recycled pid) is read
        # only if it still runs a little later: most short tasks never need it
        self.entries[cid] = Entry(pid, 0.0, record, child=True)
        self.by_pid[pid] = cid
        self._starts.append((time.monotonic() + START_DELAY, cid, pid))
        self.journal.append(["L", cid, pid, 0.0, record])
        self._replies.append(wire.pack([wire.LAUNCHED, cid, pid, 0.0, None]))
        self.launched += 1

    def _note_starts(self) -> None:
        """Journal the start time of each task still running `START_DELAY` after its spawn."""
        now = time.monotonic()
        while self._starts and self._starts[0][0] <= now:
            _, cid, pid = self._starts.popleft()
            e = self.entries.get(cid)
            if e is not None and not e.ended and self.by_pid.get(pid) == cid:
                e.start = self.spawner.start_time(pid)
                self.journal.append(["S", cid, e.start])

    def _remove_dirs(self) -> None:
        """rmdir each queued cgroup; a busy one (its last processes still exiting) is tried
        again next turn, for about 2 s."""
        left = []
        for path, tries in self._rmdirs:
            try:
                os.rmdir(path)
            except FileNotFoundError:
                pass
            except OSError as exc:
                if exc.errno in (errno.EBUSY, errno.ENOTEMPTY) and tries < 200:
                    left.append((path, tries + 1))
                else:
                    log.warning("cannot remove cgroup %s: %s", path, exc)
        self._rmdirs = left

    def _signal(self, cid: str, sig: int) -> None:
        e = self.entries.get(cid)
        if e is None or e.ended or not e.child:  # reaped: its group was SIGKILLed then
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(e.pid, sig)

    def _kill_all(self) -> None:
        for pid in list(self.by_pid):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)

    # -- ends ------------------------------------------------------------------------------

    def _reap(self) -> None:
        """Reap every ended child: a task's exact status is journaled; orphans of tasks
        (reparented to us, the subreaper) are just reaped."""
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            cid = self.by_pid.pop(pid, None)
            if cid is None:
                continue
            # whatever the task left in its group goes with it (its cgroups are the agent's)
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)
            e = self.entries.get(cid)
            if e is None:
                continue
            if os.WIFSIGNALED(status):
                e.signal = os.WTERMSIG(status)
            else:
                e.code = os.waitstatus_to_exitcode(status)
            e.ended = True
            self.journal.append(["E", cid, e.code, e.signal])
            self._exits.append(cid)

    def _flush(self) -> None:
        """Journal first (written now; the exits synced by the `Syncer`'s thread, a group
        commit), then answer the agent: LAUNCHED replies at once (their records are written),
        EXITs once a sync covers them."""
        try:
            self.journal.flush()
        except OSError as exc:  # a full disk: keep serving; the statuses are still in memory
            log.error("cannot write the journal: %s", exc)
        if self._exits:
            self._unsynced.append((self.syncer.request(), self._exits))
            self._exits = []
        out = self._replies
        done = self.syncer.done
        while self._unsynced and self._unsynced[0][0] <= done:
            for cid in self._unsynced.pop(0)[1]:
                e = self.entries.get(cid)
                if e is not None and self.greeted:
                    out.append(wire.pack([wire.EXIT, cid, e.code, e.signal]))
        if (not self._unsynced and self.syncer.idle()
                and self.journal.should_compact(len(self.entries))):  # fmt: skip
            try:
                self.journal.compact(self.entries)
            except OSError as exc:
                log.error("cannot compact the journal: %s", exc)
        if out and self.conn is not None:
            self._send(b"".join(out))
        out.clear()

    def _send(self, data: bytes) -> None:
        assert self.conn is not None
        data = self._outbuf + data
        try:
            n = self.conn.send(data) if data else 0
        except (BlockingIOError, InterruptedError):
            n = 0
        except OSError:
            self._drop()
            return
        self._outbuf = data[n:]
        if bool(self._outbuf) != self._writing:  # watch for writability only while needed
            self._writing = bool(self._outbuf)
            events = selectors.EVENT_READ | (selectors.EVENT_WRITE if self._writing else 0)
            self.sel.modify(self.conn, events, "conn")

    def _shutdown(self) -> None:
        deadline = time.monotonic() + 3.0
        while self._rmdirs and time.monotonic() < deadline:  # cgroups still to remove
            self._remove_dirs()
            if self._rmdirs:
                time.sleep(0.01)
        with contextlib.suppress(OSError):
            self.journal.flush(sync=True)
        if self.conn is not None:
            self.conn.close()
            self.conn = None
        self.journal.close()
        if self.listener is not None:
            self.listener.close()
            with contextlib.suppress(OSError):
                os.unlink(paths.socket_path(self.meta_dir))
        if not self.entries or self.ephemeral:
            with contextlib.suppress(OSError):
                os.unlink(os.path.join(self.meta_dir, paths.JOURNAL))


def take_lock(meta_dir: str) -> int | None:
    """The launcher lock's fd (held for the process's life), None when another launcher runs
    for `meta_dir`."""
    import fcntl

    fd = os.open(os.path.join(meta_dir, paths.LOCK), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        os.close(fd)
        if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
            return None
        raise
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())  # who holds it (tools, benchmarks)
    return fd
