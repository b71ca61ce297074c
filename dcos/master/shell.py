"""`MasterShell`: owns the streams, timers and storage of a master and feeds the sans-IO
`MasterCore`.

Called by the HTTP handlers (`dcos.master.http`) through one small method per request kind
(`subscribe_framework`, `scheduler_call`, `subscribe_agent`, `agent_call`,
`operator_call`, `observe_operators`, `view`, `stimuli`), never through the core. Each method hands a typed
input to the core, records (input, actions) in the stimulus log and carries the actions
out with `dispatch` (one handler per action type; a batch with a registry change waits
for its write: `dcos.master.registry_queue`). `dcos.master.app` builds the aiohttp app
around a shell and serves it.

Leadership (`dcos.master.leadership`): the shell has a core only while this master leads.
Embedded (no ``--zk``) it leads from the start. In HA mode it starts STANDBY; the
ZooKeeper leadership calls `lead` once elected (recover the registry, a fresh core, the
loops) and `step_down` when leadership is lost (ZooKeeper session suspended or lost, our
election znode gone) or when the shell itself finds a registry write refused (a successor
wrote, or our znode is gone: the store is fenced). While not leading the request methods
raise `NotLeading`, which the HTTP guard (`dcos.master.http.guard`) answers with a redirect
to the leader or a 503.

Operator subscribers (the v1 operator API's SUBSCRIBE): the shell's `observer` (the
`dcos.master.http.operator_feed.OperatorFeed` the routes install) turns the core's
`Observed` actions on while it has subscribers (`observe_operators`), gets each of those
actions (`Observer.publish`) and has its streams closed when this master stops leading.
"""

from __future__ import annotations

