"""The dcos-py SDK for writing frameworks against the Mesos v1 scheduler HTTP API.

- `Scheduler`: subclass it; callbacks, async or plain (dcos/sdk/scheduler.py).
  `FrameworkScheduler` adds reconciliation on every (re)subscription and offer suppression.
- `SchedulerDriver`: subscribes, reconnects, acknowledges, sends calls; ``apply(actions)``
  carries out framework actions (dcos/sdk/driver.py).
- The framework layer: actions `Launch`, `Accept`, `Decline`, `Kill`, `Suppress`, `Revive`,
  `Reconcile`, `Acknowledge`, `Message`; `framework_info`, `SuppressionTracker`,
  `reconcile_actions`, `BackgroundTasks` (dcos/sdk/framework.py).
- `Offer`, `TaskStatus`: the Mesos JSON dicts with typed accessors (dcos/sdk/types.py).
- Offer helpers: `OfferPacker`, `TaskNeeds`, `pick_ports`, `task_info` (dcos/sdk/offers.py);
  the placement chain (`Slot`, filters, `Verdict`, `place`) in dcos/sdk/placement.py.
- `Executor`, `ExecutorDriver`: custom executors over the v1 executor API (dcos/sdk/executor.py).

See docs/writing-a-framework.md.
"""

from dcos.sdk.driver import (
    DRIVER_ABORTED,
    DRIVER_RUNNING,
    DRIVER_STOPPED,
    SchedulerDriver,
)
from dcos.sdk.errors import CallRejected, DriverError, NotConnected
from dcos.sdk.executor import Executor, ExecutorCallRejected, ExecutorDriver
from dcos.sdk.framework import (
    Accept,
    Acknowledge,
    BackgroundTasks,
    Decline,
    FrameworkAction,
    Kill,
    Launch,
    Message,
    Reconcile,
    Revive,
    Suppress,
    SuppressionTracker,
    framework_info,
    reconcile_actions,
)
from dcos.sdk.offers import Fit, OfferPacker, TaskNeeds, pick_ports, task_info
from dcos.sdk.placement import Slot, Verdict, place
from dcos.sdk.scheduler import FrameworkScheduler, Scheduler
from dcos.sdk.types import Offer, TaskStatus

__all__ = [
    "DRIVER_ABORTED",
    "DRIVER_RUNNING",
    "DRIVER_STOPPED",
    "Accept",
    "Acknowledge",
    "BackgroundTasks",
    "CallRejected",
    "Decline",
    "DriverError",
    "Executor",
    "ExecutorCallRejected",
    "ExecutorDriver",
    "Fit",
    "FrameworkAction",
    "FrameworkScheduler",
    "Kill",
    "Launch",
    "Message",
    "NotConnected",
    "Offer",
    "OfferPacker",
    "Reconcile",
    "Revive",
    "Scheduler",
    "SchedulerDriver",
    "Slot",
    "Suppress",
    "SuppressionTracker",
    "TaskNeeds",
    "TaskStatus",
    "Verdict",
    "framework_info",
    "pick_ports",
    "place",
    "reconcile_actions",
    "task_info",
]
