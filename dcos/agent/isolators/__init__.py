"""The `Isolator` contract: hooks a containerizer calls around each container's life.

Every hook is a no-op by default (`NoopIsolator`). The real isolators are chosen by the agent
flag ``--isolation`` (Mesos' names): ``cgroups/cpu``, ``cgroups/mem``, ``cgroups/pids``
(`dcos.agent.isolators.cgroups`), ``disk/du`` (`.disk`), ``posix/rlimits`` (`.posix`) and
``gpu/nvidia`` (`.gpu`); `dcos.agent.isolators.select.build_isolators` builds them.

`ProcessContainerizer` calls, per container: `prepare` with its `ContainerConfig` before
spawning (it may return a `LaunchSpec`: cgroup.procs files the task joins, ``ulimit`` lines,
environment additions, data kept in the container's record, and the directories and control
writes the launcher makes first when the isolator's ``deferred_setup`` is set), `isolate` with
the task's pid right after, `watch` (a limitation ends the container), `check` once when the
container's main process has ended (a limitation that caused the end, such as an OOM kill),
`usage` for statistics, `update` on a resource change and `cleanup` when it is gone
(idempotent, safe for unknown ids). `kill` (optional) SIGKILLs every process accounted to
the container (a cgroup), beyond its process group. `recover` is called once at agent
start-up with the `RecoveredContainer`s the containerizer found still known.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from dcos.agent.containerizer import ContainerConfig
from dcos.protocol.ids import ContainerID
from dcos.protocol.resources import Resources


@dataclass(frozen=True)
class Limitation:
    """A limit a container hit (e.g. memory), which ends it with this reason and message."""

    reason: str
    message: str


class IsolationError(ValueError):
    """`prepare` cannot set the container up (e.g. no free GPU); the text says why.

    The containerizer turns it into a failed launch (TASK_FAILED, launch-failed reason).
    """


@dataclass
class LaunchSpec:
    """What an isolator asks of the launch wrapper, returned by `prepare`.

    `procs_files`: ``cgroup.procs`` files the wrapper writes its own pid into before it runs
    the task; `shell`: extra shell lines run first (``ulimit -d 65536``); `env`: variables
    added to the task's environment; `record`: JSON-able data kept in the container's
    runtime record under the isolator's name (given back to `recover`).
    """

    procs_files: list[str] = field(default_factory=list)
    shell: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    record: dict[str, Any] = field(default_factory=dict)
    # directories to create and (file, value) control writes to make, in order, before the
    # task is spawned: done by the task launcher (off the agent's loop) when the isolator
    # was told it may defer them (`deferred_setup`), else already done by `prepare`
    setup: list[tuple[str, list[tuple[str, str]]]] = field(default_factory=list)


@dataclass(frozen=True)
class RecoveredContainer:
    """A container of a previous agent run that is still known, given to `recover`.

    `record` is what this isolator put in `LaunchSpec.record` at launch; `alive` says
    whether its processes still run (False: recover only to clean it up).
    """

    container_id: ContainerID
    resources: Resources
    record: dict[str, Any]
    alive: bool = True
    sandbox: str = ""


class Isolator(Protocol):
    name: str

    async def recover(self, containers: list[Any]) -> None: ...

    async def prepare(
        self, container_id: ContainerID, config: ContainerConfig
    ) -> LaunchSpec | None:
        """Before the spawn; `config` has the container's resources and sandbox."""
        ...

    async def isolate(self, container_id: ContainerID, pid: int) -> None: ...

    async def watch(self, container_id: ContainerID) -> Limitation | None:
        """Wait for a limitation; None means this isolator watches nothing."""
        ...

    async def update(self, container_id: ContainerID, resources: Resources) -> None: ...

    async def usage(self, container_id: ContainerID) -> dict[str, float]: ...

    async def cleanup(self, container_id: ContainerID) -> None: ...


class NoopIsolator:
    """Every hook does nothing; the base for real isolators."""

    name = "posix/noop"

    async def recover(self, containers: list[Any]) -> None:
        return None

    async def prepare(
        self, container_id: ContainerID, config: ContainerConfig
    ) -> LaunchSpec | None:
        return None

    async def isolate(self, container_id: ContainerID, pid: int) -> None:
        return None

    async def watch(self, container_id: ContainerID) -> Limitation | None:
        return None

    def check(self, container_id: ContainerID) -> Limitation | None:
        """After the main process ended: the limitation that ended it, if any (no I/O wait)."""
        return None

    async def kill(self, container_id: ContainerID) -> None:
        """SIGKILL every process accounted to the container (beyond its process group)."""
        return None

    async def update(self, container_id: ContainerID, resources: Resources) -> None:
        return None

    async def usage(self, container_id: ContainerID) -> dict[str, float]:
        return {}

    async def cleanup(self, container_id: ContainerID) -> None:
        return None


class PosixIsolator(NoopIsolator):
    """Process-group isolation only: the containerizer's sessions do the work.

    Enforces no resource limit; its name says so (Mesos calls this pair posix/cpu,posix/mem,
    which only measure).
    """

    name = "posix/cpu,posix/mem"
