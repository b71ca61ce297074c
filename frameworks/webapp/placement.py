"""Placement of webapp tasks: Marathon's constraints on top of the SDK's placement chain.

Called by the core (`Fleet.offers`, fleet.py) with the offers of one callback and the apps that
wait for tasks. The generic parts come from `dcos.sdk.placement`: each offer is a `Slot` (the
`Offer`, its `AgentView` and an `OfferPacker` that shrinks as tasks are packed into it), the
`RoleFilter` and `ResourceFilter`, `Verdict(ok, reason, code)` (`code` being Marathon's
``NoOfferMatchReason`` name such as ``InsufficientCpus`` or ``UnfulfilledConstraint``) and the
chain runner. This module adds what is Marathon's: a task is a `TaskRequest` (an app's needs,
constraints and where its instances already run), the `ConstraintFilter`, and the
`SpreadScorer` (spread instances of an app over agents first, then the emptiest agent).
`place` returns the placements and, for an app left unplaced, the verdict of every slot,
which the launch queue turns into "why not placed" sentences.

Constraint semantics follow Marathon: the field is ``hostname`` (or ``@hostname``),
``@region``/``@zone`` or an agent attribute; an agent without the attribute matches only
``UNLIKE``. ``UNIQUE``, ``CLUSTER [value]``, ``GROUP_BY [n]``, ``LIKE re``, ``UNLIKE re``,
``MAX_PER n``, ``IS value``.

Limitation: ``acceptedResourceRoles`` decides whether an offer is usable (it must hold
resources of an accepted role); the packer then takes from the whole offer, reserved first.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property, lru_cache

from dcos.protocol.resources import Resources
from dcos.sdk import TaskNeeds
from dcos.sdk import placement as chain
from dcos.sdk.placement import (
    OK,
    AgentView,
    Filter,
    Placement,
    PlaceResult,
    ResourceFilter,
    RoleFilter,
    Slot,
    Verdict,
)


@dataclass
class TaskRequest:
    """One task of an app to place. `placed` lists the agents of the app's live instances
    (including those placed earlier in this round); `cluster` every agent seen lately."""

    app_id: str
    cpus: float
    mem: float
    disk: float = 0.0
    gpus: int = 0
    port_count: int = 0
    fixed_ports: tuple[int, ...] = ()
    roles: tuple[str, ...] | None = None
    constraints: Sequence[Sequence[str]] = ()
    placed: list[AgentView] = field(default_factory=list)
    cluster: Mapping[str, AgentView] = field(default_factory=dict)
    # counts over `placed`, brought up to date as it grows (`placed` only ever grows: `place`
    # appends), so a check costs O(1) however many copies were placed: fit asks for thousands
    _counted: int = field(default=0, init=False, repr=False, compare=False)
    _per_agent: Counter[str] = field(default_factory=Counter, init=False, repr=False, compare=False)
    _per_value: dict[str, Counter[str | None]] = field(default_factory=dict, init=False, repr=False,
                                                       compare=False)  # fmt: skip
    _first: dict[str, str] = field(default_factory=dict, init=False, repr=False, compare=False)
    _cluster_values: dict[str, frozenset[str]] = field(default_factory=dict, init=False, repr=False,
                                                        compare=False)  # fmt: skip

    def _catch_up(self) -> None:
        placed = self.placed
        if self._counted > len(placed):  # replaced by a shorter list: count again
            self._counted = 0
            self._per_agent.clear()
            self._per_value.clear()
            self._first.clear()
        for a in placed[self._counted :]:
            self._per_agent[a.agent_id] += 1
            for fld, counts in self._per_value.items():
                self._count_value(fld, counts, a)
        self._counted = len(placed)

    def _count_value(self, fld: str, counts: Counter[str | None], a: AgentView) -> None:
        v = a.value(fld)
        counts[v] += 1
        if v is not None:
            self._first.setdefault(fld, v)

    def copies_on(self, agent_id: str) -> int:
        """How many of `placed` are on agent `agent_id`."""
        self._catch_up()
        return self._per_agent[agent_id]

    def value_counts(self, fld: str) -> Counter[str | None]:
        """How many of `placed` have each value of `fld` (None: agents without it)."""
        self._catch_up()
        counts = self._per_value.get(fld)
        if counts is None:
            counts = self._per_value[fld] = Counter()
            for a in self.placed:
                self._count_value(fld, counts, a)
        return counts

    def cluster_values(self, fld: str) -> frozenset[str]:
        """The `fld` values of the agents in `cluster` (read once per request: the cluster
        does not change while one request is placed)."""
        got = self._cluster_values.get(fld)
        if got is None:
            values = (a.value(fld) for a in self.cluster.values())
            got = self._cluster_values[fld] = frozenset(v for v in values if v is not None)
        return got

    def first_value(self, fld: str) -> str | None:
        """The `fld` value of the first of `placed` that has one (``CLUSTER``'s target)."""
        self.value_counts(fld)
        return self._first.get(fld)

    @cached_property
    def needs(self) -> TaskNeeds:
        """The resources of one task (fixed ports replace the port count), and its roles."""
        text = f"cpus:{self.cpus};mem:{self.mem}"
        if self.disk:
            text += f";disk:{self.disk}"
        if self.gpus:
            text += f";gpus:{self.gpus}"
        res = Resources.parse(text)
        if self.fixed_ports:
            res = res + Resources(ranges={"ports": tuple((p, p) for p in sorted(self.fixed_ports))})
            return TaskNeeds(res, 0, self.roles)
        return TaskNeeds(res, self.port_count, self.roles)


@lru_cache(maxsize=512)
def _regex(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def constraint_verdict(con: Sequence[str], agent: AgentView, task: TaskRequest) -> Verdict:
    """Whether `agent` satisfies one constraint given where the app's instances already are."""
    fld, op = con[0], con[1]
    arg = con[2] if len(con) > 2 else None
    value = agent.value(fld)
    name = ":".join(con)
    bad = Verdict(False, f"{agent.hostname}: {name}", "UnfulfilledConstraint")
    if op == "UNLIKE":
        return OK if value is None or not _regex(arg or "").fullmatch(value) else bad
    if value is None:
        return Verdict(False, f"{agent.hostname}: has no {fld} for {name}", "UnfulfilledConstraint")
    placed = task.value_counts(fld)
    if op == "UNIQUE":
        return bad if placed[value] else OK
    if op == "CLUSTER":
        target = arg if arg is not None else task.first_value(fld)
        return OK if target is None or value == target else bad
    if op == "LIKE":
        return OK if _regex(arg or "").fullmatch(value) else bad
    if op == "IS":
        return OK if value == arg else bad
    if op == "MAX_PER":
        return OK if placed[value] < int(arg or 1) else bad
    if op == "GROUP_BY":
        counts = {v: n for v, n in placed.items() if v is not None and n}
        known = task.cluster_values(fld) | set(counts) | {value}
        expected = int(arg) if arg else 0
        floor = 0 if len(known) < expected else min(counts.get(v, 0) for v in known)
        return OK if counts.get(value, 0) <= floor else bad
    return bad


class ConstraintFilter:
    """Every constraint of the app holds on the slot's agent (not lasting: whether it holds
    changes as copies are placed)."""

    def check(self, slot: Slot, task: TaskRequest) -> Verdict:
        for con in task.constraints:
            v = constraint_verdict(con, slot.agent, task)
            if not v.ok:
                return v
        return OK


DEFAULT_FILTERS: tuple[Filter[TaskRequest], ...] = (
    RoleFilter(),
    ResourceFilter(),
    ConstraintFilter(),
)


class SpreadScorer:
    """Higher is better: fewer instances of the app on the agent, then more free cpus."""

    def score(self, slot: Slot, task: TaskRequest) -> float:
        mine = task.copies_on(slot.agent.agent_id)
        return -mine * 1000.0 + slot.left.scalar("cpus")


def check(
    slot: Slot, task: TaskRequest, filters: Sequence[Filter[TaskRequest]] = DEFAULT_FILTERS
) -> Verdict:
    return chain.check(slot, task, filters)


def place(
    slots: Sequence[Slot],
    task: TaskRequest,
    count: int,
    filters: Sequence[Filter[TaskRequest]] = DEFAULT_FILTERS,
    scorer: SpreadScorer | None = None,
) -> PlaceResult:
    """Place up to `count` copies of `task` on `slots` (packing them; `task.placed` grows
    with every placement). Stops at the first copy no slot can take and reports each slot's
    verdict for it."""
    return chain.place(slots, task, count, filters, scorer or SpreadScorer(),
                       on_placed=lambda slot: task.placed.append(slot.agent))  # fmt: skip


__all__ = [
    "OK", "AgentView", "ConstraintFilter", "PlaceResult", "Placement", "Slot", "SpreadScorer",
    "TaskRequest", "Verdict", "check", "constraint_verdict", "place",
]  # fmt: skip
