"""`LeaderLoop`: campaign, lead while elected, stand by otherwise (the HA shell).

Started by ``frameworks.webapp.__main__`` once the API listens; stopped at shutdown. Each
round it campaigns (`Election.campaign` returns once this instance leads), fences the state
store with its election znode, then runs a leadership term: `WebappService.start` (the core
rebuilt from the store, the framework subscribed with its stored id: a failover of the same
framework, its tasks reconciled, the stored deployments resumed). The term ends at the first
of: `Leadership.lost` (ZooKeeper session suspended or lost, or the znode gone), a write the
store refused as fenced (`deposed`), ``DELETE /v2/leader`` (`abdicate`), or a failed start.
At that moment `HaState.leading` and `WebappService.acting` turn False synchronously (the API
proxies from the next request on, nothing more is written or sent); then
`WebappService.step_down` closes the master subscription without TEARDOWN and stops the
timers, the election znode is withdrawn, and the loop campaigns again.

A task that watches the election keeps `HaState.leader` current for the API's proxy.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from dcos.state.leader import Leadership
from frameworks.webapp.ha import Election, HaState, LeaderRecord
from frameworks.webapp.scheduler import WebappService

log = logging.getLogger(__name__)


# at shutdown, with ZooKeeper maybe gone too (a kill -9 of `dcos-py up --ha`)
STOP_WITHDRAW_TIMEOUT_S = 1.0


class LeaderLoop:
    """Runs `service` whenever `election` makes this instance the leader (see the module
    docstring). `fence(znode)` is the state store's `ZooKeeperStateStore.fence` (None without
    ZooKeeper). `pause` is the wait before campaigning again after a term; `withdraw_timeout`
    bounds the removal of the election znode (ZooKeeper may be unreachable then)."""

    def __init__(
        self,
        service: WebappService,
        election: Election,
        state: HaState,
        *,
        fence: Callable[[str | None], None] | None = None,
        pause: float = 0.5,
        withdraw_timeout: float = 5.0,
    ) -> None:
        self.service = service
        self.election = election
        self.state = state
        self.fence = fence
        self.pause = pause
        self.withdraw_timeout = withdraw_timeout
        self.reason: str | None = None  # why the last term ended
        self._ended = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = False  # `stop` called: no new term, whatever a task is doing
        service.store.on_fenced = self.deposed

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> None:
        """Start campaigning and watching the leader (returns at once)."""
        self._tasks = [
            asyncio.create_task(self._run(), name="webapp-leader-loop"),
            asyncio.create_task(self._watch(), name="webapp-leader-watch"),
        ]

    async def stop(self) -> None:
        """Shut down: a leader stops its service with failover (the tasks keep running for
        the next leader) and withdraws, so a follower takes over at once."""
        leading = self.state.leading
        self.state.leading = False
        self._stopping = True
        self._ended.set()  # a term in progress ends even if a cancellation is lost
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await t
        self._tasks = []
        await self.service.stop(failover=True)
        if leading:  # briefly: closing the session (`Backend.close`) removes the znode too
            await self._withdraw(timeout=STOP_WITHDRAW_TIMEOUT_S)

    # -- the ends of a term (called from any task, or from the store's write) ---------------

    def abdicate(self) -> bool:
        """``DELETE /v2/leader``: end the term (another instance then leads). False when
        this instance does not lead."""
        if not self.state.leading:
            return False
        self._end("abdicated")
        return True

    def deposed(self) -> None:
        """The store refused a write as fenced: this instance no longer leads."""
        if self.state.leading:
            self._end("fenced")

    def _end(self, reason: str) -> None:
        """Stop acting now (synchronously); the loop then steps the service down."""
        if self.state.leading:
            log.warning("leadership ends (%s): stepping down", reason)
        self.state.leading = False
        self.service.acting = False
        if self.reason is None:
            self.reason = reason
        self._ended.set()

    # -- the loop -------------------------------------------------------------------------

    async def _run(self) -> None:
        while not self._stopping:
            try:
                leadership = await self.election.campaign()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("campaign failed; trying again")
                await asyncio.sleep(max(self.pause, 1.0))
                continue
            if self._stopping:
                return
            await self._term(leadership)
            await asyncio.sleep(self.pause)

    async def _term(self, leadership: Leadership) -> None:
        """One leadership term: lead until it ends, then step down and withdraw."""
        self._ended.clear()
        self.reason = None
        if self.fence is not None:
            self.fence(self.election.znode)
        self.state.starting = True  # `/v2` waits until `service.start` loaded the store
        self.state.leading = True
        self.state.terms += 1
        log.info("elected leader (term %d, %s)", self.state.terms, self.election.znode)
        watcher = asyncio.create_task(self._watch_loss(leadership), name="webapp-leadership")
        try:
            await self._lead()
            self.state.starting = False
            await self._ended.wait()
        finally:
            self.state.starting = False
            watcher.cancel()
            self.state.leading = False
            self.service.acting = False
            await self.service.step_down()
            await self._withdraw()
        log.info("standing by (%s)", self.reason)

    async def _lead(self) -> None:
        """`service.start`, abandoned if the term ends first; a failed start ends it."""
        starting = asyncio.create_task(self.service.start(), name="webapp-lead")
        ended = asyncio.create_task(self._ended.wait())
        try:
            await asyncio.wait((starting, ended), return_when=asyncio.FIRST_COMPLETED)
        finally:
            ended.cancel()
        if not starting.done():
            starting.cancel()
            try:
                await starting
            except asyncio.CancelledError:
                task = asyncio.current_task()
                if task is not None and task.cancelling():  # we are being stopped too
                    raise
            except Exception:  # noqa: BLE001 - the term ended anyway
                pass
            return
        exc = starting.exception()
        if exc is not None:
            log.error("could not start leading", exc_info=exc)
            self._end("start failed")

    async def _watch_loss(self, leadership: Leadership) -> None:
        await leadership.lost.wait()
        self._end("leadership lost")

    async def _withdraw(self, timeout: float | None = None) -> None:
        try:
            await asyncio.wait_for(self.election.withdraw(), timeout or self.withdraw_timeout)
        except (TimeoutError, Exception) as e:  # ZooKeeper unreachable: the session expires
            log.warning("could not withdraw from the election: %r", e)

    async def _watch(self) -> None:
        """Keep `HaState.leader` current (the API proxies there)."""
        while True:
            try:
                async for data in self.election.watch():
                    self.state.leader = LeaderRecord.parse(data)
                    log.info("leader: %s", self.state.leader.host_port if self.state.leader else None)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("watching the leader failed; watching again")
            await asyncio.sleep(1.0)


__all__ = ["LeaderLoop"]
