"""The master's leadership lifecycle: when the shell (`dcos.master.shell.MasterShell`) leads,
and on which store.

- `EmbeddedLeadership` (no ``--zk``): one master that leads from the start, its registry in
  SQLite (or in memory for tests); it never steps down.
- `ZooKeeperLeadership` (``--zk zk://h:p,h:p/path``): connect to ZooKeeper (retrying while no
  server answers; the master serves as a standby meanwhile), then, term after term:
  campaign with a fresh MasterInfo (a new master id, so offer and framework ids of two terms
  never collide) published as an ephemeral sequential ``<path>/json.info_<seq>`` znode
  (`dcos.state.election.ZooKeeperElection`); once ours is the lowest, fence the registry
  store (`dcos.state.zookeeper.ZooKeeperStateStore` under ``--zk-state-path``) with our
  znode and call the shell's `lead`; when the leadership is lost (session SUSPENDED or LOST,
  our znode gone) or the shell `resign`s (a registry write was refused), call the shell's
  `step_down` AT ONCE, withdraw our znode and campaign again.

The state machine, per process::

    CONNECTING --connected--> STANDBY --our znode lowest--> RECOVERING --lead()--> LEADING
        ^                        ^                               |                    |
        +-- (kazoo reconnects) --+------ lost / resigned --------+--------------------+

Called by the shell: `start()` once at startup, `leader()` for every redirect and
``/master/redirect``, `resign(reason)` after a refused registry write, `stop()` at shutdown.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Protocol

import orjson
from kazoo.client import KazooClient
from kazoo.protocol.states import KazooState

from dcos.master.config import MasterConfig
from dcos.protocol.ids import new_master_id
from dcos.protocol.mesos import MESOS_VERSION
from dcos.state import EmbeddedLeaderElector, MasterInfo, StateStore
from dcos.state.election import ContendersObserver, ZooKeeperElection, parse_master_info
from dcos.state.zk import connect_retrying, parse_zk_url, stop_client
from dcos.state.zookeeper import ZooKeeperStateStore

log = logging.getLogger(__name__)

Lead = Callable[[StateStore, MasterInfo], Awaitable[None]]
class StepDown(Protocol):
    def __call__(self, reason: str, *, loud: bool = True) -> None: ...

CONNECT_RETRY_S = 1.0
WITHDRAW_TIMEOUT_S = 5.0


class MasterLeadership(Protocol):
    """What the shell asks of its leadership (see the module docstring)."""

    @property
    def ha(self) -> bool: ...

    async def start(self) -> None: ...

    def leader(self) -> MasterInfo | None: ...

    def resign(self, reason: str) -> None: ...

    async def stop(self) -> None: ...


def new_master_info(config: MasterConfig) -> MasterInfo:
    """This master's MasterInfo for one term (a fresh id each time)."""
    return MasterInfo(
        new_master_id(), config.ip, config.port, config.advertised_hostname, MESOS_VERSION
    )


class EmbeddedLeadership:
    """One master, always the leader: `start` recovers and leads on `store` at once."""

    ha = False

    def __init__(self, config: MasterConfig, store: StateStore, lead: Lead) -> None:
        self._elector = EmbeddedLeaderElector(new_master_info(config))
        self._store = store
        self._lead = lead

    async def start(self) -> None:
        await self._elector.campaign()
        await self._lead(self._store, self._elector.info)

    def leader(self) -> MasterInfo | None:
        return self._elector.leader()

    def resign(self, reason: str) -> None:
        """Nothing to resign to: a single master keeps leading."""

    async def stop(self) -> None:
        await self._store.close()


