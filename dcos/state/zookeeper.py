"""`ZooKeeperStateStore`: the StateStore contract on ZooKeeper (HA masters, the webapp framework).

Called by: the master shell in HA mode (its registry under ``/<path>-state``, see
``--zk-state-path``) and the webapp framework (``/<path>/state``). Several processes open the
same root; the one that leads calls `fence` with its election znode so that, once deposed, its
writes fail instead of overwriting its successor's state.

Layout: every key is one znode directly under `root`, its name the key percent-quoted (``/``
and ``.`` included, so keys are flat and any string works). Versions: ours = the znode's
``stat.version + 1`` (a new znode has version 0 in ZooKeeper and 1 here), so
``put(key, v, 0)`` is a create and ``put(key, v, n)`` a ``setData`` at ZooKeeper version
``n - 1``.

Values are bytes. Those over `COMPRESS_OVER` bytes are stored zlib-compressed behind the
`MAGIC` marker (a value that itself starts with the marker is compressed too, so the marker is
unambiguous); with the servers' 64 MB ``jute.maxbuffer`` a 10,000-agent registry fits.

Errors: a compare-and-set that fails raises `VersionConflict` (`Fenced` for a fenced write
whose fence is gone). While the session is disconnected, calls raise kazoo's
``ConnectionLoss`` / ``SessionExpiredError``; the outcome of a write interrupted that way is
unknown (re-read before writing again). A leader loses its leadership at the same moment
(`dcos.state.election`), so for the masters that case ends their term anyway.

Watches: a change made through this store object is delivered to its watchers at once, in
order. Changes made by other clients come from ZooKeeper watches (one-shot, re-armed on every
read, re-read in full after every reconnection since kazoo drops watches on disconnection);
they are deduplicated by version against what was already delivered. Intermediate remote
changes may coalesce: a watcher sees the latest value, not necessarily every version in
between (ZooKeeper watches say "changed", not "changed to"), and remote changes made before
the watch is armed (see `sync_watches`) are not reported.
"""

from __future__ import annotations

import asyncio
import builtins
import logging
import zlib
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote, unquote

from kazoo.client import KazooClient
from kazoo.exceptions import (
    BadVersionError,
    ConnectionLoss,
    NodeExistsError,
    NoNodeError,
    SessionExpiredError,
)
from kazoo.protocol.states import KazooState, WatchedEvent

from dcos.state._watchers import Watchers, iterate
from dcos.state.store import Change, VersionConflict, Versioned
from dcos.state.zk import (
    ZkUrl,
    ensure_path,
    new_client,
    parse_zk_url,
    start_client,
    stop_client,
    zk_await,
)
from dcos.state.zk_server import JUTE_MAXBUFFER

log = logging.getLogger(__name__)

MAGIC = b"\x00dcos-zlib\x00"
COMPRESS_OVER = 64 * 1024
MAX_ZNODE_BYTES = JUTE_MAXBUFFER - 64 * 1024  # room for the request's header and path


class Fenced(VersionConflict):
    """A fenced write found its fence znode gone: this writer no longer leads (another may),
    so nothing was written."""

    def __init__(self, key: str, fence: str, expected: int) -> None:
        Exception.__init__(
            self, f"write to {key!r} refused: fence znode {fence} is gone (this writer was deposed)"
        )
        self.key = key
        self.expected = expected
        self.actual = -1
        self.fence = fence


def encode_value(value: bytes) -> bytes:
    """The znode data for `value` (compressed behind `MAGIC` when large)."""
    if len(value) > COMPRESS_OVER or value.startswith(MAGIC):
        data = MAGIC + zlib.compress(value, 3)
    else:
        data = bytes(value)
    if len(data) > MAX_ZNODE_BYTES:
        raise ValueError(
            f"value of {len(value)} bytes is {len(data)} bytes stored: over ZooKeeper's "
            f"{MAX_ZNODE_BYTES} byte limit (jute.maxbuffer)"
        )
    return data


def decode_value(data: bytes) -> bytes:
    """The value stored as `data` by `encode_value`."""
    if data.startswith(MAGIC):
        return zlib.decompress(data[len(MAGIC):])
    return data


def key_to_name(key: str) -> str:
    """The znode name of `key` (percent-quoted; the empty key is ``%``)."""
    if not key:
        return "%"
    return quote(key, safe="").replace(".", "%2E")


def name_to_key(name: str) -> str:
    return "" if name == "%" else unquote(name)


