"""Leader election on ZooKeeper, Mesos' way: ephemeral sequential znodes, the lowest one leads.

Called by: the master (`dcos.master.leadership`, through `ZooKeeperLeaderElector` or
`ZooKeeperElection` directly; znodes ``<path>/json.info_<seq>`` holding the MasterInfo JSON, so
pymesos and other Mesos clients find the leader), the webapp framework (``<path>/leader``), and
`dcos.state.detector` (which only observes, through `ContendersObserver`).

A contender creates its znode, then watches only its predecessor (no herd effect: one znode
going away wakes one contender). It leads once its znode is the lowest. It stops leading AT
ONCE -- `Leadership.lost` is set -- when its session is SUSPENDED (the connection dropped: the
session may expire for the others any moment, so acting on would risk two leaders) or LOST,
or its znode is deleted. A new `campaign` after that reuses the znode if our session still owns
it, else creates a new one.

kazoo calls watches and state listeners in its own threads; everything here hands them to the
event loop with ``loop.call_soon_threadsafe``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

import orjson
from kazoo.client import KazooClient
from kazoo.exceptions import ConnectionLoss, NoNodeError, SessionExpiredError
from kazoo.protocol.states import KazooState

from dcos.state.leader import Leadership, MasterInfo
from dcos.state.zk import ensure_path, zk_await

log = logging.getLogger(__name__)

PREFIX = "json.info_"
_RETRY_S = 0.2
_DISCONNECTED = (ConnectionLoss, SessionExpiredError)


def sequence_of(name: str, prefix: str = PREFIX) -> int | None:
    """The sequence number of contender znode `name` (``json.info_0000000007`` -> 7)."""
    if not name.startswith(prefix):
        return None
    digits = name[len(prefix):]
    return int(digits) if digits.isdigit() else None


def sort_contenders(names: list[str], prefix: str = PREFIX) -> list[str]:
    """The contender znode names among `names`, lowest sequence (the leader) first."""
    found = [(s, n) for n in names if (s := sequence_of(n, prefix)) is not None]
    return [n for _, n in sorted(found)]


class _Bridge:
    """Thread-to-loop plumbing: kazoo's state changes and watch events as loop callbacks."""

    def __init__(self, client: KazooClient) -> None:
        self.client = client
        self.loop: asyncio.AbstractEventLoop | None = None
        self._listening = False

    def attach(self) -> None:
        """Called on the loop: remember it and start listening to session states."""
        self.loop = asyncio.get_running_loop()
        if not self._listening:
            self.client.add_listener(self._on_state_thread)
            self._listening = True

    def detach(self) -> None:
        if self._listening:
            self.client.remove_listener(self._on_state_thread)
            self._listening = False

    def call(self, fn: Any, *args: Any) -> None:
        """Run `fn(*args)` on the loop (from any thread); dropped once the loop is closed."""
        loop = self.loop
        if loop is None or loop.is_closed():
            return
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(fn, *args)

    def _on_state_thread(self, state: KazooState) -> None:
        self.call(self.on_state, state)

    def on_state(self, state: KazooState) -> None:  # overridden by users
        pass


