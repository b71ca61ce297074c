"""Finding the leading master: a fixed address, or the lowest ``json.info_`` znode of a
``zk://`` URL (Mesos' master detector).

Called by: the agent (`dcos.agent.master_session`), the SDK driver, DNS, the batch dispatcher
and the webapp framework (`master_detector(text)` for their ``--master``), and the CLI
(`resolve_master`, a one-shot synchronous lookup). A ``zk://host:port,host:port/path`` URL
names the path under which the masters campaign (`dcos.state.election`); the leader is the
contender with the lowest sequence number, its address read from its MasterInfo JSON
(``address.ip``/``address.port``, else ``pid``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from typing import Protocol

from kazoo.client import KazooClient
from kazoo.exceptions import NoNodeError
from kazoo.handlers.threading import KazooTimeoutError

from dcos.common.addresses import MasterAddress, parse_master
from dcos.state.election import ContendersObserver, parse_master_info, sort_contenders
from dcos.state.leader import MasterInfo
from dcos.state.zk import (
    ZkUrl,
    connect_retrying,
    is_zk_url,
    new_client,
    parse_zk_url,
    stop_client,
)

log = logging.getLogger(__name__)

_CONNECT_RETRY_S = 1.0


class MasterDetector(Protocol):
    async def start(self) -> None:
        """Begin detecting (returns at once; a ZooKeeper detector connects in the background)."""
        ...

    def current(self) -> MasterAddress | None:
        """The leading master as last seen (None: none known)."""
        ...

    async def changed(self, previous: MasterAddress | None) -> MasterAddress | None:
        """Wait until the leader differs from `previous` and return it (None: no leader)."""
        ...

    async def wait_leader(self, timeout: float) -> MasterAddress:
        """The leader, waiting up to `timeout` s; TimeoutError naming where we looked."""
        ...

    async def close(self) -> None: ...


class StaticDetector:
    """A fixed master address (``--master host:port``): it never changes."""

    def __init__(self, address: MasterAddress) -> None:
        self.address = address

    async def start(self) -> None:
        return None

    def current(self) -> MasterAddress | None:
        return self.address

    async def changed(self, previous: MasterAddress | None) -> MasterAddress | None:
        if previous != self.address:
            return self.address
        await asyncio.Event().wait()  # never changes
        raise AssertionError("unreachable")

    async def wait_leader(self, timeout: float) -> MasterAddress:
        return self.address

    async def close(self) -> None:
        return None


def master_address(info: MasterInfo, scheme: str = "http") -> MasterAddress:
    """Where to reach the master `info` describes."""
    return MasterAddress(scheme, info.ip, info.port)


class ZooKeeperDetector:
    """The leading master under `url`'s path, kept current through a ZooKeeper children watch.
    `start` connects in the background (retrying while ZooKeeper is unreachable); during a
    disconnection the last leader seen stays `current`."""

    def __init__(
        self, url: ZkUrl | str, session_timeout: float = 10.0, *, scheme: str = "http"
    ) -> None:
        self.url = url if isinstance(url, ZkUrl) else parse_zk_url(url)
        self.session_timeout = session_timeout
        self.scheme = scheme
        self.client: KazooClient | None = None
        self._observer: ContendersObserver | None = None
        self._task: asyncio.Task[None] | None = None
        self._changed = asyncio.Event()

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(
                self._run(), name=f"zk-detector {self.url.redacted()}"
            )

    async def _run(self) -> None:
        client = await connect_retrying(self.url, session_timeout=self.session_timeout,
                                        what="master detector", retry_s=_CONNECT_RETRY_S, log=log)  # fmt: skip
        self.client = client
        observer = ContendersObserver(client, self.url.path)
        self._observer = observer
        observer.start()
        version = observer.version
        self._changed.set()
        while True:
            version = await observer.wait_changed(version)
            self._changed.set()

    def masters(self) -> list[MasterInfo]:
        """Every contending master, leader first (for DNS ``master.dcos``)."""
        if self._observer is None:
            return []
        return [m for d in self._observer.contenders() if (m := parse_master_info(d))]

    def leader_info(self) -> MasterInfo | None:
        return parse_master_info(self._observer.leader_data()) if self._observer else None

    def current(self) -> MasterAddress | None:
        info = self.leader_info()
        return master_address(info, self.scheme) if info else None

    async def changed(self, previous: MasterAddress | None) -> MasterAddress | None:
        while True:
            self._changed.clear()
            now = self.current()
            if now != previous and (self._observer is not None and self._observer.synced):
                return now
            await self._changed.wait()

    async def wait_leader(self, timeout: float) -> MasterAddress:
        async def first() -> MasterAddress:
            leader = self.current()
            while leader is None:
                leader = await self.changed(None)
            return leader

        try:
            return await asyncio.wait_for(first(), timeout)
        except TimeoutError:
            raise TimeoutError(
                f"no leading master in {self.url.redacted()} after {timeout:g} s"
            ) from None

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._observer is not None:
            await self._observer.stop()
        if self.client is not None:
            await stop_client(self.client)
            self.client = None


def master_detector(
    text: str, *, session_timeout: float = 10.0
) -> StaticDetector | ZooKeeperDetector:
    """The detector for a ``--master`` value: `ZooKeeperDetector` for ``zk://``, else a
    `StaticDetector` of `parse_master(text)` (raises `MasterAddressError` / `ZkUrlError`)."""
    if is_zk_url(text):
        return ZooKeeperDetector(parse_zk_url(text), session_timeout)
    return StaticDetector(parse_master(text))


def resolve_master(text: str, timeout: float = 5.0) -> MasterAddress:
    """SYNCHRONOUS one-shot (the CLI): the master `text` names; for ``zk://`` the current
    leader, waiting up to `timeout` s for one. Raises TimeoutError (no ZooKeeper / no leader),
    `MasterAddressError` or `ZkUrlError`."""
    if not is_zk_url(text):
        return parse_master(text)
    url = parse_zk_url(text)
    deadline = time.monotonic() + timeout
    client = new_client(url, session_timeout=max(timeout, 2.0))
    try:
        client.start(timeout=timeout)
    except KazooTimeoutError:
        client.close()
        raise TimeoutError(
            f"could not connect to ZooKeeper {url.redacted()} within {timeout:g} s"
        ) from None
    try:
        woke = threading.Event()
        while True:
            woke.clear()
            try:
                names = client.get_children(url.path, watch=lambda _e: woke.set())
            except NoNodeError:
                names = []
                client.exists(url.path, watch=lambda _e: woke.set())
            for name in sort_contenders(names)[:1]:
                with contextlib.suppress(NoNodeError):
                    info = parse_master_info(client.get(f"{url.path}/{name}")[0])
                    if info is not None:
                        return master_address(info)
                woke.set()  # gone meanwhile: read again
            left = deadline - time.monotonic()
            if left <= 0 or not woke.wait(left):
                raise TimeoutError(f"no leading master in {url.redacted()} after {timeout:g} s")
    finally:
        client.stop()
        client.close()