class ZooKeeperStateStore:
    """The StateStore protocol on the znodes under `root` of an already started `client`
    (closed with the store when `owns_client`)."""

    def __init__(self, client: KazooClient, root: str, *, owns_client: bool = False) -> None:
        if not root.startswith("/") or root == "/" or root.endswith("/"):
            raise ValueError(f"state store root must be an absolute znode path, got {root!r}")
        self.client = client
        self.root = root
        self.owns_client = owns_client
        self._fence: str | None = None
        self._root_ready = False
        self._watchers = Watchers()
        self._seen: dict[str, int] = {}  # last version delivered to watchers; 0 = deleted
        self._armed: set[str] = set()  # keys whose data watch is set
        self._events: asyncio.Queue[tuple[str, Any]] | None = None
        self._worker: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._listening = False

    @classmethod
    async def open(cls, url: str | ZkUrl, *, session_timeout: float = 10.0) -> ZooKeeperStateStore:
        """Connect to `url`'s ensemble and use its path as the root (the store owns the
        client). Raises `ZkUrlError` or `TimeoutError`."""
        u = url if isinstance(url, ZkUrl) else parse_zk_url(url)
        client = new_client(u, session_timeout=session_timeout)
        await start_client(client, timeout=max(session_timeout, 5.0))
        store = cls(client, u.path, owns_client=True)
        await store._ensure_root()
        return store

    def fence(self, znode_path: str | None) -> None:
        """From now on every put and delete also checks that `znode_path` exists (one
        ZooKeeper transaction); when it is gone they raise `Fenced`. None turns fencing off.
        Called by a leader with its election znode (`ZooKeeperElection.znode`)."""
        self._fence = znode_path

    def _path(self, key: str) -> str:
        return f"{self.root}/{key_to_name(key)}"

    async def _ensure_root(self) -> None:
        if not self._root_ready:
            await ensure_path(self.client, self.root)
            self._root_ready = True

    async def _version(self, key: str) -> int:
        stat = await zk_await(self.client.exists_async(self._path(key)))
        return 0 if stat is None else int(stat.version) + 1

    async def get(self, key: str) -> Versioned | None:
        try:
            data, stat = await zk_await(self.client.get_async(self._path(key)))
        except NoNodeError:
            return None
        return Versioned(decode_value(data), int(stat.version) + 1)

    async def put(self, key: str, value: bytes, expected_version: int) -> int:
        """Compare-and-set (see the module doc for the version mapping)."""
        data = encode_value(bytes(value))
        await self._ensure_root()
        path = self._path(key)
        if expected_version < 0:
            raise VersionConflict(key, expected_version, await self._version(key))
        try:
            if self._fence is not None:
                await self._fenced_put(key, path, data, expected_version)
            elif expected_version == 0:
                await zk_await(self.client.create_async(path, data))
            else:
                await zk_await(self.client.set_async(path, data, expected_version - 1))
        except (NodeExistsError, BadVersionError, NoNodeError):
            raise VersionConflict(key, expected_version, await self._version(key)) from None
        new = expected_version + 1
        self._deliver(Change(key, bytes(value), new))
        return new

    async def _fenced_put(self, key: str, path: str, data: bytes, expected: int) -> None:
        assert self._fence is not None
        tx = self.client.transaction()
        tx.check(self._fence, -1)
        if expected == 0:
            tx.create(path, data)
        else:
            tx.set_data(path, data, expected - 1)
        self._raise_failed(key, expected, await zk_await(tx.commit_async()))

    def _raise_failed(self, key: str, expected: int, results: list[Any]) -> None:
        """Raise what a failed transaction means: `Fenced` when its check failed, else the
        operation's own error (mapped to `VersionConflict` by the caller)."""
        if not results or not isinstance(results[0], Exception):
            return
        if isinstance(results[0], NoNodeError):
            assert self._fence is not None
            raise Fenced(key, self._fence, expected)
        for r in results[1:]:
            if isinstance(r, (NodeExistsError, BadVersionError, NoNodeError)):
                raise r
        raise results[0]

    async def delete(self, key: str, expected_version: int) -> None:
        await self._ensure_root()
        path = self._path(key)
        if expected_version <= 0:
            raise VersionConflict(key, expected_version, await self._version(key))
        try:
            if self._fence is not None:
                tx = self.client.transaction()
                tx.check(self._fence, -1)
                tx.delete(path, expected_version - 1)
                self._raise_failed(key, expected_version, await zk_await(tx.commit_async()))
            else:
                await zk_await(self.client.delete_async(path, expected_version - 1))
        except (BadVersionError, NoNodeError):
            raise VersionConflict(key, expected_version, await self._version(key)) from None
        self._deliver(Change(key, None, expected_version))

    async def list(self, prefix: str) -> list[str]:
        try:
            names = await zk_await(self.client.get_children_async(self.root))
        except NoNodeError:
            return []
        return sorted(k for k in map(name_to_key, names) if k.startswith(prefix))

    # -- watches --------------------------------------------------------------------------

    def watch(self, prefix: str) -> AsyncIterator[Change]:
        """Changes under `prefix` after the call: local ones at once, remote ones once the
        ZooKeeper watches are armed (`sync_watches` waits for that)."""
        q = self._watchers.register(prefix)
        self._start_remote()
        self._enqueue("baseline", prefix)
        return iterate(self._watchers, q)

    async def sync_watches(self) -> None:
        """Wait until every remote event received so far (and the arming of watches made by
        earlier `watch` calls) has been processed."""
        if self._events is None:
            return
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._enqueue("sync", done)
        await done

    def _deliver(self, change: Change) -> None:
        """Hand `change` to the watchers unless this version was already delivered."""
        version = 0 if change.value is None else change.version
        if self._seen.get(change.key) == version:
            return
        self._seen[change.key] = version
        self._watchers.notify(change)

    def _prefixes(self) -> builtins.list[str]:
        return self._watchers.prefixes()

    def _start_remote(self) -> None:
        if self._worker is not None:
            return
        self._loop = asyncio.get_running_loop()
        self._events = asyncio.Queue()
        self._worker = self._loop.create_task(self._run_events(), name="zk-store-watch")
        if not self._listening:
            self.client.add_listener(self._on_state)
            self._listening = True

    def _enqueue(self, kind: str, arg: Any) -> None:
        if self._events is not None:
            self._events.put_nowait((kind, arg))

    def _threadsafe(self, kind: str, arg: Any) -> None:
        """From kazoo's threads: queue an event for the worker on the loop."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        try:
            loop.call_soon_threadsafe(self._enqueue, kind, arg)
        except RuntimeError:  # the loop closed meanwhile
            pass

    def _on_state(self, state: KazooState) -> None:
        if state == KazooState.CONNECTED:  # watches were dropped while disconnected
            self._threadsafe("resync", None)

    def _on_watch(self, event: WatchedEvent) -> None:
        if event.path == self.root:
            self._threadsafe("children", None)
        elif event.path and event.path.startswith(self.root + "/"):
            self._threadsafe("key", name_to_key(event.path[len(self.root) + 1:]))

    async def _run_events(self) -> None:
        assert self._events is not None
        while True:
            kind, arg = await self._events.get()
            try:
                if kind == "sync":
                    if not arg.done():
                        arg.set_result(None)
                elif kind == "key":
                    self._armed.discard(arg)  # a watch fires once
                    if any(arg.startswith(p) for p in self._prefixes()):
                        await self._read_key(arg, deliver=True)
                elif kind == "baseline":
                    await self._read_children(baseline=arg)
                else:
                    if kind == "resync":
                        self._armed.clear()  # kazoo dropped every watch while disconnected
                    await self._read_children(full=kind == "resync")
            except asyncio.CancelledError:
                raise
            except (ConnectionLoss, SessionExpiredError):
                pass  # the reconnection (CONNECTED) queues a full resync
            except Exception:  # noqa: BLE001 - keep watching; the next event reads again
                log.exception("state store %s: reading a watched change failed", self.root)

    async def _read_key(self, key: str, *, deliver: bool) -> None:
        """Read `key` (arming its data watch) and deliver it if new; a baseline read only
        records its version."""
        try:
            data, stat = await zk_await(self.client.get_async(self._path(key), watch=self._on_watch))
        except NoNodeError:
            last = self._seen.get(key)
            if deliver and last:
                self._deliver(Change(key, None, last))
            elif not deliver:
                self._seen[key] = 0
            return
        self._armed.add(key)
        version = int(stat.version) + 1
        if deliver:
            self._deliver(Change(key, decode_value(data), version))
        else:
            self._seen[key] = version

    async def _read_children(self, *, baseline: str | None = None, full: bool = False) -> None:
        """Re-read the key list (arming the children watch). For a `baseline` prefix: record
        the versions of its keys (arming their data watches) without delivering. Otherwise
        deliver the keys created and deleted under the watched prefixes, and with `full`
        (after a reconnection: every watch was dropped) re-read every key."""
        try:
            names = await zk_await(
                self.client.get_children_async(self.root, watch=self._on_watch)
            )
        except NoNodeError:
            await self._ensure_root()
            names = await zk_await(
                self.client.get_children_async(self.root, watch=self._on_watch)
            )
        deliver = baseline is None
        prefixes = [baseline] if baseline is not None else self._prefixes()
        present = {k for k in map(name_to_key, names) if any(k.startswith(p) for p in prefixes)}
        for key in sorted(present):
            if not deliver or full or not self._seen.get(key) or key not in self._armed:
                await self._read_key(key, deliver=deliver)
        if deliver:
            for key, last in list(self._seen.items()):
                if last and key not in present and any(key.startswith(p) for p in prefixes):
                    self._deliver(Change(key, None, last))

    async def close(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
            try:
                await self._worker
            except asyncio.CancelledError:
                pass
            self._worker = None
        if self._listening:
            self.client.remove_listener(self._on_state)
            self._listening = False
        if self.owns_client:
            await stop_client(self.client)
