"""`MesosSide`: the driver as a Mesos framework (dcos.sdk) -- offers in, executors out.

Owned by `ClusterBackend`; its callbacks run on the driver loop. It carries out what the
`ExecutorPolicy` core decides, as the SDK's framework actions (``driver.apply``): launch
executors (one Mesos task each, run by the agent's command executor; `executor_task`),
decline surplus offers with a long filter, SUPPRESS and REVIVE (the SDK's
`SuppressionTracker`), kill released or lingering executors. On every re-subscription the
SDK's `FrameworkScheduler` reconciles the executors the policy knows. Executors whose task
ended or whose agent was lost are reported to the `ExecutorHost` (the backend).

Imports run one way: backend -> mesos -> executor_policy; the backend is seen only through
`ExecutorHost`.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterable
from typing import Any, Protocol

from dcos.common.clock import Clock
from dcos.protocol.ids import AgentID
from dcos.sdk import (
    Decline,
    FrameworkAction,
    FrameworkScheduler,
    Kill,
    Launch,
    Offer,
    SchedulerDriver,
    TaskStatus,
    framework_info,
    task_info,
)
from dcos.sdk.framework import TaskRef
from frameworks.batch.cluster.conf import ClusterConf
from frameworks.batch.cluster.executor_policy import ExecutorLaunch, ExecutorPolicy
from frameworks.batch.cluster.security import driver_credentials, driver_tls

log = logging.getLogger(__name__)


class ExecutorHost(Protocol):
    """What the Mesos side needs of the backend that owns it (`ClusterBackend`)."""

    def outstanding(self) -> int:
        """Tasks pending or running (the demand the policy sizes executors for)."""
        ...

    def executor_gone(self, eid: str, reason: str) -> None:
        """The executor's Mesos task ended or its agent was lost."""
        ...


