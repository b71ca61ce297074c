"""The master registry: what must survive a master restart, changed only by operations.

Holds admitted agents (with their AgentInfo and whether they are unreachable), removed
agent ids (refused if they come back), deactivated agent ids (no offers of them: the operator's
DEACTIVATE_AGENT), frameworks (their FrameworkInfo), completed framework
ids, role weights and quota. The master shell turns each registry change its core asks for
into an operation object (`AdmitAgent`, `MarkUnreachable`, `AddFramework`, ...) and hands
them to `Registrar.apply`, which applies them to a copy of the registry and writes the result
with one compare-and-set on the `StateStore`; a conflict means another master wrote the
registry (it leads now) and is raised, never retried.

The copy is shallow (copy-on-write): `Registry.copy` copies the top-level maps and lists,
and operations replace the entries they change instead of mutating them, so an apply costs
one serialisation of the result rather than a full decode of the stored blob (which made
registering 1,000 agents quadratic). Values handed in by operations are copied on the way
in (`_own`), so later changes by the caller never reach the registry.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

from dcos.state.store import StateStore

REGISTRY_KEY = "master/registry"
MAX_COMPLETED = 1000


@dataclass
class Registry:
    """Plain data; `agents[id]` = ``{"info": AgentInfo, "unreachable_time": float | None,
    "secret_hash": str | None}``."""

    agents: dict[str, dict[str, Any]] = field(default_factory=dict)
    removed_agents: list[str] = field(default_factory=list)
    frameworks: dict[str, dict[str, Any]] = field(default_factory=dict)
    completed_frameworks: list[str] = field(default_factory=list)
    weights: dict[str, float] = field(default_factory=dict)
    quota: dict[str, dict[str, Any]] = field(default_factory=dict)
    deactivated_agents: list[str] = field(default_factory=list)

    def to_bytes(self) -> bytes:
        return orjson.dumps(self)

    @classmethod
    def from_bytes(cls, data: bytes) -> Registry:
        d = orjson.loads(data)
        return cls(**{k: d[k] for k in cls.__dataclass_fields__ if k in d})

    def copy(self) -> Registry:
        """A shallow copy: new top-level containers sharing their (never mutated) entries."""
        return Registry(
            dict(self.agents),
            list(self.removed_agents),
            dict(self.frameworks),
            list(self.completed_frameworks),
            dict(self.weights),
            dict(self.quota),
            list(self.deactivated_agents),
        )


def _own(value: Any) -> Any:
    """A private deep copy of a JSON-shaped value handed in by an operation."""
    return orjson.loads(orjson.dumps(value))


class Operation:
    """One registry change; `apply` changes the registry copy it is given and says whether
    anything changed. It may replace entries of the top-level containers, never mutate
    an entry in place (the previous registry shares them)."""

    def apply(self, reg: Registry) -> bool:
        raise NotImplementedError


@dataclass(frozen=True)
class AdmitAgent(Operation):
    """The agent (re-)registered; `secret_hash` is the hash of the session secret the
    master handed it (`dcos.protocol.internal`), which it must show to re-register."""

    agent_id: str
    info: dict[str, Any]
    secret_hash: str | None = None

    def apply(self, reg: Registry) -> bool:
        if self.agent_id in reg.removed_agents:
            return False
        entry = {"info": self.info, "unreachable_time": None, "secret_hash": self.secret_hash}
        if reg.agents.get(self.agent_id) == entry:
            return False
        reg.agents[self.agent_id] = _own(entry)
        return True


@dataclass(frozen=True)
class MarkUnreachable(Operation):
    agent_id: str
    time: float

    def apply(self, reg: Registry) -> bool:
        entry = reg.agents.get(self.agent_id)
        if entry is None:
            return False
        reg.agents[self.agent_id] = {**entry, "unreachable_time": self.time}
        return True


@dataclass(frozen=True)
class MarkReachable(Operation):
    agent_id: str

    def apply(self, reg: Registry) -> bool:
        entry = reg.agents.get(self.agent_id)
        if entry is None or entry.get("unreachable_time") is None:
            return False
        reg.agents[self.agent_id] = {**entry, "unreachable_time": None}
        return True


@dataclass(frozen=True)
class RemoveAgent(Operation):
    """The agent is gone for good; it is refused if it tries to re-register."""

    agent_id: str

    def apply(self, reg: Registry) -> bool:
        reg.agents.pop(self.agent_id, None)
        if self.agent_id in reg.deactivated_agents:
            reg.deactivated_agents.remove(self.agent_id)
        if self.agent_id not in reg.removed_agents:
            reg.removed_agents.append(self.agent_id)
            del reg.removed_agents[:-MAX_COMPLETED]
        return True


@dataclass(frozen=True)
class DeactivateAgent(Operation):
    """The operator deactivated the agent (no offers of it until reactivated)."""

    agent_id: str

    def apply(self, reg: Registry) -> bool:
        if self.agent_id in reg.deactivated_agents or self.agent_id in reg.removed_agents:
            return False
        reg.deactivated_agents.append(self.agent_id)
        return True


@dataclass(frozen=True)
class ReactivateAgent(Operation):
    agent_id: str

    def apply(self, reg: Registry) -> bool:
        if self.agent_id not in reg.deactivated_agents:
            return False
        reg.deactivated_agents.remove(self.agent_id)
        return True


@dataclass(frozen=True)
class AddFramework(Operation):
    framework_id: str
    info: dict[str, Any]

    def apply(self, reg: Registry) -> bool:
        if reg.frameworks.get(self.framework_id) == self.info:
            return False
        reg.frameworks[self.framework_id] = _own(self.info)
        return True


@dataclass(frozen=True)
class RemoveFramework(Operation):
    """Torn down or failover timeout expired: the id moves to completed frameworks."""

    framework_id: str

    def apply(self, reg: Registry) -> bool:
        reg.frameworks.pop(self.framework_id, None)
        if self.framework_id not in reg.completed_frameworks:
            reg.completed_frameworks.append(self.framework_id)
            del reg.completed_frameworks[:-MAX_COMPLETED]
        return True


@dataclass(frozen=True)
class SetWeight(Operation):
    role: str
    weight: float

    def apply(self, reg: Registry) -> bool:
        reg.weights[self.role] = float(self.weight)
        return True


@dataclass(frozen=True)
class SetQuota(Operation):
    """`guarantee` is `Resources.to_dict()`; None removes the role's quota."""

    role: str
    guarantee: dict[str, Any] | None

    def apply(self, reg: Registry) -> bool:
        if self.guarantee is None:
            return self.role in reg.quota and reg.quota.pop(self.role) is not None
        reg.quota[self.role] = _own(self.guarantee)
        return True


