"""`FakeDetector`: a `dcos.state.detector.MasterDetector` whose leader the test sets.

Used by the unit tests of the agent's master session and the SDK's scheduler driver (they
take a ``detector=``), and by framework authors who test how their scheduler follows a new
leader without ZooKeeper. Integration tests use the real `ZooKeeperDetector` instead.

    detector = FakeDetector("127.0.0.1:5050")
    driver = SchedulerDriver(scheduler, info, "zk://unused/dcos", detector=detector)
    ...
    detector.set_leader("127.0.0.1:5060")   # the driver re-subscribes there
    detector.set_leader(None)               # no leader: it waits
"""

from __future__ import annotations

import asyncio

from dcos.common.addresses import MasterAddress, parse_master

__all__ = ["FakeDetector"]


class FakeDetector:
    """The leader is what `set_leader` last said. `start_failures` makes that many `start`
    calls raise `TimeoutError` first (a ZooKeeper that does not answer). `waiting` counts the
    `changed` calls waiting now; `changed_calls` every `changed` call so far."""

    def __init__(self, leader: MasterAddress | str | None = None, start_failures: int = 0) -> None:
        self._leader = _address(leader)
        self._event: asyncio.Event | None = None
        self.start_failures = start_failures
        self.started = 0  # successful `start` calls
        self.closed = False
        self.waiting = 0
        self.changed_calls = 0

    def set_leader(self, leader: MasterAddress | str | None) -> None:
        """Name another leader (None: none); every `changed` waiter whose value differs wakes."""
        self._leader = _address(leader)
        if self._event is not None:
            self._event.set()
            self._event = None

    async def start(self) -> None:
        if self.start_failures > 0:
            self.start_failures -= 1
            raise TimeoutError("could not connect to ZooKeeper (FakeDetector)")
        self.started += 1

    def current(self) -> MasterAddress | None:
        return self._leader

    async def changed(self, previous: MasterAddress | None) -> MasterAddress | None:
        """Wait until the leader is not `previous`; return it."""
        self.changed_calls += 1
        self.waiting += 1
        try:
            while self._leader == previous:
                if self._event is None:
                    self._event = asyncio.Event()
                await self._event.wait()
        finally:
            self.waiting -= 1
        return self._leader

    async def wait_leader(self, timeout: float) -> MasterAddress:
        async with asyncio.timeout(timeout):
            while self._leader is None:
                await self.changed(None)
        assert self._leader is not None
        return self._leader

    async def close(self) -> None:
        self.closed = True

    def __str__(self) -> str:
        return f"FakeDetector({self._leader})"


def _address(leader: MasterAddress | str | None) -> MasterAddress | None:
    return parse_master(leader) if isinstance(leader, str) else leader