import asyncio
import logging
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
    Action,
    AgentOutcome,
    AllocateSoon,
    CallOutcome,
    CloseAgent,
    CloseFramework,
    MasterCore,
    MasterSettings,
    Observed,
    SchedulerCall,
    Subscribe,
    SubscribeOutcome,
    ToAgent,
    ToFramework,
)
from dcos.master.core.operator_calls import OperatorWrite
from dcos.master.leadership import EmbeddedLeadership, MasterLeadership, ZooKeeperLeadership
from dcos.master.registry_queue import NotLeading, RegistryQueue
from dcos.protocol.ids import AgentID, FrameworkID
from dcos.protocol.internal import AgentCall, AgentSubscribe
from dcos.security.context import SecurityContext
from dcos.state import (
    MasterInfo,
    MemoryStateStore,
    Operation,
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


class Observer(Protocol):
    """Who gets the core's `Observed` actions (`dcos.master.http.operator_feed.OperatorFeed`)."""

    def publish(self, action: Observed) -> None: ...

    def close_all(self, reason: str) -> None: ...


@dataclass(frozen=True)
class ObserveOperators:
    """Stimulus-log entry: operator subscribers came (on) or none is left (off)."""

    on: bool


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
class Elected:
    """Stimulus-log entry: this master was elected and leads with a fresh core."""

    master_id: str


@dataclass(frozen=True)
class SteppedDown:
    """Stimulus-log entry: this master stopped leading (why)."""

    reason: str


@dataclass(frozen=True)
class MasterView:
    """What the JSON views read (`dcos.master.http.state_json`): the core's records (read,
    never changed), the config, the time, the leader (this master: views exist only while
    it leads), when the process started and when it was elected; made by
    `MasterShell.view`."""

    core: MasterCore
    config: MasterConfig
    now: float
    leader: MasterInfo | None
    start_time: float = 0.0
    elected_time: float = 0.0


class MasterShell:
    def __init__(
        self,
        config: MasterConfig,
        *,
        clock: Clock | None = None,
        store: StateStore | None = None,
        allocator: Allocator | None = None,
        security: SecurityContext | None = None,
    ) -> None:
        self.config = config
        # security on (``--security-dir``): the master's context (its certificate, the
        # token verifier, credentials, the ACLs and revocations the IAM routes keep current)
        self.security = security
        self.clock = clock or RealClock()
        self._store = store
        self._allocator = allocator
        # set by `lead`, None again after `step_down` (and while standby)
        self.core: MasterCore = None  # type: ignore[assignment]
        self.registrar: Registrar = None  # type: ignore[assignment]
        self.leadership: MasterLeadership | None = None  # set by start()
        self.start_time = self.now()
        self.elected_time: float | None = None
        # the streams attached in the current term of leadership (`_term_stream_ended`)
        self._term_streams: set[Stream] = set()
        self.fw_streams: dict[str, Stream] = {}
        self.agent_streams: dict[str, Stream] = {}
        self.observer: Observer | None = None  # set by `dcos.master.http.operator_feed`
        self.stimuli = StimulusLog()
        # counts the inputs handed to the core: the read snapshots
        # (`dcos.master.http.snapshots`) are fresh while it has not moved
        self.generation = 0
        self._tasks: list[asyncio.Task[None]] = []
        self._alloc_wanted = asyncio.Event()
        self._handlers: dict[type, Callable[[Any], None]] = {
            ToFramework: self._to_framework,
            ToAgent: self._to_agent,
            CloseFramework: self._close_framework,
            CloseAgent: self._close_agent,
            AllocateSoon: self._allocate_soon,
            Observed: self._observed,
        }
        # `dcos.master.app.create_master` adds the routes and the app key
        # request bodies of the public APIs (413 above); the agent channel reads its own
        # with a larger bound (`dcos.master.http.secure.read_body`)
        self.app = web.Application(client_max_size=config.max_body_bytes)
        self.app.on_startup.append(self._on_startup)
        self.app.on_shutdown.append(self._on_shutdown)
        self.app.on_cleanup.append(self._on_cleanup)
        self._writes = self._new_writes()  # one per term of leadership

    def _new_writes(self) -> RegistryQueue:
        return RegistryQueue(self._send, self._write, self._registry_failed, self._alloc_wanted.set)

    async def _write(self, ops: list[Operation]) -> None:
        await self.registrar.apply(ops)

    def now(self) -> float:
        return self.clock.time()

    # -- lifecycle ----------------------------------------------------------------------------

    @property
    def leading(self) -> bool:
        """Whether this master leads now (it has a core)."""
        return self.core is not None

    def leader(self) -> MasterInfo | None:
        """The leading master as last seen (this one while it leads), None when unknown."""
        return self.leadership.leader() if self.leadership is not None else None

    async def start(self) -> None:
        """Start leading at once (embedded: recover the registry from SQLite, build the core,
        start the loops) or, with ``--zk``, start campaigning in the background (the master
        serves as a standby meanwhile)."""
        cfg = self.config
        if cfg.ha:
            self.leadership = ZooKeeperLeadership(cfg, self.lead, self.step_down)
        else:
            if self._store is None:
                self._store = (
                    MemoryStateStore() if cfg.in_memory_store else SQLiteStateStore(cfg.state_path)
                )
            self.leadership = EmbeddedLeadership(cfg, self._store, self.lead)
        await self.leadership.start()

    async def lead(self, store: StateStore, info: MasterInfo) -> None:
        """Called by the leadership once this master is elected (embedded: at start):
        recover the registry from `store` (fenced in HA mode), build a fresh core that
        expects the registry's agents and frameworks, start the timer and allocation loops."""
        cfg = self.config
        registrar = Registrar(store)
        registry = await registrar.recover()
        settings = MasterSettings(
            agent_ping_timeout=cfg.agent_ping_timeout,
            max_agent_ping_timeouts=cfg.max_agent_ping_timeouts,
            agent_reregister_timeout=cfg.agent_reregister_timeout,
            offer_timeout=cfg.offer_timeout, heartbeat_interval=cfg.heartbeat_interval,
        )  # fmt: skip
        # an injected allocator serves the first term only: a new term needs an empty one
        allocator, self._allocator = self._allocator, None
        now = self.now()
        self.registrar, self.elected_time = registrar, now
        self.core = MasterCore(
            settings, allocator or HierarchicalAllocator(seed=cfg.seed), info, now
        )
        self._writes = self._new_writes()
        self.generation += 1
        self.stimuli.record(now, Elected(info.id), [])
        self.dispatch(self.core.recover(registry, now))
        self._tasks = [
            asyncio.create_task(self._timer_loop()),
            asyncio.create_task(self._allocation_loop()),
        ]
        log.info(
            "master %s leads (%d agents, %d frameworks in the registry)",
            info.id,
            len(registry.agents),
            len(registry.frameworks),
        )

    def step_down(self, reason: str, *, loud: bool = True) -> None:
        """Stop acting as leader AT ONCE (called by the leadership when leadership is lost,
        and by the shell when a registry write is refused): cancel the loops, drop queued
        actions and the registry write in flight, close every framework and agent stream,
        drop the core (no more offers). Idempotent. The leadership campaigns again."""
        if self.core is None:
            return
        (log.critical if loud else log.info)(
            "master %s STOPS LEADING (%s): closing %d framework and %d agent streams; "
            "no more offers from this master",
            self.core.master_id, reason, len(self.fw_streams), len(self.agent_streams),
        )  # fmt: skip
        self.generation += 1
        for t in self._tasks:
            t.cancel()
        self._tasks = []
        self._writes.drop()
        self._alloc_wanted.clear()
        streams = [*self.fw_streams.values(), *self.agent_streams.values()]
        self.fw_streams.clear()
        self.agent_streams.clear()
        self._term_streams.clear()
        for stream in streams:
            stream.close()
        if self.observer is not None:
            self.observer.close_all(f"this master stops leading ({reason})")
        self.core = None  # type: ignore[assignment]
        self.registrar = None  # type: ignore[assignment]
        self.elected_time = None
        self.stimuli.record(self.now(), SteppedDown(reason), [])

    def _registry_failed(self, exc: Exception) -> bool:
        """A registry write failed. HA: the store refused it (a successor wrote, or our
        election znode is gone) or ZooKeeper failed: our state may differ from the
        registry, so step down and campaign again (True). Embedded: log and keep serving
        (False), as a single master has no successor to defer to."""
        if self.leadership is None or not self.leadership.ha:
            log.exception("registry write failed")
            return False
        log.critical("registry write refused: %s", exc, exc_info=exc)
        self.step_down(f"registry write refused: {exc}")
        self.leadership.resign(str(exc))
        return True

    async def _on_startup(self, app: web.Application) -> None:
        if self.security is not None and self.security.reloader is not None:
            self.security.reloader.start()  # certificate rotation without a restart
        await self.start()

    async def _on_shutdown(self, app: web.Application) -> None:
        for stream in list(self.fw_streams.values()) + list(self.agent_streams.values()):
            stream.close()
        if self.observer is not None:
            self.observer.close_all("master shutting down")

    async def _on_cleanup(self, app: web.Application) -> None:
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            try:
                await t
            except (asyncio.CancelledError, Exception):  # noqa: BLE001 - shutting down
                pass
        if self.leadership is not None:
            await self.leadership.stop()
        if self.security is not None and self.security.reloader is not None:
            await self.security.reloader.stop()

    # -- one method per request kind (called by the HTTP handlers) ------------------------------

    def _core(self) -> MasterCore:
        """The core, or `NotLeading` while this master does not lead."""
        core = self.core
        if core is None:
            raise NotLeading
        return core

    def _feed(self, event: Any, actions: list[Action]) -> None:
        self.generation += 1
        self.stimuli.record(self.now(), event, actions)
        self.dispatch(actions)

    def subscribe_framework(
        self, call: Subscribe, stream: Stream, stream_id: str
    ) -> SubscribeOutcome:
        """Scheduler SUBSCRIBE on a new stream; on success the stream becomes the
        framework's (an older one is closed with ERROR) before the core's events go out."""
        outcome, actions = self._core().subscribe(call, stream_id, self.now())
        if outcome.framework_id is not None:
            self._attach(self.fw_streams, outcome.framework_id, stream, failed_over=True)
        self._feed(call, actions)
        return outcome

    def framework_stream_ended(self, fid: FrameworkID, stream: Stream, stream_id: str) -> None:
        """The scheduler's SUBSCRIBE stream ended (either side closed it); the core hears
        of it only when the stream belongs to the current term."""
        if self.fw_streams.get(fid) is stream:
            del self.fw_streams[fid]
        if self._term_stream_ended(stream):
            self._feed(
                StreamEnded(fid), self.core.framework_disconnected(fid, stream_id, self.now())
            )

    def scheduler_call(self, call: SchedulerCall, stream_id: str | None) -> CallOutcome:
        """Any scheduler call but SUBSCRIBE; the answer's HTTP status and message."""
        outcome, actions = self._core().scheduler_call(call, stream_id, self.now())
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
        outcome, actions = self._core().agent_subscribe(
            msg, stream, self.now(), secret=secret, peer=peer
        )
        if outcome.agent_id is not None:
            self._attach(self.agent_streams, outcome.agent_id, stream, failed_over=False)
        self._feed(msg, actions)
        return outcome

    def agent_stream_ended(self, aid: AgentID, stream: Stream) -> None:
        """The agent's stream ended (either side closed it); the core hears of it only when
        the stream belongs to the current term."""
        if self.agent_streams.get(aid) is stream:
            del self.agent_streams[aid]
        if self._term_stream_ended(stream):
            self._feed(StreamEnded(aid), self.core.agent_disconnected(aid, stream, self.now()))

    def agent_call(self, msg: AgentCall, secret: str | None = None) -> CallOutcome:
        """UPDATE, PONG, MESSAGE, EXITED_EXECUTOR from an agent, with the session secret
        the call carried (403 without the agent's own)."""
        outcome, actions = self._core().agent_call(msg, self.now(), secret)
        self._feed(msg, actions)
        return outcome

    async def operator_call(self, call: OperatorWrite) -> CallOutcome:
        """UPDATE_WEIGHTS, SET_QUOTA, REMOVE_QUOTA, TEARDOWN; returns once the change is in the
        registry (an operator told 200 can rely on it surviving a failover), or raises
        `NotLeading` when the write was refused and this master stepped down."""
        outcome, actions = self._core().operator_call(call, self.now())
        self._feed(call, actions)
        await self._writes.persisted()
        return outcome

    def observe_operators(self, on: bool) -> int:
        """Operator subscribers came (on) or none is left (off): the core makes `Observed`
        actions only while on. Returns the number of the last event made so far (a new
        subscriber's snapshot, read now, shows everything up to it). `NotLeading` while
        this master does not lead."""
        core = self._core()
        if core.observed != on:
            self.stimuli.record(self.now(), ObserveOperators(on), [])
        return core.observe(on)

    def view(self) -> MasterView:
        """A read-only view of the master's state for the JSON and metrics endpoints
        (`NotLeading` while this master does not lead: the views are the leader's)."""
        core = self._core()
        return MasterView(
            core, self.config, self.now(), core.master_info, self.start_time,
            self.elected_time or core.start_time,
        )  # fmt: skip

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
        self._term_streams.add(stream)
        if old is not None and old is not stream:
            if failed_over:
                old.send({"type": "ERROR", "error": {"message": "Framework failed over"}})
            old.close()

    def _term_stream_ended(self, stream: Stream) -> bool:
        """Forget an ended stream; whether it belonged to the current term (a stream of an
        earlier term was closed by `step_down` and means nothing to the new core)."""
        if stream in self._term_streams:
            self._term_streams.discard(stream)
            return self.core is not None
        return False

    # -- actions --------------------------------------------------------------------------------

    def dispatch(self, actions: list[Action]) -> None:
        """Carry out core actions in order, each batch with a registry change only once it
        is written (`RegistryQueue.dispatch`)."""
        self._writes.dispatch(actions)

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

    def _observed(self, a: Observed) -> None:
        if self.observer is not None:
            self.observer.publish(a)

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
        """Run one allocation cycle now (also called by tests); nothing while not leading."""
        if self.core is None:
            return
        try:
            actions = self.core.allocate(self.now())
            if actions:
                self._feed(Allocate(), actions)
        except Exception:  # noqa: BLE001
            log.exception("allocation failed")