class ZooKeeperLeadership:
    """Elected through ZooKeeper (see the module docstring). `lead` and `step_down` are the
    shell's; everything here runs on the shell's event loop."""

    ha = True

    def __init__(self, config: MasterConfig, lead: Lead, step_down: StepDown) -> None:
        self.config = config
        self.url = parse_zk_url(config.zk or "")
        self.state_path = config.zk_state_path or self.url.path + "-state"
        self._lead = lead
        self._step_down = step_down
        self._client: KazooClient | None = None
        self._store: ZooKeeperStateStore | None = None
        self._election: ZooKeeperElection | None = None
        self._observer: ContendersObserver | None = None  # the contenders, for `leader`
        self._resigned = asyncio.Event()
        self._resign_reason = ""
        self._task: asyncio.Task[None] | None = None
        self._stopping = False  # `stop` called: withdraw once, do not retry
        # set from our election until we step down: while the contenders' cache still shows
        # the previous (dead) leader, `leader` names us, so nobody is redirected to it
        self._elected: MasterInfo | None = None

    async def start(self) -> None:
        """Start connecting and campaigning in the background; returns at once."""
        self._task = asyncio.create_task(self._run(), name="master-leadership")

    def leader(self) -> MasterInfo | None:
        """The leading master from the lowest ``json.info_`` znode, while our session is
        connected (None otherwise: what we saw last may be stale)."""
        client, observer = self._client, self._observer
        if client is None or observer is None or client.state != KazooState.CONNECTED:
            return None
        return self._elected or parse_master_info(observer.leader_data())

    def resign(self, reason: str) -> None:
        """The shell stepped down on its own (a refused registry write): withdraw our
        znode and campaign again."""
        self._resign_reason = reason
        self._resigned.set()

    async def stop(self) -> None:
        """Stop campaigning, withdraw, close the ZooKeeper session (our znode goes at once)."""
        self._stopping = True
        self._step_down("master shutting down", loud=False)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        if self._election is not None and self._connected():
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._election.withdraw(), WITHDRAW_TIMEOUT_S)
        if self._observer is not None:
            await self._observer.stop()
        if self._client is not None:
            await stop_client(self._client)

    def _connected(self) -> bool:
        return self._client is not None and self._client.state == KazooState.CONNECTED

    # -- the loop ---------------------------------------------------------------------------

    async def _run(self) -> None:
        self._client = await self._connect()
        self._store = ZooKeeperStateStore(self._client, self.state_path)
        self._observer = ContendersObserver(self._client, self.url.path)
        self._observer.start()
        while True:
            try:
                await self._term(self._client, self._store)
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - never stop campaigning
                log.exception("master election failed; campaigning again")
                self._step_down("election failed")
                await asyncio.sleep(CONNECT_RETRY_S)

    async def _connect(self) -> KazooClient:
        """A started client; retries while no ZooKeeper server answers (logged)."""
        client = await connect_retrying(
            self.url, session_timeout=self.config.zk_session_timeout,
            what="no leading master here until ZooKeeper answers", retry_s=CONNECT_RETRY_S,
            log=log,
        )  # fmt: skip
        log.info("connected to ZooKeeper %s", self.url.redacted())
        return client

    async def _term(self, client: KazooClient, store: ZooKeeperStateStore) -> None:
        """One campaign: wait to lead, lead until lost or resigned, step down, withdraw."""
        info = new_master_info(self.config)
        data = orjson.dumps(info.to_json())
        election = ZooKeeperElection(client, self.url.path, data)
        self._election = election
        log.info("master %s campaigns for leadership under %s", info.id, self.url.redacted())
        leadership = await election.campaign()
        self._elected = info
        self._resigned.clear()
        lost = asyncio.ensure_future(_first(leadership.lost.wait(), self._resigned.wait()))
        reason = "ZooKeeper session suspended or lost, or our election znode is gone"
        failed = False
        try:
            store.fence(election.znode)
            log.info("master %s elected (znode %s); recovering the registry", info.id,
                     election.znode)  # fmt: skip
            recover = asyncio.ensure_future(self._lead(store, info))
            done, _ = await asyncio.wait({recover, lost}, return_when=asyncio.FIRST_COMPLETED)
            if recover not in done:
                recover.cancel()
            elif recover.exception() is not None:
                failed = True
                reason = f"registry recovery failed: {recover.exception()!r}"
            else:
                await lost
            if self._resigned.is_set():
                reason = self._resign_reason
        finally:
            self._elected = None
            lost.cancel()
            self._step_down(reason)
            await self._withdraw(election)
        if failed:  # do not spin: give another master the chance to lead
            log.error("master %s: %s", info.id, reason)
            await asyncio.sleep(CONNECT_RETRY_S)

    async def _withdraw(self, election: ZooKeeperElection) -> None:
        """Delete our znode (retried until it is gone or the session ended, unless we are
        stopping), so that a stale znode of ours can never stay the lowest while we campaign
        again."""
        while True:
            if self._stopping and not self._connected():
                return  # ZooKeeper is gone: do not hold up the shutdown
            try:
                await asyncio.wait_for(election.withdraw(), WITHDRAW_TIMEOUT_S)
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - ZooKeeper unreachable: retry
                if self._stopping:  # shutting down: the session's end removes the znode
                    log.warning("could not withdraw election znode %s: %s", election.znode, exc)
                    return
                log.warning("could not withdraw election znode %s yet: %s", election.znode, exc)
                await asyncio.sleep(CONNECT_RETRY_S)


async def _first(*aws: Awaitable[object]) -> None:
    """Return when the first of `aws` completes (the others are cancelled)."""
    tasks = [asyncio.ensure_future(a) for a in aws]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for t in tasks:
            t.cancel()