class ContendersObserver(_Bridge):
    """Keeps the contenders under `path` (sorted, leader first) and their data, through a
    children watch re-armed on every change and re-read after every reconnection. Used by
    `ZooKeeperElection` (for `leader_data`/`watch`) and `dcos.state.detector`."""

    def __init__(self, client: KazooClient, path: str, prefix: str = PREFIX) -> None:
        super().__init__(client)
        self.path = path.rstrip("/")
        self.prefix = prefix
        self.names: list[str] = []
        self.data: dict[str, bytes] = {}
        self.version = 0  # bumped on every change of `names`
        self.synced = False  # one complete read done
        self._dirty = asyncio.Event()
        self._changed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start observing (on the loop); idempotent."""
        if self._task is not None:
            return
        self.attach()
        self._dirty.set()
        self._task = asyncio.get_running_loop().create_task(self._run(), name="zk-contenders")

    async def stop(self) -> None:
        self.detach()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def on_state(self, state: KazooState) -> None:
        if state == KazooState.CONNECTED:  # kazoo dropped the watches while disconnected
            self._dirty.set()

    def _on_watch(self, _event: Any) -> None:
        self.call(self._dirty.set)

    def leader_data(self) -> bytes | None:
        return self.data.get(self.names[0]) if self.names else None

    def contenders(self) -> list[bytes]:
        return [self.data[n] for n in self.names if n in self.data]

    async def wait_changed(self, version: int) -> int:
        """Wait until `version` is no longer the current one; returns the new version."""
        while self.version == version:
            self._changed.clear()
            await self._changed.wait()
        return self.version

    async def _run(self) -> None:
        while True:
            await self._dirty.wait()
            self._dirty.clear()
            try:
                await self._read()
            except asyncio.CancelledError:
                raise
            except _DISCONNECTED:
                continue  # the reconnection (CONNECTED) sets dirty again
            except Exception:  # noqa: BLE001 - keep observing; logged
                log.exception("reading contenders under %s failed", self.path)
                await asyncio.sleep(_RETRY_S)
                self._dirty.set()

    async def _read(self) -> None:
        try:
            names = await zk_await(self.client.get_children_async(self.path, watch=self._on_watch))
        except NoNodeError:  # no contender ever: wait for the path to appear
            if await zk_await(self.client.exists_async(self.path, watch=self._on_watch)):
                self._dirty.set()
            names = []
        ordered = sort_contenders(names, self.prefix)
        for name in ordered:
            if name not in self.data:
                with contextlib.suppress(NoNodeError):  # gone meanwhile: the watch fires
                    data, _ = await zk_await(self.client.get_async(f"{self.path}/{name}"))
                    self.data[name] = data
        ordered = [n for n in ordered if n in self.data]
        for gone in set(self.data) - set(ordered):
            del self.data[gone]
        self.synced = True
        if ordered != self.names:
            self.names = ordered
            self.version += 1
            self._changed.set()


class ZooKeeperElection(_Bridge):
    """One contender with `data` under `path` (see the module docstring)."""

    def __init__(
        self, client: KazooClient, path: str, data: bytes, *, prefix: str = PREFIX
    ) -> None:
        super().__init__(client)
        self.path = path.rstrip("/")
        self.data = bytes(data)
        self.prefix = prefix
        self.observer = ContendersObserver(client, self.path, prefix)
        self._znode: str | None = None
        self._leadership: Leadership | None = None
        self._wake = asyncio.Event()  # a watch fired or the session state changed

    @property
    def znode(self) -> str | None:
        """Our znode's path while we hold one (what `ZooKeeperStateStore.fence` checks)."""
        return self._znode

    def leader_data(self) -> bytes | None:
        """The leading contender's data as last seen (None before the first read or when
        nobody campaigns)."""
        return self.observer.leader_data()

    def contenders(self) -> list[bytes]:
        """Every contender's data, leader first."""
        return self.observer.contenders()

    async def watch(self) -> AsyncIterator[bytes | None]:
        """The leader's data now (once read) and after every change of leader."""
        self.attach()
        self.observer.start()
        version = self.observer.version
        while not self.observer.synced:
            version = await self.observer.wait_changed(version)
        last: object = object()
        while True:
            current = self.observer.leader_data()
            if current != last:
                last = current
                yield current
            version = await self.observer.wait_changed(version)

    def on_state(self, state: KazooState) -> None:
        if state in (KazooState.SUSPENDED, KazooState.LOST):
            self._lose(f"ZooKeeper session {state.lower()}")
        self._wake.set()

    def _lose(self, why: str) -> None:
        """Called on the loop: leadership ends now."""
        lead = self._leadership
        if lead is not None and not lead.lost.is_set():
            log.warning("leadership lost under %s: %s", self.path, why)
            lead.lost.set()
        self._leadership = None

    def _on_own_watch(self, event: Any) -> None:
        if getattr(event, "type", None) == "DELETED" and event.path == self._znode:
            self.call(self._lose, f"our znode {event.path} was deleted")
        self.call(self._wake.set)

    def _on_predecessor_watch(self, event: Any) -> None:
        log.debug("predecessor watch under %s: %s", self.path, event)
        self.call(self._wake.set)

    async def campaign(self) -> Leadership:
        """Create (or keep) our znode and return once it is the lowest; the returned
        `Leadership.lost` is set when leadership ends. Retries through disconnections."""
        self.attach()
        self.observer.start()
        while True:
            self._wake.clear()
            try:
                lead = await self._try_lead()
            except _DISCONNECTED:
                lead = None
            if lead is not None:
                return lead
            await self._wait_wake()

    async def _wait_wake(self) -> None:
        """Wait for a watch or state change; while disconnected, poll slowly (kazoo reports
        CONNECTED again, which also wakes us)."""
        with contextlib.suppress(asyncio.TimeoutError):
            timeout = None if self.client.connected else _RETRY_S * 5
            await asyncio.wait_for(self._wake.wait(), timeout)

    async def _try_lead(self) -> Leadership | None:
        """One round: make sure we have a znode; lead if it is the lowest, else arm a watch
        on our predecessor. None means: wait for a wake-up and try again."""
        if self.client.state != KazooState.CONNECTED:
            return None
        await self._ensure_znode()
        assert self._znode is not None
        names = sort_contenders(await zk_await(self.client.get_children_async(self.path)))
        ours = self._znode.rsplit("/", 1)[1]
        if ours not in names:  # deleted under us (session expired, or someone removed it)
            self._znode = None
            self._wake.set()
            return None
        i = names.index(ours)
        if i > 0:
            pred = f"{self.path}/{names[i - 1]}"
            stat = await zk_await(self.client.exists_async(pred, watch=self._on_predecessor_watch))
            log.debug("%s waits for its predecessor %s (exists: %s)", ours, pred, bool(stat))
            if stat is None:
                self._wake.set()
            return None
        # the lowest: watch our own znode (deletion = lost) and lead if still connected
        stat = await zk_await(self.client.exists_async(self._znode, watch=self._on_own_watch))
        if stat is None or self.client.state != KazooState.CONNECTED:
            self._wake.set()
            return None
        self._leadership = Leadership()
        log.info("elected: %s is the lowest under %s", self._znode, self.path)
        return self._leadership

    async def _ensure_znode(self) -> None:
        """Keep our znode if our session still owns it; else adopt one this session made
        (a create whose answer was lost) or create a new one."""
        session = self.client.client_id[0] if self.client.client_id else None
        if self._znode is not None:
            stat = await zk_await(self.client.exists_async(self._znode))
            if stat is not None and stat.ephemeralOwner == session:
                return
            self._znode = None
        await ensure_path(self.client, self.path)
        for name in sort_contenders(await zk_await(self.client.get_children_async(self.path))):
            full = f"{self.path}/{name}"
            with contextlib.suppress(NoNodeError):
                data, stat = await zk_await(self.client.get_async(full))
                if stat.ephemeralOwner == session and data == self.data:
                    self._znode = full
                    return
        self._znode = await zk_await(
            self.client.create_async(
                f"{self.path}/{self.prefix}", self.data, ephemeral=True, sequence=True
            )
        )
        log.info("campaigning with %s", self._znode)

    async def withdraw(self) -> None:
        """Stop leading and delete our znode (gone already, or gone with a lost session, is
        fine). Raises kazoo's error when ZooKeeper cannot be reached (callers retry);
        observing stops."""
        self._lose("withdrawn")
        znode = self._znode
        if znode is not None and self.client.state != KazooState.LOST:  # LOST: it went with
            # the session that owned it (or the client was stopped)
            with contextlib.suppress(NoNodeError):
                await zk_await(self.client.delete_async(znode))
            self._znode = None
        self.detach()
        await self.observer.stop()


