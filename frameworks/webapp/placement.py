"""Placement (pure): which offer each new task goes to, and why the others were refused.

Called by the core (`WebappCore.offers`) with the offers of one callback and the apps that
wait for tasks. Each offer is a `Slot` (the `Offer` plus an `OfferPacker` that shrinks as
tasks are packed into it). A task is a `TaskRequest`. The chain of `Filter`s says whether a
slot can take the task (`Verdict(ok, code, reason)`, `code` being Marathon's
``NoOfferMatchReason`` name such as ``InsufficientCpus`` or ``UnfulfilledConstraint``); the
`Scorer` orders the slots that pass (spread instances of an app over agents first, then the
emptiest agent). `place` returns the placements and, for an app left unplaced, the verdict of
every slot, which the launch queue turns into "why not placed" sentences.

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
from functools import lru_cache
from typing import Any, Protocol

from dcos.protocol.resources import Resources
from dcos.sdk import Offer, OfferPacker, TaskNeeds
from dcos.sdk.offers import Fit


@dataclass(frozen=True)
class AgentView:
    """What constraints look at: an agent's id, hostname and attributes (as strings)."""

    agent_id: str
    hostname: str
    attributes: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, offer: Offer) -> AgentView:
        attrs = {k: _attr_str(v) for k, v in offer.attributes.items()}
        return cls(offer.agent_id, offer.hostname, attrs)

    def value(self, fld: str) -> str | None:
        if fld in ("hostname", "@hostname"):
            return self.hostname
        if fld.startswith("@"):
            fld = fld[1:]
        return self.attributes.get(fld)


def _attr_str(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:g}"
    if isinstance(v, list):
        return ",".join(str(x) for x in v)
    return str(v)


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

    def needs(self) -> TaskNeeds:
        text = f"cpus:{self.cpus};mem:{self.mem}"
        if self.disk:
            text += f";disk:{self.disk}"
        if self.gpus:
            text += f";gpus:{self.gpus}"
        res = Resources.parse(text)
        if self.fixed_ports:
            res = res + Resources(ranges={"ports": tuple((p, p) for p in sorted(self.fixed_ports))})
            return TaskNeeds(res, 0)
        return TaskNeeds(res, self.port_count)


@dataclass
class Slot:
    """An offer being packed."""

    offer: Offer
    agent: AgentView
    packer: OfferPacker
    left: Resources = field(default_factory=Resources.empty)  # what is still free

    @classmethod
    def of(cls, offer: Offer) -> Slot:
        packer = OfferPacker(offer)
        return cls(offer, AgentView.of(offer), packer, packer.remaining)

    def take(self, needs: TaskNeeds) -> Fit:
        fit = self.packer.take(needs)
        if fit.ok:
            self.left = self.packer.remaining
        return fit

    def free_ports(self) -> int:
        return sum(e - b + 1 for b, e in self.left.ranges.get("ports", ()))

    def roles(self) -> set[str]:
        out = set()
        for r in self.offer.get("resources") or []:
            res = r.get("reservations") or []
            out.add(res[-1].get("role", "*") if res else r.get("role", "*"))
        return out


@dataclass(frozen=True)
class Verdict:
    ok: bool
    code: str = ""
    reason: str = ""


OK = Verdict(True)


class Filter(Protocol):
    def check(self, slot: Slot, task: TaskRequest) -> Verdict: ...


def _fmt(q: float) -> str:
    return f"{q:g}"


class RoleFilter:
    """The offer must hold resources of one of the app's acceptedResourceRoles."""

    def check(self, slot: Slot, task: TaskRequest) -> Verdict:
        if task.roles is None or slot.roles() & set(task.roles):
            return OK
        return Verdict(False, "UnfulfilledRole",
                       f"{slot.agent.hostname}: offers roles {sorted(slot.roles())}, the app "
                       f"accepts {list(task.roles)}")  # fmt: skip


