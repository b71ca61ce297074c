"""Bookkeeping records of the hierarchical allocator (agents, frameworks, roles, filters).

Called by: `dcos.allocator.hierarchical` only. Plain mutable records; the allocator keeps
them consistent on every event so that `allocate(now)` never recomputes them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from dcos.allocator.interface import GPU_RESOURCES, MIN_ALLOCATABLE_CPUS, MIN_ALLOCATABLE_MEM
from dcos.allocator.sorter import DRFSorter, RandomSorter
from dcos.protocol.ids import AgentID, FrameworkID, Role
from dcos.protocol.resources import Resources

EMPTY = Resources.empty()


def allocatable(r: Resources) -> bool:
    """Mesos' minimum: an offer must carry cpus >= 0.01 or mem >= 32."""
    s = r.scalars
    return s.get("cpus", 0.0) >= MIN_ALLOCATABLE_CPUS or s.get("mem", 0.0) >= MIN_ALLOCATABLE_MEM


def total_of(chunks: list[Resources]) -> Resources:
    """Sum a list of allocation chunks (merged lazily; see `AgentState.alloc`)."""
    out = EMPTY
    for c in chunks:
        out = out + c
    return out


@dataclass(slots=True)
class Filter:
    """A refusal filter: the agent is skipped for the framework while what is available on
    it is contained in `refused` and now < `until`."""

    refused: Resources
    until: float


@dataclass(slots=True)
class AgentState:
    id: AgentID
    seq: int  # registration order: the base of the per-cycle shuffle
    total: Resources
    available: Resources
    active: bool = True
    gpus: bool = False
    # (framework, role) -> allocation chunks. Appending a chunk is O(1) on the hot path;
    # readers merge the chunks with `merged`.
    alloc: dict[tuple[FrameworkID, Role], list[Resources]] = field(default_factory=dict)
    filters: dict[FrameworkID, Filter] = field(default_factory=dict)
    reserved: Role | None = None  # statically reserved to this role: offered to it only

    def merged(self, key: tuple[FrameworkID, Role]) -> Resources:
        chunks = self.alloc.get(key)
        if not chunks:
            return EMPTY
        if len(chunks) > 1:
            chunks[:] = [total_of(chunks)]
        return chunks[0]

    def allocated_total(self) -> Resources:
        return total_of([self.merged(k) for k in list(self.alloc)])


@dataclass(slots=True)
class FrameworkState:
    id: FrameworkID
    roles: set[Role]
    suppressed: set[Role]
    capabilities: frozenset[str]
    active: bool = True
    tracked: set[Role] = field(default_factory=set)  # roles whose sorter holds this framework
    eligible: set[Role] = field(default_factory=set)  # roles where the sorter has it active
    filter_agents: set[AgentID] = field(default_factory=set)

    @property
    def gpu(self) -> bool:
        return GPU_RESOURCES in self.capabilities

    def wants_offers(self, role: Role) -> bool:
        return self.active and role in self.roles and role not in self.suppressed


@dataclass(slots=True)
class RoleState:
    name: Role
    sorter: DRFSorter | RandomSorter  # over the role's frameworks
    weight: float = 1.0
    quota: Resources | None = None
    eligible: int = 0  # frameworks active in `sorter`
    alloc: dict[str, float] = field(default_factory=dict)  # allocated scalars, if quota


def add_scalars(d: dict[str, float], r: Resources, sign: float) -> None:
    """d += sign * scalars(r), kept to three decimals and never below zero."""
    for k, v in r.scalars.items():
        x = round(d.get(k, 0.0) + sign * v, 3)
        if x > 0:
            d[k] = x
        else:
            d.pop(k, None)