class Registrar:
    """Reads and writes the registry on a `StateStore` with compare-and-set.

    Called by the master shell: `recover()` once at start, `apply(ops)` whenever the core
    asks for a registry change (the shell waits for it before acting on the change).
    """

    def __init__(self, store: StateStore, key: str = REGISTRY_KEY) -> None:
        self.store = store
        self.key = key
        self.registry = Registry()
        self._version = 0

    async def recover(self) -> Registry:
        got = await self.store.get(self.key)
        if got is None:
            self.registry, self._version = Registry(), 0
        else:
            self.registry, self._version = Registry.from_bytes(got.value), got.version
        return self.registry

    async def apply(self, ops: list[Operation]) -> Registry:
        """Apply `ops` in order and write the result with one compare-and-set.

        A `VersionConflict` is raised, never retried: the registry changed under us, which
        means another master wrote it (it leads now, or a fenced write found our election
        znode gone: `dcos.state.zookeeper.Fenced`), so this master must stop acting as leader
        rather than re-read and overwrite its successor's decisions. Nothing is changed here
        on a conflict (`registry` keeps the last state this master wrote)."""
        reg = self.registry.copy()
        changed = False
        for op in ops:
            changed = op.apply(reg) or changed
        if not changed:
            return self.registry
        self._version = await self.store.put(self.key, reg.to_bytes(), self._version)
        self.registry = reg
        return reg
