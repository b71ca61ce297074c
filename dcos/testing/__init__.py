"""dcos.testing: the harness for testing dcos-py components and framework schedulers.

- `SimClock`: simulated time (advance, settle, autojump) for cores and shells that take a
  clock; `wait_for(clock, aw, timeout)` is `asyncio.wait_for` on a clock's time.
- `ProcessCluster`: real master and agent processes on loopback, with faults (restart the
  master, restart or pause an agent), plus `free_port`, `free_port_range`, `pid_alive`,
  `get_json`, `QUICK_MASTER_FLAGS`, `kill_sandbox_processes` (`dcos.testing.processes`).
- Bounded polling: `wait_until`, `async_wait_until`, `eventually`, raising `WaitTimeout`
  (`dcos.testing.waiting`).
- `RecordingScheduler`: an SDK scheduler that launches queued commands, records every
  status update and waits for states without sleeping (`dcos.testing.scheduler`).
- Factories for Mesos v1 JSON: `make_agent_info`, `make_framework_info`, `make_offer`,
  `make_task_info`, `make_attributes`.
- `InProcessCluster`: a real master and N real agents on one event loop over loopback HTTP,
  with simulated tasks (`SimContainerizer`, `TaskPlan`, `always`) and fault injection (kill /
  restart an agent, restart the master with its registry kept, partition / heal an agent).
  See `dcos.testing.cluster` for a complete example.
"""

from dcos.common.clock import SimClock, wait_for
from dcos.testing.cluster import InProcessCluster
from dcos.testing.factories import (
    DEFAULT_AGENT_RESOURCES,
    make_agent_info,
    make_attributes,
    make_framework_info,
    make_offer,
    make_task_info,
)
from dcos.testing.processes import (
    QUICK_MASTER_FLAGS,
    ProcessCluster,
    free_port,
    free_port_range,
    get_json,
    kill_sandbox_processes,
    pid_alive,
)
from dcos.testing.scheduler import RecordingScheduler
from dcos.testing.sim import Behaviour, LinkProxy, SimContainerizer, TaskPlan, always
from dcos.testing.waiting import WaitTimeout, async_wait_until, eventually, wait_until

__all__ = [
    "DEFAULT_AGENT_RESOURCES",
    "QUICK_MASTER_FLAGS",
    "Behaviour",
    "InProcessCluster",
    "LinkProxy",
    "ProcessCluster",
    "RecordingScheduler",
    "SimClock",
    "SimContainerizer",
    "TaskPlan",
    "WaitTimeout",
    "always",
    "async_wait_until",
    "eventually",
    "free_port",
    "free_port_range",
    "get_json",
    "kill_sandbox_processes",
    "make_agent_info",
    "make_attributes",
    "make_framework_info",
    "make_offer",
    "make_task_info",
    "pid_alive",
    "wait_for",
    "wait_until",
]
