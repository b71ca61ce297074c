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
    placed = [a.value(fld) for a in task.placed]
    if op == "UNIQUE":
        return bad if value in placed else OK
    if op == "CLUSTER":
        target = arg if arg is not None else next((p for p in placed if p is not None), None)
        return OK if target is None or value == target else bad
    if op == "LIKE":
        return OK if _regex(arg or "").fullmatch(value) else bad
    if op == "IS":
        return OK if value == arg else bad
    if op == "MAX_PER":
        return OK if placed.count(value) < int(arg or 1) else bad
    if op == "GROUP_BY":
        counts = Counter(p for p in placed if p is not None)
        seen = {a.value(fld) for a in task.cluster.values()} | set(counts) | {value}
        known = {v for v in seen if v is not None}
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
        mine = sum(1 for a in task.placed if a.agent_id == slot.agent.agent_id)
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
