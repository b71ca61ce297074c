"""After an agent restart (sans-IO): what each recovered container's task becomes.

`Recovery` is part of `dcos.agent.core.AgentCore`, which hands it the `Reattach` event: the
containers the checkpoint named (`dcos.agent.recovery.restore` put their records back) and
what the containerizer found of each. A reattached task is watched again (`Watch`; destroyed
first when its kill had been asked); one whose container ended meanwhile gets its terminal
update with the real exit status; one whose container is unknown fails. A live custom
executor waits again (REGISTERING, with the registration timeout) for its re-SUBSCRIBE.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

from dcos.agent.containerizer import ContainerConfig, LaunchResult, Termination
from dcos.agent.core.actions import Action, Destroy, Wake, Watch
from dcos.agent.core.events import ContainerExited, ContainerLaunched
from dcos.agent.core.ledger import TaskLedger
from dcos.agent.core.model import (
    LAUNCHING,
    REGISTERING,
    RUNNING,
    TERMINATING,
    ExecutorRecord,
    TaskRecord,
)
from dcos.agent.core.supervisor import ExecutorSupervisor
from dcos.protocol.ids import ContainerID

log = logging.getLogger(__name__)

UNKNOWN_CONTAINER = "The task's container was not found when the agent recovered"
_UNKNOWN = Termination(message=UNKNOWN_CONTAINER)


class Recovery:
    def __init__(self, ledger: TaskLedger, supervisor: ExecutorSupervisor,
                 launched: Callable[[ContainerLaunched, float], list[Action]],
                 exited: Callable[[ContainerExited, float], list[Action]]) -> None:  # fmt: skip
        """`launched` / `exited`: the core's handling of those container outcomes."""
        self.ledger = ledger
        self.supervisor = supervisor
        self._launched = launched
        self._exited = exited

    def reattach(
        self,
        expected: Mapping[ContainerID, ContainerConfig],
        outcomes: Mapping[ContainerID, Termination | None] | None,
        now: float,
    ) -> list[Action]:
        """Decide each recovered task's fate from the containerizer's `outcomes`."""
        actions: list[Action] = []
        found = outcomes or {}
        if outcomes is None and expected:
            log.warning("the containerizer cannot recover containers; their tasks are lost")
        for cid in expected:
            ex = self.supervisor.by_container.get(cid)
            if ex is not None:
                actions += self._executor(ex, found.get(cid, _UNKNOWN), now)
                continue
            rec = self.ledger.by_container.get(cid)
            if rec is None:
                continue
            if cid in found and found[cid] is None:
                actions += self._reattached(rec, now)
                continue
            term = found.get(cid) or _UNKNOWN
            log.info("task %s ended while the agent was down (%s)", rec.task_id, term)
            actions += self._exited(ContainerExited(cid, term), now)
        return actions

    def _executor(self, ex: ExecutorRecord, term: Termination | None,
                  now: float) -> list[Action]:  # fmt: skip
        """A custom executor's container: still running (wait for it to re-subscribe), or
        ended while the agent was down (its unfinished tasks end with its exit status)."""
        if term is not None:
            log.info("executor %s ended while the agent was down (%s)", ex.executor_id, term)
            return self._exited(ContainerExited(ex.container_id, term), now)
        log.info("executor %s of %s is still running (container %s); waiting for it to "
                 "re-subscribe", ex.executor_id, ex.framework_id, ex.container_id)  # fmt: skip
        actions: list[Action] = [Watch(ex.container_id)]
        if ex.state == LAUNCHING or not ex.launched:
            return self.supervisor.launched(ex, LaunchResult(True), now) + actions
        if ex.state == TERMINATING:
            return [Destroy(ex.container_id, 0.0), *actions]
        if ex.state in (RUNNING, REGISTERING):
            ex.state = REGISTERING
            ex.registration_deadline = now + self.supervisor.registration_timeout
            actions.append(Wake(ex.registration_deadline))
        return actions

    def _reattached(self, rec: TaskRecord, now: float) -> list[Action]:
        cid = rec.container_id
        log.info("task %s of %s is still running (container %s)", rec.task_id,
                 rec.framework_id, cid)  # fmt: skip
        if not rec.launched:  # the previous run died while launching it
            actions = self._launched(ContainerLaunched(cid, LaunchResult(True)), now)
        elif rec.kill_requested:
            actions = [Destroy(cid, rec.grace)]
        else:
            actions = []
        return [*actions, Watch(cid)]
