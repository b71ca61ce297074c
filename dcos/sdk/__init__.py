"""The dcos-py SDK for writing frameworks against the Mesos v1 scheduler HTTP API.

- `Scheduler`: subclass it; callbacks, async or plain (dcos/sdk/scheduler.py).
  `FrameworkScheduler` adds reconciliation on every (re)subscription and offer suppression.
- `SchedulerDriver`: subscribes, reconnects, acknowledges, sends calls; ``apply(actions)``
  carries out framework actions (dcos/sdk/driver.py); ``async with`` starts and stops it,
  ``wait_subscribed()`` waits for SUBSCRIBED. `DriverState`, `TaskState`: dcos/sdk/states.py.
  `Credentials` (HTTP basic authentication), ``ssl`` and ``session``: dcos/sdk/auth.py.
- The framework layer: actions `Launch`, `Accept`, `Decline`, `Kill`, `Suppress`, `Revive`,
  `Reconcile`, `Acknowledge`, `Message`; `framework_info`, `SuppressionTracker`,
  `reconcile_actions`, `BackgroundTasks` (dcos/sdk/framework.py).
- `Offer`, `TaskStatus`: the Mesos JSON dicts with typed accessors (dcos/sdk/types.py).
- Offer helpers: `OfferPacker`, `TaskNeeds`, `pick_ports`, `task_info` (dcos/sdk/offers.py);
  the placement chain (`Slot`, filters, `Verdict`, `place`) in dcos/sdk/placement.py.
- `Executor`, `ExecutorDriver`: custom executors over the v1 executor API (dcos/sdk/executor.py).

See docs/writing-a-framework.md.
"""

from dcos.sdk.auth import Credentials
from dcos.sdk.driver import SchedulerDriver
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
    OfferRef,
    Reconcile,
    Revive,
    Suppress,
    SuppressionTracker,
    TaskRef,
    framework_info,
    reconcile_actions,
)
from dcos.sdk.offers import Fit, OfferPacker, TaskNeeds, pick_ports, task_info
from dcos.sdk.placement import Slot, Verdict, place
from dcos.sdk.scheduler import FrameworkScheduler, Scheduler
from dcos.sdk.states import (
    DRIVER_ABORTED,
    DRIVER_NOT_STARTED,
    DRIVER_RUNNING,
    DRIVER_STOPPED,
    DriverState,
    TaskState,
)
from dcos.sdk.types import Offer, TaskStatus

__all__ = [
    "DRIVER_ABORTED",
    "DRIVER_NOT_STARTED",
    "DRIVER_RUNNING",
    "DRIVER_STOPPED",
    "Accept",
    "Acknowledge",
    "BackgroundTasks",
    "CallRejected",
    "Credentials",
    "Decline",
    "DriverError",
    "DriverState",
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
    "OfferRef",
    "Reconcile",
    "Revive",
    "Scheduler",
    "SchedulerDriver",
    "Slot",
    "Suppress",
    "SuppressionTracker",
    "TaskNeeds",
    "TaskRef",
    "TaskState",
    "TaskStatus",
    "Verdict",
    "framework_info",
    "pick_ports",
    "place",
    "reconcile_actions",
    "task_info",
]
