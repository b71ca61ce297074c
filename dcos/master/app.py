"""The master shell: owns sockets, timers and storage; feeds the sans-IO `MasterCore`.

Public entry points (tests, benchmarks, `python -m dcos.master`):

- ``create_master(config, *, clock=None, store=None, allocator=None) -> MasterShell``: the
  shell with its aiohttp ``app`` (the core starts in the app's startup hook). Usable with
  aiohttp's test client.
- ``await start_master(config, ...) -> RunningMaster``: serve on ``config.ip:config.port``
  (port 0 picks a free port); ``.url``, ``.port``, ``.shell``, ``await .stop()``.
- ``await run_master(config, stop=None)``: serve until `stop` is set (or forever).
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from dcos.allocator import HierarchicalAllocator
from dcos.allocator.interface import Allocator
from dcos.common.clock import Clock, RealClock
from dcos.master.config import MasterConfig
from dcos.master.core import (
    CloseAgent,
    CloseFramework,
    MasterCore,
    MasterSettings,
    Persist,
    ToAgent,
    ToFramework,
)
from dcos.master.http import MASTER, agent_channel, operator_api, scheduler_api
from dcos.master.http.streams import EventStream
from dcos.protocol import internal
from dcos.protocol.ids import new_master_id
from dcos.protocol.mesos import MESOS_VERSION
from dcos.state import (
    EmbeddedLeaderElector,
    MasterInfo,
    MemoryStateStore,
    Registrar,
    SQLiteStateStore,
    StateStore,
)

__all__ = [
    "MasterConfig",
    "MasterShell",
    "RunningMaster",
    "create_master",
    "run_master",
    "start_master",
]

log = logging.getLogger("dcos.master")

ALLOCATION_DEBOUNCE = 0.002


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
        self.fw_streams: dict[str, EventStream] = {}
        self.agent_streams: dict[str, EventStream] = {}
        self._queue: deque[list[Any]] = deque()
        self._busy = False
        self._tasks: list[asyncio.Task[None]] = []
        self._alloc_wanted = asyncio.Event()
        self.app = web.Application(client_max_size=64 * 1024 * 1024)
        self.app[MASTER] = self
        self.app.router.add_post(scheduler_api.PATH, scheduler_api.handle)
        self.app.router.add_post(internal.PATH, agent_channel.handle)
        operator_api.add_routes(self.app)
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
        self.core.recover(registry, self.now())
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

    # -- streams --------------------------------------------------------------------------------

    def attach_framework(self, fid: str, stream: EventStream) -> None:
        """A new SUBSCRIBE stream replaces the framework's old one (closed with ERROR)."""
        old = self.fw_streams.get(fid)
        self.fw_streams[fid] = stream
        if old is not None and old is not stream:
            old.send({"type": "ERROR", "error": {"message": "Framework failed over"}})
            old.close()

    def detach_framework(self, fid: str, stream: EventStream, stream_id: str) -> None:
        if self.fw_streams.get(fid) is stream:
            del self.fw_streams[fid]
        if self.core is not None:
            self.dispatch(self.core.framework_disconnected(fid, stream_id, self.now()))

    def attach_agent(self, aid: str, stream: EventStream) -> None:
        old = self.agent_streams.get(aid)
        self.agent_streams[aid] = stream
        if old is not None and old is not stream:
            old.close()

    def detach_agent(self, aid: str, stream: EventStream) -> None:
        if self.agent_streams.get(aid) is stream:
            del self.agent_streams[aid]
        if self.core is not None:
            self.dispatch(self.core.agent_disconnected(aid, stream, self.now()))

    # -- actions --------------------------------------------------------------------------------

    def dispatch(self, actions: list[Any]) -> None:
        """Carry out core actions in order; registry writes are awaited before the actions
        that follow them (and before any later batch)."""
        if self.core is not None and self.core.take_allocation_request():
            self._alloc_wanted.set()
        if not actions:
            return
        if self._busy or any(type(a) is Persist for a in actions):
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

    def _send(self, actions: list[Any]) -> None:
        for a in actions:
            t = type(a)
            if t is ToFramework:
                s = self.fw_streams.get(a.framework_id)
                if s is not None:
                    s.send(a.event)
            elif t is ToAgent:
                s = self.agent_streams.get(a.agent_id)
                if s is not None:
                    s.send(a.event)
            elif t is CloseFramework:
                s = self.fw_streams.pop(a.framework_id, None)
                if s is not None:
                    s.close()
            elif t is CloseAgent:
                s = self.agent_streams.pop(a.agent_id, None)
                if s is not None:
                    s.close()

    # -- loops ----------------------------------------------------------------------------------

    async def _timer_loop(self) -> None:
        cfg = self.config
        interval = max(0.05, min(1.0, cfg.agent_ping_timeout / 2, cfg.heartbeat_interval / 2))
        while True:
            await self.clock.sleep(interval)
            try:
                self.dispatch(self.core.tick(self.now()))
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
            self.dispatch(self.core.allocate(self.now()))
        except Exception:  # noqa: BLE001
            log.exception("allocation failed")


def create_master(
    config: MasterConfig,
    *,
    clock: Clock | None = None,
    store: StateStore | None = None,
    allocator: Allocator | None = None,
) -> MasterShell:
    return MasterShell(config, clock=clock, store=store, allocator=allocator)


@dataclass
class RunningMaster:
    shell: MasterShell
    runner: web.AppRunner
    port: int

    @property
    def url(self) -> str:
        return f"http://{self.shell.config.ip}:{self.port}"

    async def stop(self) -> None:
        await self.runner.cleanup()


async def start_master(
    config: MasterConfig,
    *,
    clock: Clock | None = None,
    store: StateStore | None = None,
    allocator: Allocator | None = None,
) -> RunningMaster:
    """Bind, start and serve; returns once the master is listening."""
    sock = socket.socket(socket.AF_INET6 if ":" in config.ip else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((config.ip, config.port))
    config.port = sock.getsockname()[1]
    shell = create_master(config, clock=clock, store=store, allocator=allocator)
    runner = web.AppRunner(
        shell.app, handler_cancellation=True, access_log=None, shutdown_timeout=1.0
    )
    await runner.setup()
    site = web.SockSite(runner, sock)
    await site.start()
    log.info("master listening on http://%s:%d", config.ip, config.port)
    return RunningMaster(shell, runner, config.port)


async def run_master(
    config: MasterConfig,
    stop: asyncio.Event | None = None,
    started: Callable[[], None] | None = None,
) -> None:
    """Serve until `stop` is set; `started` is called once the master serves (``python -m
    dcos.master`` passes `dcos.common.gc_tuning.tune_gc`)."""
    running = await start_master(config)
    if started is not None:
        started()
    try:
        await (stop or asyncio.Event()).wait()
    finally:
        log.info("master shutting down")
        await running.stop()
