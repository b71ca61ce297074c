"""The dcos-py SDK for writing frameworks against the Mesos v1 scheduler HTTP API.

- `Scheduler`: subclass it; async callbacks (dcos/sdk/scheduler.py).
- `SchedulerDriver`: subscribes, reconnects, acknowledges, sends calls (dcos/sdk/driver.py).
- `Offer`, `TaskStatus`: the Mesos JSON dicts with typed accessors (dcos/sdk/types.py).
- Offer helpers: `OfferPacker`, `TaskNeeds`, `pick_ports`, `task_info` (dcos/sdk/offers.py).
- `Executor`, `ExecutorDriver`: custom executors over the v1 executor API (dcos/sdk/executor.py).

See docs/writing-a-framework.md.
"""

from dcos.sdk.driver import (
    DRIVER_ABORTED,
    DRIVER_RUNNING,
    DRIVER_STOPPED,
    CallRejected,
    DriverError,
    NotConnected,
    SchedulerDriver,
)
from dcos.sdk.executor import Executor, ExecutorCallRejected, ExecutorDriver
from dcos.sdk.offers import Fit, OfferPacker, TaskNeeds, pick_ports, task_info
from dcos.sdk.scheduler import Scheduler
from dcos.sdk.types import Offer, TaskStatus

__all__ = [
    "DRIVER_ABORTED",
    "DRIVER_RUNNING",
    "DRIVER_STOPPED",
    "CallRejected",
    "DriverError",
    "Executor",
    "ExecutorCallRejected",
    "ExecutorDriver",
    "Fit",
    "NotConnected",
    "Offer",
    "OfferPacker",
    "Scheduler",
    "SchedulerDriver",
    "TaskNeeds",
    "TaskStatus",
    "pick_ports",
    "task_info",
]
