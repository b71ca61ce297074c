"""`FakeContainerizer`: containers without processes, for unit tests and simulated agents.

The control-plane benchmark runs many agents on one event loop with it, and tests drive task
lifecycles through it. A container's command decides what it does:
``true`` / ``:`` / ``exit 0`` end at once with 0, ``false`` with 1, ``exit N`` with N,
``sleep S`` ends with 0 after S seconds of the given clock; anything else runs until
`finish` or `destroy`. `fail_next_launch` makes the next launch fail with that cause.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Mapping

from dcos.agent.containerizer import ContainerConfig, LaunchResult, Termination
from dcos.common.clock import Clock, RealClock
from dcos.protocol.ids import ContainerID
from dcos.protocol.resources import Resources


class FakeContainerizer:
    def __init__(self, clock: Clock | None = None) -> None:
        self.clock: Clock = clock or RealClock()
        self.configs: dict[ContainerID, ContainerConfig] = {}  # until waited for
        self.destroyed: dict[ContainerID, float] = {}  # container -> grace asked for
        self.fail_next_launch: str | None = None
        self._ends: dict[ContainerID, asyncio.Future[Termination]] = {}
        self._timers: dict[ContainerID, asyncio.Task[None]] = {}

    async def recover(
        self, expected: Mapping[ContainerID, ContainerConfig] | None = None
    ) -> dict[ContainerID, Termination | None]:
        """Fake containers do not outlive their agent: every expected one is gone."""
        return {cid: Termination(message="fake containers do not survive a restart")
                for cid in expected or {}}  # fmt: skip

    async def launch(self, container_id: ContainerID, config: ContainerConfig) -> LaunchResult:
        if self.fail_next_launch is not None:
            error, self.fail_next_launch = self.fail_next_launch, None
            return LaunchResult(False, error)
        if container_id in self._ends:
            return LaunchResult(False, f"container {container_id} already exists")
        self.configs[container_id] = config
        self._ends[container_id] = asyncio.get_running_loop().create_future()
        value = str(config.command.get("value") or " ".join(config.argv)).strip()
        words = value.split()
        if value in ("true", "/bin/true", ":"):
            self.finish(container_id, 0)
        elif value in ("false", "/bin/false"):
            self.finish(container_id, 1)
        elif len(words) == 2 and words[0] == "exit" and words[1].isdigit():
            self.finish(container_id, int(words[1]))
        elif len(words) == 2 and words[0] == "sleep":
            try:
                seconds = float(words[1])
            except ValueError:
                seconds = 0.0
            self._timers[container_id] = asyncio.ensure_future(self._sleep(container_id, seconds))
        return LaunchResult(True, pid=None)

    async def _sleep(self, container_id: ContainerID, seconds: float) -> None:
        await self.clock.sleep(seconds)
        self.finish(container_id, 0)

    def finish(
        self,
        container_id: ContainerID,
        exit_code: int | None = 0,
        signal_number: int | None = None,
        reason: str | None = None,
        message: str | None = None,
    ) -> None:
        """End a container as if its process exited (tests call this)."""
        fut = self._ends.get(container_id)
        if fut is not None and not fut.done():
            code = None if signal_number is not None else exit_code
            fut.set_result(Termination(code, signal_number, reason, message))
        timer = self._timers.pop(container_id, None)
        if timer is not None and timer is not asyncio.current_task():
            timer.cancel()

    async def wait(self, container_id: ContainerID) -> Termination:
        fut = self._ends.get(container_id)
        if fut is None:
            return Termination(message="unknown container")
        term = await asyncio.shield(fut)
        self._ends.pop(container_id, None)
        self.configs.pop(container_id, None)
        return term

    async def destroy(self, container_id: ContainerID, grace: float) -> None:
        if container_id in self._ends:
            self.destroyed[container_id] = grace
            self.finish(container_id, None, signal.SIGTERM)

    async def update(self, container_id: ContainerID, resources: Resources) -> None:
        return None

    async def usage(self, container_id: ContainerID) -> dict[str, float]:
        return {}

    def containers(self) -> set[ContainerID]:
        return {c for c, f in self._ends.items() if not f.done()}
