"""`MasterShell`: owns the streams, timers and storage of a master and feeds the sans-IO
`MasterCore`.

Called by the HTTP handlers (`dcos.master.http`) through one small method per request kind
(`subscribe_framework`, `scheduler_call`, `subscribe_agent`, `agent_call`,
`operator_call`, `view`, `stimuli`), never through the core. Each method hands a typed
input to the core, records (input, actions) in the stimulus log and carries the actions
out with `dispatch` (one handler per action type). `dcos.master.app` builds the aiohttp
app around a shell and serves it.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from aiohttp import web

from dcos.allocator import HierarchicalAllocator
from dcos.allocator.interface import Allocator
from dcos.common.clock import Clock, RealClock
from dcos.common.stimulus import StimulusLog
from dcos.master.config import MasterConfig
from dcos.master.core import (
    ALLOCATE_SOON,
    Action,
    AgentOutcome,
    AllocateSoon,
    CallOutcome,
    CloseAgent,
    CloseFramework,
    MasterCore,
    MasterSettings,
    Persist,
    SchedulerCall,
    Subscribe,
    SubscribeOutcome,
    ToAgent,
    ToFramework,
)
from dcos.master.core.operator_calls import OperatorWrite
from dcos.protocol.ids import AgentID, FrameworkID, new_master_id
from dcos.protocol.internal import AgentCall, AgentSubscribe
from dcos.protocol.mesos import MESOS_VERSION
from dcos.state import (
    EmbeddedLeaderElector,
    MasterInfo,
    MemoryStateStore,
    Registrar,
    SQLiteStateStore,
    StateStore,
)

log = logging.getLogger(__name__)

ALLOCATION_DEBOUNCE = 0.002


class Stream(Protocol):
    """An event stream the shell writes to (`dcos.master.http.streams.EventStream`)."""

    def send(self, event: Any) -> None: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class Tick:
    """Stimulus-log entry of a timer tick (only logged when it produced actions)."""


@dataclass(frozen=True)
class Allocate:
    """Stimulus-log entry of an allocation cycle (only logged when it produced actions)."""


@dataclass(frozen=True)
class StreamEnded:
    """Stimulus-log entry: a framework's or an agent's stream ended."""

    id: str


@dataclass(frozen=True)
class MasterView:
    """What the JSON views read (`dcos.master.http.state_json`): the core's records (read,
    never changed), the config, the time and the leader; made by `MasterShell.view`."""

    core: MasterCore
    config: MasterConfig
    now: float
    leader: MasterInfo | None


class MasterShell:
    def __init__(
        self,
        config: MasterConfig,
        *,
        clock: Clock | None = None,
        store: StateStore | None = None,
        allocator: Allocator | None = None,
    ) -> None:
        self.config = config
        self.clock = clock or RealClock()
        self._store = store
        self._allocator = allocator
        self.core: MasterCore = None  # type: ignore[assignment]  # set by start()
        self.elector: EmbeddedLeaderElector = None  # type: ignore[assignment]
        self.registrar: Registrar = None  # type: ignore[assignment]
        self.fw_streams: dict[str, Stream] = {}
        self.agent_streams: dict[str, Stream] = {}
        self.stimuli = StimulusLog()
        # counts the inputs handed to the core: the read snapshots
        # (`dcos.master.http.snapshots`) are fresh while it has not moved
        self.generation = 0
        self._queue: deque[list[Action]] = deque()
        self._busy = False
        self._tasks: list[asyncio.Task[None]] = []
        self._alloc_wanted = asyncio.Event()
        self._handlers: dict[type, Callable[[Any], None]] = {
            ToFramework: self._to_framework,
            ToAgent: self._to_agent,
            CloseFramework: self._close_framework,
            CloseAgent: self._close_agent,
            AllocateSoon: self._allocate_soon,
        }
        # `dcos.master.app.create_master` adds the routes and the app key
        self.app = web.Application(client_max_size=64 * 1024 * 1024)
        self.app.on_startup.append(self._on_startup)
        self.app.on_shutdown.append(self._on_shutdown)
        self.app.on_cleanup.append(self._on_cleanup)

    def now(self) -> float:
        return self.clock.time()

    # -- lifecycle ----------------------------------------------------------------------------

    async def start(self) -> None:
        """Recover the registry, build the core, start the timer and allocation loops."""
        cfg = self.config
        if self._store is None:
            self._store = (
                MemoryStateStore() if cfg.in_memory_store else SQLiteStateStore(cfg.state_path)
            )
        self.registrar = Registrar(self._store)
        registry = await self.registrar.recover()
        info = MasterInfo(new_master_id(), cfg.ip, cfg.port, cfg.advertised_hostname, MESOS_VERSION)
        self.elector = EmbeddedLeaderElector(info)
        await self.elector.campaign()
        settings = MasterSettings(
            agent_ping_timeout=cfg.agent_ping_timeout,
            max_agent_ping_timeouts=cfg.max_agent_ping_timeouts,
            agent_reregister_timeout=cfg.agent_reregister_timeout,
            offer_timeout=cfg.offer_timeout, heartbeat_interval=cfg.heartbeat_interval,
        )  # fmt: skip
        allocator = self._allocator or HierarchicalAllocator(seed=cfg.seed)
        self.core = MasterCore(settings, allocator, info, self.now())
        self.dispatch(self.core.recover(registry, self.now()))
        self._tasks = [
            asyncio.create_task(self._timer_loop()),
            asyncio.create_task(self._allocation_loop()),
        ]
        log.info(
            "master %s started (%d agents, %d frameworks in the registry)",
            info.id,
            len(registry.agents),
            len(registry.frameworks),
        )

    async def _on_startup(self, app: web.Application) -> None:
        await self.start()

    async def _on_shutdown(self, app: web.Application) -> None:
        for stream in list(self.fw_streams.values()) + list(self.agent_streams.values()):
            stream.close()

    async def _on_cleanup(self, app: web.Application) -> None:
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            try:
                await t
            except (asyncio.CancelledError, Exception):  # noqa: BLE001 - shutting down
                pass
        if self._store is not None:
            await self._store.close()

    # -- one method per request kind (called by the HTTP handlers) ------------------------------

    def _feed(self, event: Any, actions: list[Action]) -> None:
        self.generation += 1
        self.stimuli.record(self.now(), event, actions)
        self.dispatch(actions)

    def subscribe_framework(
        self, call: Subscribe, stream: Stream, stream_id: str
    ) -> SubscribeOutcome:
        """Scheduler SUBSCRIBE on a new stream; on success the stream becomes the
        framework's (an older one is closed with ERROR) before the core's events go out."""
        outcome, actions = self.core.subscribe(call, stream_id, self.now())
        if outcome.framework_id is not None:
            self._attach(self.fw_streams, outcome.framework_id, stream, failed_over=True)
        self._feed(call, actions)
        return outcome

    def framework_stream_ended(self, fid: FrameworkID, stream: Stream, stream_id: str) -> None:
        """The scheduler's SUBSCRIBE stream ended (either side closed it)."""
        if self.fw_streams.get(fid) is stream:
            del self.fw_streams[fid]
        if self.core is not None:
            self._feed(
                StreamEnded(fid), self.core.framework_disconnected(fid, stream_id, self.now())
            )

    def scheduler_call(self, call: SchedulerCall, stream_id: str | None) -> CallOutcome:
        """Any scheduler call but SUBSCRIBE; the answer's HTTP status and message."""
        outcome, actions = self.core.scheduler_call(call, stream_id, self.now())
        self._feed(call, actions)
        return outcome

    def subscribe_agent(
        self,
        msg: AgentSubscribe,
        stream: Stream,
        secret: str | None = None,
        peer: str | None = None,
    ) -> AgentOutcome:
        """Internal agent SUBSCRIBE on a new stream (it replaces the agent's old one);
        `secret` and `peer` as `MasterCore.agent_subscribe` takes them."""
        outcome, actions = self.core.agent_subscribe(
            msg, stream, self.now(), secret=secret, peer=peer
        )
        if outcome.agent_id is not None:
            self._attach(self.agent_streams, outcome.agent_id, stream, failed_over=False)
        self._feed(msg, actions)
        return outcome

    def agent_stream_ended(self, aid: AgentID, stream: Stream) -> None:
        """The agent's stream ended (either side closed it)."""
        if self.agent_streams.get(aid) is stream:
            del self.agent_streams[aid]
        if self.core is not None:
            self._feed(StreamEnded(aid), self.core.agent_disconnected(aid, stream, self.now()))

    def agent_call(self, msg: AgentCall, secret: str | None = None) -> CallOutcome:
        """UPDATE, PONG, MESSAGE, EXITED_EXECUTOR from an agent, with the session secret
        the call carried (403 without the agent's own)."""
        outcome, actions = self.core.agent_call(msg, self.now(), secret)
        self._feed(msg, actions)
        return outcome

    def operator_call(self, call: OperatorWrite) -> CallOutcome:
        """UPDATE_WEIGHTS, SET_QUOTA, REMOVE_QUOTA (persisted in the registry)."""
        outcome, actions = self.core.operator_call(call, self.now())
        self._feed(call, actions)
        return outcome

    def view(self) -> MasterView:
        """A read-only view of the master's state for the JSON and metrics endpoints."""
        leader = self.elector.leader() if self.elector is not None else None
        return MasterView(self.core, self.config, self.now(), leader)

    def stimuli_json(self, limit: int | None) -> dict[str, Any]:
        """``GET /debug/stimuli``: the newest `limit` (event, actions) entries."""
        return {
            "capacity": self.stimuli.capacity,
            "recorded": self.stimuli.recorded,
            "entries": self.stimuli.entries(limit),
        }

    def _attach(
        self, streams: dict[str, Stream], key: str, stream: Stream, *, failed_over: bool
    ) -> None:
        old = streams.get(key)
        streams[key] = stream
        if old is not None and old is not stream:
            if failed_over:
                old.send({"type": "ERROR", "error": {"message": "Framework failed over"}})
            old.close()

    # -- actions --------------------------------------------------------------------------------

    def dispatch(self, actions: list[Action]) -> None:
        """Carry out core actions in order; registry writes are awaited before the actions
        that follow them (and before any later batch). An `AllocateSoon` in a batch that
        must wait is acted on at once (the allocation reads the core's state, which already
        changed; its offers queue behind the write like every other message)."""
        if not actions:
            return
        if self._busy or any(type(a) is Persist for a in actions):
            if ALLOCATE_SOON in actions:
                self._alloc_wanted.set()
                actions = [a for a in actions if type(a) is not AllocateSoon]
            self._queue.append(actions)
            if not self._busy:
                self._busy = True
                asyncio.get_running_loop().create_task(self._drain_queue())
            return
        self._send(actions)

    async def _drain_queue(self) -> None:
        """Write the registry operations of every queued batch in one CAS, then send their
        other actions in order; repeat while batches keep arriving."""
        try:
            while self._queue:
                batches = list(self._queue)
                self._queue.clear()
                ops = [a.op for b in batches for a in b if type(a) is Persist]
                if ops:
                    try:
                        await self.registrar.apply(ops)
                    except Exception:  # noqa: BLE001 - keep serving; log loudly
                        log.exception("registry write failed")
                for b in batches:
                    self._send([a for a in b if type(a) is not Persist])
        finally:
            self._busy = False

    def _send(self, actions: list[Action]) -> None:
        handlers = self._handlers
        for a in actions:
            handlers[type(a)](a)

    def _to_framework(self, a: ToFramework) -> None:
        s = self.fw_streams.get(a.framework_id)
        if s is not None:
            s.send(a.event)

    def _to_agent(self, a: ToAgent) -> None:
        s = self.agent_streams.get(a.agent_id)
        if s is not None:
            s.send(a.event)

    def _close_framework(self, a: CloseFramework) -> None:
        s = self.fw_streams.pop(a.framework_id, None)
        if s is not None:
            s.close()

    def _close_agent(self, a: CloseAgent) -> None:
        s = self.agent_streams.pop(a.agent_id, None)
        if s is not None:
            s.close()

    def _allocate_soon(self, a: AllocateSoon) -> None:
        self._alloc_wanted.set()

    # -- loops ----------------------------------------------------------------------------------

    async def _timer_loop(self) -> None:
        cfg = self.config
        interval = max(0.05, min(1.0, cfg.agent_ping_timeout / 2, cfg.heartbeat_interval / 2))
        while True:
            await self.clock.sleep(interval)
            try:
                actions = self.core.tick(self.now())
                if actions:
                    self._feed(Tick(), actions)
            except Exception:  # noqa: BLE001 - a bug must not stop the timers
                log.exception("master tick failed")

    async def _allocation_loop(self) -> None:
        while True:
            sleeper = asyncio.ensure_future(self.clock.sleep(self.config.allocation_interval))
            waiter = asyncio.ensure_future(self._alloc_wanted.wait())
            try:
                await asyncio.wait({sleeper, waiter}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                sleeper.cancel()
                waiter.cancel()
            if self._alloc_wanted.is_set():
                await asyncio.sleep(ALLOCATION_DEBOUNCE)
                self._alloc_wanted.clear()
            self.allocate_now()

    def allocate_now(self) -> None:
        """Run one allocation cycle now (also called by tests)."""
        try:
            actions = self.core.allocate(self.now())
            if actions:
                self._feed(Allocate(), actions)
        except Exception:  # noqa: BLE001
            log.exception("allocation failed")
