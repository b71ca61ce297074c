"""dcos.testing: the harness for testing dcos-py components and framework schedulers.

- `SimClock`: simulated time (advance, settle, autojump) for cores and shells that take a
  clock; `wait_for(clock, aw, timeout)` is `asyncio.wait_for` on a clock's time.
- `free_port()`: a free TCP port on 127.0.0.1 (`dcos.testing.processes`).
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
from dcos.testing.processes import free_port
from dcos.testing.sim import Behaviour, LinkProxy, SimContainerizer, TaskPlan, always

__all__ = [
    "DEFAULT_AGENT_RESOURCES",
    "Behaviour",
    "InProcessCluster",
    "LinkProxy",
    "SimClock",
    "SimContainerizer",
    "TaskPlan",
    "always",
    "free_port",
    "make_agent_info",
    "make_attributes",
    "make_framework_info",
    "make_offer",
    "make_task_info",
    "wait_for",
]