class ZooKeeperLeaderElector:
    """The `LeaderElector` protocol for masters: `info` published as Mesos' MasterInfo JSON
    under `path` (``json.info_<seq>``)."""

    def __init__(self, client: KazooClient, path: str, info: MasterInfo) -> None:
        self.info = info
        self.election = ZooKeeperElection(client, path, orjson.dumps(info.to_json()))

    async def campaign(self) -> Leadership:
        return await self.election.campaign()

    def leader(self) -> MasterInfo | None:
        return parse_master_info(self.election.leader_data())

    def masters(self) -> list[MasterInfo]:
        """Every contending master, leader first (unreadable znodes skipped)."""
        return [m for d in self.election.contenders() if (m := parse_master_info(d))]

    async def watch(self) -> AsyncIterator[MasterInfo | None]:
        async for data in self.election.watch():
            yield parse_master_info(data)

    async def withdraw(self) -> None:
        await self.election.withdraw()


def parse_master_info(data: bytes | None) -> MasterInfo | None:
    """MasterInfo from a ``json.info_`` znode's data; None when absent or unreadable."""
    if not data:
        return None
    try:
        return MasterInfo.from_json(orjson.loads(data))
    except (ValueError, KeyError, TypeError):
        log.warning("unreadable MasterInfo znode data: %r", data[:200])
        return None
