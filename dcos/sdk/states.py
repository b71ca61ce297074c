"""The states an SDK user compares against: `DriverState` (a driver's life) and `TaskState`
(Mesos task states, from `dcos.protocol.states`). Both are `StrEnum`s, so they compare
equal to the Mesos strings (``DriverState.STOPPED == "DRIVER_STOPPED"``)."""

from __future__ import annotations

from enum import StrEnum

from dcos.protocol.states import TaskState


class DriverState(StrEnum):
    """What `SchedulerDriver.state` / `ExecutorDriver.state` return, and `run` / `join` /
    `stop` report: NOT_STARTED until `start`, RUNNING until `stop` (STOPPED) or until the
    master or agent ends the subscription for good (ABORTED)."""

    NOT_STARTED = "DRIVER_NOT_STARTED"
    RUNNING = "DRIVER_RUNNING"
    STOPPED = "DRIVER_STOPPED"
    ABORTED = "DRIVER_ABORTED"


DRIVER_NOT_STARTED = DriverState.NOT_STARTED
DRIVER_RUNNING = DriverState.RUNNING
DRIVER_STOPPED = DriverState.STOPPED
DRIVER_ABORTED = DriverState.ABORTED

__all__ = [
    "DRIVER_ABORTED",
    "DRIVER_NOT_STARTED",
    "DRIVER_RUNNING",
    "DRIVER_STOPPED",
    "DriverState",
    "TaskState",
]