class MesosSide(FrameworkScheduler):
    """The SDK scheduler of one batch driver. `driver_address` is the ``host:port``
    executors connect back to; `webui_url` the job page."""

    def __init__(
        self,
        host: ExecutorHost,
        policy: ExecutorPolicy,
        conf: ClusterConf,
        *,
        app_name: str,
        app_id: str,
        master: str,
        webui_url: str,
        driver_address: str,
        clock: Clock,
    ) -> None:
        super().__init__()
        self.host = host
        self.policy = policy
        self.conf = conf
        self.app_id = app_id
        self.master = master
        self.driver_address = driver_address
        self.clock = clock
        self.last_problem = ""
        info = framework_info(
            f"batch: {app_name}",
            roles=[conf.role] if conf.role else None,
            webui_url=webui_url,
            labels={"DCOS_PY_BATCH_APP": app_id},
        )
        # The failover timeout lets the driver re-subscribe after a master failover (a new
        # leader starts it for every framework); a driver that dies takes its executors
        # with it anyway (they exit when their connection to it ends), and `stop` TEARs DOWN.
        # `master` is an address or a zk:// URL (the SDK driver follows the leader).
        # Security on: the master's CA from DCOS_CA_FILE, Basic credentials from the conf
        # (the dispatcher's drivers: principal batch-driver, secret in a sandbox file).
        self.tls = driver_tls()
        self.credentials = driver_credentials(conf.mesos_auth)
        self.driver = SchedulerDriver(self, info, master, failover_timeout=conf.failover_timeout,
                                      clock=clock, ssl=self.tls, credentials=self.credentials)

    @property
    def framework_id(self) -> str | None:
        return self.driver.framework_id

    async def start(self) -> None:
        await self.driver.start()

    async def stop(self) -> None:
        await self.driver.stop()

    # ---- calls the backend makes ------------------------------------------------------------

    def more_wanted(self) -> None:
        """Work arrived or an executor was lost: REVIVE when offers are suppressed and the
        policy wants more executors. Called by the backend on every submit, so it is cheap
        while offers are not suppressed."""
        if self.suppression.suppressed and self.policy.wants_offers(self.host.outstanding()):
            self.driver.apply_soon(self.suppression.update(True))

    def kill(self, executor_id: str, agent_id: str) -> None:
        self.driver.apply_soon([Kill(executor_id, agent_id)])

    # ---- scheduler callbacks ---------------------------------------------------------------

    def known_tasks(self) -> Iterable[TaskRef]:
        """The executors to reconcile after a re-subscription."""
        return [(eid, rec.agent_id) for eid, rec in self.policy.executors.items()]

    async def subscribed(self, driver: SchedulerDriver, first: bool) -> None:
        if first:
            log.info(
                "batch driver %s registered as framework %s", self.app_id, driver.framework_id
            )

    async def resource_offers(self, driver: SchedulerDriver, offers: list[Offer]) -> None:
        outstanding = self.host.outstanding()
        decision = self.policy.on_offers(offers, outstanding, self.clock.time())
        actions: list[FrameworkAction] = [
            Launch([x.offer.id], [self.executor_task(x)], refuse_seconds=1)
            for x in decision.launch
        ]
        if decision.decline:
            for offer in decision.decline:
                why = decision.unfit.get(offer.id)
                if why:
                    self.last_problem = f"offer from {offer.hostname}: {why}"
            ids = [o.id for o in decision.decline]
            actions.append(Decline(ids, refuse_seconds=decision.refuse_seconds))
        actions += self.suppression.update(self.policy.wants_offers(outstanding))
        await driver.apply(actions)

    async def status_update(self, driver: SchedulerDriver, status: TaskStatus) -> None:
        if status.terminal:
            reason = f"{status.state} {status.reason or ''} {status.message}".strip()
            if status.state != "TASK_FINISHED":
                self.last_problem = f"executor {status.task_id}: {reason}"
            self.host.executor_gone(status.task_id, f"executor task ended: {reason}")

    async def agent_lost(self, driver: SchedulerDriver, agent_id: AgentID) -> None:
        for eid in self.policy.agent_lost(agent_id):
            self.host.executor_gone(eid, f"agent {agent_id} lost")

    async def error(self, driver: SchedulerDriver, message: str) -> None:
        self.last_problem = f"master error: {message}"
        log.error("master error: %s", message)

    # ---- executor tasks ----------------------------------------------------------------------

    def executor_task(self, launch: ExecutorLaunch) -> dict[str, Any]:
        """The TaskInfo of one executor, with the resources the policy took from its offer."""
        eid, offer = launch.executor_id, launch.offer
        argv = executor_command(
            self.conf, eid, offer.hostname, self.driver_address, self.policy.executors[eid].slots
        )
        return task_info(
            name=f"{self.app_id} executor",
            task_id=eid,
            agent_id=offer.agent_id,
            command={"value": argv[0], "arguments": argv, "shell": False},
            resources=launch.fit.resources,
            environment=executor_env(self.conf),
            kill_grace_period=2.0,
        )


def executor_command(
    conf: ClusterConf, eid: str, hostname: str, driver_address: str, slots: int
) -> list[str]:
    """The command line of an executor task (see `frameworks.batch.cluster.executor`); its
    task slots follow the cpus the executor policy gave it."""
    return [
        conf.python or sys.executable,
        "-m",
        "frameworks.batch.cluster.executor",
        "--driver",
        driver_address,
        "--executor-id",
        eid,
        "--host",
        hostname,
        "--cores",
        str(slots),
        "--memory-mb",
        f"{conf.spec.mem_mb:g}",
    ]


def executor_env(conf: ClusterConf) -> dict[str, str]:
    """The environment of executor tasks: ``spark.executorEnv.*``, and with
    ``spark.dcos.forwardPythonPath`` a PYTHONPATH of the driver's source directories."""
    env = dict(conf.executor_env)
    if conf.forward_python_path and "PYTHONPATH" not in env:
        dirs = [
            p
            for p in sys.path
            if p
            and os.path.isdir(p)
            and "site-packages" not in p
            and not p.startswith(sys.base_prefix)
        ]
        env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys([os.getcwd(), *dirs]))
    return env
