"""`InProcessCluster`: a real master and N real agents on one event loop, over loopback HTTP.

For framework authors and for our own tests: the master (`dcos.master.app.start_master`,
SQLite registry in a work directory) and the agents (`dcos.agent.agent.Agent`) are the real
components talking real HTTP on ephemeral loopback ports; only the tasks are simulated (a
`SimContainerizer`: no processes). Point a `SchedulerDriver` at `cluster.url`::

    from dcos.testing import InProcessCluster, always

    async def test_my_framework_runs_its_tasks():
        async with InProcessCluster(agents=3, behaviour=always(run_for=0.1)) as cluster:
            scheduler = MyScheduler()
            driver = cluster.scheduler_driver(scheduler, {"name": "mine"})  # on cluster.clock
            await driver.start()
            await asyncio.wait_for(scheduler.all_finished.wait(), 10)
            await cluster.restart_master()        # the registry in the work dir survives
            await cluster.kill_agent(0)           # abrupt: its tasks vanish with it
            await driver.stop()

Fault injection: `kill_agent(i)` (the agent stops at once: its stream to the master ends, its
tasks are gone), `restart_agent(i)` (a fresh agent on the same address and work dir;
without checkpoint recovery the master treats its old tasks as lost), `restart_master()`
(same port and work dir: agents re-register with their tasks, frameworks re-subscribe),
and with ``faults=True`` `partition_agent(i)` / `heal_agent(i)` (a proxy between the agent
and the master drops the agent's connections, so the master sees it vanish and, after the
ping timeouts, marks it unreachable; healed, it re-registers with its tasks). Tasks end on
their own per the `behaviour` (see `dcos.testing.sim`), or when a test calls
`finish_task(task_id, exit_code)`.

Time: pass ``clock=SimClock(autojump=True)`` and the master, the agents, the simulated tasks
and drivers made by `scheduler_driver` all run on simulated time that jumps from timer to
timer whenever everything waits (minutes of cluster time in milliseconds).
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import tempfile
from collections.abc import Callable
from typing import Any

import aiohttp

from dcos.agent.agent import Agent
from dcos.agent.config import AgentConfig
from dcos.common.clock import Clock, RealClock
from dcos.master.app import RunningMaster, start_master
from dcos.master.config import MasterConfig
from dcos.master.core import MasterCore
from dcos.sdk import SchedulerDriver
from dcos.testing.factories import DEFAULT_AGENT_RESOURCES
from dcos.testing.sim import Behaviour, LinkProxy, SimContainerizer
from dcos.testing.waiting import async_wait_until

log = logging.getLogger(__name__)

__all__ = ["InProcessCluster"]


class InProcessCluster:
    """A master and `agents` agents on the running event loop (see the module docstring).

    `agent_resources` is one resource string for all agents or one per agent;
    `agent_attributes` likewise (``"rack:r1;zone:a"``). `master_options` are `MasterConfig`
    fields (e.g. ``{"agent_ping_timeout": 0.2, "max_agent_ping_timeouts": 2}`` to make lost
    agents show quickly); `agent_options` `AgentConfig` fields. `work_dir` (a temporary
    directory by default, removed by `stop`) holds the master's SQLite registry and the
    agents' work dirs. `agent_http` serves each agent's own HTTP API (off: faster start).
    `faults` puts a `LinkProxy` between each agent and the master (`partition_agent`).
    """

    def __init__(
        self,
        agents: int = 2,
        *,
        agent_resources: str | list[str] = DEFAULT_AGENT_RESOURCES,
        agent_attributes: str | list[str | None] | None = None,
        behaviour: Behaviour | None = None,
        master_options: dict[str, Any] | None = None,
        agent_options: dict[str, Any] | None = None,
        work_dir: str | None = None,
        agent_http: bool = True,
        faults: bool = False,
        clock: Clock | None = None,
        start_timeout: float = 10.0,
    ) -> None:
        self.n_agents = agents
        self._resources = _per_agent(agent_resources, agents)
        self._attributes = _per_agent(agent_attributes, agents)
        self.behaviour = behaviour
        self.master_options = {"allocation_interval": 0.05, **(master_options or {})}
        # simulated tasks cannot outlive their agent: no checkpointing unless asked for
        self.agent_options = {"reconnect_max": 0.5, "status_update_retry": 1.0,
                              "checkpoint": False, **(agent_options or {})}  # fmt: skip
        self._own_work_dir = work_dir is None
        self.work_dir = work_dir or tempfile.mkdtemp(prefix="dcos-cluster-")
        self.agent_http = agent_http
        self.faults = faults
        self.clock: Clock = clock or RealClock()
        self.start_timeout = start_timeout
        self.master: RunningMaster | None = None
        self.agents: list[Agent | None] = [None] * agents
        self.containerizers: list[SimContainerizer] = [
            SimContainerizer(self.clock, behaviour) for _ in range(agents)
        ]
        self.proxies: list[LinkProxy | None] = [None] * agents
        self._agent_ports: list[int] = [0] * agents
        self._port = 0
        self._session: aiohttp.ClientSession | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    async def __aenter__(self) -> InProcessCluster:
        try:
            await self.start()
        except BaseException:
            await self.stop()
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start(self) -> None:
        """Start the master, then every agent; returns once all agents are registered."""
        await self._start_master()
        self._session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
        await asyncio.gather(*(self.start_agent(i, wait=False) for i in range(self.n_agents)))
        await self.wait_for_agents()

    async def stop(self) -> None:
        """Stop every agent (their tasks are killed), the master and the proxies; remove a
        temporary work dir."""
        await asyncio.gather(
            *(self.kill_agent(i) for i in range(self.n_agents) if self.agents[i] is not None),
            return_exceptions=True,
        )
        for proxy in self.proxies:
            if proxy is not None:
                await proxy.stop()
        self.proxies = [None] * self.n_agents
        if self.master is not None:
            await self.master.stop()
            self.master = None
        if self._session is not None:
            await self._session.close()
            self._session = None
        if self._own_work_dir:
            shutil.rmtree(self.work_dir, ignore_errors=True)

    # -- addresses and views ----------------------------------------------------------------

    @property
    def url(self) -> str:
        """The master's URL (``http://127.0.0.1:<port>``), for a `SchedulerDriver`."""
        return f"http://127.0.0.1:{self._port}"

    @property
    def address(self) -> str:
        """The master's ``host:port``."""
        return f"127.0.0.1:{self._port}"

    @property
    def core(self) -> MasterCore:
        """The running master's sans-IO core (read it; do not change it)."""
        assert self.master is not None, "the master is not running"
        return self.master.shell.core

    def scheduler_driver(
        self, scheduler: object, framework_info: dict[str, Any], **options: Any
    ) -> SchedulerDriver:
        """A `SchedulerDriver` for `scheduler` pointed at this cluster's master and running on
        the cluster's clock (so a `SimClock` drives the framework's timers too); `options`
        are the driver's keyword arguments. Not started: ``await driver.start()``."""
        options.setdefault("clock", self.clock)
        return SchedulerDriver(scheduler, framework_info, self.url, **options)

    def agent_id(self, i: int) -> str | None:
        agent = self.agents[i]
        return agent.core.agent_id if agent is not None else None

    # -- master ------------------------------------------------------------------------------

    async def _start_master(self) -> None:
        config = MasterConfig(ip="127.0.0.1", port=self._port,
                              work_dir=f"{self.work_dir}/master", **self.master_options)  # fmt: skip
        self.master = await start_master(config, clock=self.clock)
        self._port = self.master.port

    async def restart_master(self, *, wait: bool = True) -> None:
        """Stop the master and start a new one on the same port with the same work dir (the
        SQLite registry is kept). With `wait`, returns once every live agent re-registered."""
        if self.master is not None:
            await self.master.stop()
            self.master = None
        await self._start_master()
        if wait:
            await self.wait_for_agents()

    async def wait_for_agents(self, timeout: float | None = None) -> None:
        """Wait until the master lists every live (not partitioned) agent as connected."""

        def ready() -> bool:
            if self.master is None:
                return False
            for i, agent in enumerate(self.agents):
                proxy = self.proxies[i]
                if agent is None or (proxy is not None and proxy.blocked):
                    continue
                aid = agent.core.agent_id
                rec = (
                    self.core.agents.get(aid) if aid is not None and agent.core.registered else None
                )
                if rec is None or not rec.connected:
                    return False
            return True

        await self.wait_until(ready, timeout or self.start_timeout, "agents to register")

    async def wait_until(
        self, predicate: Callable[[], bool], timeout: float = 10.0, what: str = "a condition"
    ) -> None:
        """Poll `predicate` every 5 ms (of the cluster's clock when it is an autojumping
        `SimClock`, else real time) until true; `WaitTimeout` (a TimeoutError) naming
        `what` after `timeout` real seconds."""
        await async_wait_until(predicate, what, timeout, interval=0.005, clock=self.clock)

    # -- agents ------------------------------------------------------------------------------

    async def start_agent(self, i: int, *, wait: bool = True) -> Agent:
        """Start agent `i` (again after `kill_agent`: same address and work dir, no containers)."""
        if self.agents[i] is not None:
            raise RuntimeError(f"agent {i} is running")
        master = self.address
        if self.faults:
            if self.proxies[i] is None:
                proxy = LinkProxy("127.0.0.1", self._port)
                await proxy.start()
                self.proxies[i] = proxy
            master = f"127.0.0.1:{self.proxies[i].port}"  # type: ignore[union-attr]
        config = AgentConfig(
            master=master, ip="127.0.0.1", port=self._agent_ports[i] if self.agent_http else 0,
            hostname=f"agent-{i}", work_dir=f"{self.work_dir}/agent-{i}",
            resources=self._resources[i], attributes=self._attributes[i],
            serve_http=self.agent_http, detect=False, **self.agent_options,
        )  # fmt: skip
        if not self.agent_http:
            config.port = 40000 + i  # a unique address the master tells agents apart by
        agent = Agent(config, self.containerizers[i], self.clock, self._session)
        await agent.start()
        self._agent_ports[i] = agent.core.info.port
        self.agents[i] = agent
        if wait:
            await self.wait_for_agents()
        return agent

    async def kill_agent(self, i: int) -> None:
        """Stop agent `i` at once: its stream ends, its simulated tasks are gone (no status
        update reaches the master: the agent's loops stop before its tasks are killed)."""
        agent = self.agents[i]
        if agent is None:
            return
        self.agents[i] = None
        self.containerizers[i].cancel_timers()
        await agent.stop()
        # a restarted agent starts with no containers (nothing survives a crash)
        self.containerizers[i] = SimContainerizer(self.clock, self.behaviour)

    async def restart_agent(self, i: int, *, wait: bool = True) -> Agent:
        """`kill_agent(i)` then `start_agent(i)`: a fresh agent at the same address."""
        await self.kill_agent(i)
        return await self.start_agent(i, wait=wait)

    def partition_agent(self, i: int) -> None:
        """Cut agent `i` off from the master (needs ``faults=True``)."""
        proxy = self.proxies[i]
        if proxy is None:
            raise RuntimeError("partition_agent needs InProcessCluster(faults=True)")
        proxy.partition()

    def heal_agent(self, i: int) -> None:
        """Let agent `i` reach the master again; it re-registers with its tasks."""
        proxy = self.proxies[i]
        if proxy is None:
            raise RuntimeError("heal_agent needs InProcessCluster(faults=True)")
        proxy.heal()

    # -- tasks -------------------------------------------------------------------------------

    def find_task(self, task_id: str) -> tuple[int, str] | None:
        """(agent index, container id) of the live container running `task_id`."""
        for i, c in enumerate(self.containerizers):
            if self.agents[i] is None:
                continue
            cid = c.container_of(task_id)
            if cid is not None:
                return i, cid
        return None

    def finish_task(self, task_id: str, exit_code: int = 0) -> bool:
        """End a running simulated task with `exit_code`; False if no agent runs it."""
        found = self.find_task(task_id)
        if found is None:
            return False
        i, cid = found
        self.containerizers[i].finish(cid, exit_code)  # type: ignore[arg-type]
        return True

    def running_tasks(self) -> list[str]:
        """Ids of the tasks whose simulated containers are alive, on every live agent."""
        out = []
        for i, c in enumerate(self.containerizers):
            if self.agents[i] is None:
                continue
            live = c.containers()
            out += [cfg.task_id for cid, cfg in c.configs.items() if cid in live]
        return out


def _per_agent(value: Any, n: int) -> list[Any]:
    if isinstance(value, list):
        if len(value) != n:
            raise ValueError(f"expected {n} per-agent values, got {len(value)}")
        return list(value)
    return [value] * n