class ResourceFilter:
    """cpus, mem, disk, gpus and ports (a number of ports, or fixed ones with requirePorts)."""

    CODES = {"cpus": "InsufficientCpus", "mem": "InsufficientMemory", "disk": "InsufficientDisk",
             "gpus": "InsufficientGpus"}  # fmt: skip

    def check(self, slot: Slot, task: TaskRequest) -> Verdict:
        left = slot.left
        for name, want in (("cpus", task.cpus), ("mem", task.mem), ("disk", task.disk), ("gpus", task.gpus)):
            have = left.scalar(name)
            if want and have + 1e-9 < want:
                return Verdict(False, self.CODES[name],
                               f"{slot.agent.hostname}: {_fmt(have)} {name} free, {_fmt(want)} needed")  # fmt: skip
        if task.fixed_ports:
            want_ports = Resources(ranges={"ports": tuple((p, p) for p in sorted(task.fixed_ports))})
            if not left.contains(want_ports):
                ports = ", ".join(str(p) for p in task.fixed_ports)
                return Verdict(False, "InsufficientPorts", f"{slot.agent.hostname}: port(s) {ports} not free")
        elif task.port_count and slot.free_ports() < task.port_count:
            return Verdict(False, "InsufficientPorts",
                           f"{slot.agent.hostname}: {slot.free_ports()} free ports, {task.port_count} needed")  # fmt: skip
        return OK


@lru_cache(maxsize=512)
def _regex(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def constraint_verdict(con: Sequence[str], agent: AgentView, task: TaskRequest) -> Verdict:
    """Whether `agent` satisfies one constraint given where the app's instances already are."""
    fld, op = con[0], con[1]
    arg = con[2] if len(con) > 2 else None
    value = agent.value(fld)
    name = ":".join(con)
    bad = Verdict(False, "UnfulfilledConstraint", f"{agent.hostname}: {name}")
    if op == "UNLIKE":
        return OK if value is None or not _regex(arg or "").fullmatch(value) else bad
    if value is None:
        return Verdict(False, "UnfulfilledConstraint", f"{agent.hostname}: has no {fld} for {name}")
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
    def check(self, slot: Slot, task: TaskRequest) -> Verdict:
        for con in task.constraints:
            v = constraint_verdict(con, slot.agent, task)
            if not v.ok:
                return v
        return OK


DEFAULT_FILTERS: tuple[Filter, ...] = (RoleFilter(), ResourceFilter(), ConstraintFilter())


class Scorer:
    """Higher is better: fewer instances of the app on the agent, then more free cpus."""

    def score(self, slot: Slot, task: TaskRequest) -> float:
        mine = sum(1 for a in task.placed if a.agent_id == slot.agent.agent_id)
        return -mine * 1000.0 + slot.left.scalar("cpus")


def check(slot: Slot, task: TaskRequest, filters: Sequence[Filter] = DEFAULT_FILTERS) -> Verdict:
    for f in filters:
        v = f.check(slot, task)
        if not v.ok:
            return v
    return OK


@dataclass
class Placement:
    slot: Slot
    fit: Fit


@dataclass
class PlaceResult:
    placements: list[Placement]
    rejections: dict[str, Verdict]  # offer id -> verdict, when the app was left unplaced


def place(
    slots: Sequence[Slot],
    task: TaskRequest,
    count: int,
    filters: Sequence[Filter] = DEFAULT_FILTERS,
    scorer: Scorer | None = None,
) -> PlaceResult:
    """Place up to `count` copies of `task` on `slots` (packing them; `task.placed` grows
    with every placement). Stops at the first copy no slot can take and reports each slot's
    verdict for it."""
    scorer = scorer or Scorer()
    out: list[Placement] = []
    dead: dict[str, Verdict] = {}  # slots refused for resources or roles: never better later
    needs = task.needs()
    for _ in range(count):
        best: Slot | None = None
        best_score = float("-inf")
        verdicts: dict[str, Verdict] = {}
        for slot in slots:
            oid = slot.offer.id
            if oid in dead:
                verdicts[oid] = dead[oid]
                continue
            v = check(slot, task, filters)
            if not v.ok:
                verdicts[oid] = v
                if v.code != "UnfulfilledConstraint":
                    dead[oid] = v
                continue
            s = scorer.score(slot, task)
            if s > best_score:
                best, best_score = slot, s
        if best is None:
            return PlaceResult(out, verdicts)
        fit = best.take(needs)
        if not fit.ok:  # the filters said it fits; keep the books straight anyway
            dead[best.offer.id] = Verdict(False, "InsufficientPorts", fit.reason)
            continue
        out.append(Placement(best, fit))
        task.placed.append(best.agent)
    return PlaceResult(out, {})
