"""Simulated task behaviour and network faults for `InProcessCluster` (and benchmarks).

- `SimContainerizer`: the agent's `FakeContainerizer` (no processes) plus a `behaviour`
  hook that decides, per task, how long it "runs", how it exits, or that its launch fails.
  Without a hook (or when the hook returns None) the fake's command rules apply: ``true``
  ends at once with 0, ``false`` with 1, ``exit N`` with N, ``sleep S`` after S seconds,
  anything else runs until killed.
- `LinkProxy`: a loopback TCP proxy in front of the master for one agent, so a test can
  cut the agent off (`partition`) and let it back (`heal`) without touching either side.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Callable
from dataclasses import dataclass, replace

from dcos.agent.containerizer import ContainerConfig, LaunchResult
from dcos.agent.containerizer.fake import FakeContainerizer
from dcos.common.clock import Clock
from dcos.protocol.ids import ContainerID


@dataclass(frozen=True)
class TaskPlan:
    """What a simulated task does: run `run_for` seconds of the containerizer's clock (None:
    until killed), then exit with `exit_code`; or fail to launch with `launch_error`."""

    run_for: float | None = 0.0
    exit_code: int = 0
    launch_error: str | None = None


Behaviour = Callable[[ContainerConfig], "TaskPlan | None"]


def always(run_for: float | None = 0.0, exit_code: int = 0) -> Behaviour:
    """A behaviour giving every task the same plan (e.g. ``always(0.5)``, ``always(None)``)."""
    plan = TaskPlan(run_for, exit_code)
    return lambda config: plan


class SimContainerizer(FakeContainerizer):
    """`FakeContainerizer` with a per-task `behaviour` (see the module docstring)."""

    def __init__(self, clock: Clock | None = None, behaviour: Behaviour | None = None) -> None:
        super().__init__(clock)
        self.behaviour = behaviour
        self._plan_timers: dict[ContainerID, asyncio.Task[None]] = {}

    async def launch(self, container_id: ContainerID, config: ContainerConfig) -> LaunchResult:
        plan = self.behaviour(config) if self.behaviour is not None else None
        if plan is None:
            return await super().launch(container_id, config)
        if plan.launch_error is not None:
            return LaunchResult(False, plan.launch_error)
        # the fake runs a command it does not know until `finish`; we finish it per the plan
        held = replace(config, argv=["sim-task"], command={"value": "sim-task"})
        result = await super().launch(container_id, held)
        if not result.ok:
            return result
        self.configs[container_id] = config
        if plan.run_for == 0:
            self.finish(container_id, plan.exit_code)
        elif plan.run_for is not None:
            self._plan_timers[container_id] = asyncio.ensure_future(
                self._end_after(container_id, plan.run_for, plan.exit_code)
            )
        return result

    async def _end_after(self, container_id: ContainerID, seconds: float, code: int) -> None:
        try:
            await self.clock.sleep(seconds)
            self.finish(container_id, code)
        finally:
            self._plan_timers.pop(container_id, None)

    async def destroy(self, container_id: ContainerID, grace: float) -> None:
        timer = self._plan_timers.pop(container_id, None)
        if timer is not None:
            timer.cancel()
        await super().destroy(container_id, grace)

    def container_of(self, task_id: str) -> ContainerID | None:
        """The live container running `task_id`, if this agent runs it."""
        live = self.containers()
        for cid, config in self.configs.items():
            if config.task_id == task_id and cid in live:
                return cid
        return None

    def cancel_timers(self) -> None:
        """Stop every pending plan timer (the agent is going away)."""
        for timer in self._plan_timers.values():
            timer.cancel()
        self._plan_timers.clear()


class LinkProxy:
    """A TCP proxy on loopback: ``127.0.0.1:<port>`` -> ``target_host:target_port``.

    Started by `InProcessCluster` for each agent when fault injection is asked for; the
    agent talks to the master through it. `partition` closes every open connection and
    refuses new ones until `heal`.
    """

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = 0
        self.blocked = False
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        self.partition()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        for t in list(self._tasks):
            t.cancel()

    def partition(self) -> None:
        """Drop every connection through the proxy and refuse new ones."""
        self.blocked = True
        for w in list(self._writers):
            w.transport.abort()
        self._writers.clear()

    def heal(self) -> None:
        self.blocked = False

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.blocked:
            writer.transport.abort()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        for w in (writer, up_writer):
            sock = w.get_extra_info("socket")
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._writers.add(w)
        for a, b in ((reader, up_writer), (up_reader, writer)):
            task = asyncio.ensure_future(self._pipe(a, b))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            self._writers.discard(writer)
            writer.transport.abort()
